package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

var three = []string{"us-east-2", "eu-west-1", "ap-southeast-2"}

// initial has one account so that iam:CreateUser commits.
func initial() *controlplane.State {
	st := controlplane.NewState()
	st.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	return st
}

func createUser(name string) controlplane.Call {
	return controlplane.Call{Action: "iam:CreateUser", Args: json.RawMessage(fmt.Sprintf(`{"user_name":%q}`, name))}
}

func mustD(d delay.Distribution, err error) delay.Distribution {
	if err != nil {
		panic(err)
	}
	return d
}

type opts struct {
	seed    uint64
	prop    delay.Distribution
	latency delay.Distribution
	loss    float64
	gossip  replication.GossipConfig
	trace   *bytes.Buffer
}

func build(t *testing.T, regions []string, o opts) *sim.Sim {
	t.Helper()
	if o.prop == nil {
		o.prop = mustD(delay.Constant(0))
	}
	if o.gossip.Interval == 0 {
		o.gossip = replication.DefaultLANGossip()
	}
	cfg := sim.Config{Regions: regions, Seed: o.seed, Gossip: o.gossip, Delay: delay.NewModel(o.prop),
		Network: sim.Network{Latency: o.latency, Loss: o.loss}, Initial: initial()}
	if o.trace != nil {
		cfg.Trace = o.trace
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// workload is a small run with every kind of trace event: commits, a
// partition, loss, a crash with state kept, and heals.
func workload(t *testing.T, seed uint64) string {
	var buf bytes.Buffer
	s := build(t, three, opts{seed: seed, prop: mustD(delay.LogNormal(time.Second, 4*time.Second)),
		latency: mustD(delay.Uniform(20*time.Millisecond, 120*time.Millisecond)), loss: 0.1, trace: &buf})
	var p sim.FaultID
	s.Schedule(500*time.Millisecond, func() { p = s.Partition([][]string{{"us-east-2"}, {"eu-west-1", "ap-southeast-2"}}) })
	for i := range 4 {
		s.Schedule(time.Duration(i+1)*time.Second, func() {
			if _, err := s.Commit(three[i%3], createUser(fmt.Sprintf("u%d", i))); err != nil {
				t.Errorf("seed %d: commit %d: %v", seed, i, err)
			}
		})
	}
	s.Schedule(3*time.Second, func() { s.Crash("ap-southeast-2", false) })
	s.Schedule(6*time.Second, func() { s.Heal(p); s.Restart("ap-southeast-2") })
	s.RunUntil(60 * time.Second)
	if !s.Converged() {
		t.Errorf("seed %d: workload did not converge", seed)
	}
	return buf.String()
}

// TestTraceDeterministic: same seed, byte-identical event traces; another
// seed, a different one. The trace covers every event kind.
func TestTraceDeterministic(t *testing.T) {
	const seed = 11
	a, b, c := workload(t, seed), workload(t, seed), workload(t, seed+1)
	if a != b {
		t.Fatalf("seed %d: traces differ between two runs (%d vs %d bytes)", seed, len(a), len(b))
	}
	if a == c {
		t.Errorf("seeds %d and %d produced identical traces", seed, seed+1)
	}
	for _, kind := range []string{" commit ", " deliver ", " drop ", " apply ", " fault "} {
		if !bytes.Contains([]byte(a), []byte(kind)) {
			t.Errorf("seed %d: trace has no %q line", seed, kind)
		}
	}
}

// TestExactApplyInstant: with a constant 6 s propagation delay and fast
// gossip, every other region applies at commit + 6 s to the nanosecond, and
// the truth includes the commit at its instant.
func TestExactApplyInstant(t *testing.T) {
	const seed = 3
	s := build(t, three, opts{seed: seed, prop: mustD(delay.Constant(6 * time.Second)),
		latency: mustD(delay.Constant(30 * time.Millisecond))})
	commitAt := 1234567891 * time.Nanosecond
	applied := map[string]time.Duration{}
	s.OnApply(func(at time.Duration, region string, m replication.Mutation) { applied[region] = at })
	var id replication.MutationID
	s.Schedule(commitAt, func() {
		m, err := s.Commit("us-east-2", createUser("alice"))
		if err != nil {
			t.Fatal(err)
		}
		id = m.ID
		if s.Truth().Digest() == initial().Digest() {
			t.Errorf("truth does not include the commit at its instant %s", commitAt)
		}
		if s.Has("eu-west-1", id) {
			t.Errorf("eu-west-1 has the mutation at its commit instant")
		}
	})
	s.RunUntil(commitAt + 6*time.Second - 1)
	if s.Has("eu-west-1", id) {
		t.Fatalf("seed %d: eu-west-1 applied before commit + 6 s", seed)
	}
	s.RunUntil(time.Minute)
	for _, r := range []string{"eu-west-1", "ap-southeast-2"} {
		if got, want := applied[r], commitAt+6*time.Second; got != want {
			t.Errorf("seed %d: %s applied at %s, want %s", seed, r, got, want)
		}
	}
	if got := applied["us-east-2"]; got != commitAt {
		t.Errorf("seed %d: origin applied at %s, want its commit instant %s", seed, got, commitAt)
	}
}

// TestFaults: each fault keeps a mutation from a region while it lasts, and
// the cluster converges after it is healed, at an instant RunUntilConverged reports.
func TestFaults(t *testing.T) {
	lat := mustD(delay.Constant(10 * time.Millisecond))
	tests := []struct {
		name string
		// start begins the fault at 0 s and returns how to heal it.
		start func(s *sim.Sim) func()
		// cut is a region that must not have the mutation before the heal.
		cut string
	}{
		{"partition", func(s *sim.Sim) func() {
			id := s.Partition([][]string{{"us-east-2"}, {"eu-west-1", "ap-southeast-2"}})
			return func() { s.Heal(id) }
		}, "eu-west-1"},
		{"one-way partition", func(s *sim.Sim) func() {
			// The origin can hear the others but not talk to eu-west-1;
			// ap-southeast-2 relays, so cut both of its outbound links too.
			a := s.PartitionOneWay("us-east-2", "eu-west-1")
			b := s.PartitionOneWay("ap-southeast-2", "eu-west-1")
			return func() { s.Heal(a); s.Heal(b) }
		}, "eu-west-1"},
		{"total loss of unreliable gossip", func(s *sim.Sim) func() {
			// Only push/pull (reliable, TCP in memberlist) gets through.
			id := s.SetLoss(1)
			return func() { s.Heal(id) }
		}, ""},
		{"crash keeping state", func(s *sim.Sim) func() {
			s.Crash("eu-west-1", false)
			return func() { s.Restart("eu-west-1") }
		}, "eu-west-1"},
		{"crash losing state", func(s *sim.Sim) func() {
			s.Crash("eu-west-1", true)
			return func() { s.Restart("eu-west-1") }
		}, "eu-west-1"},
	}
	const heal = 20 * time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const seed = 5
			s := build(t, three, opts{seed: seed, latency: lat})
			var undo func()
			s.Schedule(0, func() { undo = tt.start(s) })
			var id replication.MutationID
			s.Schedule(time.Second, func() {
				m, err := s.Commit("us-east-2", createUser("bob"))
				if err != nil {
					t.Fatal(err)
				}
				id = m.ID
			})
			s.Schedule(heal, func() {
				if tt.cut != "" && s.Has(tt.cut, id) {
					t.Errorf("seed %d: %s applied the mutation across the fault", seed, tt.cut)
				}
				undo()
			})
			at, ok := s.RunUntilConverged(heal, 10*time.Minute)
			if !ok {
				t.Fatalf("seed %d: not converged 10 min after the heal", seed)
			}
			for _, r := range three {
				if !s.Has(r, id) {
					t.Errorf("seed %d: converged at %s but %s lacks %s", seed, at, r, id)
				}
			}
			t.Logf("converged %s after the heal", at-heal)
		})
	}
}

// TestRunUntilConvergedExact: the reported instant is the last apply, not a
// polling boundary.
func TestRunUntilConvergedExact(t *testing.T) {
	s := build(t, three, opts{seed: 1, prop: mustD(delay.Constant(6 * time.Second)), latency: mustD(delay.Constant(time.Millisecond))})
	var last time.Duration
	s.OnApply(func(at time.Duration, _ string, _ replication.Mutation) { last = max(last, at) })
	s.Schedule(time.Second, func() { _, _ = s.Commit("us-east-2", createUser("carol")) })
	s.RunUntil(time.Second)
	at, ok := s.RunUntilConverged(time.Second, time.Minute)
	if !ok || at != 7*time.Second || at != last {
		t.Errorf("RunUntilConverged = %s, %v; want 7s, true (last apply %s)", at, ok, last)
	}
}

// TestPushPullRepairsLoss: with every unreliable gossip message lost for
// good, push/pull anti-entropy (reliable) still carries the mutation to
// every region, within a few push/pull intervals.
func TestPushPullRepairsLoss(t *testing.T) {
	const seed = 9
	g := replication.DefaultLANGossip()
	s := build(t, three, opts{seed: seed, loss: 1, latency: mustD(delay.Constant(10 * time.Millisecond)), gossip: g})
	s.Schedule(time.Second, func() { _, _ = s.Commit("us-east-2", createUser("dave")) })
	at, ok := s.RunUntilConverged(time.Second, 5*g.PushPullInterval)
	if !ok {
		t.Fatalf("seed %d: not converged by %s under total loss", seed, 5*g.PushPullInterval)
	}
	if s.Stats().Dropped == 0 {
		t.Errorf("seed %d: loss 1 dropped nothing", seed)
	}
	if at < g.PushPullInterval/4 {
		t.Errorf("seed %d: converged at %s, sooner than push/pull could repair: gossip was not lost", seed, at)
	}
	t.Logf("converged at %s, stats %+v", at, s.Stats())
}
