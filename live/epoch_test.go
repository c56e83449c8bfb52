package live

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// TestWipedSeedWithoutJoinNeverReusesAnID: the first region of a cluster
// runs without --join (as the quick start does). Cut off and restarted
// with its disk wiped, by the same command, it may refuse writes until it
// heard from its peers, but a commit it accepts must never carry an id it
// issued before the wipe.
func TestWipedSeedWithoutJoinNeverReusesAnID(t *testing.T) {
	const a = "us-east-2"
	c := startCluster(t, []string{a, "eu-west-1", "ap-southeast-2"}, ClusterOptions{DataDir: t.TempDir()})
	if len(c.Node(a).Config().Join) != 0 {
		t.Fatal("setup: the first region was told to join")
	}
	before := map[replication.MutationID]bool{}
	for _, u := range []string{"u1", "u2", "u3"} {
		m, err := c.Commit(a, createUser(u))
		if err != nil {
			t.Fatal(err)
		}
		before[m.ID] = true
		within(t, 10*time.Second, "applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
	}
	cut := FaultSpec{Partition: [][]string{{a}, {"eu-west-1", "ap-southeast-2"}}}
	if err := c.SetFaults(cut); err != nil {
		t.Fatal(err)
	}
	if err := c.Crash(a); err != nil {
		t.Fatal(err)
	}
	cfg := c.Node(a).Config()
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(time.Second) })
	n.SetFaults(cut)
	m, err := n.Commit(createUser("after-wipe"))
	if err != nil {
		t.Logf("the wiped seed refuses writes while cut off: %v", err)
		return
	}
	if before[m.ID] {
		t.Errorf("the wiped seed reused id %s", m.ID)
	}
}
