package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of Runner.StaleDecisions' kind label.
const (
	KindExposure = "exposure" // a stale Allow: the truth denies, the region allows
	KindDenial   = "denial"   // a stale Deny: the truth allows, the region denies
)

// ExposureBuckets are the upper bounds (seconds) of the exposure-window
// histogram, from 0 (no exposure) and loopback gossip (milliseconds) to
// minute-scale cases (an hour). The sim's OpenMetrics backfill (report.ExposureBuckets) uses
// the same bounds: histograms with different bounds cannot be summed, and
// backfilled and scraped runs sit in the same Grafana panels.
var ExposureBuckets = lagBuckets

// Runner holds the scenario runner's own measurements, which `scenario run
// --live|--cluster --metrics-addr` serves on /metrics while it runs. The
// names and types are those of the sim's OpenMetrics backfill
// (report.OpenMetrics), so one dashboard reads scraped and backfilled runs
// alike. Labels are scenario, probe and region names, all chosen by scenario
// authors; never a policy, principal or object name.
type Runner struct {
	// ExposureWindow observes, per trial, each probe's exposure window in
	// its region (zero when the trial had none).
	ExposureWindow *prometheus.HistogramVec
	// StaleDecisions counts the stale decisions probes were served, by kind
	// (KindExposure, KindDenial).
	StaleDecisions *prometheus.CounterVec
	// ProbeRequests counts the decisions served to probes.
	ProbeRequests *prometheus.CounterVec
	// Trials is how many trials of the run have been measured so far.
	Trials *prometheus.GaugeVec
	// Converged is 1 while every trial measured so far ended converged.
	Converged *prometheus.GaugeVec
	// Passed is 1 if every expectation passed, 0 if one failed; it is set
	// when the run ends (absent before: expectations are checked over all
	// trials).
	Passed *prometheus.GaugeVec

	reg prometheus.Registerer
}

// NewRunner builds the runner's metrics and registers them on reg (never
// the global registry). It fails if a name is already registered there.
func NewRunner(reg prometheus.Registerer) (*Runner, error) {
	probe := []string{"scenario", "probe", "region"}
	run := []string{"scenario", "mode"}
	m := &Runner{
		ExposureWindow: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "exposure_window_seconds",
			Help:                        "Exposure window per trial: total time a probe's region allowed what the truth denied.",
			Buckets:                     ExposureBuckets,
			NativeHistogramBucketFactor: nativeFactor, NativeHistogramMaxBucketNumber: nativeMaxBucket, NativeHistogramMinResetDuration: time.Hour}, probe),
		StaleDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "stale_decisions_total",
			Help: "Stale decisions served to probes; kind is exposure (stale allow) or denial (stale deny)."},
			[]string{"scenario", "probe", "region", "kind"}),
		ProbeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "probe_requests_total",
			Help: "Decisions served to probes."}, probe),
		Trials: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "run_trials",
			Help: "Trials of the run measured so far."}, run),
		Converged: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "run_converged",
			Help: "1 while every trial measured so far ended converged, else 0."}, run),
		Passed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "run_passed",
			Help: "1 if every expectation of the scenario passed, else 0; set when the run ends."}, run),
		reg: reg,
	}
	cs := []prometheus.Collector{m.ExposureWindow, m.StaleDecisions, m.ProbeRequests, m.Trials, m.Converged, m.Passed}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

// Registerer is the registerer the runner's metrics are on. An in-process
// cluster (--live) registers its regions' metrics there too, so one scrape
// of the runner gives the nodes' series beside the runner's.
func (m *Runner) Registerer() prometheus.Registerer { return m.reg }
