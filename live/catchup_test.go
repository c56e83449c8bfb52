package live

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iamprop/iamprop/metrics"
)

// refuseAlive makes memberlist ignore alive messages about one region
// while on: the way a region misses a newcomer's alive broadcast (lost,
// or its retransmits spent) when memberlist's periodic push/pull, its
// membership repair, is off.
type refuseAlive struct {
	region string
	on     *atomic.Bool
}

func (r refuseAlive) NotifyAlive(peer *memberlist.Node) error {
	if r.on.Load() && peer.Name == r.region {
		return errors.New("test: alive message dropped")
	}
	return nil
}

// TestCatchUpWithPeersThatDoNotKnowIt: with --push-pull-interval off, a
// region that starts without its log's content learns its peers from the
// one it joins, but they may not learn it back. Their answers to its
// anti-entropy requests then have nowhere to go; it must not wait for
// them for ever, and they must count and log what they could not send.
func TestCatchUpWithPeersThatDoNotKnowIt(t *testing.T) {
	const x = "ap-southeast-2"
	var blind atomic.Bool
	blind.Store(true)
	noPushPull := func(c *memberlist.Config) {
		fastTune(c)
		c.PushPullInterval = 0
	}
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{Tune: func(c *memberlist.Config) {
		noPushPull(c)
		c.Alive = refuseAlive{region: x, on: &blind}
	}})
	if _, err := c.Commit("us-east-2", createUser("u1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, Config{Region: x, Preset: PresetLocal, Tune: noPushPull, Initial: initial(t), Seed: 7,
		Join: []string{c.Node("us-east-2").GossipAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(time.Second) })
	within(t, 10*time.Second, x+" learns its peers", func(ctx context.Context) error {
		return poll(ctx, func() bool { return n.numAlive() == 3 })
	})
	// Its requests have been answered into the void for a while; the
	// others stop ignoring it, but nothing tells them it exists.
	time.Sleep(time.Second)
	if n.Synced() {
		t.Fatal("setup: caught up although no peer knows it")
	}
	blind.Store(false)
	within(t, 20*time.Second, x+" catches up", func(ctx context.Context) error {
		return poll(ctx, func() bool { return n.Synced() })
	})
	dropped := 0.0
	for _, p := range c.Nodes() {
		dropped += testutil.ToFloat64(p.Metrics().GossipDropped.WithLabelValues(metrics.DroppedUnknownPeer))
	}
	if dropped == 0 {
		t.Error("the answers its peers could not send were not counted in iamprop_gossip_dropped_total{reason=unknown_peer}")
	}
}
