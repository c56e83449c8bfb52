package live

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/store"
)

// TestWipedSeedWithoutJoinNeverReusesAnID: the first region of a cluster
// runs without --join (as the quick start does). Cut off and restarted
// with its disk wiped, it refuses writes until it heard from its peers
// (TestWipedSeedExpectingPeersWaitsForThem); told it is alone
// (--expect-peers=false), it accepts them, but a commit it accepts must
// never carry an id it issued before the wipe.
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
	if !cfg.ExpectPeers {
		t.Error("the first region of a three-region cluster does not expect peers")
	}
	cfg.ExpectPeers = false
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
		t.Fatalf("with --expect-peers=false a lone seed accepts writes: %v", err)
	}
	if before[m.ID] {
		t.Errorf("the wiped seed reused id %s", m.ID)
	}
}

// TestWipedSeedExpectingPeersWaitsForThem: the same seed started with
// ExpectPeers (--expect-peers) refuses writes, saying why, while it has
// heard from no peer (it says so); once the partition heals and the others' state is
// in, it commits, in a new epoch, against a view that holds their
// mutations.
func TestWipedSeedExpectingPeersWaitsForThem(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	c := startCluster(t, []string{a, b, "ap-southeast-2"}, ClusterOptions{DataDir: t.TempDir()})
	old, err := c.Commit(a, createUser("u1"))
	if err != nil {
		t.Fatal(err)
	}
	grp, err := c.Commit(b, controlplane.Call{Action: "iam:CreateGroup", Account: acct, Args: json.RawMessage(`{"group_name":"ops"}`)})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "applied everywhere", func(ctx context.Context) error {
		if err := c.WaitApplied(ctx, old.ID); err != nil {
			return err
		}
		return c.WaitApplied(ctx, grp.ID)
	})
	cut := FaultSpec{Partition: [][]string{{a}, {b, "ap-southeast-2"}}}
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
	join := controlplane.Call{Action: "iam:AddUserToGroup", Account: acct, Args: json.RawMessage(`{"group_name":"ops","user_name":"u1"}`)}
	if _, err := n.Commit(join); !errors.Is(err, ErrCatchingUp) || !strings.Contains(err.Error(), "not yet heard from its peers") {
		t.Fatalf("the wiped seed, cut off: commit error %v, want ErrCatchingUp saying it has not yet heard from its peers", err)
	}
	// Heal: the others reconnect to it (memberlist rejoins them).
	n.SetFaults(FaultSpec{})
	if err := c.SetFaults(FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	var m replication.Mutation
	within(t, 30*time.Second, "the seed commits once it holds the others' state", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			m, err = n.Commit(join)
			return err == nil
		})
	})
	if m.ID.Epoch == old.ID.Epoch || m.ID.Seq != 1 {
		t.Errorf("first commit after the wipe is %s, want the first of a new epoch (the old one was %s)", m.ID, old.ID)
	}
}

// TestCommitLostWithItsOriginsDiskIsReported: us-east-2 commits 3
// mutations everyone applies, then 2 more while cut off, and loses its
// disk before anyone held them. Once it is back in a new epoch, every
// region answers GET /v1/mutations/{id} for those 2 with status "lost" (not
// pending for ever, not 404), lists the closed epoch in /v1/view, and
// still answers "complete" for the 3 everyone holds.
func TestCommitLostWithItsOriginsDiskIsReported(t *testing.T) {
	const a, b, c3 = "us-east-2", "eu-west-1", "ap-southeast-2"
	c := startCluster(t, []string{a, b, c3}, ClusterOptions{DataDir: t.TempDir()})
	var kept, lost []replication.Mutation
	for _, u := range []string{"u1", "u2", "u3"} {
		m, err := c.Commit(a, createUser(u))
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, m)
		within(t, 10*time.Second, "applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
	}
	cut := FaultSpec{Partition: [][]string{{a}, {b, c3}}}
	if err := c.SetFaults(cut); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u4", "u5"} {
		m, err := c.Commit(a, createUser(u))
		if err != nil {
			t.Fatal(err)
		}
		lost = append(lost, m)
	}
	if err := c.Crash(a); err != nil {
		t.Fatal(err)
	}
	cfg := c.Node(a).Config()
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := c.SetFaults(FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(time.Second) })
	within(t, 30*time.Second, "the wiped region commits in its new epoch", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			_, err = n.Commit(createUser("after-wipe"))
			return err == nil
		})
	})
	nodes := map[string]*Node{a: n, b: c.Node(b), c3: c.Node(c3)}
	for r, nd := range nodes {
		within(t, 30*time.Second, r+" reports the lost commits", func(ctx context.Context) error {
			return poll(ctx, func() bool {
				for _, m := range lost {
					st, err := nd.Status(m.ID)
					if err != nil || !st.Lost || st.Status != "lost" || len(st.Pending) > 0 {
						return false
					}
				}
				// The origin knows its own old ids lost once every peer
				// answered it, and lists the epoch once it settled.
				return len(nd.View().Lost) > 0
			})
		})
		for _, m := range kept {
			if st, err := nd.Status(m.ID); err != nil || st.Lost || st.Status != "complete" {
				t.Errorf("%s: %s: status %+v, %v; want complete", r, m.ID, st, err)
			}
		}
		v := nd.View()
		if len(v.Lost) != 1 || v.Lost[0].Stream != kept[0].ID.Stream() || v.Lost[0].HeldThrough != 3 || v.Lost[0].LostAfter != 3 {
			t.Errorf("%s: /v1/view lost %+v, want %s held through 3, lost after 3", r, v.Lost, kept[0].ID.Stream())
		}
	}
}

// TestGapFillersMoveTheViewsVector: us-east-2's log lost its fourth record
// (as a --recover set it aside) and nobody else had it; it restarts in a
// new epoch with the rest. Once its old epoch settles it fills 4 with a
// no-op: the other regions' /v1/view vectors must then reach 5, though a
// filler is never an applied mutation (the vector used to be refreshed
// only on applies, and stayed at 3 for good).
func TestGapFillersMoveTheViewsVector(t *testing.T) {
	const a, b, c3 = "us-east-2", "eu-west-1", "ap-southeast-2"
	c := startCluster(t, []string{a, b, c3}, ClusterOptions{DataDir: t.TempDir()})
	var ms []replication.Mutation
	commit := func(u string) {
		t.Helper()
		m, err := c.Commit(a, createUser(u))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		commit(u)
		within(t, 10*time.Second, "applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, ms[len(ms)-1].ID) })
	}
	if err := c.SetFaults(FaultSpec{Partition: [][]string{{a}, {b, c3}}}); err != nil {
		t.Fatal(err)
	}
	commit("u4")
	commit("u5")
	if err := c.Crash(a); err != nil {
		t.Fatal(err)
	}
	cfg := c.Node(a).Config()
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	l, _, _, err := store.Open(cfg.DataDir, store.Options{NoSync: true}) // a new log: a new epoch
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]replication.Mutation{ms[0], ms[1], ms[2], ms[4]}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := c.SetFaults(FaultSpec{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(time.Second) })
	stream := ms[0].ID.Stream()
	for _, nd := range []*Node{c.Node(b), c.Node(c3)} {
		within(t, 30*time.Second, nd.Region()+"'s view reaches 5 past the filled gap", func(ctx context.Context) error {
			return poll(ctx, func() bool { return nd.View().Vector[stream] == 5 })
		})
		if st, err := nd.Status(ms[3].ID); err != nil || !st.Lost {
			t.Errorf("%s: status of %s %+v, %v; want lost", nd.Region(), ms[3].ID, st, err)
		}
	}
}
