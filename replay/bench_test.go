package replay_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/trailgen"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/trail"
)

// BenchmarkReplay replays a generated trail end to end as `scenario
// replay` does: stream and classify the records, replay the truth, run the
// scenario (10 trials). heap-MB is the live heap once the records are
// classified; windows and suspects say how much the run measured.
func BenchmarkReplay(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				g := &trailgen.Reader{N: n, Users: 20, Keys: 100, ChangeEvery: 10_000, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
				bl := replay.NewBuilder(nil)
				if err := trail.Decode("gen.json", g, bl.Add); err != nil {
					b.Fatal(err)
				}
				p := bl.Plan()
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
				base, err := scenarios.Parse("gen.yaml", p.BaseScenario(replay.Options{Name: "gen"}))
				if err != nil {
					b.Fatal(err)
				}
				initial, err := runner.InitialState(base)
				if err != nil {
					b.Fatal(err)
				}
				a, err := p.Analyze(initial, replay.Options{Name: "gen"})
				if err != nil {
					b.Fatal(err)
				}
				sc, err := scenarios.Parse("gen.yaml", a.YAML)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := runner.Run(b.Context(), sc, runner.Options{Trials: 10}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(a.Windows)), "windows")
				b.ReportMetric(float64(len(a.Suspects)), "suspects")
			}
		})
	}
}
