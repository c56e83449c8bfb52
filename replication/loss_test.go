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

// TestLossWaitsForAntiEntropy: A's fourth commit reached C only before A
// lost its disk, and C is cut off while A restarts (A's membership is A
// and B). While C is still a member of B's membership, B must wait for its
// answer before it reports A's old epoch, so it never reports 4 lost; with
// C gone from B's membership too, B reports 4 and 5 lost, and 4 stops
// being lost once C is back. In the end every region holds 4 and reports
// 5 lost.
func TestLossWaitsForAntiEntropy(t *testing.T) {
	const a, b, c = "us-east-2", "eu-west-1", "ap-southeast-2"
	regions := []string{a, b, c}
	for _, tc := range []struct {
		name    string
		cMember bool     // C stays in B's membership while cut off
		lostAtB []uint64 // what B reports lost of 1..5 while C is cut off
	}{
		{name: "C a silent member", cMember: true, lostAtB: nil},
		{name: "C gone", lostAtB: []uint64{4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 2, RetransmitMult: 4, PushPullInterval: time.Second}
			h := newHarness(t, regions, &linkDelay{}, g, 5)
			h.quiet = true
			h.collectAll()
			var ms []Mutation
			commit := func(user string) {
				t.Helper()
				m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", `{"user_name":"`+user+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				ms = append(ms, m)
				h.collect(a)
			}
			isolate := func(r string, on bool) {
				for _, o := range regions {
					if o != r {
						h.cut[[2]string{r, o}], h.cut[[2]string{o, r}] = on, on
					}
				}
			}
			lostAt := func(r string) []uint64 {
				var got []uint64
				for _, m := range ms[:5] {
					if h.nodes[r].IsLost(m.ID) {
						got = append(got, m.ID.Seq)
					}
				}
				return got
			}
			for i := 1; i <= 3; i++ {
				commit(fmt.Sprintf("u%d", i))
			}
			h.run(h.now.Add(5 * time.Second))
			isolate(a, true)
			isolate(c, true)
			commit("u4")
			if err := h.step(c, Message{Kind: KindGossip, From: a, Mutations: ms[3:4]}); err != nil {
				t.Fatal(err)
			}
			h.collect(c)
			commit("u5")
			h.down[a] = true
			h.outbox = nil
			isolate(a, false)
			isolate(c, true)
			if !tc.cMember {
				h.nodes[b].SetPeers([]string{a, b})
			}
			h.restart(a, true)
			h.nodes[a].SetPeers([]string{a, b})
			h.run(h.now.Add(5 * time.Second))
			commit("after-wipe")
			h.run(h.now.Add(10 * time.Second))
			if got := lostAt(b); !slices.Equal(got, tc.lostAtB) {
				t.Errorf("while C is cut off, B reports %v of %s lost, want %v (%+v)", got, a, tc.lostAtB, h.nodes[b].Lost())
			}
			isolate(c, false)
			for _, r := range regions {
				h.nodes[r].SetPeers(regions)
			}
			h.run(h.now.Add(10 * time.Second))
			for _, r := range regions {
				if got := lostAt(r); !slices.Equal(got, []uint64{5}) || !h.nodes[r].Has(ms[3].ID) {
					t.Errorf("after C came back, %s reports %v lost (want [5]) and holds %s: %v", r, got, ms[3].ID, h.nodes[r].Has(ms[3].ID))
				}
			}
		})
	}
}

// TestOwnEpochNobodyHeldIsLost: A commits twice and loses its disk before
// anything spread; no region holds anything of that epoch, so only A can
// say it is over. Recovered in a new epoch, A says both ids (and any other
// of that epoch) are of an epoch that is over (EpochOver); nobody can tell
// them from ids never issued, so IsLost stays false; B, which never heard
// of the epoch, does not guess.
func TestOwnEpochNobodyHeldIsLost(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4, PushPullInterval: time.Second}
	h := newHarness(t, []string{a, b}, &linkDelay{}, g, 3)
	h.quiet = true
	h.collectAll()
	var ms []Mutation
	for i := 1; i <= 2; i++ {
		m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	h.collect(a)
	h.outbox = nil
	h.restart(a, true)
	if h.nodes[a].EpochOver(ms[0].ID) {
		t.Errorf("%s reports %s's epoch over while it recovers", a, ms[0].ID)
	}
	h.run(at(10 * time.Second))
	for _, tc := range []struct {
		region string
		id     MutationID
		want   bool
	}{
		{a, ms[0].ID, true},
		{a, ms[1].ID, true},
		{a, MutationID{Origin: a, Seq: 3}, true},
		{a, MutationID{Origin: a, Epoch: h.nodes[a].Epoch(), Seq: 1}, false}, // its current epoch: next commit
		{b, ms[0].ID, false},
	} {
		if got := h.nodes[tc.region].EpochOver(tc.id); got != tc.want {
			t.Errorf("%s: EpochOver(%s) = %v, want %v", tc.region, tc.id, got, tc.want)
		}
		if h.nodes[tc.region].IsLost(tc.id) {
			t.Errorf("%s: IsLost(%s), want false: nothing tells it from an id never issued", tc.region, tc.id)
		}
	}
}

// TestRecoveredOriginFillsItsClosedEpochsGaps: A's log lost its third
// record (a damaged record set aside by --recover) and nobody else had it;
// A restarts with the rest of its log, in a new epoch, catching up with
// one peer (not a lost-state recovery). Once its old epoch settles, A
// fills the gap with a no-op under its signature, so every region's
// version vector moves past it, and both report 3 lost.
func TestRecoveredOriginFillsItsClosedEpochsGaps(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4, PushPullInterval: time.Second}
	h := newHarness(t, []string{a, b}, &linkDelay{}, g, 13)
	h.quiet = true
	h.collectAll()
	var ms []Mutation
	for i := 1; i <= 5; i++ {
		m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	h.collect(a)
	h.outbox = nil
	kept := []Mutation{ms[0], ms[1], ms[3], ms[4]}
	h.nodes[b].Restore(time.Unix(0, 0), kept)
	h.durable[a] = kept
	cfg := h.cfgs[a]
	cfg.Epoch = 0x5eed
	h.cfgs[a] = cfg
	h.restartWith(a, false, true)
	h.run(at(10 * time.Second))
	for _, r := range []string{a, b} {
		n := h.nodes[r]
		if v := n.Vector(); v[a] != 5 {
			t.Errorf("%s: vector %v, want %s at 5 (past the filled gap)", r, v, a)
		}
		if !n.IsLost(ms[2].ID) || n.IsLost(ms[3].ID) {
			t.Errorf("%s: IsLost(%s) %v, IsLost(%s) %v; want only the third lost", r, ms[2].ID, n.IsLost(ms[2].ID), ms[3].ID, n.IsLost(ms[3].ID))
		}
	}
}

// TestNoLossReportedBeforeHearingAPeer: a region whose membership is still
// empty (memberlist has not listed anyone yet, but a message arrived) must
// not settle a closed epoch with nobody asked; nor may a region report its
// own ids of another epoch lost before every peer answered it once.
func TestNoLossReportedBeforeHearingAPeer(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4, PushPullInterval: time.Second}
	h := newHarness(t, []string{a, b}, &linkDelay{}, g, 17)
	h.quiet = true
	h.collectAll()
	var old []Mutation
	for i := 1; i <= 3; i++ {
		m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, m)
	}
	h.collect(a)
	h.run(at(5 * time.Second))
	// A restarts fresh in a new epoch without waiting for peers (a seed
	// without --join), alone in its membership.
	h.restart(a, false)
	cfg := h.cfgs[a]
	cfg.Epoch, cfg.Start = 0xabc, h.now
	h.cfgs[a] = cfg
	h.nodes[a] = NewNode(cfg)
	h.nodes[a].SetPeers([]string{a})
	h.durable[a] = nil
	h.collect(a)
	m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", `{"user_name":"new"}`))
	if err != nil {
		t.Fatal(err)
	}
	h.collect(a)
	h.nodes[b].SetPeers([]string{b})
	if err := h.step(b, Message{Kind: KindGossip, From: a, Mutations: []Mutation{m}}); err != nil {
		t.Fatal(err)
	}
	h.collect(b)
	for i := 1; i <= 30; i++ { // a driver may tick a node without peers
		for _, r := range []string{a, b} {
			h.nodes[r].Tick(h.now.Add(time.Duration(i) * 100 * time.Millisecond))
			h.collect(r)
		}
	}
	h.outbox = nil
	if l := h.nodes[b].Lost(); len(l) > 0 {
		t.Errorf("%s settled %+v with no peer to ask", b, l)
	}
	if h.nodes[a].EpochOver(old[0].ID) {
		t.Errorf("%s says its own %s's epoch is over before hearing any peer", a, old[0].ID)
	}
	for _, r := range []string{a, b} {
		h.nodes[r].SetPeers([]string{a, b})
		h.collect(r)
	}
	h.run(h.now.Add(10 * time.Second))
	for _, r := range []string{a, b} {
		if l := h.nodes[r].Lost(); len(l) != 1 || l[0].HeldThrough != 3 || l[0].Known() != 0 {
			t.Errorf("%s reports %+v, want %s's first epoch closed, held through 3, nothing known lost", r, l, a)
		}
		if h.nodes[r].IsLost(old[2].ID) || !h.nodes[r].IsLost(MutationID{Origin: a, Seq: 4}) {
			t.Errorf("%s: IsLost(%s) %v, IsLost(%s/4) %v; want false, true", r, old[2].ID, h.nodes[r].IsLost(old[2].ID), a, h.nodes[r].IsLost(MutationID{Origin: a, Seq: 4}))
		}
	}
}
