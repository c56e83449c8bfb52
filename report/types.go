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
	// Unconverged says why trials ended not converged; nil when every
	// trial converged.
	Unconverged *Unconverged `json:"unconverged,omitempty"`
	// Timeline is the first trial's story, for the HTML timeline and `explain`.
	Timeline *Timeline `json:"timeline,omitempty"`
	// Worst is the trial with the longest exposure (summed over probes),
	// when it is not the first: its timeline is drawn beside the first's.
	Worst *WorstTrial `json:"worst_trial,omitempty"`
	// Visibility is the t-visibility curve per region over all trials.
	Visibility []VisibilityCurve `json:"visibility,omitempty"`
	// Mutations says, per step that committed in some trial, when its
	// mutation was in force everywhere and when its origin could know so,
	// over trials; nil when no step committed.
	Mutations []Mutation `json:"mutations,omitempty"`
	// ModelVisibility is the delay model's own curve per region: the
	// probability that the modelled delay from the first step's origin
	// is at most t, drawn dashed under the measured curves.
	ModelVisibility []VisibilityCurve `json:"model_visibility,omitempty"`
	// Propagation describes the delay model ("default lognormal(median
	// 4s, p99 10s); link ..."), Sources cites it, Steps lists the
	// scenario's control-plane calls; the HTML report lists them.
	Propagation string     `json:"propagation,omitempty"`
	Sources     []string   `json:"sources,omitempty"`
	Steps       []StepInfo `json:"steps,omitempty"`
}

// Mutation is one step's mutation over all trials: when it was complete
// (the last live region applied it, so it was in force everywhere) and
// when it was known complete (acks covering it from every region had
// reached its origin, so the origin's propagation status said complete).
// Instants are seconds from the start of the run; a trial counts in a
// statistic only when the instant fell within the run.
type Mutation struct {
	Step   int    `json:"step"` // 1-based, as in the scenario file
	Call   string `json:"call"`
	Origin string `json:"origin"`
	Label  string `json:"label,omitempty"`
	// Committed, Complete and KnownComplete count the trials in which the
	// step committed, was complete, and was known complete by the end.
	Committed     int `json:"committed"`
	Complete      int `json:"complete"`
	KnownComplete int `json:"known_complete"`
	// CompleteAtSeconds and KnownCompleteAtSeconds are over the trials that
	// reached each; KnownAfterCompleteSeconds (known_complete_at minus
	// complete_at) over the trials that reached both: how long the origin
	// could not yet tell a change was in force everywhere.
	CompleteAtSeconds         Stats `json:"complete_at_seconds"`
	KnownCompleteAtSeconds    Stats `json:"known_complete_at_seconds"`
	KnownAfterCompleteSeconds Stats `json:"known_after_complete_seconds"`
}

// StepInfo is one step of the scenario: a control-plane call at an
// instant, at its origin region.
type StepInfo struct {
	At     float64 `json:"at"`
	Region string  `json:"region"`
	Call   string  `json:"call"`
	Label  string  `json:"label,omitempty"`
}

// WorstTrial is the trial with the longest total exposure window (on a
// tie, the longest total denial window, so a denial-only case has one
// too), replayed from its seed to record its timeline.
type WorstTrial struct {
	Index           int       `json:"index"` // 0-based; trial i runs with seed Run.Seed + i
	Seed            uint64    `json:"seed"`
	ExposureSeconds float64   `json:"exposure_seconds"` // summed over the probes
	DenialSeconds   float64   `json:"denial_seconds"`   // summed over the probes
	Timeline        *Timeline `json:"timeline"`
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
	Name        string `json:"name"`
	Region      string `json:"region"`
	Requests    int    `json:"requests"`     // served decisions, summed over trials
	StaleAllows int    `json:"stale_allows"` // summed over trials
	StaleDenies int    `json:"stale_denies"`
	// StaleAllowsPerTrial and StaleDeniesPerTrial are the two sums divided
	// by the trials, so a per-trial figure is never read as a total or the
	// reverse. JSON fills them; the runner need not.
	StaleAllowsPerTrial float64 `json:"stale_allows_per_trial"`
	StaleDeniesPerTrial float64 `json:"stale_denies_per_trial"`
	ExposureSeconds     Stats   `json:"exposure_seconds"`
	DenialSeconds       Stats   `json:"denial_seconds"`
	LatencySeconds      *Stats  `json:"latency_seconds,omitempty"` // added wait of at_least consistency
	// Intended is the probe's intended access ("allow" or "deny"), when the
	// scenario says; RegionAgainstIntentSeconds is then, per trial, how
	// long the region answered otherwise (what users got), and
	// TruthAgainstIntentSeconds how long the truth itself did (a bad
	// policy that over-grants until rolled back: no staleness, yet wrong).
	Intended                   string    `json:"intended,omitempty"`
	RegionAgainstIntentSeconds *Stats    `json:"region_against_intent_seconds,omitempty"`
	TruthAgainstIntentSeconds  *Stats    `json:"truth_against_intent_seconds,omitempty"`
	Histogram                  []float64 `json:"exposure_histogram,omitempty"` // per-trial exposure seconds, bucketed by the HTML (capped sample)
	// DenialHistogram is the same for the denial window, kept only for a
	// probe that was ever denied stale.
	DenialHistogram []float64 `json:"denial_histogram,omitempty"`
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
	// Completions: per step that committed in this trial, when its mutation
	// was complete and known complete (absent when not within the run).
	Completions []Completion `json:"completions,omitempty"`
}

// Completion is one committed step's mutation in one trial.
type Completion struct {
	Step     int    `json:"step"` // 1-based
	Mutation string `json:"mutation"`
	Origin   string `json:"origin"`
	// CompleteAt is when the last live region applied it; KnownCompleteAt
	// when its origin could first know every region had. Nil: not within
	// the run.
	CompleteAt      *float64 `json:"complete_at,omitempty"`
	KnownCompleteAt *float64 `json:"known_complete_at,omitempty"`
}

// TimelineEvent is one commit, apply or fault.
type TimelineEvent struct {
	At       float64 `json:"at"`
	Region   string  `json:"region"`
	Kind     string  `json:"kind"` // commit | write (an S3 data-plane write) | apply | fault | heal | crash | restart
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

// Unconverged explains the trials that ended with a region whose view
// differed from the truth: how many, why over all of them, and the first
// few trials in detail, each with its seed so it can be replayed alone
// (`scenario run FILE --seed SEED`).
type Unconverged struct {
	Trials int `json:"trials"` // trials that ended not converged
	// Reasons counts the missing (region, mutation) pairs of every such
	// trial by reason, most frequent first.
	Reasons []ReasonCount `json:"reasons"`
	// Examples are the first MaxUnconvergedExamples such trials, in trial
	// order (simulator runs only: a live cluster cannot say why).
	Examples []UnconvergedTrial `json:"examples,omitempty"`
}

// MaxUnconvergedExamples bounds Unconverged.Examples, and
// MaxMissingPerExample the Missing list of each: a scenario that never
// converges would otherwise list every region of every trial.
const (
	MaxUnconvergedExamples = 10
	MaxMissingPerExample   = 20
)

// ReasonCount is how many missing (region, mutation) pairs had one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// UnconvergedTrial is one trial that ended not converged: what each region
// lacked at the end, and why.
type UnconvergedTrial struct {
	Trial   int               `json:"trial"` // 0-based index; the seed is the run's seed + trial
	Seed    uint64            `json:"seed"`
	Missing []MissingMutation `json:"missing"`
	// MoreMissing counts the pairs left out beyond MaxMissingPerExample.
	MoreMissing int `json:"more_missing,omitempty"`
}

// MissingMutation is one committed mutation a region had not applied when
// the run ended.
type MissingMutation struct {
	Region   string `json:"region"`
	Mutation string `json:"mutation"` // origin/sequence
	Call     string `json:"call"`
	Label    string `json:"label,omitempty"` // the step's label
	// Reason is one of pending_apply (received; its apply instant is after
	// the end), in_flight (a message carrying it was on the wire),
	// spreading (some region still gossiped it), rumor_died_out (no region
	// gossiped it any more: only push/pull repairs it), lost (its origin
	// lost its state before anyone else held it), conflict (the region
	// holds another mutation under its ID).
	Reason string `json:"reason"`
	// ApplyAtSeconds: pending_apply only, the instant it becomes visible.
	ApplyAtSeconds float64 `json:"apply_at_seconds,omitempty"`
	// NextPushPullSeconds is the region's next scheduled push/pull (0: none).
	NextPushPullSeconds float64 `json:"next_push_pull_seconds,omitempty"`
	Detail              string  `json:"detail"` // the reason in a sentence
}
