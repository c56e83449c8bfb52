package realtime

// The in-process backend (--live): a live.Cluster of real memberlist nodes
// on loopback, driven in real time by the runner.

import (
	"context"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/runner"
)

// Live starts one trial's in-process cluster of real memberlist nodes on
// loopback. A non-nil b.Registerer receives the nodes' metrics (the
// runner's /metrics endpoint); they leave it when the cluster shuts down.
func (b Backends) Live(ctx context.Context, t runner.Trial) (runner.Driver, func(), error) {
	c, err := live.StartCluster(ctx, t.Scenario.Regions, live.ClusterOptions{
		Delay: t.Delay, Initial: t.Initial, Seed: t.Seed, Logger: zerolog.Nop(), Registerer: b.Registerer,
		Tune: gossipTune(t.Gossip),
	})
	if err != nil {
		return nil, nil, err
	}
	return inProcess{c}, func() { _ = c.Shutdown() }, nil
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

func (d inProcess) Authorize(ctx context.Context, region string, p controlplane.Probe, c replication.Consistency) (bool, error) {
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

func (d inProcess) SetFaults(_ context.Context, s runner.FaultSpec) error {
	return d.c.SetFaults(s)
}
func (d inProcess) Crash(_ context.Context, region string) error { return d.c.Crash(region) }
func (d inProcess) Restart(ctx context.Context, region string, lose bool) error {
	return d.c.Restart(ctx, region, lose)
}
func (d inProcess) WaitConverged(ctx context.Context) error { return d.c.WaitConverged(ctx) }
