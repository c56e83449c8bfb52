package replication

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// newTestNode returns a node started at epoch with the given peers.
func newTestNode(t testing.TB, region string, delay DelayModel, peers ...string) *Node {
	n := NewNode(Config{Region: region, Delay: delay, Initial: initialState(t), Start: epoch, Rand: rand.New(rand.NewPCG(1, 2))})
	n.SetPeers(peers)
	return n
}

// commitAt returns a mutation committed at origin at instant d, as the
// origin would stamp it.
func commitAt(t testing.TB, origin string, seq uint64, d time.Duration, group string) Mutation {
	return Mutation{ID: MutationID{Origin: origin, Seq: seq}, TS: Timestamp{Wall: at(d).UnixNano()},
		Call: call("iam:CreateGroup", `{"group_name":"`+group+`"}`)}
}

func TestTickAppliesDueMutations(t *testing.T) {
	delay := &linkDelay{links: map[[2]string]time.Duration{
		{"us-east-2", "eu-west-1"}:      6 * time.Second,
		{"ap-southeast-2", "eu-west-1"}: 2 * time.Second,
	}, def: 500 * time.Millisecond}
	n := newTestNode(t, "eu-west-1", delay)
	msg := Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{
		commitAt(t, "us-east-2", 1, 1*time.Second, "a"),      // due 7s
		commitAt(t, "ap-southeast-2", 1, 2*time.Second, "b"), // due 4s
		commitAt(t, "sa-east-1", 1, 2*time.Second, "c"),      // due 2.5s
		commitAt(t, "sa-east-1", 2, 1*time.Second, "d"),      // due 1.5s: before receipt, so at receipt
	}}
	if err := n.Step(at(2*time.Second), msg); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if len(rd.Applied) != 1 || rd.Applied[0].ID.String() != "sa-east-1/2" || !rd.Applied[0].At.Equal(at(2*time.Second)) {
		t.Fatalf("at receipt applied %v, want sa-east-1/2 at 2s", rd.Applied)
	}
	if !rd.Deadline.Equal(at(2500 * time.Millisecond)) {
		t.Fatalf("deadline %v, want 2.5s (the next pending apply)", rel(rd.Deadline))
	}
	n.Tick(at(2500 * time.Millisecond)) // at the deadline: at the due instant
	rd = n.Ready()
	if len(rd.Applied) != 1 || rd.Applied[0].ID.String() != "sa-east-1/1" || !rd.Applied[0].At.Equal(at(2500*time.Millisecond)) {
		t.Fatalf("at the deadline applied %v, want sa-east-1/1 at 2.5s", rd.Applied)
	}
	// Late: everything due is applied in the order of its due instants,
	// at the tick, when the view changes.
	n.Tick(at(time.Minute))
	rd = n.Ready()
	want := []struct {
		id string
		at time.Duration
	}{{"ap-southeast-2/1", time.Minute}, {"us-east-2/1", time.Minute}}
	if len(rd.Applied) != len(want) {
		t.Fatalf("applied %d, want %d", len(rd.Applied), len(want))
	}
	for i, w := range want {
		if a := rd.Applied[i]; a.ID.String() != w.id || !a.At.Equal(at(w.at)) {
			t.Errorf("applied[%d] = %s at %v, want %s at %v", i, a.ID, rel(a.At), w.id, w.at)
		}
	}
	if n.Pending() != 0 || !rd.Deadline.IsZero() {
		t.Fatalf("pending %d, deadline %v; want none", n.Pending(), rd.Deadline)
	}
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name  string
		setup func(n *Node)
		want  func(n *Node) time.Time
	}{
		{"not started: none", func(n *Node) {}, func(n *Node) time.Time { return time.Time{} }},
		{"started, no peers, nothing queued: none", func(n *Node) { n.Tick(epoch) }, func(n *Node) time.Time { return time.Time{} }},
		{"peers: next push/pull", func(n *Node) { n.Tick(epoch); n.SetPeers([]string{"b"}) },
			func(n *Node) time.Time { return time.Unix(0, n.nextPushPull) }},
		{"rumor queued: next gossip round", func(n *Node) {
			n.SetPeers([]string{"b"})
			if _, err := n.Propose(epoch, call("iam:CreateGroup", `{"group_name":"g"}`)); err != nil {
				panic(err)
			}
		}, func(n *Node) time.Time { return time.Unix(0, min(n.nextGossip, n.nextPushPull)) }},
		{"pending apply earliest", func(n *Node) {
			n.SetPeers([]string{"b"})
			m := commitAt(nil, "b", 1, 0, "g")
			m.TS.Wall = epoch.Add(-10 * time.Second).UnixNano() // apply due 1ms after receipt
			if err := n.Step(epoch, Message{Kind: KindGossip, From: "b", Mutations: []Mutation{m}}); err != nil {
				panic(err)
			}
		}, func(n *Node) time.Time { return epoch.Add(time.Millisecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNode(Config{Region: "a", Initial: initialState(t), Delay: &linkDelay{def: 10*time.Second + time.Millisecond},
				Gossip: GossipConfig{Interval: time.Second, Fanout: 1, RetransmitMult: 1, PushPullInterval: time.Minute}})
			tt.setup(n)
			got, want := n.Ready().Deadline, tt.want(n)
			if !got.Equal(want) {
				t.Fatalf("deadline %v, want %v", got, want)
			}
		})
	}
}

// TestRetransmitLimit counts the sends of one rumor against memberlist's
// retransmitMult * ceil(log10(n+1)), n the cluster size.
func TestRetransmitLimit(t *testing.T) {
	tests := []struct {
		peers, mult, want int
	}{
		{1, 4, 4},   // n=2: ceil(log10 3) = 1
		{8, 4, 4},   // n=9: ceil(log10 10) = 1
		{9, 4, 8},   // n=10: ceil(log10 11) = 2
		{99, 3, 9},  // n=100: ceil(log10 101) = 3
		{200, 2, 6}, // large-cluster peer sampling path
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d mult=%d", tt.peers+1, tt.mult), func(t *testing.T) {
			var peers []string
			for i := 0; i < tt.peers; i++ {
				peers = append(peers, fmt.Sprintf("r%03d", i))
			}
			peers = append(peers, "origin") // self in the shared list is ignored
			n := NewNode(Config{Region: "origin", Initial: initialState(t), Start: epoch,
				Gossip: GossipConfig{Interval: time.Second, Fanout: 3, RetransmitMult: tt.mult}})
			n.SetPeers(peers)
			if _, err := n.Propose(epoch, call("iam:CreateGroup", `{"group_name":"g"}`)); err != nil {
				t.Fatal(err)
			}
			sends := 0
			for s := 1; s <= 20; s++ {
				n.Tick(at(time.Duration(s) * time.Second))
				for _, e := range n.Ready().Messages {
					if e.Msg.Kind == KindGossip {
						sends++
						if e.To == "origin" {
							t.Fatalf("gossiped to itself")
						}
					}
				}
			}
			if sends != tt.want {
				t.Fatalf("%d sends, want %d", sends, tt.want)
			}
		})
	}
}

func TestReceiverRequeuesOnlyNew(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil, "us-east-2", "ap-southeast-2")
	m := commitAt(t, "us-east-2", 1, 0, "g")
	for i, wantQueued := range []int{1, 1} { // the duplicate adds nothing
		if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m}}); err != nil {
			t.Fatal(err)
		}
		if got := n.rumors.len(); got != wantQueued {
			t.Fatalf("delivery %d: %d queued, want %d", i, got, wantQueued)
		}
	}
	if s := n.Stats(); s.Duplicates != 1 || s.Applied != 1 {
		t.Fatalf("stats %+v: want 1 duplicate, 1 applied", s)
	}
	n.Tick(at(time.Second))
	sent := false
	for _, e := range n.Ready().Messages {
		if e.Msg.Kind == KindGossip && slices.ContainsFunc(e.Msg.Mutations, func(x Mutation) bool { return x.ID == m.ID }) {
			sent = true
		}
	}
	if !sent {
		t.Fatalf("the receiver did not spread the new mutation")
	}
}

func TestStepRejects(t *testing.T) {
	known := commitAt(t, "us-east-2", 1, 0, "g")
	forged := known
	forged.Call = call("iam:DeleteUser", `{"user_name":"alice"}`)
	twinA, twinB := commitAt(t, "sa-east-1", 1, 0, "x"), commitAt(t, "sa-east-1", 1, 0, "y")
	tests := []struct {
		name     string
		msg      Message
		conflict bool
	}{
		{"invalid kind", Message{Kind: 0, From: "us-east-2"}, false},
		{"no sender", Message{Kind: KindGossip, Mutations: []Mutation{known}}, false},
		{"from self", Message{Kind: KindGossip, From: "eu-west-1"}, false},
		{"request without vector", Message{Kind: KindPushPullRequest, From: "us-east-2"}, false},
		{"forged known id", Message{Kind: KindGossip, From: "ap-southeast-2", Mutations: []Mutation{forged}}, true},
		{"same new id twice, different content: the first wins", Message{Kind: KindGossip, From: "ap-southeast-2", Mutations: []Mutation{twinA, twinB}}, true},
		{"valid then malformed: all rejected", Message{Kind: KindGossip, From: "ap-southeast-2", Mutations: []Mutation{commitAt(t, "sa-east-1", 2, 0, "z"), {ID: MutationID{Origin: "x", Seq: 1}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, "eu-west-1", nil)
			if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{known}}); err != nil {
				t.Fatal(err)
			}
			n.Ready()
			before, stats := n.Digest(), n.Stats()
			err := n.Step(epoch, tt.msg)
			if err == nil || errors.Is(err, ErrMalformed) == tt.conflict || errors.Is(err, ErrConflict) != tt.conflict {
				t.Fatalf("err = %v; want ErrConflict %v, else ErrMalformed", err, tt.conflict)
			}
			after := n.Stats()
			if tt.conflict {
				// The conflicting mutation is dropped; the rest is taken in.
				if after.Conflicts != stats.Conflicts+1 || after.Rejected != stats.Rejected {
					t.Fatalf("conflicts %d rejected %d, want %d and %d", after.Conflicts, after.Rejected, stats.Conflicts+1, stats.Rejected)
				}
				if e := n.lookup(known.ID); e == nil || !sameContent(&e.m, &known) {
					t.Fatalf("the known mutation was replaced")
				}
				if e := n.lookup(twinA.ID); len(tt.msg.Mutations) == 2 && (e == nil || !sameContent(&e.m, &twinA)) {
					t.Fatalf("the first of two twins was not kept")
				}
				return
			}
			if n.Digest() != before || after.Applied != stats.Applied || n.Pending() != 0 || len(n.Ready().Persist) != 0 {
				t.Fatalf("a rejected message changed the node")
			}
			if after.Rejected != stats.Rejected+1 {
				t.Fatalf("rejected count %d, want %d", after.Rejected, stats.Rejected+1)
			}
		})
	}
}

func TestProposeRejectedChangesNothing(t *testing.T) {
	n := newTestNode(t, "us-east-2", nil, "eu-west-1")
	if _, err := n.Propose(epoch, call("iam:CreateUser", `{"user_name":"alice"}`)); err == nil {
		t.Fatalf("alice exists already: want EntityAlreadyExists")
	}
	rd := n.Ready()
	if len(rd.Persist)+len(rd.Applied) != 0 || n.rumors.len() != 0 || n.clock.last != (Timestamp{}) {
		t.Fatalf("a rejected call left effects: %+v", rd)
	}
	m, err := n.Propose(epoch, call("iam:CreateUser", `{"user_name":"bob"}`))
	if err != nil || m.ID.Seq != 1 {
		t.Fatalf("next commit: %v, %v; want sequence number 1", m.ID, err)
	}
	if m.Call.Region != "us-east-2" {
		t.Fatalf("call region %q, want the origin", m.Call.Region)
	}
}

func TestVectorAndHas(t *testing.T) {
	n := newTestNode(t, "eu-west-1", &linkDelay{def: 5 * time.Second})
	ms := []Mutation{commitAt(t, "us-east-2", 1, 0, "a"), commitAt(t, "us-east-2", 3, 0, "c"), commitAt(t, "ap-southeast-2", 1, 0, "x")}
	if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: ms}); err != nil {
		t.Fatal(err)
	}
	if v := n.Vector(); len(v) != 0 || n.Has(ms[0].ID) {
		t.Fatalf("before apply: vector %v, has %v; want nothing applied", v, n.Has(ms[0].ID))
	}
	if v := n.recvVector(); v["us-east-2"] != 1 || v["ap-southeast-2"] != 1 {
		t.Fatalf("received vector %v: want the gap at us-east-2/2 to stop it at 1", v)
	}
	n.Tick(at(5 * time.Second))
	if v := n.Vector(); v["us-east-2"] != 1 || v["ap-southeast-2"] != 1 || !n.Has(ms[1].ID) || n.Has(MutationID{Origin: "us-east-2", Seq: 2}) {
		t.Fatalf("after apply: vector %v", v)
	}
	if err := n.Step(at(6*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{commitAt(t, "us-east-2", 2, 0, "b")}}); err != nil {
		t.Fatal(err)
	}
	if v := n.Vector(); v["us-east-2"] != 3 {
		t.Fatalf("gap filled: vector %v, want us-east-2:3", v)
	}
}

// TestFarAheadSequence: a (valid-looking) sequence number far beyond the
// others, though within DefaultMaxSeqAhead, must not make anti-entropy walk
// the range.
func TestFarAheadSequence(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil, "us-east-2")
	far := commitAt(t, "us-east-2", DefaultMaxSeqAhead, 0, "far")
	if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{commitAt(t, "us-east-2", 1, 0, "a"), far}}); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	if err := n.Step(epoch, Message{Kind: KindPushPullRequest, From: "us-east-2", Vector: VersionVector{}}); err != nil {
		t.Fatal(err)
	}
	msgs := n.Ready().Messages
	if len(msgs) != 1 || len(msgs[0].Msg.Mutations) != 2 || msgs[0].Msg.Mutations[1].ID != far.ID {
		t.Fatalf("response %+v: want both mutations, in sequence order", msgs)
	}
}

func TestPushPullChunks(t *testing.T) {
	a := newTestNode(t, "us-east-2", nil, "eu-west-1")
	var ms []Mutation
	for i := 1; i <= MaxMutationsPerMessage+10; i++ {
		ms = append(ms, commitAt(t, "sa-east-1", uint64(i), time.Duration(i), fmt.Sprint("g", i)))
	}
	for i := 0; i < len(ms); i += MaxMutationsPerMessage {
		if err := a.Step(epoch, Message{Kind: KindRepair, From: "sa-east-1", Mutations: ms[i:min(len(ms), i+MaxMutationsPerMessage)]}); err != nil {
			t.Fatal(err)
		}
	}
	a.Ready()
	if err := a.Step(epoch, Message{Kind: KindPushPullRequest, From: "eu-west-1", Vector: VersionVector{"sa-east-1": 5}}); err != nil {
		t.Fatal(err)
	}
	msgs := a.Ready().Messages
	if len(msgs) != 2 || msgs[0].Msg.Kind != KindPushPullResponse || msgs[1].Msg.Kind != KindRepair {
		t.Fatalf("want a response and a repair, got %d messages", len(msgs))
	}
	total := 0
	for _, e := range msgs {
		total += len(e.Msg.Mutations)
		if len(e.Msg.Mutations) > MaxMutationsPerMessage {
			t.Fatalf("message of %d mutations", len(e.Msg.Mutations))
		}
		if _, err := DecodeMessage(e.Msg.Encode()); err != nil {
			t.Fatalf("chunk does not decode: %v", err)
		}
	}
	if total != len(ms)-5 || msgs[0].Msg.Vector["sa-east-1"] != uint64(len(ms)) {
		t.Fatalf("sent %d, want %d; vector %v", total, len(ms)-5, msgs[0].Msg.Vector)
	}
}

// TestLostStateKeepsSequence: a region that lost its state learns its own
// earlier commits back and never reuses their sequence numbers.
func TestLostStateKeepsSequence(t *testing.T) {
	old := commitAt(t, "us-east-2", 7, 0, "g")
	n := newTestNode(t, "us-east-2", nil, "eu-west-1")
	if err := n.Step(at(time.Second), Message{Kind: KindRepair, From: "eu-west-1", Mutations: []Mutation{old}}); err != nil {
		t.Fatal(err)
	}
	m, err := n.Propose(at(time.Second), call("iam:CreateGroup", `{"group_name":"h"}`))
	if err != nil || m.ID.Seq != 8 {
		t.Fatalf("commit after learning us-east-2/7: %v, %v; want us-east-2/8", m.ID, err)
	}
}

func TestRestoreSkipsBadEntries(t *testing.T) {
	good := commitAt(t, "us-east-2", 1, 0, "g")
	bad := good
	bad.Call = call("iam:CreateGroup", `{"group_name":"other"}`)
	n := newTestNode(t, "eu-west-1", nil)
	n.Restore(time.Unix(0, 0), []Mutation{good, bad, {ID: MutationID{Origin: "", Seq: 0}}})
	if s := n.Stats(); s.Rejected != 2 || s.Conflicts != 1 || !n.Has(good.ID) {
		t.Fatalf("stats %+v; has %v", s, n.Has(good.ID))
	}
	if rd := n.Ready(); len(rd.Applied)+len(rd.Persist)+len(rd.Messages) != 0 {
		t.Fatalf("Restore reported effects: %+v", rd)
	}
}

// A restored mutation is applied at the restore's instant and committed at
// its own; an id the node never held has neither.
func TestRestoreInstants(t *testing.T) {
	m := commitAt(t, "us-east-2", 1, 0, "g")
	n := newTestNode(t, "eu-west-1", nil)
	restored := at(5 * time.Second)
	n.Restore(restored, []Mutation{m})
	if got, ok := n.AppliedAt("eu-west-1", m.ID); !ok || !got.Equal(restored) {
		t.Errorf("AppliedAt = %v, %v; want %v", got, ok, restored)
	}
	if got, ok := n.CommittedAt(m.ID); !ok || !got.Equal(m.CommitTime()) {
		t.Errorf("CommittedAt = %v, %v; want %v", got, ok, m.CommitTime())
	}
	other := MutationID{Origin: "us-east-2", Seq: 2}
	if _, ok := n.CommittedAt(other); ok {
		t.Error("CommittedAt reports an id the node never held")
	}
	if _, ok := n.AppliedAt("eu-west-1", other); ok {
		t.Error("AppliedAt reports an id the node never held")
	}
}

func TestSetPeersSharedSlice(t *testing.T) {
	shared := []string{"a", "b", "c"}
	n := NewNode(Config{Region: "b"})
	n.SetPeers(shared)
	if &n.peers[0] != &shared[0] {
		t.Fatalf("a sorted membership was copied")
	}
	if got := n.Peers(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("Peers() = %v", got)
	}
	n.SetPeers([]string{"c", "a", "b", "a"})
	if got := n.Peers(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("unsorted input: Peers() = %v", got)
	}
}

// TestEpochStart: a simulator may start its virtual clock at the Unix
// epoch; commits and receipts at t=0 work.
func TestEpochStart(t *testing.T) {
	zero := time.Unix(0, 0)
	a := NewNode(Config{Region: "a", Initial: initialState(t), Start: zero})
	b := NewNode(Config{Region: "b", Initial: initialState(t), Start: zero})
	m, err := a.Propose(zero, call("iam:CreateGroup", `{"group_name":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := DecodeMessage(Message{Kind: KindGossip, From: "a", Mutations: []Mutation{m}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Step(zero, msg); err != nil || !b.Has(m.ID) {
		t.Fatalf("receipt at t=0: %v, has %v", err, b.Has(m.ID))
	}
}

// TestGossipChunksByCount: with a large packet budget and tiny rumors, one
// peer's share of a round is split so no message exceeds
// MaxMutationsPerMessage (receivers would reject it).
func TestGossipChunksByCount(t *testing.T) {
	n := NewNode(Config{Region: "r", Initial: initialState(t), Start: epoch, PacketBytes: 65507,
		Gossip: GossipConfig{Interval: time.Second, Fanout: 1, RetransmitMult: 1}})
	n.SetPeers([]string{"p"})
	var ms []Mutation
	for i := 1; i <= 3000; i++ {
		ms = append(ms, Mutation{ID: MutationID{Origin: "o", Seq: uint64(i)}, TS: Timestamp{Wall: epoch.UnixNano()}, Call: call("x:y", `{}`)})
	}
	for i := 0; i < len(ms); i += MaxMutationsPerMessage {
		if err := n.Step(epoch, Message{Kind: KindRepair, From: "p", Mutations: ms[i:min(len(ms), i+MaxMutationsPerMessage)]}); err != nil {
			t.Fatal(err)
		}
	}
	n.Ready()
	n.Tick(at(time.Second))
	msgs := n.Ready().Messages
	total := 0
	for _, e := range msgs {
		if len(e.Msg.Mutations) > MaxMutationsPerMessage {
			t.Fatalf("message of %d mutations", len(e.Msg.Mutations))
		}
		if _, err := DecodeMessage(e.Msg.Encode()); err != nil {
			t.Fatalf("receiver would reject: %v", err)
		}
		total += len(e.Msg.Mutations)
	}
	if len(msgs) < 2 || total <= MaxMutationsPerMessage {
		t.Fatalf("%d messages carrying %d rumors: want one packet's worth split in several", len(msgs), total)
	}
}

// TestReadOnlyQueriesAreReads: Has and Knows may be called from several
// goroutines at once under a driver's read lock (the live node answers
// at_least authorizations that way), so they must not write the node
// (go test -race finds a write; the answers are checked either way).
func TestReadOnlyQueriesAreReads(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil)
	ms := []Mutation{commitAt(t, "us-east-2", 1, 0, "a"), commitAt(t, "ap-southeast-2", 1, 0, "x")}
	if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: ms}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				m := &ms[(g+i)%2]
				if !n.Has(m.ID) || !n.Knows(m) || n.Has(MutationID{Origin: m.ID.Origin, Seq: 2}) {
					t.Errorf("goroutine %d: wrong answer for %s", g, m.ID)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestWhyNotAppliedQueries: PendingApply, Gossiping and NextPushPull are
// what a simulator reads to say why a region lacks a mutation at the end of
// a run (received but waiting for its apply instant, rumor still being
// retransmitted, or only the next push/pull can bring it).
func TestWhyNotAppliedQueries(t *testing.T) {
	delay := &linkDelay{def: 6 * time.Second}
	m := commitAt(t, "us-east-2", 1, 1*time.Second, "a")
	tests := []struct {
		name        string
		steps       func(n *Node) // from epoch; the node's peers are three regions
		now         time.Duration // Tick here after steps
		wantPending time.Duration // -1: not pending
		wantGossip  bool
	}{
		{"unknown", func(n *Node) {}, 2 * time.Second, -1, false},
		{"received, waiting for commit+6s", func(n *Node) {
			_ = n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m}})
		}, 2 * time.Second, 7 * time.Second, true},
		{"applied, retransmits used up", func(n *Node) {
			_ = n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m}})
		}, 20 * time.Second, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, "eu-west-1", delay, "us-east-2", "ap-southeast-2", "sa-east-1")
			tt.steps(n)
			// Every gossip round on the way, as a driver would tick.
			for d := 2 * time.Second; d <= tt.now; d += 100 * time.Millisecond {
				n.Tick(at(d))
				n.Ready()
			}
			got, ok := n.PendingApply(m.ID)
			if want := tt.wantPending >= 0; ok != want || ok && !got.Equal(at(tt.wantPending)) {
				t.Errorf("PendingApply = %v, %v; want %v, %v", rel(got), ok, tt.wantPending, want)
			}
			if g := n.Gossiping(m.ID); g != tt.wantGossip {
				t.Errorf("Gossiping = %v, want %v", g, tt.wantGossip)
			}
		})
	}
}

// TestNextPushPull: the first push/pull comes after a stagger plus a whole
// interval (memberlist's pushPullTrigger), so at 30 s intervals it lies in
// [30 s, 60 s); after it, the next is one interval later; with no peers
// there is none.
func TestNextPushPull(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil, "us-east-2")
	first := rel(n.NextPushPull())
	if first < 30*time.Second || first >= time.Minute {
		t.Fatalf("first push/pull at %v, want in [30s, 60s)", first)
	}
	n.Tick(at(first))
	n.Ready()
	if next := rel(n.NextPushPull()); next != first+30*time.Second {
		t.Errorf("after the first, next push/pull at %v, want %v", next, first+30*time.Second)
	}
	alone := newTestNode(t, "eu-west-1", nil)
	if got := alone.NextPushPull(); !got.IsZero() {
		t.Errorf("a node without peers: next push/pull %v, want none", rel(got))
	}
}

// TestFirstPushPullScaledForTheCluster: memberlist's pushPullTrigger sleeps
// its stagger and only then computes the interval, scaled for the cluster
// size it knows at that moment. A node started before its membership is
// set (as the simulator does) must scale its first push/pull for that
// membership, not for a cluster of one: beyond 32 regions the first one
// would otherwise come intervals early.
func TestFirstPushPullScaledForTheCluster(t *testing.T) {
	peers := func(k int) []string {
		var out []string
		for i := range k {
			out = append(out, fmt.Sprintf("r%03d", i))
		}
		return out
	}
	tests := []struct {
		name     string
		peers    int
		from, to time.Duration // the first push/pull lies in [from, to)
	}{
		{"3 regions: stagger + 30s", 2, 30 * time.Second, 60 * time.Second},
		{"30 regions: stagger + 30s", 29, 30 * time.Second, 60 * time.Second},
		{"100 regions: stagger + 3 × 30s", 99, 90 * time.Second, 120 * time.Second},
		{"1000 regions: stagger + 6 × 30s", 999, 180 * time.Second, 210 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(20) {
				n := NewNode(Config{Region: "eu-west-1", Start: epoch, Rand: rand.New(rand.NewPCG(seed, 2))})
				n.SetPeers(peers(tt.peers))
				if got := rel(n.NextPushPull()); got < tt.from || got >= tt.to {
					t.Fatalf("seed %d: first push/pull at %v, want in [%v, %v)", seed, got, tt.from, tt.to)
				}
			}
		})
	}
}

// An S3 data-plane write (an upload) is no control-plane change: a region
// applies its copy on receipt, never held back by the propagation delay,
// while a control-plane mutation of the same instant waits for its delay.
func TestDataPlaneWriteAppliesOnReceipt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		call    string
		args    string
		applyAt time.Duration
	}{
		{"upload", "s3:PutObject", `{"bucket":"b","key":"k"}`, 2 * time.Second},
		{"object delete", "s3:DeleteObject", `{"bucket":"b","key":"k"}`, 2 * time.Second},
		{"control plane", "iam:CreateGroup", `{"group_name":"g"}`, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, "eu-west-1", &linkDelay{def: 6 * time.Second})
			m := Mutation{ID: MutationID{Origin: "us-east-2", Seq: 1}, TS: Timestamp{Wall: at(time.Second).UnixNano()}, Call: call(tc.call, tc.args)}
			if err := n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m}}); err != nil {
				t.Fatal(err)
			}
			rd := n.Ready()
			if !rd.Deadline.IsZero() {
				n.Tick(rd.Deadline)
				rd = n.Ready()
			}
			if len(rd.Applied) != 1 || !rd.Applied[0].At.Equal(at(tc.applyAt)) {
				t.Fatalf("applied %v, want %s at %v", rd.Applied, tc.call, tc.applyAt)
			}
		})
	}
}

// TestAppliedAbove: a view holds what arrives, in timestamp order, not a
// prefix per origin: past a gap it holds numbers Vector does not count,
// which AppliedAbove lists until the gap fills (then none, nil).
func TestAppliedAbove(t *testing.T) {
	m := func(seq uint64) Mutation { return commitAt(t, "us-east-2", seq, 0, fmt.Sprintf("g%d", seq)) }
	filler := func(seq uint64) Mutation {
		f := m(seq)
		f.Call = call(GapAction, "")
		return f
	}
	type step struct {
		recv  []Mutation
		vec   uint64     // Vector's us-east-2 after it
		above []SeqRange // AppliedAbove's us-east-2 after it (nil: no entry at all)
	}
	tests := []struct {
		name  string
		limit int
		steps []step
		cut   bool // the last step's answer is truncated
	}{
		{"none: nil", 8, []step{{[]Mutation{m(1), m(2)}, 2, nil}}, false},
		{"a gap, then the missing mutation", 8, []step{
			{[]Mutation{m(1), m(3), m(4), m(6)}, 1, []SeqRange{{3, 4}, {6, 6}}},
			{[]Mutation{m(2)}, 4, []SeqRange{{6, 6}}},
			{[]Mutation{m(5)}, 6, nil},
		}, false},
		{"a lost id's filler closes the gap", 8, []step{
			{[]Mutation{m(1), m(3)}, 1, []SeqRange{{3, 3}}},
			{[]Mutation{filler(2)}, 3, nil},
		}, false},
		{"in reverse order, one batch at a time", 8, []step{
			{[]Mutation{m(4)}, 0, []SeqRange{{4, 4}}},
			{[]Mutation{m(3)}, 0, []SeqRange{{3, 4}}},
			{[]Mutation{m(2), m(1)}, 4, nil},
		}, false},
		{"far ahead: held sparse", 8, []step{
			{[]Mutation{m(1), m(3), m(5000)}, 1, []SeqRange{{3, 3}, {5000, 5000}}},
		}, false},
		{"more ranges than the limit: truncated", 2, []step{
			{[]Mutation{m(1), m(3), m(5), m(7)}, 1, []SeqRange{{3, 3}, {5, 5}}},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, "eu-west-1", nil)
			for i, st := range tt.steps {
				if err := n.Step(at(time.Duration(i)*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: st.recv}); err != nil {
					t.Fatal(err)
				}
				if v := n.Vector()["us-east-2"]; v != st.vec {
					t.Errorf("step %d: vector us-east-2:%d, want %d", i, v, st.vec)
				}
				above, cut := n.AppliedAbove(tt.limit)
				if got := above["us-east-2"]; !slices.Equal(got, st.above) {
					t.Errorf("step %d: above %v, want %v", i, got, st.above)
				}
				if st.above == nil && above != nil {
					t.Errorf("step %d: above %v, want nil", i, above)
				}
				if last := i == len(tt.steps)-1; last && cut != tt.cut {
					t.Errorf("truncated %v, want %v", cut, tt.cut)
				}
			}
		})
	}
	// None above: no allocation (the live node asks at every view change).
	n := newTestNode(t, "eu-west-1", nil)
	if err := n.Step(epoch, Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m(1), m(2)}}); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(10, func() { n.AppliedAbove(8) }); a != 0 {
		t.Errorf("AppliedAbove with nothing above: %v allocations, want 0", a)
	}
}

// TestAppliedAboveMatchesTheView: whatever the arrival order and delays,
// the prefix and AppliedAbove are exactly the numbers Has reports.
func TestAppliedAboveMatchesTheView(t *testing.T) {
	sawAbove := 0
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		n := newTestNode(t, "eu-west-1", &linkDelay{def: time.Second})
		perm := r.Perm(60)
		for i := 0; i < len(perm); {
			k := min(len(perm)-i, 1+r.IntN(5))
			var batch []Mutation
			for _, p := range perm[i : i+k] {
				batch = append(batch, commitAt(t, "us-east-2", uint64(p+1), time.Duration(r.IntN(3000))*time.Millisecond, fmt.Sprintf("g%d", p)))
			}
			i += k
			now := at(time.Duration(i) * 100 * time.Millisecond)
			if err := n.Step(now, Message{Kind: KindGossip, From: "us-east-2", Mutations: batch}); err != nil {
				t.Fatal(err)
			}
			vec := n.Vector()["us-east-2"]
			above, cut := n.AppliedAbove(1000)
			held := map[uint64]bool{}
			if above != nil {
				sawAbove++
			}
			for _, rg := range above["us-east-2"] {
				for s := rg.From; s <= rg.To; s++ {
					held[s] = true
				}
			}
			for s := uint64(1); s <= 60; s++ {
				has := n.Has(MutationID{Origin: "us-east-2", Seq: s})
				if model := s <= vec || held[s]; model != has || cut {
					t.Fatalf("seed %d, after %d: %d held %v, prefix %d and above %v say %v (cut %v)", seed, i, s, has, vec, above, model, cut)
				}
			}
		}
	}
	if sawAbove == 0 {
		t.Error("no view held anything above its prefix: the test proves nothing")
	}
	t.Logf("%d views held numbers above their prefix", sawAbove)
}
