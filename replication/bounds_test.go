package replication

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestPeerClaimsAreBounded: whatever a peer claims about sequence numbers
// and timestamps, the region keeps committing with its own next sequence
// number, and every refusal is counted.
func TestPeerClaimsAreBounded(t *testing.T) {
	const self, peer = "us-east-2", "eu-west-1"
	forged := func(origin string, seq uint64, ahead time.Duration) Mutation {
		m := commitAt(t, origin, seq, ahead, "forged")
		return m
	}
	tests := []struct {
		name      string
		committed int // commits the region makes before the claim arrives
		claim     Mutation
		want      error
		count     func(Stats) uint64
		nextSeq   uint64 // the sequence number of the region's next commit
	}{
		{"own origin, seq 2^64-1, after commits", 2, forged(self, math.MaxUint64, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedOwnOrigin }, 3},
		{"own origin, just beyond the next seq, after commits", 2, forged(self, 3, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedOwnOrigin }, 3},
		{"own origin, seq 2^64-1, before any commit", 0, forged(self, math.MaxUint64, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedSeqAhead }, 1},
		{"own origin, beyond the bound, before any commit", 0, forged(self, DefaultMaxSeqAhead+1, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedSeqAhead }, 1},
		{"other origin, seq 2^64-1", 1, forged("ap-southeast-2", math.MaxUint64, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedSeqAhead }, 2},
		{"other origin, beyond the bound", 1, forged("ap-southeast-2", DefaultMaxSeqAhead+1, 0), ErrImplausible,
			func(s Stats) uint64 { return s.RefusedSeqAhead }, 2},
		{"timestamp beyond the skew bound", 1, forged("ap-southeast-2", 1, 2*time.Minute), ErrMalformed,
			func(s Stats) uint64 { return s.RefusedFuture }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, self, nil, peer)
			for i := range tt.committed {
				if _, err := n.Propose(epoch, call("iam:CreateGroup", `{"group_name":"own`+string(rune('a'+i))+`"}`)); err != nil {
					t.Fatal(err)
				}
			}
			n.Ready()
			before, stats := n.Digest(), n.Stats()
			// An honest mutation rides along: a refusal drops only the claim.
			honest := commitAt(t, "sa-east-1", 1, 0, "honest")
			err := n.Step(epoch, Message{Kind: KindGossip, From: peer, Mutations: []Mutation{tt.claim, honest}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Step = %v, want %v", err, tt.want)
			}
			after := n.Stats()
			if got := tt.count(after) - tt.count(stats); got != 1 {
				t.Errorf("refusal counted %d times, want once (stats %+v)", got, after)
			}
			if n.Knows(&tt.claim) {
				t.Errorf("the claim was taken in")
			}
			rd := n.Ready()
			for _, p := range rd.Persist {
				if p.ID == tt.claim.ID {
					t.Errorf("the claim is to be persisted")
				}
			}
			if tt.want == ErrImplausible && !n.Knows(&honest) {
				t.Errorf("the honest mutation of the same message was dropped too")
			}
			if tt.want == ErrMalformed && n.Digest() != before {
				t.Errorf("a message rejected whole changed the view")
			}
			m, err := n.Propose(epoch.Add(time.Second), call("iam:CreateGroup", `{"group_name":"after"}`))
			if err != nil || m.ID.Seq != tt.nextSeq {
				t.Fatalf("commit after the claim: %v, %v; want %s/%d", m.ID, err, self, tt.nextSeq)
			}
		})
	}
}

// TestPlausibleClaimsStillAccepted: the bounds refuse nothing an honest
// cluster sends: a region that lost its log learns its own earlier commits
// back before committing again, and an origin may run far ahead within the
// bound.
func TestPlausibleClaimsStillAccepted(t *testing.T) {
	n := newTestNode(t, "us-east-2", nil, "eu-west-1")
	own := commitAt(t, "us-east-2", 1000, 0, "mine")
	ahead := commitAt(t, "ap-southeast-2", DefaultMaxSeqAhead, 0, "far")
	soon := commitAt(t, "sa-east-1", 1, 59*time.Second, "skewed")
	if err := n.Step(epoch, Message{Kind: KindRepair, From: "eu-west-1", Mutations: []Mutation{own, ahead, soon}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Mutation{&own, &ahead, &soon} {
		if !n.Knows(m) {
			t.Errorf("%s refused", m.ID)
		}
	}
	if m, err := n.Propose(epoch, call("iam:CreateGroup", `{"group_name":"next"}`)); err != nil || m.ID.Seq != 1001 {
		t.Fatalf("commit after learning us-east-2/1000 back: %v, %v", m.ID, err)
	}
}

// TestRestoreNeverWrapsSequence: a log written before the bounds existed
// may hold a forged own-origin sequence number; replaying it must not make
// the next commit wrap to 0.
func TestRestoreNeverWrapsSequence(t *testing.T) {
	n := newTestNode(t, "us-east-2", nil)
	n.Restore(time.Unix(0, 0), []Mutation{commitAt(t, "us-east-2", 1, 0, "a"), commitAt(t, "us-east-2", math.MaxUint64, 0, "forged")})
	m, err := n.Propose(epoch, call("iam:CreateGroup", `{"group_name":"b"}`))
	if err != nil || m.ID.Seq != 2 {
		t.Fatalf("commit after replay: %v, %v; want us-east-2/2", m.ID, err)
	}
	if s := n.Stats(); s.Rejected != 1 {
		t.Errorf("Rejected = %d, want the forged entry counted", s.Rejected)
	}
}
