package live

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamprop/iamprop/store"
)

// TestRecoverClosesTheDamagedEpoch: eu-west-1, cut off, commits u2 and u3
// that no peer holds; a byte of u2's record is flipped while it is down,
// and it restarts with Recover. The damaged record is gone for good, so
// recovery starts a new epoch and, once it heard from its peers, closes
// the old one: the lost sequence number is filled (Stats.Lost), so every
// region's vector of the old epoch moves past it to u3, instead of
// stopping below the gap forever; its next commit is the first of the new
// epoch.
func TestRecoverClosesTheDamagedEpoch(t *testing.T) {
	const us, eu = "us-east-2", "eu-west-1"
	c := startCluster(t, []string{us, eu}, ClusterOptions{DataDir: t.TempDir()})
	first, err := c.Commit(eu, createUser("u1"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "u1 everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, first.ID) })
	cut := FaultSpec{Partition: [][]string{{us}, {eu}}}
	if err := c.SetFaults(cut); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(eu, createUser("u2")); err != nil {
		t.Fatal(err)
	}
	third, err := c.Commit(eu, createUser("u3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Crash(eu); err != nil {
		t.Fatal(err)
	}
	cfg := c.Node(eu).Config()
	path := filepath.Join(cfg.DataDir, store.LogName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"user_name":"u2"`))
	if i < 0 {
		t.Fatal("setup: u2's record not found in the log")
	}
	b[i+len(`"user_name":"`)] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Node(us).SetFaults(FaultSpec{})
	cfg.Recover = true
	cfg.Join = []string{c.Node(us).GossipAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(time.Second) })
	old := third.ID.Stream()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s view %+v ready %v; %s view %+v", eu, n.View(), n.Ready(), us, c.Node(us).View())
		}
	})
	within(t, 20*time.Second, "every region's vector of the damaged epoch past the lost record", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			return c.Node(us).View().Vector[old] >= third.ID.Seq && n.View().Vector[old] >= third.ID.Seq
		})
	})
	// The damaged epoch is closed; once its region has heard every peer,
	// the record nobody returned is reported lost.
	within(t, 20*time.Second, "the damaged record reported lost", func(ctx context.Context) error {
		return poll(ctx, func() bool { return n.View().LostMutations == 1 })
	})
	var next struct{ epoch, seq uint64 }
	within(t, 20*time.Second, "a commit after recovery", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			m, err := n.Commit(createUser("u4"))
			next.epoch, next.seq = m.ID.Epoch, m.ID.Seq
			return err == nil
		})
	})
	if next.epoch == third.ID.Epoch || next.seq != 1 {
		t.Errorf("first commit after recovery is epoch %x seq %d; want the first of a new epoch (the damaged one is %x)", next.epoch, next.seq, third.ID.Epoch)
	}
}
