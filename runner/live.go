package runner

// The in-process backend (--live): a live.Cluster of real memberlist nodes
// on loopback, driven in real time by realtime.go.

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/replication"
)

// liveBackend runs each trial on an in-process cluster of live nodes on
// loopback, in real time (ModeLive); metrics, when set, receives the
// nodes' metrics.
type liveBackend struct{ metrics *metrics.Runner }

func (liveBackend) mode() Mode     { return ModeLive }
func (liveBackend) parallel() bool { return false }

func (b liveBackend) trial(ctx context.Context, p *plan, index int, seed uint64, keepTimeline bool) *trialResult {
	return runLiveTrial(ctx, p, index, seed, keepTimeline, nodeRegisterer(b.metrics))
}

// runLiveTrial runs one trial on an in-process cluster of real memberlist
// nodes on loopback, in real time. The served decisions are the nodes' own;
// the exposure windows are computed exactly, as in the simulator, by
// replaying the commit and apply instants the nodes recorded. A non-nil reg
// receives the nodes' metrics (the runner's /metrics endpoint); they leave
// it when the cluster shuts down, so the next trial registers afresh.
func runLiveTrial(ctx context.Context, p *plan, index int, seed uint64, keepTimeline bool, reg prometheus.Registerer) *trialResult {
	c, err := live.StartCluster(ctx, p.scenario.Regions, live.ClusterOptions{
		Delay: p.delay, Initial: p.initial, Seed: seed, Logger: zerolog.Nop(), Registerer: reg,
		Tune: gossipTune(p.gossip),
	})
	if err != nil {
		return &trialResult{index: index, seed: seed, err: fmt.Errorf("starting the live cluster: %w", err)}
	}
	defer c.Shutdown()
	return runDriven(ctx, p, inProcess{c}, index, seed, keepTimeline)
}

// gossipTune gives the live nodes the scenario's gossip schedule, the one
// the simulator runs: without it a live trial gossiped on the loopback
// preset (100 ms rounds, 2 x log retransmits, push/pull every 15 s) while
// the simulator used the scenario's (default LAN: 200 ms, 4 x log, 30 s), so
// the two disagreed about every lag that waits for anti-entropy.
func gossipTune(g replication.GossipConfig) func(*memberlist.Config) {
	return func(c *memberlist.Config) {
		c.GossipInterval, c.GossipNodes, c.RetransmitMult = g.Interval, g.Fanout, g.RetransmitMult
		if g.PushPullInterval > 0 {
			c.PushPullInterval = g.PushPullInterval
		}
	}
}

// inProcess drives a live.Cluster.
type inProcess struct{ c *live.Cluster }

func (d inProcess) Commit(_ context.Context, region string, c controlplane.Call) (replication.Mutation, error) {
	return d.c.Commit(region, c)
}

func (d inProcess) Authorize(ctx context.Context, region string, p controlplane.Probe, c live.Consistency) (bool, error) {
	dec, err := d.c.Node(region).Authorize(ctx, p, c)
	return err == nil && dec.Effect == "Allow", err
}

func (d inProcess) AppliedAt(_ context.Context, region string, id replication.MutationID) (time.Time, bool) {
	st, err := d.c.Node(region).Status(id)
	if err != nil {
		return time.Time{}, false
	}
	at, ok := st.Applied[region]
	return at, ok
}

func (d inProcess) KnownApplied(_ context.Context, id replication.MutationID) map[string]time.Time {
	n := d.c.Node(id.Origin)
	if n == nil {
		return nil
	}
	st, err := n.Status(id)
	if err != nil {
		return nil
	}
	return st.Applied
}

func (d inProcess) SetFaults(_ context.Context, s live.FaultSpec) error { return d.c.SetFaults(s) }
func (d inProcess) Crash(_ context.Context, region string) error        { return d.c.Crash(region) }
func (d inProcess) Restart(ctx context.Context, region string, lose bool) error {
	return d.c.Restart(ctx, region, lose)
}
func (d inProcess) WaitConverged(ctx context.Context) error { return d.c.WaitConverged(ctx) }
