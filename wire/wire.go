// Package wire holds the JSON documents of a region node's HTTP API
// (docs/api.md): requests, answers, and the fault document. It imports only
// the standard library, so an HTTP client (package apiclient, the chaos
// harness, `scenario cluster`) can speak to a node without linking the
// node itself (memberlist, the store, the replication core).
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits of the API that a client also needs to know.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 1 << 20
	// MaxWait bounds an at_least timeout.
	MaxWait = 30 * time.Second
	// DefaultWait is the at_least timeout when the request sets none.
	DefaultWait = time.Second
	// MaxStatusWait bounds the long poll of GET /v1/mutations/{id}?wait=.
	MaxStatusWait = 60 * time.Second
)

// ErrorBody is every error's shape: {"error": {"code", "message"}}, with
// AWS's codes for rejected mutations.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
	View  *ViewRef    `json:"view,omitempty"`
}

// ErrorDetail is the "error" member of an ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MutationRequest is the body of POST /v1/mutations.
type MutationRequest struct {
	Account string          `json:"account,omitempty"`
	Call    string          `json:"call"`
	With    json.RawMessage `json:"with,omitempty"`
	Region  string          `json:"region,omitempty"`
}

// MutationResponse answers a committed mutation.
type MutationResponse struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	HLC       string    `json:"hlc"`
	Token     string    `json:"token"`
	Revoke    bool      `json:"revoke"`
	Region    string    `json:"region"`
}

// AuthorizeRequest is the body of POST /v1/authorize.
type AuthorizeRequest struct {
	Principal   string          `json:"principal"`
	Action      string          `json:"action"`
	Resource    string          `json:"resource"`
	Context     map[string]any  `json:"context,omitempty"`
	Consistency *ConsistencyReq `json:"consistency,omitempty"`
	// Endpoint, when set, is the VPC endpoint the request goes through:
	// its policy must allow the request too. It is the request's network
	// path, not control-plane state, so every region decides with the
	// same one.
	Endpoint *Endpoint `json:"endpoint,omitempty"`
}

// Endpoint is the VPC endpoint an authorize request goes through.
type Endpoint struct {
	// Name names the endpoint's policy in explanations (a vpce id, or a
	// scenario's policy name); "endpoint" when empty.
	Name string `json:"name,omitempty"`
	// Policy is the endpoint policy document: a JSON object, or a JSON
	// string holding one (the way AWS's APIs take policy documents).
	Policy json.RawMessage `json:"policy"`
}

// ConsistencyReq is the consistency option of an authorize request.
type ConsistencyReq struct {
	Mode    string `json:"mode"`
	Token   string `json:"token,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	MaxLag  string `json:"max_lag,omitempty"`
}

// ViewRef says which view answered an authorize request.
type ViewRef struct {
	Region string            `json:"region"`
	Digest string            `json:"digest,omitempty"`
	Vector map[string]uint64 `json:"version_vector,omitempty"`
	// Above lists, per origin epoch (Vector's key), the inclusive
	// [from, to] ranges of sequence numbers the view holds beyond
	// Vector's contiguous prefix: a view applies mutations in timestamp
	// order as they arrive, so past a lost or late id it holds later
	// ones. The view is exactly the prefix and these. Empty once the view
	// has caught up.
	Above map[string][][2]uint64 `json:"applied_above,omitempty"`
	// AboveTruncated: the node left some ranges out of Above (it lists
	// at most 64); what the view holds beyond the prefix is then unknown.
	AboveTruncated bool    `json:"applied_above_truncated,omitempty"`
	LagSeconds     float64 `json:"lag_seconds"`
	Stale          bool    `json:"stale"`
}

// AuthorizeResponse answers an authorize request.
type AuthorizeResponse struct {
	Decision      string  `json:"decision"`
	Explanation   any     `json:"explanation"`
	Reason        string  `json:"reason,omitempty"`
	Authenticated bool    `json:"authenticated"`
	View          ViewRef `json:"view"`
}

// ViewInfo summarises the region's view (GET /v1/view). Vector is a plain
// map, not replication.VersionVector, to keep this package free of the
// replication core; the two convert without a copy.
type ViewInfo struct {
	Region  string            `json:"region"`
	Digest  string            `json:"digest"`
	Applied int               `json:"applied"`
	Pending int               `json:"pending"`
	Vector  map[string]uint64 `json:"version_vector"`
	// Above and AboveTruncated are ViewRef's: what the view holds beyond
	// Vector's prefixes, so the summary names the view exactly too.
	Above          map[string][][2]uint64 `json:"applied_above,omitempty"`
	AboveTruncated bool                   `json:"applied_above_truncated,omitempty"`
	LagSecond      float64                `json:"lag_seconds"`
	Counts         Counts                 `json:"counts"`
	// Propagation is the node's modelled propagation delay, as
	// delay.Model's String describes it ("default constant(2s); link
	// us-east-2>eu-west-1 constant(6s)"); empty when it applies what it
	// receives at once. `scenario run --cluster` compares it with the
	// scenario's model.
	Propagation string `json:"propagation,omitempty"`
	// Conflicts counts the ids this region met with two different
	// mutations (iamprop_gossip_conflicts_total); RecentConflicts lists the
	// latest. Any makes /readyz answer "degraded".
	Conflicts       uint64         `json:"conflicts"`
	RecentConflicts []ConflictInfo `json:"recent_conflicts,omitempty"`
	// Lost lists the origin epochs this region found closed (their origin
	// lost its disk and started a new epoch) once anti-entropy had asked
	// every reachable peer for them: the commits of such an epoch this
	// region does not hold are lost, and reported here. LostMutations sums
	// their KnownLost (iamprop_mutations_lost_total counts them as they
	// are found).
	Lost          []LostInfo `json:"lost"`
	LostMutations uint64     `json:"lost_mutations"`
	// Epoch is this region's current origin epoch, as version vectors key
	// it ("us-east-2@5f0c3a9e41b2d817"). Its ids of any other epoch that no
	// region holds were lost with its disk, if it ever acknowledged them
	// (GET /v1/mutations/{id} on this region answers 404 saying so: an
	// epoch nobody held anything of cannot be told from one never used).
	Epoch string `json:"epoch"`
}

// LostInfo is one closed origin epoch as /v1/view reports it. The ids in
// Missing are known lost; so is every id after LostAfter, if the origin
// committed any (nobody can know how many).
type LostInfo struct {
	Origin string `json:"origin"`
	Epoch  string `json:"epoch"`  // 16 hex digits, as in ids; "" for epoch 0
	Stream string `json:"stream"` // the version vectors' key: origin, or origin@epoch
	// HeldThrough is the highest sequence number this region holds of
	// the epoch; ClaimedThrough the highest any region was seen to hold.
	HeldThrough    uint64 `json:"held_through"`
	ClaimedThrough uint64 `json:"claimed_through"`
	// Missing lists inclusive [from, to] ranges of sequence numbers up
	// to ClaimedThrough that no region this one heard from holds.
	Missing   [][2]uint64 `json:"missing"`
	KnownLost uint64      `json:"known_lost"`
	LostAfter uint64      `json:"lost_after"`
	// DetectedAt is when this region settled the epoch as closed.
	DetectedAt time.Time `json:"detected_at"`
}

// ConflictInfo is one conflict as /v1/view shows it: the id, the content
// hashes of the mutation kept and the one dropped (the same in every
// region that met it), when and from which peer.
type ConflictInfo struct {
	ID      string    `json:"id"`
	Kept    string    `json:"kept"`
	Dropped string    `json:"dropped"`
	At      time.Time `json:"at"`
	From    string    `json:"from,omitempty"`
}

// Counts summarises a view; the fields are those of controlplane.Counts
// (the node converts one into the other, so a field added there and not
// here fails to compile).
type Counts struct {
	Accounts      int `json:"accounts"`
	Users         int `json:"users"`
	Groups        int `json:"groups"`
	Roles         int `json:"roles"`
	Policies      int `json:"policies"` // customer-managed IAM policies
	AccessKeys    int `json:"access_keys"`
	ActiveKeys    int `json:"active_keys"`
	Buckets       int `json:"buckets"`
	PublicBuckets int `json:"public_buckets"` // buckets whose policy is public and not blocked by BPA
	Objects       int `json:"objects"`
	OrgPolicies   int `json:"org_policies"` // SCPs and RCPs, AWS-managed ones excluded
	OrgUnits      int `json:"org_units"`
	Tombstones    int `json:"tombstones"`
	Applied       int `json:"applied"`
	Conflicts     int `json:"conflicts"`
}

// Region statuses in a MutationStatus.
const (
	StatusApplied = "applied"
	StatusPending = "pending"
	StatusUnknown = "unknown"
	// StatusLost: the commit was lost with its origin's disk (MutationStatus.Lost).
	StatusLost = "lost"
	// StatusComplete: every region has applied it (MutationStatus.Status).
	StatusComplete = "complete"
)

// MutationStatus answers "has my change propagated everywhere yet?".
// Every region of the cluster appears in Regions, down ones included.
type MutationStatus struct {
	ID          string     `json:"id"`
	CommittedAt *time.Time `json:"committed_at,omitempty"`
	// Status is "complete", "pending" (some region has not applied it
	// yet) or "lost".
	Status string `json:"status"`
	// Complete is true only when every region of the cluster has applied
	// the mutation.
	Complete bool `json:"complete"`
	// Lost says this region reports the commit under this id lost with its
	// origin's disk: the origin started a new epoch and no region this one
	// heard from holds it (at most a no-op filler under its id). Every
	// region's status is then "lost", and Pending is empty: nothing will
	// bring it. LostEpoch says which epoch and what is known of it.
	Lost      bool      `json:"lost,omitempty"`
	LostEpoch *LostInfo `json:"lost_epoch,omitempty"`
	// Applied maps each region known to have applied it to when.
	Applied map[string]time.Time `json:"applied"`
	// Pending lists every region not known to have applied it: those
	// waiting for it and those whose status is unknown. It is empty exactly
	// when Complete or Lost is true.
	Pending []string `json:"pending"`
	// Unknown lists the regions whose status cannot be known now (down,
	// suspect, or silent past the bound); they are in Pending too.
	Unknown []string `json:"unknown"`
	// Regions holds every region's status.
	Regions map[string]RegionStatus `json:"regions"`
	// SilenceBoundSeconds is how long an alive region may go unheard
	// before its status turns unknown.
	SilenceBoundSeconds float64 `json:"silence_bound_seconds"`
}

// RegionStatus is one region's part in a MutationStatus.
type RegionStatus struct {
	// Status is "applied", "pending" (in touch, not applied yet),
	// "unknown" (not known to have applied it, and down, suspect or
	// silent) or "lost" (the commit is lost: MutationStatus.Lost).
	Status string `json:"status"`
	// AppliedAt is when it applied the mutation, when known.
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	// Reason says why the status is unknown.
	Reason string `json:"reason,omitempty"`
}

// MemberInfo is one cluster member as a region sees it.
type MemberInfo struct {
	Region  string            `json:"region"`
	Gossip  string            `json:"gossip"`
	HTTP    string            `json:"http,omitempty"`
	State   string            `json:"state"`
	Vector  map[string]uint64 `json:"version_vector,omitempty"`
	Self    bool              `json:"self,omitempty"`
	Updated *time.Time        `json:"vector_updated,omitempty"`
}

// ClusterInfo is the answer of GET /v1/cluster.
type ClusterInfo struct {
	Region  string       `json:"region"`
	Members []MemberInfo `json:"members"`
}

// RemoveMemberResponse answers DELETE /v1/cluster/members/{region}.
type RemoveMemberResponse struct {
	Removed string       `json:"removed"`
	Members []MemberInfo `json:"members"`
}

// FaultSpec is a set of network faults, in the words of a scenario's
// `faults` and of POST /v1/faults. It names regions, not addresses, and is
// the same document for every region: each region applies the part that
// concerns its own links, so a runner may post it to every node, or to one
// node only (that node then cuts its side of each link, both ways).
type FaultSpec struct {
	// Partition splits the listed regions into groups that cannot reach
	// one another, in either direction. Regions in no group are unaffected.
	Partition [][]string `json:"partition,omitempty"`
	// PartitionOneway drops traffic from From to To only (To's replies and
	// its own gossip still reach From).
	PartitionOneway *OneWay `json:"partition_oneway,omitempty"`
	// Links adds latency and loss to links; "*" matches every region.
	Links []LinkSpec `json:"links,omitempty"`
}

// OneWay names a directed link.
type OneWay struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// LinkSpec degrades the directed links from From to To.
type LinkSpec struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Latency Duration `json:"latency,omitempty"` // added to every packet and stream dial
	Jitter  Duration `json:"jitter,omitempty"`  // uniform extra delay in [0, jitter)
	Loss    float64  `json:"loss,omitempty"`    // probability a packet is dropped, 0 to 1
}

// Duration is a time.Duration written as a Go duration string ("150ms")
// in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "1.5s"; a bare number is
// refused because its unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"150ms\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}

// Bounds that keep a fault document from wedging a node's transport.
const (
	maxFaultLatency = time.Minute
	maxFaultRegions = 1024
)

// Empty reports whether the spec sets no fault at all (the API refuses
// to post one: DELETE /v1/faults clears them).
func (s *FaultSpec) Empty() bool {
	return len(s.Partition) == 0 && s.PartitionOneway == nil && len(s.Links) == 0
}

// Validate checks the spec: known shapes, regions named, no region in two
// partition groups, latencies within a minute, loss within [0, 1]. A
// client may call it before posting; the node calls it again.
func (s *FaultSpec) Validate() error {
	if s.Empty() {
		return errors.New("faults: empty spec: set partition, partition_oneway or links (DELETE /v1/faults clears faults)")
	}
	seen := map[string]int{}
	n := 0
	for gi, g := range s.Partition {
		if len(g) == 0 {
			return fmt.Errorf("faults: partition group %d is empty", gi)
		}
		for _, r := range g {
			if err := ValidRegion(r); err != nil {
				return fmt.Errorf("faults: partition group %d: %w", gi, err)
			}
			if prev, dup := seen[r]; dup {
				return fmt.Errorf("faults: region %q is in partition groups %d and %d", r, prev, gi)
			}
			seen[r] = gi
			n++
		}
	}
	if n > maxFaultRegions {
		return fmt.Errorf("faults: %d regions exceed %d", n, maxFaultRegions)
	}
	if len(s.Partition) == 1 {
		return errors.New("faults: a partition needs at least two groups")
	}
	if ow := s.PartitionOneway; ow != nil {
		if err := ValidRegion(ow.From); err != nil {
			return fmt.Errorf("faults: partition_oneway.from: %w", err)
		}
		if err := ValidRegion(ow.To); err != nil {
			return fmt.Errorf("faults: partition_oneway.to: %w", err)
		}
		if ow.From == ow.To {
			return fmt.Errorf("faults: partition_oneway from and to are both %q", ow.From)
		}
	}
	if len(s.Links) > maxFaultRegions {
		return fmt.Errorf("faults: %d links exceed %d", len(s.Links), maxFaultRegions)
	}
	for i, l := range s.Links {
		for _, r := range []string{l.From, l.To} {
			if r != "*" {
				if err := ValidRegion(r); err != nil {
					return fmt.Errorf("faults: links[%d]: %w", i, err)
				}
			}
		}
		if l.Latency < 0 || time.Duration(l.Latency) > maxFaultLatency || l.Jitter < 0 || time.Duration(l.Jitter) > maxFaultLatency {
			return fmt.Errorf("faults: links[%d]: latency and jitter must be within 0 and %v", i, maxFaultLatency)
		}
		if !(l.Loss >= 0 && l.Loss <= 1) {
			return fmt.Errorf("faults: links[%d]: loss %v is not a probability in [0, 1]", i, l.Loss)
		}
		if l.Latency == 0 && l.Jitter == 0 && l.Loss == 0 {
			return fmt.Errorf("faults: links[%d] sets neither latency, jitter nor loss", i)
		}
	}
	return nil
}

// ValidRegion says why r is not a region name the live cluster accepts (1
// to 64 of A-Z, a-z, 0-9 and "-_.:"), or returns nil.
func ValidRegion(r string) error {
	if r == "" || len(r) > 64 {
		return fmt.Errorf("region %q: want 1 to 64 characters", r)
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("region %q: character %q not allowed", r, c)
		}
	}
	return nil
}

// GossipKeys describes a node's keyring by fingerprints (never the keys):
// the first 8 bytes of each key's SHA-256, in hex (GET /v1/gossip/keys).
type GossipKeys struct {
	// Primary encrypts what the node sends.
	Primary string `json:"primary"`
	// Installed decrypt what it receives; Primary is one of them.
	Installed []string `json:"installed"`
}

// GossipKeyRequest is the body of POST /v1/gossip/keys: one step of a key
// rotation on a node.
type GossipKeyRequest struct {
	// Op is install, use or remove.
	Op string `json:"op"`
	// Key is the key, base64 of 16, 24 or 32 bytes (as --gossip-key-file).
	Key string `json:"key"`
}
