package sim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

// TestOnStale: with a constant 2 s delay, every other region hears of a
// commit at 1 s within a gossip round, is stale since 1 s from then on,
// and stops being stale when it applies at 3 s; a crashed region reports
// not stale. Sim.StaleSince answers the same.
func TestOnStale(t *testing.T) {
	init := controlplane.NewState()
	init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	prop, err := delay.Constant(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, acks := range []bool{false, true} {
		s, err := New(Config{Regions: regions, Seed: 3, Gossip: replication.DefaultLANGossip(), Delay: delay.NewModel(prop), Initial: init, Acks: acks})
		if err != nil {
			t.Fatal(err)
		}
		type change struct {
			at, since time.Duration
			stale     bool
		}
		got := map[string][]change{}
		s.OnStale(func(at time.Duration, region string, since time.Duration, stale bool) {
			got[region] = append(got[region], change{at, since, stale})
		})
		s.Schedule(time.Second, func() {
			if _, err := s.Commit("us-east-2", user("u")); err != nil {
				t.Error(err)
			}
		})
		s.RunUntil(2 * time.Second)
		if since, ok := s.StaleSince("eu-west-1"); !ok || since != time.Second {
			t.Errorf("acks %v: StaleSince(eu-west-1) = %v, %v at 2s; want 1s", acks, since, ok)
		}
		s.Crash("eu-west-1", false)
		s.RunUntil(5 * time.Second)
		for _, r := range regions[1:] {
			ch := got[r]
			if len(ch) < 2 || !ch[0].stale || ch[0].since != time.Second || ch[0].at < time.Second || ch[0].at > 2*time.Second {
				t.Errorf("acks %v: %s: first change %+v, want stale since 1s, reported in (1s, 2s]", acks, r, ch)
				continue
			}
			last := ch[len(ch)-1]
			wantAt := 3 * time.Second
			if r == "eu-west-1" {
				wantAt = 2 * time.Second // the crash
			}
			if last.stale || last.at != wantAt {
				t.Errorf("acks %v: %s: last change %+v, want not stale at %v", acks, r, last, wantAt)
			}
		}
		if len(got["us-east-2"]) != 0 {
			t.Errorf("acks %v: the origin was stale: %+v", acks, got["us-east-2"])
		}
	}
}
