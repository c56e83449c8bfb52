// Package report renders a scenario run: a terminal summary, the JSON run
// report of docs/design.md, a self-contained HTML report, and OpenMetrics for
// Prometheus backfill. It only formats; the runner measures.
package report

// Run is the run report (docs/design.md "Run report"). Its JSON form is the
// `scenario run --json` output; field names are part of the format.
type Run struct {
	Scenario string `json:"scenario"`
	Title    string `json:"title"`
	// Description says what happens in the scenario and Lesson what to learn
	// from it; both come from the scenario file and head the HTML report.
	Description  string        `json:"description,omitempty"`
	Lesson       string        `json:"lesson,omitempty"`
	Mode         string        `json:"mode"` // sim | live | cluster
	Seed         uint64        `json:"seed"`
	Trials       int           `json:"trials"`
	Converged    bool          `json:"converged"` // every trial converged by the end
	Passed       bool          `json:"passed"`    // every expectation passed
	Probes       []Probe       `json:"probes"`
	Regions      []Region      `json:"regions"`
	Expectations []Expectation `json:"expectations"`
	// Timeline is the first trial's story, for the HTML timeline and `explain`.
	Timeline *Timeline `json:"timeline,omitempty"`
	// Visibility is the t-visibility curve per region over all trials.
	Visibility []VisibilityCurve `json:"visibility,omitempty"`
}

// Stats summarises one value per trial.
type Stats struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Probe is the measurement of one probe (one region) over all trials.
type Probe struct {
	Name            string    `json:"name"`
	Region          string    `json:"region"`
	Requests        int       `json:"requests"`     // served decisions, summed over trials
	StaleAllows     int       `json:"stale_allows"` // summed over trials
	StaleDenies     int       `json:"stale_denies"`
	ExposureSeconds Stats     `json:"exposure_seconds"`
	DenialSeconds   Stats     `json:"denial_seconds"`
	LatencySeconds  *Stats    `json:"latency_seconds,omitempty"`    // added wait of at_least consistency
	Histogram       []float64 `json:"exposure_histogram,omitempty"` // per-trial exposure seconds, bucketed by the HTML (capped sample)
	// Principal, Action and Resource describe the probe's request so the
	// narration can say what was asked ("anonymous s3:GetObject q3.pdf");
	// empty ones are left out of the prose.
	Principal string `json:"principal,omitempty"`
	Action    string `json:"action,omitempty"`
	Resource  string `json:"resource,omitempty"`
	// ConfidentialReads counts stale allows served while the object existed
	// in the truth (documents an attacker actually read), summed over trials.
	ConfidentialReads int `json:"confidential_reads,omitempty"`
}

// Region is replication lag and convergence of one region over all trials.
type Region struct {
	Region             string `json:"region"`
	LagSeconds         Stats  `json:"lag_seconds"`
	ConvergedAtSeconds Stats  `json:"converged_at_seconds"`
}

// Expectation is one checked assertion.
type Expectation struct {
	Expr   string `json:"expr"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// Timeline is what happened in one trial, in virtual time.
type Timeline struct {
	Duration float64         `json:"duration_seconds"`
	Regions  []string        `json:"regions"`
	Events   []TimelineEvent `json:"events"`  // commits, applies, faults, in time order
	Windows  []Window        `json:"windows"` // exposure and denial intervals
	Samples  []ProbeSample   `json:"samples,omitempty"`
}

// TimelineEvent is one commit, apply or fault.
type TimelineEvent struct {
	At       float64 `json:"at"`
	Region   string  `json:"region"`
	Kind     string  `json:"kind"` // commit | apply | fault | heal | crash | restart
	Mutation string  `json:"mutation,omitempty"`
	Call     string  `json:"call,omitempty"`
	Label    string  `json:"label,omitempty"`
	Lag      float64 `json:"lag,omitempty"` // apply only
}

// Window is one interval during which a probe's decision in a region was stale.
type Window struct {
	Probe  string  `json:"probe"`
	Region string  `json:"region"`
	Kind   string  `json:"kind"` // exposure | denial
	From   float64 `json:"from"`
	To     float64 `json:"to"`
}

// ProbeSample is one served probe decision.
type ProbeSample struct {
	At       float64 `json:"at"`
	Probe    string  `json:"probe"`
	Region   string  `json:"region"`
	Decision string  `json:"decision"`
	Truth    string  `json:"truth"`
}

// VisibilityCurve is P(region's view includes a mutation, t after its commit).
type VisibilityCurve struct {
	Region string       `json:"region"`
	Points [][2]float64 `json:"points"` // [seconds after commit, probability]
}
