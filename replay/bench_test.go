package replay_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/trailgen"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/trail"
)

// replayGenerated does what `scenario replay --trials TRIALS` does with a
// generated trail of n records: stream, sort and classify the records,
// replay the truth, measure the windows, stream the suspects. It returns
// the live heap (after a GC) once the suspects are streamed, with the
// plan and analysis still reachable.
func replayGenerated(tb testing.TB, n, changeEvery, failEvery, trials int, dir string, memLimit int) (windows, suspects int, liveMB float64) {
	tb.Helper()
	g := &trailgen.Reader{N: n, Users: 20, Keys: 100, ChangeEvery: changeEvery, FailEvery: failEvery, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	bl := replay.NewBuilder(nil, replay.BuilderOptions{TempDir: dir, MemLimit: memLimit})
	defer bl.Close()
	if err := trail.DecodePipelined("gen.json", g, bl.Add); err != nil {
		tb.Fatal(err)
	}
	p, err := bl.Plan()
	if err != nil {
		tb.Fatal(err)
	}
	base, err := scenarios.Parse("gen.yaml", p.BaseScenario(replay.Options{Name: "gen"}))
	if err != nil {
		tb.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		tb.Fatal(err)
	}
	model, err := runner.DelayModel(base)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{Name: "gen"})
	if err != nil {
		tb.Fatal(err)
	}
	m := a.Measure(model, trials, 1)
	if _, err := a.EachSuspectResult(m, func(replay.SuspectResult) error { suspects++; return nil }); err != nil {
		tb.Fatal(err)
	}
	if err := p.EachSkip(func(replay.Skip) error { return nil }); err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(a)
	runtime.KeepAlive(m)
	return len(a.Windows), suspects, float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkReplay replays a generated trail end to end as `scenario
// replay` does with its default 200 trials. live-MB is the live heap at
// the end (plan, analysis and measurement reachable); maxrss-MB the
// process's peak resident set so far (run one size per process to read
// it for that size alone).
func BenchmarkReplay(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				w, s, live := replayGenerated(b, n, 10_000, 0, 200, b.TempDir(), 0)
				var ru syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				b.ReportMetric(live, "live-MB")
				b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
				b.ReportMetric(float64(w), "windows")
				b.ReportMetric(float64(s), "suspects")
			}
		})
	}
}
