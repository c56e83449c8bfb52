package runner

import "github.com/iamprop/iamprop/scenarios"

// Observer receives a run's measurements while the run goes on, trial by
// trial, in trial order. It is an interface, not the Prometheus metrics
// themselves, so that package runner (and the WebAssembly playground built
// on it) links neither Prometheus nor net/http; package runner/runmetrics
// implements it and serves the figures on /metrics.
type Observer interface {
	// RunStarted is called once, before the first trial.
	RunStarted(sc *scenarios.Scenario, mode Mode)
	// TrialMeasured is called after each trial is folded into the report.
	TrialMeasured(sc *scenarios.Scenario, mode Mode, s TrialSample)
	// RunFinished is called once the report is complete; passed tells
	// whether the run's expectations held.
	RunFinished(sc *scenarios.Scenario, mode Mode, passed bool)
}
