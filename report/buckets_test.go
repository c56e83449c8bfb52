package report

import (
	"bufio"
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// histogramQuantile is Prometheus's histogram_quantile over cumulative
// buckets: linear interpolation inside the bucket that holds the rank,
// the lowest bucket starting at 0 unless its bound is 0 or less (then its
// bound is the answer), and the highest finite bound for ranks in +Inf.
func histogramQuantile(q float64, bounds []float64, counts []float64, total float64) float64 {
	rank := q * total
	i := sort.Search(len(counts), func(i int) bool { return counts[i] >= rank })
	if i == len(bounds) {
		return bounds[len(bounds)-1]
	}
	lo, below := 0.0, 0.0
	if i == 0 {
		if bounds[0] <= 0 {
			return bounds[0]
		}
	} else {
		lo, below = bounds[i-1], counts[i-1]
	}
	inBucket := counts[i] - below
	if inBucket == 0 {
		return bounds[i]
	}
	return lo + (bounds[i]-lo)*(rank-below)/inBucket
}

// The backfilled histogram must let Grafana's histogram_quantile read a
// minute-scale window near its value (not the last finite bound, 120 s),
// and a probe without exposure as 0 (not half the first bucket).
func TestExposureBucketsFitMinuteScaleAndZero(t *testing.T) {
	tests := []struct {
		name     string
		values   []float64
		lo, hi   float64 // the p50 read back must lie in [lo, hi]
		wantZero bool
	}{
		{"4.5-minute windows", []float64{250, 260, 270, 280, 290}, 180, 300, false},
		{"half-hour windows", []float64{1700, 1800, 1900}, 1200, 3600, false},
		{"no exposure", []float64{0, 0, 0, 0}, 0, 0, true},
		{"seconds", []float64{3, 4, 5}, 2, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Run{Scenario: "s", Mode: "sim", Trials: len(tt.values),
				Probes: []Probe{{Name: "p", Region: "r", Histogram: tt.values}}}
			var buf bytes.Buffer
			if err := OpenMetrics(&buf, r, backfillAt); err != nil {
				t.Fatal(err)
			}
			var bounds, counts []float64
			sc := bufio.NewScanner(&buf)
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "iamprop_exposure_window_seconds_bucket{") || strings.Contains(line, `le="+Inf"`) {
					continue
				}
				le := line[strings.Index(line, `le="`)+4:]
				le = le[:strings.Index(le, `"`)]
				b, _ := strconv.ParseFloat(le, 64)
				f := strings.Fields(line[strings.LastIndex(line, "}")+1:])
				c, _ := strconv.ParseFloat(f[0], 64)
				bounds, counts = append(bounds, b), append(counts, c)
			}
			got := histogramQuantile(0.5, append(bounds, math.Inf(1)), append(counts, float64(len(tt.values))), float64(len(tt.values)))
			if math.IsInf(got, 1) {
				got = bounds[len(bounds)-1]
			}
			if tt.wantZero && got != 0 {
				t.Errorf("p50 of no exposure reads %v s, want 0", got)
			}
			if !tt.wantZero && (got < tt.lo || got > tt.hi) {
				t.Errorf("p50 reads %v s, want within [%v, %v] (buckets %v)", got, tt.lo, tt.hi, bounds)
			}
		})
	}
}
