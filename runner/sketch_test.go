package runner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
)

// The runner's sketch must give DDSketch's figures to the bit, so reports
// past exactLimit values stay what they were with the library: quantiles
// and the CDF's bins, including the stores' collapse of the lowest bins
// when the values span more than maxBins indexes.
func TestSketchMatchesDDSketch(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		gen  func(r *rand.Rand) float64
	}{
		{"seconds", 30000, func(r *rand.Rand) float64 { return r.ExpFloat64() * 4 }},
		{"with zeros", 25000, func(r *rand.Rand) float64 {
			if r.IntN(3) == 0 {
				return 0
			}
			return r.Float64() * 10
		}},
		{"collapsing (12 decades)", 40000, func(r *rand.Rand) float64 { return math.Pow(10, r.Float64()*12-6) }},
		{"descending collapse", 30000, nil},
		{"negatives, NaN and huge", 20000, func(r *rand.Rand) float64 {
			switch r.IntN(10) {
			case 0:
				return -r.Float64() * 100
			case 1:
				return math.NaN()
			case 2:
				return math.MaxFloat64
			}
			return r.NormFloat64()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			want, err := ddsketch.LogCollapsingLowestDenseDDSketch(sketchAccuracy, 4096)
			if err != nil {
				t.Fatal(err)
			}
			got := newSketch(sketchAccuracy, 4096)
			for i := 0; i < tc.n; i++ {
				v := 1e6 / float64(i+1) // descending: every add extends the range down
				if tc.gen != nil {
					v = tc.gen(r)
				}
				_ = want.Add(v)
				got.add(v)
			}
			if got.count() != want.GetCount() {
				t.Fatalf("count %v, ddsketch %v", got.count(), want.GetCount())
			}
			for q := 0.0; q <= 1; q += 0.001 {
				w, _ := want.GetValueAtQuantile(q)
				if g := got.quantile(q); math.Float64bits(g) != math.Float64bits(w) {
					t.Fatalf("quantile(%v) = %v, ddsketch %v", q, g, w)
				}
			}
			type bin struct{ v, c float64 }
			var wb, gb []bin
			want.ForEach(func(v, c float64) bool { wb = append(wb, bin{v, c}); return false })
			got.forEach(func(v, c float64) { gb = append(gb, bin{v, c}) })
			if len(gb) != len(wb) {
				t.Fatalf("%d bins, ddsketch %d", len(gb), len(wb))
			}
			for i := range wb {
				if gb[i] != wb[i] {
					t.Fatalf("bin %d = %v, ddsketch %v", i, gb[i], wb[i])
				}
			}
		})
	}
}
