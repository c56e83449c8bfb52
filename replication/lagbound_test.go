package replication

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// newAckHarness is newHarness with acks on (Config.Acks) in every node.
func newAckHarness(t *testing.T, regions []string, g GossipConfig, edit func(*Config)) *harness {
	h := newHarness(t, regions, &linkDelay{}, g, 7)
	for _, r := range regions {
		cfg := h.cfgs[r]
		cfg.Acks = true
		if edit != nil {
			edit(&cfg)
		}
		h.cfgs[r] = cfg
		h.nodes[r] = NewNode(cfg)
		h.nodes[r].SetPeers(regions)
	}
	h.latency = 10 * time.Millisecond
	h.quiet = true
	h.collectAll()
	return h
}

// cutOff partitions region r from every other region, both ways.
func (h *harness) cutOff(r string) {
	for _, o := range h.regions {
		if o != r {
			h.cut[[2]string{r, o}], h.cut[[2]string{o, r}] = true, true
		}
	}
}

// TestMaxLagFailsClosedWhenCutOff: eu-west-1 is cut off at 1 s; us-east-2
// commits at 2 s. eu-west-1 never hears of that commit, so nothing it
// knows says its view lacks one; at 5 s its view is 3 s older than the
// truth, and a max_lag 1s read must be refused, not answered.
func TestMaxLagFailsClosedWhenCutOff(t *testing.T) {
	const us, eu, ap = "us-east-2", "eu-west-1", "ap-southeast-2"
	h := newAckHarness(t, []string{us, eu, ap}, GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: time.Hour}, nil)
	h.run(at(500 * time.Millisecond))
	a, err := h.nodes[us].Propose(h.now, call("iam:CreateGroup", `{"group_name":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	h.collect(us)
	h.run(at(time.Second))
	if !h.nodes[eu].Has(a.ID) {
		t.Fatalf("setup: %s lacks %s before the cut", eu, a.ID)
	}
	h.cutOff(eu)
	h.run(at(2 * time.Second))
	b, err := h.nodes[us].Propose(h.now, call("iam:CreateGroup", `{"group_name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	h.collect(us)
	h.run(at(5 * time.Second))
	if h.nodes[eu].Has(b.ID) {
		t.Fatalf("setup: %s got %s through the cut", eu, b.ID)
	}
	c := Consistency{Mode: ModeMaxLag, MaxLag: time.Second}
	if ok, err := h.nodes[eu].Admit(h.now, c); ok || !errors.Is(err, ErrTooStale) {
		t.Errorf("%s, cut off since 1s, admitted max_lag 1s at 5s (%v, %v): its view lacks %s, committed 3s earlier", eu, ok, err, b.ID)
	}
}

// TestMaxLagBoundStory follows the bound through a partition and its heal,
// with heartbeats (Config.AckHeartbeat) and without them.
func TestMaxLagBoundStory(t *testing.T) {
	const us, eu, ap = "us-east-2", "eu-west-1", "ap-southeast-2"
	g := GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: time.Hour}
	oneSec := Consistency{Mode: ModeMaxLag, MaxLag: time.Second}
	admits := func(h *harness, r string) bool {
		ok, _ := h.nodes[r].Admit(h.now, oneSec)
		return ok
	}
	t.Run("quiet cluster", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			hb   time.Duration
			want bool // max_lag 1s admitted at 5s, nothing committed
		}{
			{"heartbeats", 200 * time.Millisecond, true},
			{"no heartbeats: silence is not freshness", 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newAckHarness(t, []string{us, eu, ap}, g, func(c *Config) { c.AckHeartbeat = tc.hb })
				h.run(at(5 * time.Second))
				for _, r := range h.regions {
					if got := admits(h, r); got != tc.want {
						t.Errorf("%s admitted = %v, want %v (LagBound %v)", r, got, tc.want, h.nodes[r].LagBound(h.now))
					}
				}
			})
		}
	})
	t.Run("partition, removal, heal", func(t *testing.T) {
		// Push/pull every second: what eu-west-1 missed reaches it after the heal.
		pp := g
		pp.PushPullInterval = time.Second
		h := newAckHarness(t, []string{us, eu, ap}, pp, func(c *Config) { c.AckHeartbeat = 200 * time.Millisecond })
		h.run(at(time.Second))
		for _, r := range h.regions {
			if lb := h.nodes[r].LagBound(h.now); lb > 500*time.Millisecond {
				t.Errorf("%s before the cut: LagBound %v, want within two rounds and a half", r, lb)
			}
		}
		h.cutOff(eu)
		h.run(at(2 * time.Second))
		b, err := h.nodes[us].Propose(h.now, call("iam:CreateGroup", `{"group_name":"b"}`))
		if err != nil {
			t.Fatal(err)
		}
		h.collect(us)
		h.run(at(4 * time.Second))
		// Every side fails closed: eu-west-1 cannot know what us-east-2
		// committed, nor the others what eu-west-1 did.
		for _, r := range h.regions {
			if admits(h, r) {
				t.Errorf("%s admitted max_lag 1s 3s into the partition", r)
			}
		}
		if lb := h.nodes[eu].LagBound(h.now); lb < 3*time.Second {
			t.Errorf("%s LagBound %v, want at least the 3s since the cut", eu, lb)
		}
		// The operator removes eu-west-1: the others answer again.
		for _, r := range []string{us, ap} {
			h.nodes[r].ForgetRegion(eu)
			if !admits(h, r) {
				t.Errorf("%s refused max_lag 1s after eu-west-1 was removed (LagBound %v)", r, h.nodes[r].LagBound(h.now))
			}
		}
		if !h.nodes[ap].Has(b.ID) {
			t.Errorf("%s admitted without %s", ap, b.ID)
		}
		// Heal, and the membership lists eu-west-1 again: it counts again.
		clear(h.cut)
		for _, r := range h.regions {
			h.nodes[r].SetPeers(h.regions)
			h.collect(r)
		}
		if slices.Index(h.nodes[us].CountedRegions(), eu) < 0 {
			t.Errorf("%s does not count eu-west-1 once it is a member again: %v", us, h.nodes[us].CountedRegions())
		}
		h.run(at(8 * time.Second))
		for _, r := range h.regions {
			if !admits(h, r) {
				t.Errorf("%s refused max_lag 1s 4s after the heal (LagBound %v)", r, h.nodes[r].LagBound(h.now))
			}
		}
		if !h.nodes[eu].Has(b.ID) {
			t.Errorf("%s lacks %s after the heal", eu, b.ID)
		}
	})
}

// TestBoundSinceRules: the rules of BoundSince one at a time, on one node
// fed acks by hand.
func TestBoundSinceRules(t *testing.T) {
	const me, us, ap = "eu-west-1", "us-east-2", "ap-southeast-2"
	mu := commitAt(t, us, 1, 2*time.Second, "a")
	ack := func(region string, d time.Duration, v VersionVector) Message {
		return Message{Kind: KindAck, From: region, Acks: []Ack{{Region: region, At: at(d), Vector: v}}}
	}
	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		alone   bool // never given peers
		restore bool
		steps   func(t *testing.T, n *Node)
		now     time.Duration
		want    time.Duration // BoundSince, relative to epoch
		wantOK  bool
	}{
		{"alone: nothing can be missing", nil, true, false, nil, 5 * time.Second, 0, false},
		{"peers never heard from count from never", nil, false, false, nil, 5 * time.Second, rel(time.Unix(0, 0)), true},
		{"at genesis, peers never heard from count from the start", func(c *Config) { c.Genesis = true }, false, false, nil, 5 * time.Second, 0, true},
		{"after a restore, never heard from is never", func(c *Config) { c.Genesis = true }, false, true, nil, 5 * time.Second, rel(time.Unix(0, 0)), true},
		{"without acks nothing vouches for a peer", func(c *Config) { c.Acks = false }, false, false, nil, 5 * time.Second, rel(time.Unix(0, 0)), true},
		{"the oldest word counts", nil, false, false, func(t *testing.T, n *Node) {
			step(t, n, 3*time.Second, ack(us, 3*time.Second, nil))
			step(t, n, 4*time.Second, ack(ap, 4*time.Second, nil))
		}, 5 * time.Second, 3 * time.Second, true},
		{"an ack from the future counts as of its arrival", nil, false, false, func(t *testing.T, n *Node) {
			step(t, n, 3*time.Second, ack(us, 30*time.Second, nil))
			step(t, n, 3*time.Second, ack(ap, 30*time.Second, nil))
		}, 5 * time.Second, 3 * time.Second, true},
		{"an ack the view does not cover vouches for nothing new", nil, false, false, func(t *testing.T, n *Node) {
			step(t, n, time.Second, ack(us, time.Second, nil))
			step(t, n, 4*time.Second, ack(ap, 4*time.Second, nil))
			step(t, n, 4*time.Second, ack(us, 4*time.Second, VersionVector{us: 1}))
		}, 5 * time.Second, time.Second, true},
		{"held but pending: fresh up to that commit", func(c *Config) { c.Delay = &linkDelay{def: time.Hour} }, false, false, func(t *testing.T, n *Node) {
			step(t, n, time.Second, ack(us, time.Second, nil))
			step(t, n, 3*time.Second, Message{Kind: KindGossip, From: us, Mutations: []Mutation{mu}})
			step(t, n, 4*time.Second, ack(ap, 4*time.Second, nil))
			step(t, n, 4*time.Second, ack(us, 4*time.Second, VersionVector{us: 1}))
		}, 5 * time.Second, 2 * time.Second, true},
		{"covered once applied", nil, false, false, func(t *testing.T, n *Node) {
			step(t, n, 4*time.Second, ack(us, 4*time.Second, VersionVector{us: 1, ap: 9}))
			step(t, n, 4*time.Second, ack(ap, 4*time.Second, nil))
			step(t, n, 4500*time.Millisecond, Message{Kind: KindGossip, From: us, Mutations: []Mutation{mu}})
		}, 5 * time.Second, 4 * time.Second, true},
		// A wiped seed restarted without --join knows no peer yet: its
		// start is no bound, its view may lack commits of any age.
		{"a region recovering lost state, knowing no peer, counts from never", func(c *Config) { c.LostState = true }, true, false, nil, 5 * time.Second, rel(time.Unix(0, 0)), true},
		{"a region catching up counts from never whatever it heard", func(c *Config) { c.CatchUp = true }, false, false, func(t *testing.T, n *Node) {
			step(t, n, 4*time.Second, ack(us, 4*time.Second, nil))
			step(t, n, 4*time.Second, ack(ap, 4*time.Second, nil))
		}, 5 * time.Second, rel(time.Unix(0, 0)), true},
		{"a removed region no longer counts", nil, false, false, func(t *testing.T, n *Node) {
			step(t, n, 4*time.Second, ack(us, 4*time.Second, nil))
			n.ForgetRegion(ap)
		}, 5 * time.Second, 4 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Region: me, Initial: initialState(t), Start: epoch, Acks: true}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			n := NewNode(cfg)
			if tc.restore {
				n.Restore(time.Unix(0, 0), []Mutation{commitAt(t, me, 1, 0, "mine")})
			}
			if !tc.alone {
				n.SetPeers([]string{me, us, ap})
			}
			if tc.steps != nil {
				tc.steps(t, n)
			}
			n.Tick(at(tc.now))
			got, ok := n.BoundSince()
			if ok != tc.wantOK || ok && rel(got) != tc.want {
				t.Errorf("BoundSince = %v, %v; want %v, %v", rel(got), ok, tc.want, tc.wantOK)
			}
			if ok {
				if lb := n.LagBound(at(tc.now)); lb != at(tc.now).Sub(got) {
					t.Errorf("LagBound = %v, want now - BoundSince = %v", lb, at(tc.now).Sub(got))
				}
			}
		})
	}
}

func step(t *testing.T, n *Node, d time.Duration, m Message) {
	t.Helper()
	if err := n.Step(at(d), m); err != nil {
		t.Fatal(err)
	}
}

// TestNoOwnAckWhileRecovering: a region restarted from a log whose own
// record 2 was set aside holds its commits 1 and 3. Until recovery closes
// the gap, its applied vector of that epoch stops at 1 although it
// committed 3 before: an ack of it would vouch for less than the region
// committed, and a peer holding 1 would count itself fresh without 3. So
// it acks (heartbeats included) only once recovery is over, and then its
// vector covers 3.
func TestNoOwnAckWhileRecovering(t *testing.T) {
	const me, peer = "us-west-2", "eu-west-1"
	old := func(seq uint64) Mutation {
		m := commitAt(t, me, seq, time.Duration(seq)*time.Second, fmt.Sprintf("g%d", seq))
		m.ID.Epoch = 7
		return m
	}
	n := NewNode(Config{Region: me, Initial: initialState(t), Start: at(10 * time.Second), Acks: true, AckHeartbeat: 200 * time.Millisecond,
		LostState: true, Epoch: 8, Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}})
	n.Restore(time.Unix(0, 0), []Mutation{old(1), old(3)})
	n.SetPeers([]string{me, peer})
	ownAcks := func(until time.Duration) []Ack {
		var out []Ack
		for d := 10 * time.Second; d <= until; d += 100 * time.Millisecond {
			n.Tick(at(d))
			for _, e := range n.Ready().Messages {
				for _, a := range e.Msg.Acks {
					if a.Region == me {
						out = append(out, a)
					}
				}
			}
		}
		return out
	}
	if acks := ownAcks(12 * time.Second); len(acks) > 0 {
		t.Fatalf("acked %v while recovering, with its own epoch's prefix below a gap", acks[0].Vector)
	}
	step(t, n, 12*time.Second, Message{Kind: KindPushPullResponse, From: peer, Vector: VersionVector{StreamName(me, 7): 1}})
	if n.Recovering() {
		t.Fatal("still recovering after the only peer answered")
	}
	acks := ownAcks(13 * time.Second)
	if len(acks) == 0 {
		t.Fatal("no ack after recovery")
	}
	if got := acks[0].Vector[StreamName(me, 7)]; got != 3 {
		t.Errorf("first ack after recovery: epoch 7 at %d, want 3 (the gap filled)", got)
	}
}

// TestRecoveredRegionCountsTheOriginsItHolds: a region restarted without
// its disk forgot which regions the cluster has. Its peers return commits
// of a region it cannot see (cut off, or down): once recovered, that region
// counts in the bound from never, so max_lag fails closed instead of
// calling a view fresh that lacks its newest commits. A removed region's
// old commits do not make it count again.
func TestRecoveredRegionCountsTheOriginsItHolds(t *testing.T) {
	const me, peer, away, gone = "eu-west-1", "us-west-2", "us-east-2", "sa-east-1"
	for _, tc := range []struct {
		name   string
		forget bool
		want   string // the region holding the bound back ("" : the peer's ack)
	}{
		{"a region seen only through its commits counts", false, away},
		{"a removed region stays removed", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNode(Config{Region: me, Initial: initialState(t), Start: at(10 * time.Second), Acks: true, LostState: true, Epoch: 8,
				Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}})
			n.SetPeers([]string{me, peer})
			if tc.forget {
				n.ForgetRegion(away)
			}
			n.ForgetRegion(gone)
			mAway, mGone := commitAt(t, away, 1, time.Second, "a"), commitAt(t, gone, 1, time.Second, "b")
			step(t, n, 11*time.Second, Message{Kind: KindPushPullResponse, From: peer, Mutations: []Mutation{mAway, mGone},
				Vector: VersionVector{away: 1, gone: 1}})
			step(t, n, 11*time.Second, Message{Kind: KindAck, From: peer, Acks: []Ack{{Region: peer, At: at(11 * time.Second), Vector: VersionVector{away: 1, gone: 1}}}})
			n.Tick(at(12 * time.Second))
			if n.Recovering() {
				t.Fatal("still recovering after the only peer answered")
			}
			if slices.Contains(n.CountedRegions(), gone) {
				t.Errorf("the removed region %s counts again: %v", gone, n.CountedRegions())
			}
			_, limit, _ := n.boundSince()
			if limit != tc.want && !(tc.want == "" && limit == peer) {
				t.Errorf("bound held back by %q (counted %v), want %q", limit, n.CountedRegions(), tc.want)
			}
			ok, err := n.Admit(at(12*time.Second), Consistency{Mode: ModeMaxLag, MaxLag: 5 * time.Second})
			if want := tc.want == ""; ok != want {
				t.Errorf("max_lag 5s admitted %v (%v), want %v", ok, err, want)
			}
		})
	}
}

// TestRecoveryFillsOnlyOnceEveryKnownRegionAnswered: a region restarted
// without its disk recovers from the peers it can reach, but one it cannot
// reach (cut off) may hold the commits they lack: it does not fill those
// ids with no-ops (declaring them lost) until that region has answered
// too, and then finds them held, nothing lost. Commits resume as soon as
// the reachable peers answered, in the new epoch.
func TestRecoveryFillsOnlyOnceEveryKnownRegionAnswered(t *testing.T) {
	const me, near, far = "us-east-2", "us-west-2", "eu-west-1"
	old := func(seq uint64) Mutation {
		m := commitAt(t, me, seq, time.Duration(seq)*time.Second, fmt.Sprintf("g%d", seq))
		m.ID.Epoch = 7
		return m
	}
	n := NewNode(Config{Region: me, Initial: initialState(t), Start: at(10 * time.Second), Acks: true,
		LostState: true, Epoch: 8, Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}})
	n.KnowRegions([]string{far}) // a region of the cluster, cut off now
	n.SetPeers([]string{me, near})
	stream := StreamName(me, 7)
	// near holds 1 and 3 of the old epoch, not 2 (far has it).
	step(t, n, 11*time.Second, Message{Kind: KindPushPullResponse, From: near, Mutations: []Mutation{old(1), old(3)},
		Vector: VersionVector{stream: 1}})
	n.Tick(at(11200 * time.Millisecond))
	if n.Recovering() {
		t.Fatal("still recovering after every reachable peer answered")
	}
	if n.stats.Lost != 0 {
		t.Fatalf("filled %d ids as lost while %s, which may hold them, had not answered", n.stats.Lost, far)
	}
	// Its old epoch's prefix stops below the gap: an ack would vouch for
	// fewer commits than it made, so it sends none until it filled.
	for _, e := range n.Ready().Messages {
		for _, a := range e.Msg.Acks {
			if a.Region == me {
				t.Fatalf("acked %v while its old epoch waits below a gap", a.Vector)
			}
		}
	}
	// Both other regions vouch that the view holds all their own commits,
	// yet it lacks its own old epoch's 3 (held, above the gap): no region
	// vouches for another's commits, so only the fill can, and until then
	// a max_lag read fails closed.
	for _, r := range []string{near, far} {
		step(t, n, 11300*time.Millisecond, Message{Kind: KindAck, From: r, Acks: []Ack{{Region: r,
			At: at(11300 * time.Millisecond), Vector: VersionVector{stream: 3}}}})
	}
	if ok, err := n.Admit(at(11400*time.Millisecond), Consistency{Mode: ModeMaxLag, MaxLag: 500 * time.Millisecond}); ok {
		t.Fatalf("max_lag 500ms admitted (bound %v) while its old epoch's 3 waits below a gap", n.LagBound(at(11400*time.Millisecond)))
	} else if !errors.Is(err, ErrTooStale) {
		t.Fatalf("max_lag refused with %v, want ErrTooStale", err)
	}
	// The partition heals: far answers with the commit near lacked.
	n.SetPeers([]string{me, near, far})
	step(t, n, 12*time.Second, Message{Kind: KindPushPullResponse, From: far, Mutations: []Mutation{old(1), old(2), old(3)},
		Vector: VersionVector{stream: 3}})
	n.Tick(at(12200 * time.Millisecond))
	if n.stats.Lost != 0 {
		t.Errorf("filled %d ids although every one is held", n.stats.Lost)
	}
	if got := n.Vector()[stream]; got != 3 {
		t.Errorf("old epoch's vector at %d, want 3", got)
	}
}

// TestRegionRecoveringLostStateDoesNotAnswerPushPull: a region that lost
// its disk and has not recovered holds nothing it can vouch for. A wiped
// seed that hears first from another wiped region (and no other yet) took
// that region's near-empty answer for the cluster's state, ended its
// recovery and committed against a view lacking its own earlier commits
// (chaos seeds 883620860755687159 and 7261785066238069391: refused calls,
// and 29 of its earlier ids filled as lost that every other region held).
// So it leaves push/pull requests unanswered until it has recovered; then
// it answers again.
func TestRegionRecoveringLostStateDoesNotAnswerPushPull(t *testing.T) {
	const me, peer = "eu-west-1", "us-east-2"
	n := NewNode(Config{Region: me, Initial: initialState(t), Start: at(10 * time.Second), Acks: true,
		LostState: true, Epoch: 8, Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}})
	n.SetPeers([]string{me, peer})
	answers := func() int {
		k := 0
		for _, e := range n.Ready().Messages {
			if e.Msg.Kind == KindPushPullResponse {
				k++
			}
		}
		return k
	}
	step(t, n, 11*time.Second, Message{Kind: KindPushPullRequest, From: peer, Vector: VersionVector{}})
	if k := answers(); k != 0 {
		t.Fatalf("answered %d push/pull requests while recovering from lost state", k)
	}
	step(t, n, 11100*time.Millisecond, Message{Kind: KindPushPullResponse, From: peer, Vector: VersionVector{}})
	n.Tick(at(11300 * time.Millisecond))
	if n.Recovering() {
		t.Fatal("still recovering after its only peer answered")
	}
	n.Ready()
	step(t, n, 11400*time.Millisecond, Message{Kind: KindPushPullRequest, From: peer, Vector: VersionVector{}})
	if k := answers(); k != 1 {
		t.Fatalf("answered %d push/pull requests once recovered, want 1", k)
	}

	// A cluster's first start: every region starts empty and asks the
	// others. Nobody answers for a while, then each answers in turn.
	n = NewNode(Config{Region: me, Initial: initialState(t), Start: at(10 * time.Second), Acks: true,
		LostState: true, Epoch: 8, Gossip: GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}})
	n.SetPeers([]string{me, peer})
	n.Tick(at(10200 * time.Millisecond)) // asks peer
	n.Ready()
	step(t, n, 11*time.Second, Message{Kind: KindPushPullRequest, From: peer, Vector: VersionVector{}})
	if k := answers(); k != 0 {
		t.Fatalf("answered %d push/pull requests 0.8 s into asking unanswered", k)
	}
	step(t, n, 14300*time.Millisecond, Message{Kind: KindPushPullRequest, From: peer, Vector: VersionVector{}})
	if k := answers(); k != 1 {
		t.Fatalf("answered %d push/pull requests after %d gossip intervals of asking unanswered, want 1", k, starvedRounds)
	}
}
