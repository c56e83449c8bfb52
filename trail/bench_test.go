package trail

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/trailgen"
)

// BenchmarkDecode decodes a generated trail record by record (nothing is
// kept); records/s is the decoder's throughput.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				start := time.Now()
				count := 0
				g := &trailgen.Reader{N: n, Users: 20, Keys: 100, ChangeEvery: 10_000, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
				if err := Decode("gen.json", g, func(Event) error { count++; return nil }); err != nil {
					b.Fatal(err)
				}
				if count != n {
					b.Fatalf("%d records, want %d", count, n)
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
			}
		})
	}
}
