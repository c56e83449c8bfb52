// Package chaos runs randomized fault schedules against real regionnode
// processes and checks that the cluster kept every acknowledged mutation.
//
// A run starts a fresh cluster of regionnode processes on loopback per
// schedule, commits mutations concurrently at every region through the HTTP
// API, drives a seeded fault schedule (partitions, one-way partitions, loss
// bursts, latency spikes through POST /v1/faults; kill -9, SIGTERM and
// restarts, and a restart with an empty data directory through the
// operating system), heals, and hands the recorded History and the final
// views to Check. See docs/chaos.md.
package chaos

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/wire"
)

// Outcome is what the client learned from one commit request.
type Outcome string

// The three outcomes of a commit, after Jepsen's ok / fail / info.
const (
	// Acked: the node answered 200 with a mutation id; the mutation is
	// committed (durable at its origin) and must reach every region.
	Acked Outcome = "ok"
	// Failed: the node definitely did not commit it (an AWS error, 503
	// CatchingUp, a refused connection): it must reach no region.
	Failed Outcome = "fail"
	// Unknown: the answer never came (the node was killed mid-request, the
	// request timed out, 500 or 503 ServiceUnavailable after the commit
	// began): it may or may not be committed; the checker accepts both.
	Unknown Outcome = "info"
)

// Op is one commit request as the client saw it.
type Op struct {
	Worker  string          `json:"worker"`  // "us-east-2/w0": the client that issued it (sequential per worker)
	Region  string          `json:"region"`  // the node it was sent to: the origin if committed
	Call    string          `json:"call"`    // "iam:CreateUser"
	With    json.RawMessage `json:"with"`    // the arguments, exactly as sent
	Start   time.Duration   `json:"start"`   // since the schedule started
	End     time.Duration   `json:"end"`     // when the answer (or the error) came
	Outcome Outcome         `json:"outcome"` // Acked, Failed or Unknown
	ID      string          `json:"id,omitempty"`
	HLC     string          `json:"hlc,omitempty"` // the commit timestamp "wall.logical" (Acked only)
	Err     string          `json:"error,omitempty"`
	// Code is the API's error code ("CatchingUp", an AWS code such as
	// "NoSuchEntity"), "refused" (connection refused: the node is down) or
	// "transport" (no answer).
	Code string `json:"code,omitempty"`
	// Deletes names what an acknowledged call removed, for the
	// resurrection check: probes that must answer "absent" after the heal.
	Deletes []Item `json:"deletes,omitempty"`
}

// Item is something a delete removed, with the authorize probe that tells
// whether a view still holds it.
type Item struct {
	Kind string `json:"kind"` // "key", "user", "inline-policy", "membership"
	Name string `json:"name"` // "AKIA..." or "user/policy" or "user@group"
	// Probe: Principal, Action and Resource of POST /v1/authorize. The
	// item is present in a view when the answer is authenticated (Kind
	// "key" and "user") or Allow (the policy kinds).
	Principal string `json:"principal"`
	Action    string `json:"action,omitempty"`
	Resource  string `json:"resource,omitempty"`
}

// Key identifies the item in Final.Present.
func (it Item) Key() string { return it.Kind + ":" + it.Name }

// present reads a probe answer the way Item documents.
func (it Item) present(authenticated, allow bool) bool {
	if it.Kind == "key" || it.Kind == "user" {
		return authenticated
	}
	return allow
}

// History is everything a schedule did that the checker judges.
type History struct {
	Regions []string `json:"regions"`
	Account string   `json:"account"` // the nodes' --account (the initial state)
	Ops     []Op     `json:"ops"`
	// Reads are the consistency reads (Options.Divergence only).
	Reads []Read `json:"reads,omitempty"`
	// T0 is the wall-clock instant every Start and End counts from: with
	// it, CheckReads places a commit at its timestamp (Op.HLC, the
	// origin's clock; the nodes share the machine's), not at its
	// acknowledgement, to tell a max_lag answer's real age.
	T0 time.Time `json:"t0,omitzero"`
}

// Read is one POST /v1/authorize with a consistency mode, as the reader
// saw it: the checker compares the view it came from (Vector) with what
// was acknowledged before it.
type Read struct {
	Region string        `json:"region"`
	Mode   string        `json:"mode"`              // "at_least" or "max_lag"
	Token  string        `json:"token,omitempty"`   // at_least: the mutation id waited for
	MaxLag time.Duration `json:"max_lag,omitempty"` // max_lag: the bound asked for
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	// Answered: 200 (the node vouched for the view); a refusal (503
	// NotFresh, TooStale) or no answer is false and is not judged.
	Answered bool                      `json:"answered"`
	Code     string                    `json:"code,omitempty"`
	Vector   replication.VersionVector `json:"version_vector,omitempty"`
	// Above is the answer's view.applied_above: per origin epoch, the
	// ranges of sequence numbers the view held beyond Vector's prefix (a
	// view applies in timestamp order, so past a lost or late id it holds
	// later ones). The view is the prefix and these, unless AboveTruncated
	// says the node left some out: then what lies beyond the prefix is
	// unknown.
	Above          map[string][][2]uint64 `json:"applied_above,omitempty"`
	AboveTruncated bool                   `json:"applied_above_truncated,omitempty"`
}

// Final is one region's view after the heal, as its API reported it.
type Final struct {
	Region string                    `json:"region"`
	Digest string                    `json:"digest"`
	Vector replication.VersionVector `json:"version_vector"`
	// Present holds, per Item.Key, whether the region's view still holds
	// the item (from its authorize answer).
	Present map[string]bool `json:"present,omitempty"`
	// What the node itself says is wrong (Options.Divergence only): Ready
	// is its /readyz answer; Conflicts sums its conflict counters
	// (iamprop_gossip_refused_mutations_total{reason="conflict"} and
	// iamprop_gossip_conflicts_total); Lost sums every iamprop_ counter
	// whose name says "lost". Counters restart from 0 with the process.
	Ready     bool    `json:"ready"`
	Conflicts float64 `json:"conflicts_reported"`
	Lost      float64 `json:"lost_reported"`
	// LostEpochs is the node's own report of commits lost with their
	// origin's disk (GET /v1/view's lost): Check does not count an
	// acknowledged mutation no region holds as a finding when a node
	// reports its id lost.
	LostEpochs []wire.LostInfo `json:"lost_epochs,omitempty"`
	// Epoch is the node's current origin epoch (GET /v1/view's epoch): it
	// reports its own ids of other epochs that it does not hold lost.
	Epoch string `json:"epoch,omitempty"`
}

// Event is one line of a schedule's recorded operation history, in the
// shape of a Jepsen history: a client's invocation of a commit and its
// completion, or the nemesis's faults, the heal and convergence. Times are
// nanoseconds since the schedule started (the fault lanes' zero); the
// cluster's own setup commits come first, at time 0.
type Event struct {
	Index   int    `json:"index"`
	Process string `json:"process"` // a worker ("us-east-2/w0"), "setup" or "nemesis"
	// Type is "invoke" for a request sent, then "ok", "fail" or "info"
	// (unknown outcome) for its completion; the nemesis's events are "info".
	Type  string `json:"type"`
	F     string `json:"f"`               // the call ("iam:CreateUser"), or the fault ("partition", "kill9", "stop-partition", "heal", "converged")
	Value any    `json:"value,omitempty"` // the arguments when invoked; the mutation id or error code when completed; the fault's target
	Time  int64  `json:"time"`
}

// nemesisEvent is a fault, heal or convergence, as the lanes record it.
type nemesisEvent struct {
	at    time.Duration
	f     string
	value string
}

// buildHistory merges the client operations and the nemesis's events into
// one list in time order (invocations before completions at equal times).
func buildHistory(ops []Op, nemesis []nemesisEvent) []Event {
	type ev struct {
		at  time.Duration
		seq int
		e   Event
	}
	var all []ev
	add := func(at time.Duration, e Event) {
		all = append(all, ev{at: at, seq: len(all), e: e})
	}
	// value leaves an empty value out of the JSON (an interface holding
	// an empty string or nil RawMessage would not be omitted).
	value := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	for _, op := range ops {
		invoke := Event{Process: op.Worker, Type: "invoke", F: op.Call}
		if len(op.With) > 0 {
			invoke.Value = op.With
		}
		add(op.Start, invoke)
		v := op.Code
		if op.Outcome == Acked {
			v = op.ID
		}
		add(op.End, Event{Process: op.Worker, Type: string(op.Outcome), F: op.Call, Value: value(v)})
	}
	for _, n := range nemesis {
		add(n.at, Event{Process: "nemesis", Type: "info", F: n.f, Value: value(n.value)})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].at != all[j].at {
			return all[i].at < all[j].at
		}
		return all[i].seq < all[j].seq
	})
	out := make([]Event, len(all))
	for i, e := range all {
		e.e.Index, e.e.Time = i, max(int64(e.at), 0)
		out[i] = e.e
	}
	return out
}
