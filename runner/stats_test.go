package runner

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDistributionExactQuantiles(t *testing.T) {
	var d Distribution
	for i := 1; i <= 100; i++ {
		d.Add(float64(i))
	}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}} {
		if got := d.Quantile(tc.q); got != tc.want {
			t.Errorf("nearest-rank q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	s := d.Stats()
	if s.Min != 1 || s.Max != 100 || s.Mean != 50.5 {
		t.Errorf("stats = %+v", s)
	}
	if got := d.CDF(25); got != 0.25 {
		t.Errorf("CDF(25) = %v, want 0.25", got)
	}
}

func TestDistributionOneValue(t *testing.T) {
	var d Distribution
	d.Add(6.021)
	s := d.Stats()
	if s.Min != 6.021 || s.P50 != 6.021 || s.P99 != 6.021 || s.Max != 6.021 || s.Mean != 6.021 {
		t.Errorf("one value must give min = p50 = max, got %+v", s)
	}
}

// Past exactLimit values the distribution moves into a sketch: memory stays
// bounded and quantiles keep the sketch's relative accuracy.
func TestDistributionSketchAccuracy(t *testing.T) {
	const seed = 42
	r := rand.New(rand.NewPCG(seed, 0))
	var d Distribution
	n := 3 * exactLimit
	for i := 0; i < n; i++ {
		d.Add(math.Exp(r.NormFloat64()))
	}
	if d.exact != nil || d.sketch == nil {
		t.Fatalf("seed %d: expected the sketch past %d values", seed, exactLimit)
	}
	// The median of exp(N(0,1)) is 1.
	if got := d.Quantile(0.5); math.Abs(got-1) > 0.03 {
		t.Errorf("seed %d: median = %v, want about 1", seed, got)
	}
	if d.Count() != n {
		t.Errorf("count = %d, want %d", d.Count(), n)
	}
}
