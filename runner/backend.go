package runner

// The seam to the real-time backends. Package runner runs the simulator and
// measures every backend, but it does not link the live nodes, memberlist or
// the HTTP API: the simulator path (and a WebAssembly build of it) stays
// free of the network. Package runner/realtime provides the in-process
// (--live) and external (--cluster) clusters through RealTime; a program
// that offers those modes passes it in Options.RealTime.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/wire"
)

// RealTime opens the clusters that real-time trials run on.
type RealTime interface {
	// Live starts an in-process cluster for one trial of a live run; stop
	// shuts it down.
	Live(ctx context.Context, t Trial) (d Driver, stop func(), err error)
	// Cluster reaches the external region nodes at urls for the one trial
	// of a cluster run, checks that they can run it and commits the
	// scenario's initial state on them.
	Cluster(ctx context.Context, t Trial, urls []string) (Driver, error)
}

// Trial is what a real-time backend is told of one trial.
type Trial struct {
	Scenario *scenarios.Scenario
	Index    int
	Seed     uint64
	// Initial is the scenario's initial state, checked.
	Initial *controlplane.State
	// Delay and Gossip are the scenario's propagation model and gossip
	// schedule, the ones the simulator runs.
	Delay  replication.DelayModel
	Gossip replication.GossipConfig
}

// InitialCall is one control-plane call that builds the initial state, with
// where in the scenario it comes from (for errors).
type InitialCall struct {
	controlplane.Call
	Where string
}

// InitialCalls lists the calls that build the trial's initial state, in
// order: what an external cluster commits before the steps.
func (t Trial) InitialCalls() ([]InitialCall, error) {
	calls, err := initialCalls(t.Scenario)
	if err != nil {
		return nil, err
	}
	out := make([]InitialCall, len(calls))
	for i, c := range calls {
		out[i] = InitialCall{Call: c.Call, Where: c.where}
	}
	return out, nil
}

// LiveSettle bounds how long a real-time trial waits, after the scenario's
// duration, for every region to converge before it reads apply instants.
const LiveSettle = liveSettle

// Driver is what a real-time trial needs from a cluster: the in-process
// one of --live, or external regionnode processes reached over their API
// (--cluster).
type Driver interface {
	Commit(ctx context.Context, region string, c controlplane.Call) (replication.Mutation, error)
	Authorize(ctx context.Context, region string, p controlplane.Probe, c replication.Consistency) (allowed bool, err error)
	// AppliedAt is the instant region applied id, by region's own clock.
	AppliedAt(ctx context.Context, region string, id replication.MutationID) (time.Time, bool)
	// KnownApplied is, as the origin of id knows it (its propagation
	// status), when each region applied id: the origin's own apply, the
	// arrival of a peer's ack covering it, by the origin's clock.
	KnownApplied(ctx context.Context, id replication.MutationID) map[string]time.Time
	SetFaults(ctx context.Context, spec FaultSpec) error
	Crash(ctx context.Context, region string) error
	Restart(ctx context.Context, region string, loseState bool) error
	WaitConverged(ctx context.Context) error
}

// FaultSpec is the network faults in force during a real-time trial, as
// the scenario's faults set them: the API's own document (package wire, the
// standard library only), which a Driver hands to its transport as it is.
type FaultSpec = wire.FaultSpec

// errNoRealTime is a live or cluster run asked of a program that did not
// link the real-time backends.
var errNoRealTime = errors.New("this program runs the simulator only: live and cluster runs need the real-time backends (package runner/realtime, Options.RealTime)")

// trial is what the real-time backends are told of one trial of p.
func (p *plan) trial(index int, seed uint64) Trial {
	return Trial{Scenario: p.scenario, Index: index, Seed: seed, Initial: p.initial,
		Delay: p.delay, Gossip: p.gossip}
}

// liveBackend runs each trial on an in-process cluster of live nodes on
// loopback, in real time (ModeLive).
type liveBackend struct {
	rt RealTime
}

func (liveBackend) mode() Mode     { return ModeLive }
func (liveBackend) parallel() bool { return false }

// trial runs one trial on a fresh in-process cluster. The served decisions
// are the nodes' own; the exposure windows are computed exactly, as in the
// simulator, by replaying the commit and apply instants the nodes recorded.
func (b liveBackend) trial(ctx context.Context, p *plan, index int, seed uint64, keepTimeline bool) *trialResult {
	d, stop, err := b.rt.Live(ctx, p.trial(index, seed))
	if err != nil {
		return &trialResult{index: index, seed: seed, err: fmt.Errorf("starting the live cluster: %w", err)}
	}
	defer stop()
	return runDriven(ctx, p, d, index, seed, keepTimeline)
}

// clusterBackend runs the one trial of a cluster run on external
// regionnode processes, one API URL per region (ModeCluster).
type clusterBackend struct {
	rt   RealTime
	urls []string
}

func (clusterBackend) mode() Mode     { return ModeCluster }
func (clusterBackend) parallel() bool { return false }

// trial runs the one trial a cluster run has: the nodes keep their state,
// so there is no second.
func (b clusterBackend) trial(ctx context.Context, p *plan, _ int, seed uint64, _ bool) *trialResult {
	d, err := b.rt.Cluster(ctx, p.trial(0, seed), b.urls)
	if err != nil {
		return &trialResult{seed: seed, err: err}
	}
	return runDriven(ctx, p, d, 0, seed, true)
}
