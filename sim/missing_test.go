package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

// TestMissingSaysWhy: at the end of a run that did not converge, Missing
// lists per live region each committed mutation it has not applied, with
// the reason: waiting for its apply instant, still in flight to it, still
// gossiped by a region, a rumor that died out before reaching it (only
// push/pull can repair it then), or lost with its origin's state.
func TestMissingSaysWhy(t *testing.T) {
	three := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	cases := []struct {
		name    string
		latency time.Duration // one-way network latency
		apply   time.Duration // propagation delay (commit -> apply)
		faults  func(s *Sim)  // scheduled before the run
		end     time.Duration
		// want is "region reason" per missing entry, in region then commit order.
		want []string
	}{
		{"converged: nothing missing", 10 * time.Millisecond, time.Second, nil, 10 * time.Second, nil},
		{"received, applies after the end", 10 * time.Millisecond, 100 * time.Second, nil, 5 * time.Second,
			[]string{"eu-west-1 pending_apply", "ap-southeast-2 pending_apply"}},
		{"sent, still on the wire", 10 * time.Second, 0, nil, 3 * time.Second,
			[]string{"eu-west-1 in_flight", "ap-southeast-2 in_flight"}},
		{"committed at the last instant: still queued at the origin", 10 * time.Millisecond, 0, nil, time.Second,
			[]string{"eu-west-1 spreading", "ap-southeast-2 spreading"}},
		{"rumor died out during a partition", 10 * time.Millisecond, 0, func(s *Sim) {
			var id FaultID
			s.Schedule(500*time.Millisecond, func() { id = s.Partition([][]string{three[:2], three[2:]}) })
			s.Schedule(10*time.Second, func() { s.Heal(id) })
		}, 20 * time.Second, []string{"ap-southeast-2 rumor_died_out"}},
		{"still partitioned at the end: cut off", 10 * time.Millisecond, 0, func(s *Sim) {
			s.Schedule(500*time.Millisecond, func() { s.Partition([][]string{three[:2], three[2:]}) })
		}, 20 * time.Second, []string{"ap-southeast-2 cut_off"}},
		{"origin lost its state at the commit instant", 10 * time.Millisecond, 0, func(s *Sim) {
			s.Schedule(time.Second, func() { s.Crash("us-east-2", true) })
		}, 5 * time.Second, []string{"eu-west-1 lost", "ap-southeast-2 lost"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			init := controlplane.NewState()
			init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
			lat, _ := delay.Constant(tc.latency)
			prop, _ := delay.Constant(tc.apply)
			s, err := New(Config{Regions: three, Seed: 1, Gossip: replication.DefaultLANGossip(),
				Delay: delay.NewModel(prop), Network: Network{Latency: lat}, Initial: init})
			if err != nil {
				t.Fatal(err)
			}
			var m replication.Mutation
			s.Schedule(time.Second, func() {
				if m, err = s.Commit("us-east-2", user("alice")); err != nil {
					t.Errorf("commit: %v", err)
				}
			})
			if tc.faults != nil {
				tc.faults(s)
			}
			s.RunUntil(tc.end)
			miss := s.Missing()
			var got []string
			for _, x := range miss {
				got = append(got, x.Region+" "+x.Reason.String())
				if x.Mutation.ID != m.ID {
					t.Errorf("%s lacks %s, want %s", x.Region, x.Mutation.ID, m.ID)
				}
				switch x.Reason {
				case Pending:
					if x.ApplyAt != time.Second+tc.apply {
						t.Errorf("%s: apply at %v, want %v", x.Region, x.ApplyAt, time.Second+tc.apply)
					}
				case RumorDied:
					// The first push/pull comes after a stagger plus a whole interval.
					if x.NextPushPull < 30*time.Second || x.NextPushPull >= time.Minute {
						t.Errorf("%s: next push/pull at %v, want in [30s, 60s)", x.Region, x.NextPushPull)
					}
				}
				if x.Reason != Pending && x.ApplyAt != -1 {
					t.Errorf("%s %v: apply at %v, want -1 (not received)", x.Region, x.Reason, x.ApplyAt)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("missing:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(tc.want, ", "))
			}
			if conv := s.Converged(); conv != (len(tc.want) == 0) {
				t.Errorf("Converged() = %v with %d missing", conv, len(tc.want))
			}
		})
	}
}

// TestMissingReasonString: every reason has a stable name (the run
// report's JSON carries it) and a sentence.
func TestMissingReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := Pending; r <= Conflict; r++ {
		name := r.String()
		if name == "" || strings.Contains(name, " ") || seen[name] {
			t.Errorf("reason %d: name %q empty, not one word or repeated", r, name)
		}
		seen[name] = true
	}
	if got := fmt.Sprint(MissingReason(0)); got != "unknown" {
		t.Errorf("zero reason prints %q, want unknown", got)
	}
}
