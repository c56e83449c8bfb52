package runner

import (
	"context"
	"sync"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// The report carries the worst trial (longest total exposure, then longest
// total denial: a denial-only case has a worst trial too), replayed from
// its seed with its timeline, unless the first trial is the worst.
func TestWorstTrialTimeline(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		trials   int
		want     bool
	}{
		{"many trials", "public-s3-bucket", 30, true},
		{"one trial: the first is the worst", "public-s3-bucket", 1, false},
		{"denial only", "new-role-access-denied", 30, true},
		{"equal exposure, the longest denial", "revoke-race", 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenarios.LoadLibrary(tt.scenario)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			exposure, denial := map[int]float64{}, map[int]float64{}
			run, err := Run(context.Background(), sc, Options{Trials: tt.trials, OnTrial: func(s TrialSample) {
				mu.Lock()
				defer mu.Unlock()
				for i := range s.Exposure {
					exposure[s.Index] += s.Exposure[i]
					denial[s.Index] += s.Denial[i]
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			at := 0
			for i := 1; i < tt.trials; i++ {
				if exposure[i] > exposure[at] || (exposure[i] == exposure[at] && denial[i] > denial[at]) {
					at = i
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
				t.Fatalf("no worst trial (the worst is trial %d: exposure %.3fs, denial %.3fs)", at, exposure[at], denial[at])
			}
			if w.Index != at || w.Seed != run.Seed+uint64(at) || w.ExposureSeconds != round(exposure[at]) || w.DenialSeconds != round(denial[at]) {
				t.Errorf("Worst = trial %d seed %d exposure %.6fs denial %.6fs, want trial %d seed %d exposure %.6fs denial %.6fs",
					w.Index, w.Seed, w.ExposureSeconds, w.DenialSeconds, at, run.Seed+uint64(at), exposure[at], denial[at])
			}
			// Its timeline is that trial's: the windows add up.
			sum := map[string]float64{}
			for _, win := range w.Timeline.Windows {
				sum[win.Kind] += win.To - win.From
			}
			for kind, want := range map[string]float64{"exposure": exposure[at], "denial": denial[at]} {
				if d := sum[kind] - want; d > 1e-3 || d < -1e-3 {
					t.Errorf("the worst timeline's %s windows sum to %.6fs, want %.6fs", kind, sum[kind], want)
				}
			}
		})
	}
}
