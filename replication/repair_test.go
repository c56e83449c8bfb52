package replication

import (
	"fmt"
	"math/rand/v2"
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

// TestPullOnSightReachesRegionsTheRumorMissed: 50 regions with the live
// cluster's Local gossip (100 ms, fanout 3, retransmit multiplier 2: each
// region sends a rumor 4 times), no loss, no scheduled push/pull. Rumor
// mongering alone leaves a region or two without a commit about every other
// time; pull on sight must fetch it for them. The advertised vector has to
// reach regions the rumor did not: riding only on the rumor's own packets,
// it went exactly where the rumor went, and a region the rumor missed never
// saw it (the live cluster then waited for memberlist's 30 s push/pull).
func TestPullOnSightReachesRegionsTheRumorMissed(t *testing.T) {
	for _, tc := range []struct {
		name        string
		on          bool
		wantMissing bool
	}{
		{"on: every region gets every commit", true, false},
		{"off: rumor mongering alone misses some", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var regions []string
			for i := range 50 {
				regions = append(regions, fmt.Sprintf("region-%02d", i))
			}
			mem := NewMembership(regions)
			nodes := make(map[string]*Node, len(regions))
			for i, r := range regions {
				nodes[r] = NewNode(Config{
					Region: r, Initial: initialState(t), Start: at(0),
					Rand:        rand.New(rand.NewPCG(uint64(i)+1, 7)),
					Gossip:      GossipConfig{Interval: 100 * time.Millisecond, Fanout: 3, RetransmitMult: 2},
					PullOnSight: tc.on,
				})
				nodes[r].SetMembership(mem)
			}
			// One commit per second from a different origin: 20 separate
			// epidemics, each given a second to reach every region.
			const commits = 20
			var ids []MutationID
			var missing []string
			var inflight []Envelope
			var senders []string
			const step = 5 * time.Millisecond
			for now := time.Duration(0); now <= (commits+2)*time.Second; now += step {
				if k := int(now / time.Second); now%time.Second == 0 && k < commits {
					if k > 0 {
						// The previous epidemic is over: a region that lacks
						// its commit now would wait for anti-entropy (a later
						// commit's vector could still reveal it; not counted).
						for _, r := range regions {
							if !nodes[r].Has(ids[k-1]) {
								missing = append(missing, r+" lacks "+ids[k-1].String())
							}
						}
					}
					origin := regions[(k*7)%len(regions)]
					m, err := nodes[origin].Propose(at(now), call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, k)))
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, m.ID)
				}
				for _, r := range regions {
					nodes[r].Tick(at(now))
				}
				// Deliver what was sent at the previous step (5 ms latency).
				for i, env := range inflight {
					if err := nodes[env.To].Step(at(now), env.Msg); err != nil {
						t.Fatalf("%s -> %s: %v", senders[i], env.To, err)
					}
				}
				inflight, senders = inflight[:0], senders[:0]
				for _, r := range regions {
					for _, env := range nodes[r].Ready().Messages {
						inflight = append(inflight, env)
						senders = append(senders, r)
					}
				}
			}
			var pulls uint64
			for _, r := range regions {
				pulls += nodes[r].Stats().PullsOnSight
				if !nodes[r].Has(ids[commits-1]) {
					missing = append(missing, r+" lacks "+ids[commits-1].String())
				}
			}
			if got := len(missing) > 0; got != tc.wantMissing {
				t.Fatalf("%d of %d (region, commit) pairs missing, want missing: %v (pulls on sight: %d): %v",
					len(missing), len(regions)*commits, tc.wantMissing, pulls, missing)
			}
			if tc.on && pulls == 0 {
				t.Errorf("every region got every commit without a pull on sight: the test no longer tests it")
			}
		})
	}
}

// TestNoLoneAdvertsToPeersCaughtUp: in a cluster no larger than Fanout,
// every region hears every other's advert on the rumor's own packets, so
// no region sends a vector-only packet to a peer whose advert already
// showed all it has; a peer never heard from (every packet it sends is
// lost) still gets them.
func TestNoLoneAdvertsToPeersCaughtUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mute     string // every packet from this region is lost
		wantLone bool
	}{
		{"every peer heard from", "", false},
		{"eu-west-1 never heard from", "eu-west-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
			nodes := map[string]*Node{}
			for _, r := range regions {
				nodes[r] = NewNode(Config{
					Region: r, Initial: initialState(t), Start: at(0),
					Gossip:      GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4},
					PullOnSight: true,
				})
				nodes[r].SetPeers(regions)
			}
			if _, err := nodes["us-east-1"].Propose(at(time.Millisecond), call("iam:CreateUser", `{"user_name":"bob"}`)); err != nil {
				t.Fatal(err)
			}
			var inflight []Envelope
			lone, rumors := 0, 0
			for now := time.Duration(0); now <= 3*time.Second; now += 5 * time.Millisecond {
				for _, r := range regions {
					nodes[r].Tick(at(now))
				}
				for _, env := range inflight {
					if err := nodes[env.To].Step(at(now), env.Msg); err != nil {
						t.Fatal(err)
					}
				}
				inflight = inflight[:0]
				for _, r := range regions {
					for _, env := range nodes[r].Ready().Messages {
						if env.Msg.Kind == KindGossip && len(env.Msg.Mutations) == 0 {
							lone++
						} else {
							rumors++
						}
						if r != tc.mute {
							inflight = append(inflight, env)
						}
					}
				}
			}
			if rumors == 0 {
				t.Fatal("no rumor sent: the test no longer tests anything")
			}
			if got := lone > 0; got != tc.wantLone {
				t.Fatalf("%d lone adverts (and %d other messages), want some: %v", lone, rumors, tc.wantLone)
			}
		})
	}
}

// TestPullOnSightWaitsForTheRumor: an advert that overtakes the rumor it
// advertises (a region advertises in the round it gossips) makes no pull
// when the rumor arrives before the next gossip round a gossip interval
// later; when no rumor comes, the region asks the advertiser within two
// gossip intervals of the sighting.
func TestPullOnSightWaitsForTheRumor(t *testing.T) {
	const interval = 200 * time.Millisecond
	for _, tc := range []struct {
		name      string
		rumorAt   time.Duration // 0: never
		wantPulls uint64
	}{
		{"rumor 5 ms behind the advert: no pull", 6 * time.Millisecond, 0},
		{"rumor 150 ms behind the advert: no pull", 151 * time.Millisecond, 0},
		{"no rumor: pull", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regions := []string{"ap-south-1", "eu-west-1", "us-east-1"}
			n := NewNode(Config{
				Region: "eu-west-1", Initial: initialState(t), Start: at(0), PullOnSight: true,
				Gossip: GossipConfig{Interval: interval, Fanout: 3, RetransmitMult: 4},
				Rand:   rand.New(rand.NewPCG(1, 2)),
			})
			n.SetPeers(regions)
			mu := commitAt(t, "us-east-1", 1, 0, "g")
			advert := Message{Kind: KindGossip, From: "us-east-1", Vector: VersionVector{"us-east-1": 1}}
			if err := n.Step(at(time.Millisecond), advert); err != nil {
				t.Fatal(err)
			}
			var requests []time.Duration
			for now := time.Millisecond; now <= 2*time.Second; now += time.Millisecond {
				if tc.rumorAt > 0 && now == tc.rumorAt {
					if err := n.Step(at(now), Message{Kind: KindGossip, From: "ap-south-1", Mutations: []Mutation{mu}}); err != nil {
						t.Fatal(err)
					}
				}
				n.Tick(at(now))
				for _, env := range n.Ready().Messages {
					if env.Msg.Kind == KindPushPullRequest && env.To == "us-east-1" {
						requests = append(requests, now)
					}
				}
			}
			if got := n.Stats().PullsOnSight; got != tc.wantPulls || uint64(len(requests)) != tc.wantPulls {
				t.Fatalf("%d pulls on sight, push/pull requests to the advertiser at %v; want %d", got, requests, tc.wantPulls)
			}
			if tc.wantPulls > 0 && requests[0] > time.Millisecond+2*interval {
				t.Errorf("asked at %v, more than two gossip intervals after the sighting at 1ms", requests[0])
			}
		})
	}
}
