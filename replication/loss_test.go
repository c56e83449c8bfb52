package replication

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestCommitsLostWithTheOriginsDiskAreReported: us-east-2 (A) commits 1..3,
// which reach every region; cut off, it commits 4 and 5, which reach
// nobody (in some cases its advert of them does); then it loses its disk
// and restarts in a new epoch. Nothing can bring 4 and 5 back, but no
// region may stay silent about them: once A is seen in its new epoch, the
// regions report the old epoch closed and its ids after 3 lost (exactly
// 4..5 where an advert claimed them, and "anything after" in any case),
// and never an id they hold.
func TestCommitsLostWithTheOriginsDiskAreReported(t *testing.T) {
	const a, b, c = "us-east-2", "eu-west-1", "ap-southeast-2"
	regions := []string{a, b, c}
	id := func(seq uint64) MutationID { return MutationID{Origin: a, Seq: seq} }
	for _, tc := range []struct {
		name        string
		advert      bool     // B saw A's vector claim 5 before the wipe
		wipe        bool     // A loses its disk (else it only restarts with it)
		commitAfter bool     // A commits in its new epoch
		reporters   []string // regions that must report 4 and 5 lost
		claimedAtB  uint64   // B's ClaimedThrough (the others': 3, claims are not relayed)
	}{
		{name: "nobody saw 4 and 5", wipe: true, commitAfter: true, reporters: regions, claimedAtB: 3},
		{name: "an advert claimed them", advert: true, wipe: true, commitAfter: true, reporters: regions, claimedAtB: 5},
		{name: "origin silent after the wipe", wipe: true, reporters: []string{a}},
		{name: "restart with the disk", commitAfter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 2, RetransmitMult: 4, PushPullInterval: time.Second}
			h := newHarness(t, regions, &linkDelay{}, g, 11)
			h.quiet = true
			h.collectAll()
			commit := func(user string) Mutation {
				t.Helper()
				m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", `{"user_name":"`+user+`"}`))
				if err != nil {
					t.Fatalf("commit %s at %s: %v", user, a, err)
				}
				h.collect(a)
				return m
			}
			cut := func(on bool) {
				for _, o := range regions[1:] {
					h.cut[[2]string{a, o}], h.cut[[2]string{o, a}] = on, on
				}
			}
			for i := 1; i <= 3; i++ {
				commit(fmt.Sprintf("u%d", i))
			}
			h.run(h.now.Add(5 * time.Second))
			cut(true)
			for i := 4; i <= 5; i++ {
				commit(fmt.Sprintf("u%d", i))
			}
			h.run(h.now.Add(2 * time.Second))
			if tc.advert {
				if err := h.step(b, Message{Kind: KindGossip, From: a, Vector: VersionVector{a: 5}}); err != nil {
					t.Fatal(err)
				}
				h.collect(b)
			}
			h.down[a] = true
			h.outbox = nil
			cut(false)
			h.restart(a, tc.wipe) // with its log replayed when not wiped
			h.run(h.now.Add(5 * time.Second))
			if tc.commitAfter {
				commit("after-restart")
			}
			h.run(h.now.Add(20 * time.Second))

			for _, r := range regions {
				n := h.nodes[r]
				reports := slices.Contains(tc.reporters, r)
				for seq := uint64(1); seq <= 6; seq++ {
					want := reports && seq > 3
					if got := n.IsLost(id(seq)); got != want {
						t.Errorf("%s: IsLost(%s) = %v, want %v", r, id(seq), got, want)
					}
				}
				lost := n.Lost()
				if !reports {
					if len(lost) > 0 {
						t.Errorf("%s reports %+v lost, want nothing", r, lost)
					}
					continue
				}
				if len(lost) != 1 {
					t.Fatalf("%s reports %d lost streams, want 1: %+v", r, len(lost), lost)
				}
				l := lost[0]
				claimed := uint64(3)
				if r == b && tc.claimedAtB > 0 {
					claimed = tc.claimedAtB
				}
				if l.Origin != a || l.Epoch != 0 || l.HeldThrough != 3 || l.ClaimedThrough != claimed || l.DetectedAt.IsZero() {
					t.Errorf("%s reports %+v, want %s epoch 0 held through 3, claimed through %d, with its detection instant", r, l, a, claimed)
				}
				if got, want := l.Known(), claimed-3; got != want {
					t.Errorf("%s: %d ids known lost, want %d", r, got, want)
				}
			}
		})
	}
}
