package report

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ExposureBuckets are the upper bounds (seconds) of the exposure-window
// histogram, from loopback gossip (milliseconds) through cloud replication
// (tens of seconds) to minute-scale cases (up to an hour), so
// histogram_quantile reads a 4.5-minute window between 180 s and 300 s
// rather than at the last bound. The first bound is 0: a trial without
// exposure falls there, and histogram_quantile then reads 0, not half of
// the next bound. They are the bounds package metrics gives the live
// iamprop_exposure_window_seconds: histograms with different bounds cannot
// be summed, and backfilled runs should sit in the same Grafana panels as
// scraped ones.
var ExposureBuckets = []float64{0, .005, .01, .025, .05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 120, 180, 300, 600, 1200, 1800, 3600}

// OpenMetrics writes the trial results of r in the OpenMetrics text format,
// every sample stamped with at, for `promtool tsdb create-blocks-from
// openmetrics` to backfill into Prometheus. It writes:
//
//   - iamprop_exposure_window_seconds{scenario,probe,region}: histogram of the
//     per-trial exposure windows (over Probe.Histogram, the trials the runner kept);
//   - iamprop_stale_decisions_total{scenario,probe,region,kind}: stale decisions
//     served, kind "exposure" (stale allows) or "denial" (stale denies);
//   - iamprop_probe_requests_total{scenario,probe,region}: decisions served;
//   - iamprop_scenario_lag_seconds{scenario,region}: summary with the lag's
//     p50 (quantile 0.5), p99 (0.99) and max (1);
//   - iamprop_run_trials, iamprop_run_passed, iamprop_run_converged{scenario,mode}: gauges.
//
// Sample timestamps are in seconds with millisecond precision, as the format
// wants. The output ends with "# EOF".
func OpenMetrics(w io.Writer, r *Run, at time.Time) error {
	bw := bufio.NewWriter(w)
	ts := " " + strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	family := func(name, typ, unit, help string) {
		bw.WriteString("# TYPE " + name + " " + typ + "\n")
		if unit != "" {
			bw.WriteString("# UNIT " + name + " " + unit + "\n")
		}
		bw.WriteString("# HELP " + name + " " + help + "\n")
	}
	sample := func(name string, labels []string, v float64) {
		bw.WriteString(name + labelSet(labels) + " " + omFloat(v) + ts + "\n")
	}

	family("iamprop_exposure_window_seconds", "histogram", "seconds",
		"Exposure window per trial: total time a probe's region allowed what the truth denied.")
	for _, p := range r.Probes {
		base := []string{"scenario", r.Scenario, "probe", p.Name, "region", p.Region}
		values, count, sum := p.Histogram, float64(len(p.Histogram)), 0.0
		for _, v := range values {
			sum += v
		}
		// Round away float noise (103.68099999999998) so the sum reads as the
		// per-trial values do; nine decimals are far below a nanosecond.
		sum = math.Round(sum*1e9) / 1e9
		if len(values) == 0 {
			// No per-trial sample: the count and sum are still known, the
			// shape is not, so only the +Inf bucket is written.
			count, sum = float64(r.Trials), p.ExposureSeconds.Mean*float64(r.Trials)
		} else {
			for _, le := range ExposureBuckets {
				n := 0
				for _, v := range values {
					if v <= le {
						n++
					}
				}
				sample("iamprop_exposure_window_seconds_bucket", append(base, "le", omFloat(le)), float64(n))
			}
		}
		sample("iamprop_exposure_window_seconds_bucket", append(base, "le", "+Inf"), count)
		sample("iamprop_exposure_window_seconds_count", base, count)
		sample("iamprop_exposure_window_seconds_sum", base, sum)
	}

	family("iamprop_stale_decisions", "counter", "",
		"Stale decisions served by probes, summed over trials; kind is exposure (stale allow) or denial (stale deny).")
	for _, p := range r.Probes {
		for _, k := range []struct {
			kind string
			n    int
		}{{"exposure", p.StaleAllows}, {"denial", p.StaleDenies}} {
			sample("iamprop_stale_decisions_total",
				[]string{"scenario", r.Scenario, "probe", p.Name, "region", p.Region, "kind", k.kind}, float64(k.n))
		}
	}

	family("iamprop_probe_requests", "counter", "", "Decisions served to probes, summed over trials.")
	for _, p := range r.Probes {
		sample("iamprop_probe_requests_total", []string{"scenario", r.Scenario, "probe", p.Name, "region", p.Region}, float64(p.Requests))
	}

	family("iamprop_scenario_lag_seconds", "summary", "seconds",
		"Replication lag (apply in the region minus commit at the origin) over all mutations and trials; quantile 1 is the maximum.")
	for _, reg := range r.Regions {
		base := []string{"scenario", r.Scenario, "region", reg.Region}
		for _, q := range []struct {
			q string
			v float64
		}{{"0.5", reg.LagSeconds.P50}, {"0.99", reg.LagSeconds.P99}, {"1.0", reg.LagSeconds.Max}} {
			sample("iamprop_scenario_lag_seconds", append(base, "quantile", q.q), q.v)
		}
	}

	run := []string{"scenario", r.Scenario, "mode", r.Mode}
	family("iamprop_run_trials", "gauge", "", "Trials in the run.")
	sample("iamprop_run_trials", run, float64(r.Trials))
	family("iamprop_run_passed", "gauge", "", "1 if every expectation of the scenario passed, else 0.")
	sample("iamprop_run_passed", run, boolFloat(r.Passed))
	family("iamprop_run_converged", "gauge", "", "1 if every trial ended converged, else 0.")
	sample("iamprop_run_converged", run, boolFloat(r.Converged))

	bw.WriteString("# EOF\n")
	return bw.Flush()
}

// labelSet renders name/value pairs as {a="x",b="y"}, escaping values as the
// format requires. The slice is copied by callers' append, never shared.
func labelSet(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i] + `="` + escapeLabel(kv[i+1]) + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// omFloat formats a value as OpenMetrics wants: integers with ".0" (the
// canonical form of bucket bounds and quantiles), infinities as "+Inf"/"-Inf".
func omFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	s := num(v)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
