package runner

import (
	"math"
	"slices"

	"github.com/iamprop/iamprop/report"
)

// exactLimit is how many values a Distribution keeps exactly. Beyond it the
// values move into a DDSketch (sketch.go), so memory stays flat however many trials run
// (quantiles then carry sketchAccuracy relative error; min, max and mean stay exact).
const (
	exactLimit     = 20000
	sketchAccuracy = 0.001
)

// Distribution accumulates one value per trial (or per mutation for lags)
// and summarises them. Values must be added in a deterministic order for the
// mean to be byte-identical across runs; the runner folds trials in order.
type Distribution struct {
	exact    []float64
	sketch   *sketch
	count    int
	sum      float64
	min, max float64
}

// Add records one value.
func (d *Distribution) Add(v float64) {
	if d.count == 0 || v < d.min {
		d.min = v
	}
	if d.count == 0 || v > d.max {
		d.max = v
	}
	d.count++
	d.sum += v
	if d.sketch == nil && len(d.exact) < exactLimit {
		d.exact = append(d.exact, v)
		return
	}
	if d.sketch == nil {
		d.sketch = newSketch(sketchAccuracy, 4096)
		for _, x := range d.exact {
			d.sketch.add(x)
		}
		d.exact = nil
	}
	d.sketch.add(v)
}

// Count is the number of values added.
func (d *Distribution) Count() int { return d.count }

// Quantile returns the nearest-rank q-quantile (an observed value) while the
// values are exact, the sketch's estimate clamped to [min, max] beyond.
func (d *Distribution) Quantile(q float64) float64 {
	if d.count == 0 {
		return 0
	}
	if d.sketch != nil {
		v := d.sketch.quantile(q)
		return math.Min(math.Max(v, d.min), d.max)
	}
	if !slices.IsSorted(d.exact) {
		slices.Sort(d.exact)
	}
	rank := int(math.Ceil(q*float64(len(d.exact)))) - 1
	rank = max(0, min(rank, len(d.exact)-1))
	return d.exact[rank]
}

// Stats summarises the distribution for the run report.
func (d *Distribution) Stats() report.Stats {
	if d.count == 0 {
		return report.Stats{}
	}
	return report.Stats{
		Min:  round(d.min),
		P50:  round(d.Quantile(0.50)),
		P90:  round(d.Quantile(0.90)),
		P99:  round(d.Quantile(0.99)),
		Max:  round(d.max),
		Mean: round(d.sum / float64(d.count)),
	}
}

// CDF returns P(value <= x).
func (d *Distribution) CDF(x float64) float64 {
	if d.count == 0 {
		return 0
	}
	if d.sketch != nil {
		var below float64
		d.sketch.forEach(func(v, c float64) {
			if v <= x {
				below += c
			}
		})
		return below / d.sketch.count()
	}
	if !slices.IsSorted(d.exact) {
		slices.Sort(d.exact)
	}
	n, _ := slices.BinarySearchFunc(d.exact, x, func(e, t float64) int {
		if e <= t {
			return -1
		}
		return 1
	})
	return float64(n) / float64(len(d.exact))
}

// round keeps reports readable and stable: microsecond resolution.
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }
