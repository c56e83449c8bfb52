package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

// smallSim is three regions, 10 ms latency, no loss, a constant apply delay.
func smallSim(t *testing.T, seed uint64, apply time.Duration) *Sim {
	t.Helper()
	init := controlplane.NewState()
	init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	lat, err := delay.Constant(10 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	prop, err := delay.Constant(apply)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Regions: []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, Seed: seed,
		Gossip: replication.DefaultLANGossip(), Delay: delay.NewModel(prop), Network: Network{Latency: lat}, Initial: init})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(ms []replication.Mutation) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID.String())
	}
	return out
}

// TestLostCommits: a commit is lost exactly when its origin loses its state
// before anything else held it (the case of TestRandomFaultSchedules' seed
// 113 with lose_state). The simulator then reports it in Lost, Converged
// stays false for good (the truth has it, no region ever will), and
// SurvivorsConverged checks the regions against the rest.
func TestLostCommits(t *testing.T) {
	cases := []struct {
		name string
		// crashAfter is when the origin crashes after its second commit
		// (the first one, at 0, has spread by then); lose: lose_state.
		crashAfter time.Duration
		lose       bool
		wantLost   []string
	}{
		{"crash at the commit instant, state lost: the second commit is lost", 0, true, []string{"us-east-2/2"}},
		{"crash after gossip, state lost: nothing lost", 3 * time.Second, true, nil},
		{"crash at the commit instant, state kept: nothing lost", 0, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := smallSim(t, 7, 0)
			s.Schedule(0, func() { mustCommit(t, s, "us-east-2", user("alice")) })
			const second = 5 * time.Second
			s.Schedule(second, func() { mustCommit(t, s, "us-east-2", user("bob")) })
			s.Schedule(second+c.crashAfter, func() { s.Crash("us-east-2", c.lose) })
			s.Schedule(second+c.crashAfter+2*time.Second, func() { s.Restart("us-east-2") })
			s.RunUntil(120 * time.Second)
			if got := ids(s.Lost()); !slices.Equal(got, c.wantLost) {
				t.Fatalf("Lost() = %v, want %v", got, c.wantLost)
			}
			if got, want := s.Converged(), len(c.wantLost) == 0; got != want {
				t.Errorf("Converged() = %v, want %v", got, want)
			}
			if !s.SurvivorsConverged() {
				t.Errorf("SurvivorsConverged() = false: the regions disagree on the surviving commits")
			}
			for _, id := range c.wantLost {
				mid, _ := replication.ParseMutationID(id)
				for _, r := range []string{"us-east-2", "eu-west-1", "ap-southeast-2"} {
					if s.Has(r, mid) {
						t.Errorf("%s applied the lost %s", r, id)
					}
				}
			}
			// The recovered origin commits again. Knowing nothing of a
			// commit no region kept, it may reuse its sequence number; the
			// truth holds both, and the regions converge on the survivors.
			mustCommit(t, s, "us-east-2", user("carol"))
			s.RunUntil(180 * time.Second)
			if got := ids(s.Lost()); !slices.Equal(got, c.wantLost) {
				t.Errorf("after a new commit, Lost() = %v, want %v", got, c.wantLost)
			}
			if !s.SurvivorsConverged() {
				t.Errorf("after a new commit, SurvivorsConverged() = false")
			}
			// Every region reports the lost commit itself, once the origin
			// is seen in its new epoch.
			reported := 0
			for _, x := range s.Missing() {
				if x.Reason != Lost {
					t.Errorf("%s lacks %s: %s, want lost", x.Region, x.Mutation.ID, x.Reason)
				} else if !x.Reported {
					t.Errorf("%s lacks the lost %s and does not report it lost", x.Region, x.Mutation.ID)
				} else {
					reported++
				}
			}
			if want := 3 * len(c.wantLost); reported != want {
				t.Errorf("%d regions report a lost commit, want %d", reported, want)
			}
			if got, want := s.Truth().Counts().Users, 3; got != want {
				t.Errorf("the truth holds %d users, want %d (alice, bob, carol)", got, want)
			}
		})
	}
}

func mustCommit(t *testing.T, s *Sim, region string, c controlplane.Call) replication.Mutation {
	t.Helper()
	m, err := s.Commit(region, c)
	if err != nil {
		t.Fatalf("commit at %s: %v", region, err)
	}
	return m
}

// TestRandomLostStateCrashes: random commits and crashes that lose state
// (TestRandomFaultSchedules keeps state); whatever is lost, the regions
// agree on the rest, and Converged is false only when something was lost.
// A failure prints its seed.
func TestRandomLostStateCrashes(t *testing.T) {
	lostSeen := 0
	for seed := uint64(100); seed < 130; seed++ {
		s := newSim(t, seed)
		r := rand.New(rand.NewPCG(seed, 2))
		crashed := map[string]bool{}
		for k := range 12 {
			at := time.Duration(k) * 500 * time.Millisecond
			origin := regions[r.IntN(len(regions))]
			s.Schedule(at, func() {
				if s.View(origin) != nil {
					_, _ = s.Commit(origin, user(fmt.Sprintf("u%d", k)))
				}
			})
			if r.IntN(3) == 0 {
				reg := regions[r.IntN(len(regions))]
				s.Schedule(at+time.Duration(r.IntN(3))*100*time.Millisecond, func() {
					if !crashed[reg] {
						crashed[reg] = true
						s.Crash(reg, true)
					}
				})
			}
		}
		s.Schedule(10*time.Second, func() {
			for _, reg := range regions {
				if crashed[reg] {
					s.Restart(reg)
				}
			}
		})
		// Then every region crashes once more, keeping its log this time
		// (logs now hold gap fillers for the lost commits), and restarts.
		for i, reg := range regions {
			at := 20*time.Second + time.Duration(i)*300*time.Millisecond
			s.Schedule(at, func() { s.Crash(reg, false) })
			s.Schedule(at+time.Second, func() { s.Restart(reg) })
		}
		s.OnApply(func(at time.Duration, region string, m replication.Mutation) {
			if m.Call.Action == replication.GapAction {
				t.Errorf("seed %d: %s reported a gap filler (%s, a lost commit) as applied at %v", seed, region, m.ID, at)
			}
		})
		s.RunUntil(runFor)
		lost := s.Lost()
		lostSeen += len(lost)
		if !s.SurvivorsConverged() {
			t.Errorf("seed %d: regions disagree on the surviving commits (lost %v)", seed, ids(lost))
		}
		if got, want := s.Converged(), len(lost) == 0; got != want {
			t.Errorf("seed %d: Converged() = %v with lost %v", seed, got, ids(lost))
		}
	}
	if lostSeen == 0 {
		t.Errorf("no seed lost a commit: the test exercised nothing")
	}
}

// TestRestartReportsPendingApplies: a region that crashes keeping its log
// while a received mutation waits for its apply instant makes it visible at
// restart (Restore folds the whole log), and the simulator reports that
// apply then, once; mutations it had applied before the crash are not
// reported again.
func TestRestartReportsPendingApplies(t *testing.T) {
	s := smallSim(t, 3, 5*time.Second)
	type apply struct {
		at time.Duration
		id string
	}
	var got []apply
	s.OnApply(func(at time.Duration, region string, m replication.Mutation) {
		if region == "eu-west-1" {
			got = append(got, apply{at, m.ID.String()})
		}
	})
	s.Schedule(0, func() { mustCommit(t, s, "us-east-2", user("alice")) })           // applied at 5 s
	s.Schedule(6*time.Second, func() { mustCommit(t, s, "us-east-2", user("bob")) }) // due at 11 s
	s.Schedule(8*time.Second, func() { s.Crash("eu-west-1", false) })
	s.Schedule(9*time.Second, func() { s.Restart("eu-west-1") })
	s.RunUntil(60 * time.Second)
	want := []apply{{5 * time.Second, "us-east-2/1"}, {9 * time.Second, "us-east-2/2"}}
	if !slices.Equal(got, want) {
		t.Fatalf("eu-west-1 applies %v, want %v", got, want)
	}
	if !s.Converged() {
		t.Errorf("not converged")
	}
}

// TestCrashTwiceKeepsTheLog: a region that crashes twice with its state kept
// must restore, the second time, everything the first restore gave it: the
// kept log stays its durable log. (It used to be dropped at the first
// restart: the second restore lost alice, which only us-east-2 held, and
// us-east-2 reused her sequence number.)
func TestCrashTwiceKeepsTheLog(t *testing.T) {
	s := smallSim(t, 3, 0)
	var cut FaultID
	s.Schedule(0, func() { cut = s.Partition([][]string{{"us-east-2"}, {"eu-west-1", "ap-southeast-2"}}) })
	var alice replication.Mutation
	s.Schedule(time.Second, func() { alice = mustCommit(t, s, "us-east-2", user("alice")) })
	for _, at := range []time.Duration{2 * time.Second, 4 * time.Second} {
		s.Schedule(at, func() { s.Crash("us-east-2", false) })
		s.Schedule(at+time.Second, func() { s.Restart("us-east-2") })
	}
	// A restarted region catches up with a peer before it commits
	// (replication.Config.CatchUp), so bob waits for the heal.
	s.Schedule(6*time.Second, func() {
		if _, err := s.Commit("us-east-2", user("early")); err == nil {
			t.Error("us-east-2 committed while cut off after a restart, before catching up")
		}
	})
	s.Schedule(7*time.Second, func() { s.Heal(cut) })
	var bob replication.Mutation
	s.Schedule(10*time.Second, func() { bob = mustCommit(t, s, "us-east-2", user("bob")) })
	s.RunUntil(120 * time.Second)
	if bob.ID.Seq <= alice.ID.Seq {
		t.Fatalf("sequence number reused: bob is %s, alice %s", bob.ID, alice.ID)
	}
	if lost := s.Lost(); len(lost) != 0 {
		t.Fatalf("Lost() = %v, want nothing (the state was kept both times)", ids(lost))
	}
	if !s.Converged() {
		t.Fatal("not converged after the heal")
	}
}
