package replication

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ackNet is three regions with acks on, a zero-latency network stepped
// every millisecond, and a filter that drops chosen messages.
type ackNet struct {
	nodes map[string]*Node
	order []string
	now   time.Duration
	drop  func(from, to string, k MessageKind) bool
	seen  func(m Message) // when set, every delivered message
}

func newAckNet(t *testing.T, delay DelayModel, acks bool) *ackNet {
	t.Helper()
	regions := []string{"ap-southeast-2", "eu-west-1", "us-east-2"}
	an := &ackNet{nodes: map[string]*Node{}, order: regions, drop: func(string, string, MessageKind) bool { return false }}
	for i, r := range regions {
		n := NewNode(Config{Region: r, Delay: delay, Initial: initialState(t), Start: epoch, Acks: acks,
			Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4},
			Rand:   rand.New(rand.NewPCG(7, uint64(i)))})
		n.SetPeers(regions)
		an.nodes[r] = n
	}
	return an
}

// runTo steps the network to d: every node ticks each millisecond and its
// messages are delivered at once unless dropped.
func (an *ackNet) runTo(t *testing.T, d time.Duration) {
	t.Helper()
	for ; an.now <= d; an.now += time.Millisecond {
		queue := []Envelope{}
		from := []string{}
		for _, r := range an.order {
			an.nodes[r].Tick(at(an.now))
			for _, e := range an.nodes[r].Ready().Messages {
				queue, from = append(queue, e), append(from, r)
			}
		}
		for len(queue) > 0 {
			e, f := queue[0], from[0]
			queue, from = queue[1:], from[1:]
			if an.drop(f, e.To, e.Msg.Kind) {
				continue
			}
			// Through the wire format, as the live driver sends it.
			msg, err := DecodeMessage(e.Msg.Encode())
			if err != nil {
				t.Fatalf("%s -> %s %s: %v", f, e.To, e.Msg.Kind, err)
			}
			if an.seen != nil {
				an.seen(msg)
			}
			if err := an.nodes[e.To].Step(at(an.now), msg); err != nil {
				t.Fatalf("%s rejected %s from %s: %v", e.To, msg.Kind, f, err)
			}
			for _, out := range an.nodes[e.To].Ready().Messages {
				queue, from = append(queue, out), append(from, e.To)
			}
		}
	}
}

// TestAcksTellWhatPeersApplied: us-east-2 commits at 1 s; ap-southeast-2
// applies it at 2 s (1 s delay), eu-west-1 at 7 s (6 s delay). Through the
// KindAck messages every region learns what the others applied, within a
// few gossip rounds of the apply, and eu-west-1 (holding it pending) is
// known stale since the commit.
func TestAcksTellWhatPeersApplied(t *testing.T) {
	delay := &linkDelay{links: map[[2]string]time.Duration{{"us-east-2", "eu-west-1"}: 6 * time.Second}, def: time.Second}
	an := newAckNet(t, delay, true)
	an.runTo(t, time.Second-time.Millisecond)
	mu, err := an.nodes["us-east-2"].Propose(at(time.Second), call("iam:CreateGroup", `{"group_name":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	an.runTo(t, 3*time.Second)
	id := mu.ID
	const slack = time.Second // a few 200 ms gossip rounds
	for _, tc := range []struct {
		node, region string
		known        bool
		from         time.Duration // the apply instant: learned no earlier
		exact        bool
	}{
		{"us-east-2", "us-east-2", true, time.Second, true},
		{"ap-southeast-2", "ap-southeast-2", true, 2 * time.Second, true},
		{"eu-west-1", "us-east-2", true, time.Second, false},
		{"eu-west-1", "ap-southeast-2", true, 2 * time.Second, false},
		{"us-east-2", "ap-southeast-2", true, 2 * time.Second, false},
		{"ap-southeast-2", "us-east-2", true, time.Second, false},
		{"us-east-2", "eu-west-1", false, 0, false},
		{"eu-west-1", "eu-west-1", false, 0, false},
	} {
		got, ok := an.nodes[tc.node].AppliedAt(tc.region, id)
		switch {
		case ok != tc.known:
			t.Errorf("%s: AppliedAt(%s) known = %v, want %v", tc.node, tc.region, ok, tc.known)
		case !ok:
		case tc.exact && rel(got) != tc.from:
			t.Errorf("%s: AppliedAt(%s) = %v, want exactly %v", tc.node, tc.region, rel(got), tc.from)
		case rel(got) < tc.from || rel(got) > tc.from+slack:
			t.Errorf("%s: AppliedAt(%s) = %v, want in [%v, %v]", tc.node, tc.region, rel(got), tc.from, tc.from+slack)
		}
	}
	v, learned, ok := an.nodes["eu-west-1"].PeerApplied("ap-southeast-2")
	if !ok || v["us-east-2"] != 1 || rel(learned) < 2*time.Second {
		t.Errorf("eu-west-1: PeerApplied(ap-southeast-2) = %v, %v, %v", v, rel(learned), ok)
	}
	if since, ok := an.nodes["eu-west-1"].StaleSince(); !ok || rel(since) != time.Second {
		t.Errorf("eu-west-1: StaleSince = %v, %v; want 1s, the pending mutation's commit", rel(since), ok)
	}
	an.runTo(t, 9*time.Second)
	if _, ok := an.nodes["eu-west-1"].StaleSince(); ok {
		t.Error("eu-west-1 stale after applying")
	}
	if got, ok := an.nodes["us-east-2"].AppliedAt("eu-west-1", id); !ok || rel(got) < 7*time.Second || rel(got) > 7*time.Second+slack {
		t.Errorf("us-east-2: AppliedAt(eu-west-1) = %v, %v; want just after 7s", rel(got), ok)
	}
}

// TestAcksMakeLagKnown: eu-west-1 receives neither the mutation nor
// anything from us-east-2; only ap-southeast-2's own acks reach it (acks
// are not relayed, so us-east-2's stays unknown to it).
// From the first ack saying a peer applied what it lacks, its view is
// known stale; max_lag reads are refused once the view's age may exceed
// max_lag. Without acks it never knows it lags, so max_lag fails closed.
func TestAcksMakeLagKnown(t *testing.T) {
	for _, acks := range []bool{true, false} {
		an := newAckNet(t, &linkDelay{def: time.Second}, acks)
		an.drop = func(from, to string, k MessageKind) bool {
			return to == "eu-west-1" && (from == "us-east-2" || k != KindAck)
		}
		an.runTo(t, time.Second-time.Millisecond)
		mu, err := an.nodes["us-east-2"].Propose(at(time.Second), call("iam:CreateGroup", `{"group_name":"g"}`))
		if err != nil {
			t.Fatal(err)
		}
		an.runTo(t, 4*time.Second)
		eu := an.nodes["eu-west-1"]
		if eu.Has(mu.ID) {
			t.Fatal("eu-west-1 got the mutation through the filter")
		}
		since, stale := eu.StaleSince()
		if stale != acks {
			t.Fatalf("acks %v: eu-west-1 stale = %v", acks, stale)
		}
		if !acks {
			// Nothing vouches for the peers: max_lag fails closed.
			if ok, _ := eu.Admit(at(4*time.Second), Consistency{Mode: ModeMaxLag, MaxLag: time.Hour}); ok {
				t.Error("without acks a region admitted max_lag: it cannot know how old its view is")
			}
			if _, _, ok := eu.PeerApplied("us-east-2"); ok {
				t.Error("without acks PeerApplied knows something")
			}
			continue
		}
		if rel(since) < time.Second || rel(since) > 3*time.Second {
			t.Errorf("StaleSince = %v, want between the commit (1s) and a few rounds after ap-southeast-2 applied (2s)", rel(since))
		}
		if v, _, ok := eu.PeerApplied("ap-southeast-2"); !ok || v["us-east-2"] != 1 {
			t.Errorf("eu-west-1: PeerApplied(ap-southeast-2) = %v, %v; want its ack of the mutation", v, ok)
		}
		if _, _, ok := eu.PeerApplied("us-east-2"); ok {
			t.Error("us-east-2's ack reached eu-west-1: relayed, or through the filter")
		}
		// Admission counts the upper bound (lagbound.go), never less than
		// the lag known from the acks.
		lag := eu.LagBound(at(4 * time.Second))
		if known := at(4 * time.Second).Sub(since); lag < known {
			t.Errorf("LagBound %v is below the known lag %v", lag, known)
		}
		if ok, err := eu.Admit(at(4*time.Second), Consistency{Mode: ModeMaxLag, MaxLag: lag}); !ok {
			t.Errorf("max_lag %v at lag %v refused: %v", lag, lag, err)
		}
		if ok, err := eu.Admit(at(4*time.Second), Consistency{Mode: ModeMaxLag, MaxLag: lag - 1}); ok || !errors.Is(err, ErrTooStale) {
			t.Errorf("max_lag %v at lag %v: %v, %v; want ErrTooStale", lag-1, lag, ok, err)
		}
	}
}

func TestAckCodec(t *testing.T) {
	good := Message{Kind: KindAck, From: "eu-west-1", Acks: []Ack{
		{Region: "eu-west-1", At: at(time.Second), Vector: VersionVector{"us-east-2": 3, "eu-west-1": 1}},
		{Region: "ap-southeast-2", At: at(2 * time.Second), Vector: VersionVector{"us-east-2": 2}},
	}}
	b := good.Encode()
	if len(b) != good.Size() {
		t.Errorf("Size = %d, encoded %d bytes", good.Size(), len(b))
	}
	got, err := DecodeMessage(b)
	if err != nil || !reflect.DeepEqual(got, good) {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, good)
	}
	if good.Kind.Reliable() {
		t.Error("acks are packets, like gossip")
	}
	// The sender's own ack riding on a rumor's gossip message.
	riding := Message{Kind: KindGossip, From: "eu-west-1", Mutations: []Mutation{commitAt(t, "us-east-2", 1, 0, "g")}, Acks: good.Acks[:1]}
	b = riding.Encode()
	if len(b) != riding.Size() {
		t.Errorf("riding: Size = %d, encoded %d bytes", riding.Size(), len(b))
	}
	if got, err := DecodeMessage(b); err != nil || !reflect.DeepEqual(got, riding) {
		t.Fatalf("riding: round trip = %+v, %v; want %+v", got, err, riding)
	}
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"acks on a stream", Message{Kind: KindStream, From: "eu-west-1", Acks: good.Acks[:1]}},
		{"acks on a push/pull request", Message{Kind: KindPushPullRequest, From: "eu-west-1", Vector: VersionVector{}, Acks: good.Acks[:1]}},
		{"another region's ack on gossip", Message{Kind: KindGossip, From: "eu-west-1", Acks: good.Acks[1:]}},
		{"two acks on gossip", Message{Kind: KindGossip, From: "eu-west-1", Acks: good.Acks}},
		{"ack without instant", Message{Kind: KindAck, From: "eu-west-1", Acks: []Ack{{Region: "us-east-2", Vector: VersionVector{"a": 1}}}}},
		{"ack of a bad region", Message{Kind: KindAck, From: "eu-west-1", Acks: []Ack{{Region: "", At: at(0)}}}},
		{"ack with mutations", Message{Kind: KindAck, From: "eu-west-1", Mutations: []Mutation{commitAt(t, "us-east-2", 1, 0, "g")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); !errors.Is(err, ErrMalformed) {
				t.Errorf("Validate = %v, want ErrMalformed", err)
			}
			n := newTestNode(t, "ap-southeast-2", nil)
			if err := n.Step(at(time.Second), tc.m); !errors.Is(err, ErrMalformed) {
				t.Errorf("Step = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestPushPullSendsAllAcks: a region that opens anti-entropy (it joined,
// restarted or healed) gets every ack the responder holds, its own
// included, without waiting for anybody's next apply.
func TestPushPullSendsAllAcks(t *testing.T) {
	n := NewNode(Config{Region: "eu-west-1", Initial: initialState(t), Start: epoch, Acks: true})
	n.SetPeers([]string{"us-east-2", "ap-southeast-2"})
	mu := commitAt(t, "us-east-2", 1, time.Second, "g")
	if err := n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{mu}}); err != nil {
		t.Fatal(err)
	}
	peerAck := Ack{Region: "us-east-2", At: at(time.Second), Vector: VersionVector{"us-east-2": 1}}
	if err := n.Step(at(2*time.Second), Message{Kind: KindAck, From: "us-east-2", Acks: []Ack{peerAck}}); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	if err := n.Step(at(3*time.Second), Message{Kind: KindPushPullRequest, From: "ap-southeast-2", Vector: VersionVector{}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]VersionVector{}
	for _, e := range n.Ready().Messages {
		if e.Msg.Kind == KindAck && e.To == "ap-southeast-2" {
			for _, a := range e.Msg.Acks {
				got[a.Region] = a.Vector
			}
		}
	}
	want := map[string]VersionVector{"eu-west-1": {"us-east-2": 1}, "us-east-2": {"us-east-2": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("acks sent to the requester: %v, want %v", got, want)
	}
}

// TestHeldAckVectorsSkipTheScan: an ack whose vector is the map the node
// already holds for its region passes without its origins being scanned
// again, but its instant is still checked, and an equal vector in another
// map is scanned in full.
func TestHeldAckVectorsSkipTheScan(t *testing.T) {
	held := VersionVector{"us-east-2": 1}
	for _, c := range []struct {
		name string
		ack  Ack
		ok   bool
	}{
		{"the held map, newer", Ack{Region: "us-east-2", At: at(2 * time.Second), Vector: held}, true},
		{"the held map, no instant", Ack{Region: "us-east-2", At: time.Unix(0, 0), Vector: held}, false},
		{"another map, equal", Ack{Region: "us-east-2", At: at(2 * time.Second), Vector: VersionVector{"us-east-2": 1}}, true},
		{"another map, bad origin", Ack{Region: "us-east-2", At: at(2 * time.Second), Vector: VersionVector{"not a region!": 1}}, false},
		{"the held map, unknown region", Ack{Region: "sa-east-1", At: at(2 * time.Second), Vector: held}, true},
		{"the held map, bad region", Ack{Region: "Bad Region", At: at(2 * time.Second), Vector: held}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := NewNode(Config{Region: "eu-west-1", Initial: initialState(t), Start: epoch, Acks: true})
			n.SetPeers([]string{"us-east-2", "ap-southeast-2"})
			first := Ack{Region: "us-east-2", At: at(time.Second), Vector: held}
			if err := n.Step(at(time.Second), Message{Kind: KindAck, From: "us-east-2", Acks: []Ack{first}}); err != nil {
				t.Fatal(err)
			}
			err := n.Step(at(2*time.Second), Message{Kind: KindAck, From: "ap-southeast-2", Acks: []Ack{c.ack}})
			if (err == nil) != c.ok {
				t.Fatalf("Step: %v, want ok = %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Step: %v, want ErrMalformed", err)
			}
		})
	}
}

// TestAcksReachOriginsWithoutRelays: in a cluster larger than the fanout,
// where a region's own acks reach only a few random peers, the origin of a
// mutation still learns within two rounds of every region's apply that it
// applied it (each region acks straight to the origins of what it
// applied), and every ack message carries its sender's own ack alone: no
// region relays another's, so ack traffic grows linearly in regions.
func TestAcksReachOriginsWithoutRelays(t *testing.T) {
	regions := []string{"af-south-1", "ap-east-1", "ap-south-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
		"eu-north-1", "eu-west-1", "me-south-1", "sa-east-1", "us-east-2", "us-west-2"}
	for _, fanout := range []int{1, 3} {
		an := &ackNet{nodes: map[string]*Node{}, order: regions}
		for i, r := range regions {
			n := NewNode(Config{Region: r, Delay: &linkDelay{def: time.Second}, Initial: initialState(t), Start: epoch, Acks: true,
				Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: fanout, RetransmitMult: 2},
				Rand:   rand.New(rand.NewPCG(3, uint64(i)))})
			n.SetPeers(regions)
			an.nodes[r] = n
		}
		acks := 0
		an.drop = func(from, to string, k MessageKind) bool { return false }
		an.seen = func(m Message) {
			for _, a := range m.Acks {
				acks++
				if a.Region != m.From {
					t.Errorf("fanout %d: %s relayed the ack of %s", fanout, m.From, a.Region)
				}
			}
		}
		an.runTo(t, time.Second-time.Millisecond)
		mu, err := an.nodes["us-east-2"].Propose(at(time.Second), call("iam:CreateGroup", `{"group_name":"g"}`))
		if err != nil {
			t.Fatal(err)
		}
		an.runTo(t, 10*time.Second)
		if acks == 0 {
			t.Fatalf("fanout %d: no ack was sent", fanout)
		}
		origin := an.nodes["us-east-2"]
		for _, r := range regions {
			applied, ok := an.nodes[r].AppliedAt(r, mu.ID)
			if !ok {
				t.Fatalf("fanout %d: %s never applied the mutation", fanout, r)
			}
			known, ok := origin.AppliedAt(r, mu.ID)
			if !ok || known.Before(applied) || known.Sub(applied) > 400*time.Millisecond {
				t.Errorf("fanout %d: us-east-2 knows %s applied at %v (%v), applied at %v: want within two rounds after",
					fanout, r, known.Sub(epoch), ok, applied.Sub(epoch))
			}
		}
	}
}

// TestOwnAckRidesOnTheRumor: a mutation that applies on receipt (no
// delay) makes the receiver's ack due in the very round that gossips the
// mutation on, to the same peers: the ack rides on each peer's rumor
// packet, so that round sends one message per peer, not two; a packet
// with no room left sends the ack alone. Either way every peer gets the
// ack, and the receiver takes it in.
func TestOwnAckRidesOnTheRumor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		argsBytes  int // the rumor's argument size: large leaves no room for the ack
		wantRiding bool
	}{
		{"room in the packet: one message per peer", 0, true},
		{"packet full: the ack goes alone", 1250, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			regions := []string{"ap-south-1", "eu-west-1", "us-east-1"}
			n := NewNode(Config{
				Region: "eu-west-1", Initial: initialState(t), Start: at(0), Acks: true,
				Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4},
				Rand:   rand.New(rand.NewPCG(1, 2)),
			})
			n.SetPeers(regions)
			mu := commitAt(t, "us-east-1", 1, 0, "g")
			if tc.argsBytes > 0 {
				mu.Call = call("iam:CreateGroup", `{"group_name":"g","pad":"`+strings.Repeat("x", tc.argsBytes)+`"}`)
			}
			if err := n.Step(at(time.Millisecond), Message{Kind: KindGossip, From: "us-east-1", Mutations: []Mutation{mu}}); err != nil {
				t.Fatal(err)
			}
			n.Ready()
			n.Tick(at(time.Second)) // past the first gossip round
			perPeer := map[string]int{}
			acked := map[string]bool{}
			rumors := map[string]int{}
			for _, env := range n.Ready().Messages {
				perPeer[env.To]++
				if env.Msg.Kind == KindGossip && len(env.Msg.Mutations) == 1 {
					rumors[env.To]++
				}
				if len(env.Msg.Acks) == 1 && env.Msg.Acks[0].Region == "eu-west-1" {
					acked[env.To] = true
					if riding := env.Msg.Kind == KindGossip && len(env.Msg.Mutations) > 0; riding != tc.wantRiding {
						t.Errorf("ack to %s in a %s message with %d mutations, want riding: %v", env.To, env.Msg.Kind, len(env.Msg.Mutations), tc.wantRiding)
					}
					if err := env.Msg.Validate(); err != nil {
						t.Errorf("ack to %s: %v", env.To, err)
					}
					if env.Msg.Size() > DefaultPacketBytes-packetReserve {
						t.Errorf("ack to %s: %d bytes, more than a packet", env.To, env.Msg.Size())
					}
					peer := newTestNode(t, env.To, nil)
					peer.cfg.Acks, peer.ack = true, &ackState{}
					if err := peer.Step(at(time.Second), env.Msg); err != nil {
						t.Fatalf("%s: %v", env.To, err)
					}
					if at, ok := peer.AppliedAt("eu-west-1", mu.ID); !ok || at.IsZero() {
						t.Errorf("%s does not know eu-west-1 applied %s", env.To, mu.ID)
					}
				}
			}
			for _, p := range []string{"ap-south-1", "us-east-1"} {
				if !acked[p] {
					t.Errorf("no ack to %s", p)
				}
				if rumors[p] != 1 {
					t.Errorf("%d gossip packets with the rumor to %s, want 1", rumors[p], p)
				}
				want := 1
				if !tc.wantRiding {
					want = 2
				}
				if perPeer[p] != want {
					t.Errorf("%d messages to %s in the round, want %d", perPeer[p], p, want)
				}
			}
		})
	}
}
