package replication

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestResetIsNew: a node that has lived through one workload and is then
// Reset behaves exactly like a new node: driven by the same seeded inputs
// (gossip with duplicates and late arrivals, commits, ticks, push/pull,
// a lost-state restart), both return identical Ready values and digests at
// every step.
func TestResetIsNew(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		cfgFor := func(lost bool) Config {
			return Config{Region: "eu-west-1", Initial: initialState(t), Start: epoch, LostState: lost,
				Rand: rand.New(rand.NewPCG(seed, 1)), Delay: &linkDelay{def: time.Duration(seed%3) * 300 * time.Millisecond},
				CheckpointEvery: 2, PullOnSight: seed%2 == 0, Acks: seed%3 != 0}
		}
		lost := seed%5 == 0
		used := NewNode(cfgFor(false))
		used.SetPeers([]string{"us-east-2", "ap-southeast-2", "eu-west-1", "sa-east-1"})
		drive(t, seed+1000, used, nil)
		used.Reset(cfgFor(lost))
		fresh := NewNode(cfgFor(lost))
		for _, n := range []*Node{used, fresh} {
			n.SetPeers([]string{"us-east-2", "ap-southeast-2", "eu-west-1"})
		}
		drive(t, seed, used, fresh)
	}
}

// drive feeds a seeded random workload to n; with a twin, it feeds the
// same to both and requires identical effects.
func drive(t *testing.T, seed uint64, n, twin *Node) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	now := epoch
	seqs := map[string]uint64{}
	var sent []Mutation
	compare := func(step int, what string) {
		a := n.Ready()
		if twin == nil {
			return
		}
		b := twin.Ready()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d step %d (%s): Ready differs:\nreset: %+v\nnew:   %+v", seed, step, what, a, b)
		}
		if n.Digest() != twin.Digest() || n.Stats() != twin.Stats() || n.NumApplied() != twin.NumApplied() {
			t.Fatalf("seed %d step %d (%s): digest, stats or applied count differ", seed, step, what)
		}
		if !reflect.DeepEqual(n.Vector(), twin.Vector()) || !reflect.DeepEqual(n.recvVector(), twin.recvVector()) {
			t.Fatalf("seed %d step %d (%s): vectors differ: %v %v / %v %v", seed, step, what, n.Vector(), n.recvVector(), twin.Vector(), twin.recvVector())
		}
		for i := range sent {
			if n.Has(sent[i].ID) != twin.Has(sent[i].ID) || n.Knows(&sent[i]) != twin.Knows(&sent[i]) {
				t.Fatalf("seed %d step %d (%s): Has/Knows %s differ", seed, step, what, sent[i].ID)
			}
			for _, region := range []string{"us-east-2", "ap-southeast-2", "sa-east-1"} {
				a1, ok1 := n.AppliedAt(region, sent[i].ID)
				a2, ok2 := twin.AppliedAt(region, sent[i].ID)
				if a1 != a2 || ok1 != ok2 {
					t.Fatalf("seed %d step %d (%s): AppliedAt(%s, %s) differs: %v %v / %v %v", seed, step, what, region, sent[i].ID, a1, ok1, a2, ok2)
				}
			}
		}
		s1, ok1 := n.StaleSince()
		s2, ok2 := twin.StaleSince()
		if s1 != s2 || ok1 != ok2 || !reflect.DeepEqual(n.AckedRegions(), twin.AckedRegions()) {
			t.Fatalf("seed %d step %d (%s): acks differ: %v %v %v / %v %v %v", seed, step, what, s1, ok1, n.AckedRegions(), s2, ok2, twin.AckedRegions())
		}
	}
	for step := range 200 {
		now = now.Add(time.Duration(r.IntN(150)) * time.Millisecond)
		switch k := r.IntN(10); {
		case k < 5:
			origin := []string{"us-east-2", "ap-southeast-2"}[r.IntN(2)]
			var ms []Mutation
			for range 1 + r.IntN(3) {
				if len(sent) > 0 && r.IntN(3) == 0 {
					ms = append(ms, sent[r.IntN(len(sent))]) // a duplicate
					continue
				}
				seqs[origin]++
				m := commitAt(t, origin, seqs[origin], now.Sub(epoch)-time.Duration(r.IntN(2000))*time.Millisecond, fmt.Sprintf("g%d", r.IntN(6)))
				if r.IntN(4) == 0 {
					m.Call = call("iam:DeleteGroup", fmt.Sprintf(`{"group_name":"g%d"}`, r.IntN(6)))
				}
				sent = append(sent, m)
				ms = append(ms, m)
			}
			msg := Message{Kind: KindGossip, From: origin, Mutations: ms}
			switch r.IntN(6) {
			case 0, 1:
				msg = Message{Kind: KindPushPullResponse, From: origin, Mutations: ms, Vector: VersionVector{origin: seqs[origin]}}
			case 2:
				// Acks of the sender and of a region it relays, ahead of
				// what this node has: the node's view is known stale.
				msg = Message{Kind: KindAck, From: origin, Acks: []Ack{
					{Region: origin, At: now, Vector: VersionVector{origin: seqs[origin]}},
					{Region: "sa-east-1", At: now, Vector: VersionVector{origin: seqs[origin], "sa-east-1": uint64(1 + r.IntN(3))}},
				}}
			}
			e1 := n.Step(now, msg)
			if twin != nil {
				if e2 := twin.Step(now, msg); fmt.Sprint(e1) != fmt.Sprint(e2) {
					t.Fatalf("seed %d step %d: Step errors differ: %v / %v", seed, step, e1, e2)
				}
			}
			compare(step, "step")
		case k < 7:
			c := call("iam:CreateGroup", fmt.Sprintf(`{"group_name":"own%d"}`, r.IntN(8)))
			m1, e1 := n.Propose(now, c)
			if twin != nil {
				m2, e2 := twin.Propose(now, c)
				if !reflect.DeepEqual(m1, m2) || fmt.Sprint(e1) != fmt.Sprint(e2) {
					t.Fatalf("seed %d step %d: Propose differs: %v %v / %v %v", seed, step, m1, e1, m2, e2)
				}
			}
			compare(step, "propose")
		default:
			n.Tick(now)
			if twin != nil {
				twin.Tick(now)
			}
			compare(step, "tick")
		}
	}
}
