package runner

import (
	"context"
	"math"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

func TestKSDistance(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		{"identical", []float64{1, 2, 3}, []float64{3, 2, 1}, 0},
		{"same constant", []float64{0, 0, 0}, []float64{0, 0}, 0},
		{"disjoint", []float64{1, 2}, []float64{3, 4, 5}, 1},
		{"shifted by one of four", []float64{1, 2, 3, 4}, []float64{2, 3, 4, 5}, 0.25},
		{"interleaved halves", []float64{1, 3}, []float64{2, 4}, 0.5},
		{"ties across samples", []float64{0, 0, 1, 1}, []float64{0, 1, 1, 1}, 0.25},
		{"one empty", nil, []float64{1}, math.NaN()},
		{"a NaN (used to loop forever)", []float64{1, math.NaN()}, []float64{1, 2}, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := KSDistance(tc.a, tc.b)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Fatalf("KSDistance(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if back := KSDistance(tc.b, tc.a); !math.IsNaN(got) && back != got {
				t.Fatalf("not symmetric: %v one way, %v the other", got, back)
			}
		})
	}
}

func TestMedianRelativeError(t *testing.T) {
	for _, tc := range []struct {
		name                string
		predicted, measured []float64
		want                float64
	}{
		{"equal", []float64{1, 2, 3}, []float64{2}, 0},
		{"ten percent high", []float64{1.1}, []float64{0.5, 1, 1.5}, 0.1},
		{"half low, even count", []float64{0, 1}, []float64{0.5, 1.5}, 0.5},
		{"both zero", []float64{0, 0}, []float64{0}, 0},
		{"zero measured", []float64{1}, []float64{0}, math.Inf(1)},
		{"empty", []float64{1}, nil, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MedianRelativeError(tc.predicted, tc.measured)
			same := got == tc.want || (math.IsNaN(got) && math.IsNaN(tc.want)) || math.Abs(got-tc.want) < 1e-12
			if !same {
				t.Fatalf("MedianRelativeError(%v, %v) = %v, want %v", tc.predicted, tc.measured, got, tc.want)
			}
		})
	}
}

// TestCompareSmoke runs a handful of live trials of one scaled library
// scenario against the simulator and checks the plumbing only: every row
// has samples on both sides and finite statistics. The full comparison is
// `go run ./sim/cmd/simvslive` (docs/validation.md).
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("live trials take real time")
	}
	sc, err := scenarios.LoadLibrary("revoke-race")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(context.Background(), Scale(sc, 0.05), CompareOptions{LiveTrials: 3, SimTrials: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.LiveTrials != 3 || c.SimTrials != 20 || len(c.Rows) == 0 {
		t.Fatalf("got %d live and %d sim trials, %d rows; want 3, 20 and some rows", c.LiveTrials, c.SimTrials, len(c.Rows))
	}
	lags := 0
	for _, r := range c.Rows {
		if len(r.Sim) == 0 || len(r.Live) == 0 {
			t.Errorf("%s %s: %d sim and %d live values; want both non-empty", r.Metric, r.Name, len(r.Sim), len(r.Live))
		}
		for _, v := range []float64{r.MedianSim, r.MedianLive, r.KS} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Errorf("%s %s: statistic %v is not a finite non-negative number", r.Metric, r.Name, v)
			}
		}
		if r.Metric == "lag" {
			lags++
		}
	}
	if lags == 0 {
		t.Errorf("no lag row: the live trials applied nothing")
	}
}
