package runner

import (
	"context"
	"sync"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// The report carries the worst trial (longest total exposure), replayed
// from its seed with its timeline, unless the first trial is the worst.
func TestWorstTrialTimeline(t *testing.T) {
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		trials int
		want   bool
	}{
		{"many trials", 30, true},
		{"one trial: the first is the worst", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			totals := map[int]float64{}
			run, err := Run(context.Background(), sc, Options{Trials: tt.trials, OnTrial: func(s TrialSample) {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range s.Exposure {
					totals[s.Index] += e
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			worst, at := -1.0, -1
			for i := 0; i < tt.trials; i++ {
				if totals[i] > worst {
					worst, at = totals[i], i
				}
			}
			if !tt.want {
				if run.Worst != nil {
					t.Errorf("Worst = %+v, want none", run.Worst)
				}
				return
			}
			w := run.Worst
			if w == nil || w.Timeline == nil {
				t.Fatalf("no worst trial (the worst is trial %d, %.3fs)", at, worst)
			}
			if w.Index != at || w.Seed != run.Seed+uint64(at) || w.ExposureSeconds != round(worst) {
				t.Errorf("Worst = trial %d seed %d %.6fs, want trial %d seed %d %.6fs", w.Index, w.Seed, w.ExposureSeconds, at, run.Seed+uint64(at), worst)
			}
			// Its timeline is that trial's: the exposure windows add up.
			sum := 0.0
			for _, win := range w.Timeline.Windows {
				if win.Kind == "exposure" {
					sum += win.To - win.From
				}
			}
			if d := sum - worst; d > 1e-3 || d < -1e-3 {
				t.Errorf("the worst timeline's exposure windows sum to %.6fs, want %.6fs", sum, worst)
			}
		})
	}
}
