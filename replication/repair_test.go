package replication

import (
	"fmt"
	"testing"
	"time"
)

// TestPullOnSight: every message to eu-west-1 loses its mutations on the
// way (its vector survives), so eu-west-1 can learn of a commit only by
// seeing it in a peer's advertised vector and asking for it. With
// PullOnSight it has the mutation within a few rounds; without it (and with
// push/pull off) never. Either way, every node goes quiet afterwards: the
// advertising stops.
func TestPullOnSight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		on      bool
		wantHas bool
	}{
		{"on: fetched on sight", true, true},
		{"off: never fetched", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
			nodes := map[string]*Node{}
			for _, r := range regions {
				nodes[r] = NewNode(Config{
					Region: r, Initial: initialState(t), Start: at(0),
					Gossip:      GossipConfig{Interval: 100 * time.Millisecond, Fanout: 3, RetransmitMult: 2},
					PullOnSight: tc.on,
				})
				nodes[r].SetPeers(regions)
			}
			m, err := nodes["us-east-1"].Propose(at(time.Millisecond), call("iam:CreateUser", `{"user_name":"bob"}`))
			if err != nil {
				t.Fatal(err)
			}
			var inflight []Envelope
			var from []string
			quiet := false
			for now := time.Duration(0); now <= 2*time.Second; now += 5 * time.Millisecond {
				for _, r := range regions {
					nodes[r].Tick(at(now))
				}
				// Deliver what was sent at the previous step (5 ms latency).
				for i, env := range inflight {
					msg := env.Msg
					if env.To == "eu-west-1" && (msg.Kind == KindGossip || msg.Kind == KindStream) {
						msg.Mutations = nil
					}
					if err := nodes[env.To].Step(at(now), msg); err != nil {
						t.Fatalf("%s -> %s: %v", from[i], env.To, err)
					}
				}
				inflight, from = inflight[:0], from[:0]
				quiet = true
				for _, r := range regions {
					rd := nodes[r].Ready()
					for _, env := range rd.Messages {
						inflight = append(inflight, env)
						from = append(from, r)
					}
					if !rd.Deadline.IsZero() || len(rd.Messages) > 0 {
						quiet = false
					}
				}
			}
			eu := nodes["eu-west-1"]
			if got := eu.Has(m.ID); got != tc.wantHas {
				t.Fatalf("eu-west-1 has %s after 2s: %v, want %v (pulls on sight: %d)", m.ID, got, tc.wantHas, eu.Stats().PullsOnSight)
			}
			if tc.on && eu.Stats().PullsOnSight == 0 {
				t.Errorf("eu-west-1 got the mutation without a pull on sight: the test no longer tests it")
			}
			if !tc.on && eu.Stats().PullsOnSight != 0 {
				t.Errorf("PullOnSight off, yet %d pulls on sight", eu.Stats().PullsOnSight)
			}
			if !quiet {
				t.Errorf("nodes still gossiping or armed after 2s: advertising never stops")
			}
		})
	}
}

// TestAdvertTooBigForAPacketIsNotSent: a received vector of so many origins
// that it does not fit one gossip packet is not advertised, alone or riding
// on a rumor (a live node's UDP send would drop it; the simulator must not
// deliver it).
func TestAdvertTooBigForAPacketIsNotSent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		packet   int
		wantSent bool
	}{
		{"fits", DefaultPacketBytes, true},
		{"too big", 256, false}, // the smallest budget Config allows
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNode(Config{Region: "eu-west-1", Initial: initialState(t), Start: at(0), PacketBytes: tc.packet,
				Gossip: GossipConfig{Interval: 100 * time.Millisecond, Fanout: 3, RetransmitMult: 2}, PullOnSight: true})
			n.SetPeers([]string{"eu-west-1", "us-east-1"})
			var ms []Mutation
			for i := range 40 { // 40 origins: a vector of about 600 bytes
				ms = append(ms, Mutation{ID: MutationID{Origin: fmt.Sprintf("zz-test-%d", i), Seq: 1}, TS: Timestamp{Wall: int64(i + 1)},
					Call: call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, i))})
			}
			if err := n.Step(at(time.Millisecond), Message{Kind: KindRepair, From: "us-east-1", Mutations: ms}); err != nil {
				t.Fatal(err)
			}
			n.Ready()
			sent := false
			for now := 10 * time.Millisecond; now < time.Second; now += 10 * time.Millisecond {
				n.Tick(at(now))
				for _, env := range n.Ready().Messages {
					if env.Msg.Kind == KindGossip && env.Msg.Vector != nil {
						sent = true
						if size := env.Msg.Size(); size > tc.packet {
							t.Fatalf("sent a %d-byte advert (%d origins) over a %d-byte packet budget", size, len(env.Msg.Vector), tc.packet)
						}
					}
				}
			}
			if sent != tc.wantSent {
				t.Fatalf("advert sent = %v, want %v", sent, tc.wantSent)
			}
		})
	}
}
