// Package scenarios loads and validates scenario files (the format of
// docs/design.md "Scenario file") and embeds the scenario library.
package scenarios

import (
	"encoding/json"
	"time"
)

// Scenario is one loaded, validated scenario. Every name it references
// (regions, policies, probes) has been checked by Load.
type Scenario struct {
	File        string // path it was loaded from ("" for in-memory)
	Name        string
	Title       string
	Description string
	Lesson      string
	Sources     []string // citations for the delay model (optional key `sources`)
	Seed        uint64
	Duration    time.Duration
	Regions     []string
	Propagation Propagation
	Network     Network
	Gossip      Gossip
	Policies    map[string]json.RawMessage // name -> policy document as JSON
	State       InitialState
	Steps       []Step
	Probes      []Probe
	Faults      []Fault
	Expect      []Expectation
}

// Distribution is a parsed delay distribution. Exactly the fields its Dist uses are set.
type Distribution struct {
	Dist   string        // constant | uniform | normal | lognormal | exponential | pareto | empirical
	Value  time.Duration // constant
	Min    time.Duration // uniform
	Max    time.Duration // uniform
	Mean   time.Duration // normal, exponential
	Stddev time.Duration // normal
	Median time.Duration // lognormal
	P99    time.Duration // lognormal
	Scale  time.Duration // pareto
	Shape  float64       // pareto
	Points [][2]float64  // empirical: [seconds, cumulative probability]
}

// Link overrides the propagation distribution for one origin -> destination pair.
type Link struct {
	From, To string
	Distribution
}

// Propagation is the commit -> apply delay model. Revoke, when set, is used
// for mutations that narrow access, Default/Links for the rest.
type Propagation struct {
	Default Distribution
	Links   []Link
	Revoke  *Distribution // optional key `revoke`
}

// Network is the gossip transport between nodes.
type Network struct {
	Latency *Distribution // nil = no latency
	Loss    float64       // independent loss probability per message
}

// Gossip is memberlist-like dissemination timing; zero fields take memberlist's LAN defaults.
type Gossip struct {
	Interval         time.Duration
	Fanout           int
	RetransmitMult   int
	PushPullInterval time.Duration
}

// InitialState is the state applied in every region before t=0.
type InitialState struct {
	Accounts []string
	Users    []User
	Groups   []Group
	Roles    []Role
	Buckets  []Bucket
	Org      *Organization
}

// User is an IAM user in the initial state.
type User struct {
	Name, Account string
	Policies      []string // managed policies (from Scenario.Policies) attached
	Inline        []string
	Groups        []string
	AccessKeys    []string
	Boundary      string
}

// Group is an IAM group in the initial state.
type Group struct {
	Name, Account string
	Policies      []string
	Inline        []string
}

// Role is an IAM role in the initial state.
type Role struct {
	Name, Account string
	Trust         string // trust policy name
	Policies      []string
	Inline        []string
	Boundary      string
}

// Bucket is an S3 bucket in the initial state.
type Bucket struct {
	Name, Region, Account string
	Policy                string
	BlockPublicAccess     *BPA
	Objects               []string
}

// BPA is a Block Public Access configuration.
type BPA struct {
	BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets bool
}

// Organization holds SCPs/RCPs attached to the root, OUs and accounts.
type Organization struct {
	SCPs []OrgAttachment
	RCPs []OrgAttachment
	OUs  []OU // optional key `ous`, created in file order before attachments
}

// OU is an organizational unit of the initial state: created under Parent
// ("root" or "ou:NAME"), with the listed accounts moved into it from the root.
type OU struct {
	Name     string
	Parent   string // "root" (default) or "ou:NAME" of an OU listed earlier
	Accounts []string
}

// OrgAttachment attaches one named policy to a target ("root", "ou:NAME" or an account id).
type OrgAttachment struct {
	Policy, Target string
}

// Step is one control-plane mutation committed at a region.
type Step struct {
	At      time.Duration
	Region  string
	Call    string          // "s3:PutBucketPolicy"
	Account string          // "" = first of State.Accounts
	With    json.RawMessage // arguments (snake_case) with policy names already replaced by documents
	Label   string          // optional `label`, for narration
	Line    int             // position in the file, for errors at run time
	Column  int             // column of the step in the file
}

// Probe is a periodic data-plane request evaluated against one region's view.
type Probe struct {
	Name      string
	Region    string
	Principal string
	Action    string
	Resource  string
	Context   map[string]any
	// Endpoint, optional: the name of the document of `policies` that is
	// the policy of the VPC endpoint the requests go through.
	Endpoint string
	Every    time.Duration
	From     time.Duration
	Until    time.Duration
	// Consistency, optional: "local" (default) | "at_least" (wait for the view
	// to include the token of step number AtLeastStep) | "max_lag".
	Consistency string
	AtLeastStep int
	MaxLag      time.Duration
	Timeout     time.Duration
	// Intended, optional: "allow" or "deny", the access the request should
	// have. The report then also measures the windows where the region,
	// and the truth itself, answered otherwise (a bad policy version that
	// over-grants until it is rolled back is no staleness, yet an exposure).
	Intended string
	Line     int // position in the file
	Column   int
}

// Fault is a network or node fault at a virtual instant.
type Fault struct {
	At        time.Duration
	For       time.Duration // 0 = until the end
	Kind      string        // partition | partition_oneway | crash | loss | latency
	Groups    [][]string    // partition
	From, To  string        // partition_oneway
	Region    string        // crash
	LoseState bool          // crash
	Loss      float64       // loss
	Latency   *Distribution // latency
}

// Expectation is one assertion, e.g. "exposure(attacker-read).p50 > 0s",
// parsed by the loader into its parts (see docs/scenario-format.md):
//
//	exposure(PROBE).STAT OP DURATION    Kind "exposure", Target, Stat, Op, Duration
//	denial(PROBE).STAT OP DURATION      Kind "denial"
//	lag(REGION).STAT OP DURATION        Kind "lag", Target is a region
//	stale_allows(PROBE) OP INT          Kind "stale_allows", Count
//	stale_denies(PROBE) OP INT          Kind "stale_denies", Count
//	confidential_reads(PROBE) OP INT    Kind "confidential_reads", Count
//	converged | not converged           Kind "converged", Negated
type Expectation struct {
	Expr     string
	Line     int
	Column   int
	Kind     string        // exposure | denial | lag | stale_allows | stale_denies | confidential_reads | converged
	Negated  bool          // "not converged"
	Target   string        // probe name, or region name for lag
	Stat     string        // min | p50 | p90 | p99 | max | mean (exposure, denial, lag)
	Op       string        // < <= > >= == !=
	Duration time.Duration // right-hand side of exposure, denial, lag
	Count    int           // right-hand side of stale_allows, stale_denies, confidential_reads
}
