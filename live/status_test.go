package live

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// waitStatus polls a node's status of id until cond holds.
func waitStatus(t *testing.T, n *Node, id replication.MutationID, what string, cond func(MutationStatus) bool) MutationStatus {
	t.Helper()
	var st MutationStatus
	within(t, 15*time.Second, what, func(ctx context.Context) error {
		return poll(ctx, func() bool {
			var err error
			st, err = n.Status(id)
			return err == nil && cond(st)
		})
	})
	return st
}

// TestStatusCountsAStoppedRegion: a region that left gracefully (SIGTERM)
// has not applied what was committed after it left, so the mutation is not
// applied everywhere: the status says the region is unknown, and complete
// only once it is back and has applied it. The regions are remembered
// across a restart of the asking node, and only an operator's removal
// takes a down region out.
func TestStatusCountsAStoppedRegion(t *testing.T) {
	dir := t.TempDir()
	c := startCluster(t, []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, ClusterOptions{DataDir: dir})
	if err := c.Node("eu-west-1").Shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "the leave is seen", func(ctx context.Context) error {
		return poll(ctx, func() bool { return c.Node("us-east-2").numAlive() == 2 })
	})
	m, err := c.Commit("us-east-2", createUser("dave"))
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, c.Node("us-east-2"), m.ID, "ap-southeast-2 applies", func(st MutationStatus) bool {
		_, ok := st.Applied["ap-southeast-2"]
		return ok
	})
	if st.Complete || !slices.Equal(st.Pending, []string{"eu-west-1"}) || !slices.Equal(st.Unknown, []string{"eu-west-1"}) {
		t.Fatalf("with eu-west-1 stopped: complete=%v pending=%v unknown=%v, want false [eu-west-1] [eu-west-1]", st.Complete, st.Pending, st.Unknown)
	}
	if rs := st.Regions["eu-west-1"]; rs.Status != "unknown" || !strings.Contains(rs.Reason, "down") || rs.AppliedAt != nil {
		t.Errorf("eu-west-1: %+v, want unknown because it is down", rs)
	}
	if rs := st.Regions["us-east-2"]; rs.Status != "applied" || rs.AppliedAt == nil {
		t.Errorf("us-east-2: %+v, want applied with a time", rs)
	}
	// A long poll does not answer complete while a region is down: it runs
	// out and answers the status at hand.
	start := time.Now()
	st, err = c.Node("us-east-2").WaitStatus(context.Background(), m.ID, 300*time.Millisecond)
	if err != nil || st.Complete || time.Since(start) < 300*time.Millisecond {
		t.Errorf("WaitStatus with a region down: complete=%v err=%v after %v", st.Complete, err, time.Since(start))
	}

	// The asking node restarts: it still counts eu-west-1, which it has not
	// heard from since (the region set is in its data directory).
	if err := c.Node("us-east-2").Shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
	restart(t, c, "us-east-2")
	st = waitStatus(t, c.Node("us-east-2"), m.ID, "restarted asker knows ap-southeast-2 applied", func(st MutationStatus) bool {
		_, ok := st.Applied["ap-southeast-2"]
		return ok
	})
	if st.Complete || st.Regions["eu-west-1"].Status != "unknown" {
		t.Fatalf("after the asker's restart: complete=%v eu-west-1=%+v, want incomplete and unknown", st.Complete, st.Regions["eu-west-1"])
	}

	// eu-west-1 comes back, catches up: complete. A long poll started
	// before its restart answers as soon as it is complete.
	done := make(chan MutationStatus, 1)
	go func() {
		st, _ := c.Node("us-east-2").WaitStatus(context.Background(), m.ID, 20*time.Second)
		done <- st
	}()
	restart(t, c, "eu-west-1")
	select {
	case st = <-done:
	case <-time.After(25 * time.Second):
		t.Fatal("long poll did not return")
	}
	if !st.Complete || len(st.Pending) != 0 || len(st.Unknown) != 0 || len(st.Applied) != 3 {
		t.Fatalf("after eu-west-1 is back: %+v, want complete with 3 applied", st)
	}

	// ap-southeast-2 stops for good. Removing a live member, this node or
	// a region never seen is refused; removing the stopped one completes
	// the next mutation's status without it.
	if err := c.Node("ap-southeast-2").Shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
	us := c.Node("us-east-2")
	within(t, 10*time.Second, "the leave is seen", func(ctx context.Context) error {
		return poll(ctx, func() bool { return us.numAlive() == 2 })
	})
	m2, err := c.Commit("eu-west-1", createUser("erin"))
	if err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, us, m2.ID, "us-east-2 and eu-west-1 apply", func(st MutationStatus) bool { return len(st.Applied) == 2 })
	if st.Complete || st.Regions["ap-southeast-2"].Status != "unknown" {
		t.Fatalf("with ap-southeast-2 stopped: %+v", st)
	}
	cases := []struct {
		region string
		want   error
	}{
		{"eu-west-1", ErrMemberAlive},
		{"us-east-2", ErrMemberAlive},
		{"sa-east-1", ErrNoSuchMember},
		{"ap-southeast-2", nil},
		{"ap-southeast-2", ErrNoSuchMember}, // already removed
	}
	for _, tc := range cases {
		if err := us.RemoveMember(tc.region); !errors.Is(err, tc.want) {
			t.Errorf("RemoveMember(%s) = %v, want %v", tc.region, err, tc.want)
		}
	}
	st, err = us.Status(m2.ID)
	if err != nil || !st.Complete || len(st.Regions) != 2 {
		t.Fatalf("after removing ap-southeast-2: %+v, %v; want complete over 2 regions", st, err)
	}
	for _, mi := range us.Members() {
		if mi.Region == "ap-southeast-2" {
			t.Errorf("removed region still listed: %+v", mi)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "us-east-2", RegionsFile))
	if err != nil || strings.Contains(string(b), "ap-southeast-2") || !strings.Contains(string(b), "eu-west-1") {
		t.Errorf("%s after the removal: %q, %v", RegionsFile, b, err)
	}
}

func restart(t *testing.T, c *Cluster, region string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Restart(ctx, region, false); err != nil {
		t.Fatalf("restart %s: %v", region, err)
	}
}

func TestRegionsFile(t *testing.T) {
	cases := []struct {
		name    string
		content string // "" = no file
		want    []string
		wantErr string
	}{
		{"missing file is an empty set", "", nil, ""},
		{"regions", `{"regions":["us-east-2","eu-west-1"]}`, []string{"eu-west-1", "us-east-2"}, ""},
		{"torn file", `{"regions":["us-e`, nil, "damaged"},
		{"unknown field", `{"regions":[],"x":1}`, nil, "damaged"},
		{"bad region name", `{"regions":["a b"]}`, nil, "region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != "" {
				if err := os.WriteFile(filepath.Join(dir, RegionsFile), []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := loadRegions(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for r := range got {
				names = append(names, r)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("regions %v, want %v", names, tc.want)
			}
		})
	}
	// A save round-trips, replaces the old file and leaves no temp file.
	dir := t.TempDir()
	for _, set := range [][]string{{"us-east-2", "eu-west-1"}, {"us-east-2"}} {
		m := map[string]struct{}{}
		for _, r := range set {
			m[r] = struct{}{}
		}
		if err := saveRegions(dir, m); err != nil {
			t.Fatal(err)
		}
		got, err := loadRegions(dir)
		if err != nil || len(got) != len(set) {
			t.Errorf("saved %v, loaded %v (%v)", set, got, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != RegionsFile {
		t.Errorf("directory after saves: %v, want only %s", ents, RegionsFile)
	}
}

// TestDamagedRegionsFileRefusesStart: forgetting the regions silently would
// bring the defect back (a down region not counted), so a damaged file stops
// the start with a message saying what to do.
func TestDamagedRegionsFileRefusesStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RegionsFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Start(context.Background(), Config{Region: "eu-west-1", Preset: PresetLocal, Initial: initial(t), Seed: 1, DataDir: dir})
	if err == nil {
		n.Shutdown(time.Second)
		t.Fatal("started with a damaged regions file")
	}
	if !strings.Contains(err.Error(), "delete it") {
		t.Errorf("error %q does not say what to do", err)
	}
	// The mutation log's lock was released: a start after the fix works.
	if err := os.Remove(filepath.Join(dir, RegionsFile)); err != nil {
		t.Fatal(err)
	}
	n, err = Start(context.Background(), Config{Region: "eu-west-1", Preset: PresetLocal, Initial: initial(t), Seed: 1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	n.Shutdown(time.Second)
}

// A region's status of a mutation it has applied always says when: the
// instant is the replication node's own, not bookkeeping done later in
// the flush, so a status asked between a commit's apply and its flush
// (held here by the test) gives the commit's instant, never an applied
// region without one.
func TestStatusOfAnApplyBeforeItsFlushHasItsInstant(t *testing.T) {
	const region = "eu-west-1"
	c := startCluster(t, []string{region}, ClusterOptions{})
	n := c.Node(region)
	if _, err := c.Commit(region, createUser("alice")); err != nil {
		t.Fatal(err)
	}
	n.flushMu.Lock()
	type result struct {
		m   replication.Mutation
		err error
	}
	committed := make(chan result, 1)
	go func() {
		m, err := c.Commit(region, createUser("bob"))
		committed <- result{m, err}
	}()
	// The commit applies, then waits for the flush the test holds.
	var id replication.MutationID
	within(t, 15*time.Second, "bob's commit applied", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			n.mu.RLock()
			defer n.mu.RUnlock()
			id = replication.MutationID{Origin: region, Epoch: n.rn.Epoch(), Seq: 2}
			return n.rn.Has(id)
		})
	})
	st, err := n.Status(id)
	n.flushMu.Unlock()
	r := <-committed
	if err != nil || r.err != nil {
		t.Fatal(err, r.err)
	}
	if r.m.ID != id {
		t.Fatalf("bob's commit is %s, want %s", r.m.ID, id)
	}
	at, ok := st.Applied[region]
	if !ok || !at.Equal(r.m.TS.Time()) {
		t.Errorf("status before the flush: applied in %s at %v (listed %v), want the commit's instant %v", region, at, ok, r.m.TS.Time())
	}
	if st.CommittedAt == nil || !st.CommittedAt.Equal(r.m.TS.Time()) {
		t.Errorf("status before the flush: committed at %v, want %v", st.CommittedAt, r.m.TS.Time())
	}
}
