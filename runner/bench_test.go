package runner

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

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

// awsRegions are 35 commercial AWS regions, for the regions benchmark.
var awsRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1",
	"sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1",
	"eu-south-1", "eu-south-2", "il-central-1", "me-south-1", "me-central-1", "af-south-1",
	"ap-south-1", "ap-south-2", "ap-east-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2",
	"ap-northeast-3", "cn-north-1", "cn-northwest-1", "us-gov-west-1",
}

// BenchmarkPublicBucketRegions runs public-s3-bucket with its own 3
// regions and with all 35 of awsRegions (the scenario's regions first, so
// its steps and probes are unchanged): the target is at most 4x the CPU
// per trial at 35 regions of that at 3. cpu-µs/trial is the process's
// user+system time (getrusage), less sensitive than ns/op to other work
// on a shared machine.
// Run: go test ./runner -run '^$' -bench PublicBucketRegions -benchtime 2x -count 3
func BenchmarkPublicBucketRegions(b *testing.B) {
	const trials = 1000
	for _, n := range []int{3, 35} {
		sc, err := withRegions("public-s3-bucket", n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("regions=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				if _, err := Run(context.Background(), sc, Options{Trials: trials}); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*trials), "cpu-µs/trial")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*trials), "µs/trial")
		})
	}
}

// withRegions loads a library scenario with its regions followed by
// those of awsRegions, n in all: its steps and probes are unchanged.
func withRegions(name string, n int) (*scenarios.Scenario, error) {
	sc, err := scenarios.LoadLibrary(name)
	if err != nil {
		return nil, err
	}
	regions := slices.Clone(sc.Regions)
	for _, r := range awsRegions {
		if len(regions) < n && !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	sc.Regions = regions
	return sc, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
