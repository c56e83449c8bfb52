package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
)

// KSDistance is the two-sample Kolmogorov-Smirnov statistic: the largest
// vertical distance between the empirical CDFs of a and b (0 = identical
// samples, 1 = disjoint). It is NaN if either sample is empty or holds a
// NaN (NaN has no place in an order). Ties are
// handled exactly: both CDFs step past every copy of a value before they are
// compared, so two samples of the same constant are at distance 0.
func KSDistance(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 || slices.ContainsFunc(a, math.IsNaN) || slices.ContainsFunc(b, math.IsNaN) {
		return math.NaN()
	}
	x, y := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	var i, j int
	var d float64
	for i < len(x) && j < len(y) {
		v := min(x[i], y[j])
		for i < len(x) && x[i] == v {
			i++
		}
		for j < len(y) && y[j] == v {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(x))-float64(j)/float64(len(y))))
	}
	return d
}

// Median returns the sample median (the mean of the two middle values for
// an even count), NaN for an empty sample.
func Median(s []float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	x := slices.Sorted(slices.Values(s))
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// MedianRelativeError is |median(predicted) - median(measured)| /
// |median(measured)|: how far the simulator's median is from the live
// cluster's, as a fraction of the live one. Two zero medians agree (0); a
// non-zero prediction of a zero measurement is +Inf; an empty sample NaN.
func MedianRelativeError(predicted, measured []float64) float64 {
	p, m := Median(predicted), Median(measured)
	switch {
	case math.IsNaN(p) || math.IsNaN(m):
		return math.NaN()
	case p == m:
		return 0
	case m == 0:
		return math.Inf(1)
	}
	return math.Abs(p-m) / math.Abs(m)
}

// CompareOptions controls Compare.
type CompareOptions struct {
	// LiveTrials run one after another on in-process memberlist clusters;
	// SimTrials in the simulator. Both start at Seed (0: the scenario's).
	LiveTrials, SimTrials int
	Seed                  uint64
	// Resolution, when positive, rounds every value to a multiple of it
	// before the statistics: a live instant carries the timer and
	// scheduling jitter of a real machine (tenths of a millisecond), and
	// without rounding a point mass the simulator puts at exactly 40 ms
	// and the live cluster at 40.1 ms would count as a KS distance of 1.
	Resolution time.Duration
	// Progress, when set, is called after each live trial.
	Progress func(done, total int)
	// RealTime starts the live clusters (package runner/realtime).
	RealTime RealTime
}

// Comparison is one scenario run live and in the simulator: one row per
// probe (exposure, and denial when either run saw any) and per region that
// applied a mutation (lag).
type Comparison struct {
	Scenario              string
	LiveTrials, SimTrials int
	Rows                  []ComparisonRow
	// Commits holds, per step, the instants (seconds) its origin
	// committed it (Metric MetricCommit, Name "step N"), unrounded: the
	// simulator commits at the step's `at`, the live driver as close to it
	// as it manages. Not a validation row: it shows where live windows
	// that are set by the spacing of steps come from.
	Commits []ComparisonRow
}

// ComparisonRow compares one distribution: Sim and Live hold one value per
// trial (exposure, denial) or per applied mutation (lag), in seconds.
type ComparisonRow struct {
	Metric       string // exposure | denial | lag (seconds) | MetricStaleAllows (a count)
	Name         string // the probe, or the region for lag
	Region       string
	Sim, Live    []float64
	MedianSim    float64
	MedianLive   float64
	MedianRelErr float64 // MedianRelativeError(Sim, Live)
	KS           float64 // KSDistance(Sim, Live)
}

// MetricStaleAllows is the comparison metric of a max_lag probe: the
// stale allows served per trial (a count, not seconds).
const MetricStaleAllows = "stale allows"

// MetricCommit is the metric of Comparison.Commits: a step's commit
// instant, seconds from the start of the trial.
const MetricCommit = "commit"

// Compare runs sc in the simulator and on a live in-process cluster and
// compares, per probe and region, the distributions of exposure and denial
// windows and of lags. A trial that fails stops the comparison with its
// error.
func Compare(ctx context.Context, sc *scenarios.Scenario, o CompareOptions) (*Comparison, error) {
	collect := func(opts Options) ([]TrialSample, error) {
		var out []TrialSample
		opts.OnTrial = func(s TrialSample) { out = append(out, s) }
		_, err := Run(ctx, sc, opts)
		return out, err
	}
	sim, err := collect(Options{Seed: o.Seed, Trials: max(1, o.SimTrials)})
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	live, err := collect(Options{Seed: o.Seed, Trials: max(1, o.LiveTrials), Live: true, Progress: o.Progress, RealTime: o.RealTime})
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	c := &Comparison{Scenario: sc.Name, LiveTrials: len(live), SimTrials: len(sim)}
	add := func(metric, name, region string, pick func(TrialSample) []float64) {
		row := ComparisonRow{Metric: metric, Name: name, Region: region}
		for _, s := range sim {
			row.Sim = append(row.Sim, pick(s)...)
		}
		for _, s := range live {
			row.Live = append(row.Live, pick(s)...)
		}
		if r := o.Resolution.Seconds(); r > 0 && metric != MetricStaleAllows {
			for _, v := range [][]float64{row.Sim, row.Live} {
				for i := range v {
					v[i] = math.Round(v[i]/r) * r
				}
			}
		}
		if len(row.Sim) == 0 && len(row.Live) == 0 {
			return
		}
		if metric == "denial" && slices.Max(append(slices.Clone(row.Sim), row.Live...)) == 0 {
			return // no denial either way: nothing to compare
		}
		row.MedianSim, row.MedianLive = Median(row.Sim), Median(row.Live)
		row.MedianRelErr, row.KS = MedianRelativeError(row.Sim, row.Live), KSDistance(row.Sim, row.Live)
		c.Rows = append(c.Rows, row)
	}
	// A max_lag probe is compared by the stale allows it was served: live
	// windows are replayed from apply instants, which do not say when a
	// node refused, so its live windows would be the view's, not the
	// answers'.
	for i, p := range sc.Probes {
		if p.Consistency != replication.ModeMaxLag {
			add("exposure", p.Name, p.Region, func(s TrialSample) []float64 { return s.Exposure[i : i+1] })
		}
	}
	for i, p := range sc.Probes {
		if p.Consistency != replication.ModeMaxLag {
			add("denial", p.Name, p.Region, func(s TrialSample) []float64 { return s.Denial[i : i+1] })
		}
	}
	for i, p := range sc.Probes {
		if p.Consistency == replication.ModeMaxLag {
			add(MetricStaleAllows, p.Name, p.Region, func(s TrialSample) []float64 { return s.StaleAllows[i : i+1] })
		}
	}
	for i, r := range sc.Regions {
		add("lag", r, r, func(s TrialSample) []float64 { return s.Lags[i] })
	}
	for i, st := range sc.Steps {
		row := ComparisonRow{Metric: MetricCommit, Name: fmt.Sprintf("step %d", i+1), Region: st.Region}
		pick := func(from []TrialSample) []float64 {
			var out []float64
			for _, s := range from {
				if i < len(s.CommitAt) && s.CommitAt[i] >= 0 {
					out = append(out, s.CommitAt[i])
				}
			}
			return out
		}
		row.Sim, row.Live = pick(sim), pick(live)
		row.MedianSim, row.MedianLive = Median(row.Sim), Median(row.Live)
		row.MedianRelErr, row.KS = MedianRelativeError(row.Sim, row.Live), KSDistance(row.Sim, row.Live)
		c.Commits = append(c.Commits, row)
	}
	return c, nil
}
