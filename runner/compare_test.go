package runner

import (
	"math"
	"testing"
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
