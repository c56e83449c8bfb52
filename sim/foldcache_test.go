package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

// TestFoldCacheSameRun: the shared fold cache changes speed, never a
// result. Seeded runs with commits racing from every region (late arrivals
// re-fold; conflicting creates and deletes of one user; policy versions),
// apply delays, loss, partitions and crashes that keep or lose state run
// once with the cache and once with every region folding in place; the
// traces, and the digest of the region's view after every single apply,
// must be identical. The cache must also have been used (hits > 0).
func TestFoldCacheSameRun(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		cached, hits := foldRun(t, seed, false)
		private, _ := foldRun(t, seed, true)
		if cached != private {
			t.Fatalf("seed %d: the run with the fold cache differs from the run without:\n%s", seed, firstDiff(cached, private))
		}
		if hits == 0 {
			t.Fatalf("seed %d: the fold cache was never hit", seed)
		}
	}
}

func foldRun(t *testing.T, seed uint64, noCache bool) (string, uint64) {
	return foldRunOn(t, nil, seed, noCache, 5)
}

// foldRunOn is foldRun on s reset (nil: a new simulation), over the first
// k of five regions.
func foldRunOn(t *testing.T, reuse *Sim, seed uint64, noCache bool, k int) (string, uint64) {
	t.Helper()
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1"}[:k]
	init := controlplane.NewState()
	init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	init.Apply(controlplane.Call{Action: "iam:CreatePolicy", Args: json.RawMessage(`{"policy_name":"p","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}}`)})
	lat, _ := delay.Uniform(5*time.Millisecond, 120*time.Millisecond)
	prop, _ := delay.Exponential(300 * time.Millisecond)
	var trace bytes.Buffer
	cfg := Config{Regions: regions, Seed: seed, Gossip: replication.DefaultLANGossip(), Delay: delay.NewModel(prop),
		Network: Network{Latency: lat, Loss: 0.05}, Initial: init, Trace: &trace, PullOnSight: seed%2 == 0, noFoldCache: noCache}
	s := reuse
	if s == nil {
		var err error
		if s, err = New(cfg); err != nil {
			t.Fatal(err)
		}
	} else if err := s.Reset(cfg); err != nil {
		t.Fatal(err)
	}
	s.OnApply(func(at time.Duration, region string, m replication.Mutation) {
		fmt.Fprintf(&trace, "view %s after %s: %x\n", region, m.ID, s.View(region).Digest())
	})
	r := rand.New(rand.NewPCG(seed, 99))
	for k := range 60 {
		at := time.Duration(r.IntN(8000)) * time.Millisecond
		reg := regions[r.IntN(len(regions))]
		var c controlplane.Call
		switch r.IntN(5) {
		case 0:
			c = user(fmt.Sprintf("u%d", r.IntN(6)))
		case 1:
			c = controlplane.Call{Action: "iam:DeleteUser", Args: json.RawMessage(fmt.Sprintf(`{"user_name":"u%d"}`, r.IntN(6)))}
		case 2:
			c = controlplane.Call{Action: "iam:CreatePolicyVersion", Args: json.RawMessage(fmt.Sprintf(`{"policy_arn":"arn:aws:iam::111122223333:policy/p","set_as_default":true,"policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}}`, k))}
		default:
			c = user(fmt.Sprintf("v%d", k))
		}
		s.Schedule(at, func() { _, _ = s.Commit(reg, c) }) // rejected calls change nothing, in both runs
		if k%10 == 0 {
			victim := regions[1+r.IntN(len(regions)-1)]
			lose := r.IntN(2) == 0
			s.Schedule(at+time.Millisecond, func() { s.Crash(victim, lose) })
			s.Schedule(at+time.Duration(1+r.IntN(3000))*time.Millisecond, func() { s.Restart(victim) })
		}
		if k%15 == 0 {
			cut := 1 + r.IntN(len(regions)-1)
			s.Schedule(at, func() {
				f := s.Partition([][]string{regions[:cut], regions[cut:]})
				s.Schedule(s.Now()+2*time.Second, func() { s.Heal(f) })
			})
		}
	}
	s.RunUntil(2 * time.Minute)
	for _, reg := range regions {
		if v := s.View(reg); v != nil {
			fmt.Fprintf(&trace, "final %s %x\n", reg, v.Digest())
		}
	}
	fmt.Fprintf(&trace, "converged %v survivors %v truth %v lost %d\n", s.Converged(), s.SurvivorsConverged(), s.truth.Vector(), len(s.Lost()))
	var hits uint64
	if s.folds != nil {
		hits = s.folds.Stats().Hits
	}
	return trace.String(), hits
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  cached:  %s\n  private: %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d and %d lines", len(al), len(bl))
}

// TestResetIsNew: a simulation reset after other runs (other seeds, other
// region lists, with and without the fold cache) runs exactly as a new
// one: identical traces, per-apply view digests and final state.
func TestResetIsNew(t *testing.T) {
	reused, err := New(Config{Regions: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 12; seed++ {
		k := 2 + int(seed%4)
		foldRunOn(t, reused, seed+100, seed%3 == 0, 7-k) // something else first
		fresh, _ := foldRunOn(t, nil, seed, false, k)
		again, _ := foldRunOn(t, reused, seed, false, k)
		if fresh != again {
			t.Fatalf("seed %d: the reset simulation differs from a new one:\n%s", seed, firstDiff(again, fresh))
		}
	}
	if err := reused.Reset(Config{Regions: []string{"a", "a"}}); err == nil {
		t.Fatal("Reset accepted a region listed twice")
	}
	if reused.cfg.Regions[0] != "us-east-2" {
		t.Fatal("a failed Reset changed the simulation")
	}
}
