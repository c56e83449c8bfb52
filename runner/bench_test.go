package runner

import (
	"context"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// BenchmarkPublicBucketTrials measures Monte Carlo throughput on the
// classic case: the target is 10,000 trials in under 5 s on two
// cores. Run: go test ./runner -run '^$' -bench PublicBucketTrials -benchtime 1x
func BenchmarkPublicBucketTrials(b *testing.B) {
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), sc, Options{Trials: 10000}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/10k-trials")
}

// BenchmarkLibrarySingleRun measures one simulator run of every library
// scenario (target: under 100 ms each).
// Run: go test ./runner -run '^$' -bench LibrarySingleRun
func BenchmarkLibrarySingleRun(b *testing.B) {
	names, err := scenarios.LibraryNames()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		sc, err := scenarios.LoadLibrary(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Run(context.Background(), sc, Options{Trials: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
