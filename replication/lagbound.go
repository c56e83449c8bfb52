package replication

import (
	"slices"
	"strings"
	"time"
)

// The staleness bound of max_lag reads.
//
// StaleSince knows that the view lacks a mutation only once the node has
// heard of that mutation: a region cut off from a peer hears of nothing the
// peer commits, and used to answer max_lag reads from an ever older view.
// The bound turns the question around. For every region it counts, the
// node keeps the newest instant T such that its view holds every commit
// that region had made by T. A region's ack says "at At (by my clock) I had
// applied this vector", and a region applies its own commits at once, so
// the vector's streams of the region's own origin cover every commit it
// had made by At: once this view has applied those prefixes, it is fresh
// for that region as of At. The view's age is then at most now minus the
// oldest such instant over the counted regions (and minus StaleSince), and
// max_lag admits a read only while that is within its bound: a region that
// has not been heard from for longer than the bound makes every max_lag
// read fail closed, as it may have committed anything meanwhile.
//
// Clock assumption: At is the sender's clock and now the receiver's, so the
// bound is off by the offset between the two clocks. An ack stamped ahead
// of the receiver's clock counts as of its arrival, so a clock running
// ahead cannot make a view look fresher than the message that vouches for
// it; a clock running behind only makes the bound stricter.
//
// Counted regions: every region this node has seen in its membership
// (SetPeers, SetMembership) or was told of (KnowRegions), this region
// excepted, until ForgetRegion (an operator removed the region for good). A
// region that leaves the membership after a failure still counts: failure
// detection cannot tell a crash from a partition, and a partitioned region
// may still commit.

// maxBoundClaims bounds the acks of one region kept while the view does not
// cover them yet; beyond it the oldest is dropped, which can only make the
// bound older (fail closed), never younger.
const maxBoundClaims = 64

// boundState is what the node knows of how fresh its view is of each
// region's commits.
type boundState struct {
	// counted holds the regions the bound covers (never this region).
	counted map[string]bool
	// heard holds, per region whose acks arrived, what they vouch for.
	heard map[string]*heardFrom
	// removed holds the regions ForgetRegion removed: their old commits
	// do not make them count again (countOrigins), the membership does.
	removed map[string]bool
	// restored: the node replayed a log (Restore), so its view may be
	// arbitrarily old, Config.Genesis or not.
	restored bool
	// free holds the records of a reset node's heard, emptied, handed out
	// again before any is allocated: every region of a 35-region
	// simulation makes one per peer in every trial.
	free []*heardFrom
}

// emptied returns b's memory with nothing in it, for a reset node.
func (b *boundState) emptied() boundState {
	free := b.free
	for _, h := range b.heard {
		*h = heardFrom{claims: zeroed(h.claims)}
		free = append(free, h)
	}
	clear(b.counted)
	clear(b.heard)
	clear(b.removed)
	return boundState{counted: b.counted, heard: b.heard, removed: b.removed, free: free}
}

// heardFrom is what the acks of one region vouch for.
type heardFrom struct {
	fresh  int64 // the view holds every commit the region had made by this instant (if ok)
	ok     bool
	claims []boundClaim // newer acks the view does not cover yet, oldest first
}

// boundClaim is one ack the view does not cover yet.
type boundClaim struct {
	at  int64       // the ack's At, clamped to its arrival
	own []streamSeq // the ack's prefixes of the region's own streams
}

// streamSeq is one entry of a version vector.
type streamSeq struct {
	stream string
	seq    uint64
}

// ownStream reports whether stream (MutationID.Stream) belongs to origin,
// in any epoch.
func ownStream(stream, origin string) bool {
	return strings.HasPrefix(stream, origin) && (len(stream) == len(origin) || stream[len(origin)] == epochSep)
}

// appliedOf returns how far the stream is applied here (the prefix).
func (n *Node) appliedOf(stream string) uint64 {
	if o := n.origins[stream]; o != nil {
		return o.applied
	}
	return 0
}

// coversVector reports whether the view holds every commit of region that
// vec (the region's applied vector) counts.
func (n *Node) coversVector(region string, vec VersionVector) bool {
	for s, seq := range vec {
		if ownStream(s, region) && n.appliedOf(s) < seq {
			return false
		}
	}
	return true
}

// covers reports whether the view holds every prefix of c.
func (n *Node) covers(c *boundClaim) bool {
	for _, p := range c.own {
		if n.appliedOf(p.stream) < p.seq {
			return false
		}
	}
	return true
}

// partial is what an uncovered claim still vouches for: the view holds
// every commit of the region made before the first one of each stream it
// lacks, when it holds that one (received, waiting to apply) and so knows
// its timestamp, the instant it lacks a commit since (as StaleSince
// counts it); false when it lacks one it has not received.
func (n *Node) partial(c *boundClaim) (int64, bool) {
	t := c.at
	for _, p := range c.own {
		have := n.appliedOf(p.stream)
		if have >= p.seq {
			continue
		}
		o := n.origins[p.stream]
		if o == nil {
			return 0, false
		}
		e := o.seqs.get(have + 1)
		if e == nil {
			return 0, false
		}
		t = min(t, e.m.TS.Wall)
	}
	return t, true
}

// noteClaim records an ack of region (newer than any before: takeAcks
// checks) for the bound.
func (n *Node) noteClaim(region string, at int64, vec VersionVector) {
	b := &n.bound
	if region == n.region {
		return
	}
	at = min(at, n.now)
	h := b.heard[region]
	if h == nil {
		if len(b.heard) >= MaxVectorEntries {
			return // bounded: a forger cannot make it grow without limit
		}
		if b.heard == nil {
			b.heard = map[string]*heardFrom{}
		}
		if k := len(b.free); k > 0 {
			h, b.free[k-1], b.free = b.free[k-1], nil, b.free[:k-1]
		} else {
			h = &heardFrom{}
		}
		b.heard[region] = h
	}
	if h.ok && at <= h.fresh {
		return
	}
	if n.coversVector(region, vec) {
		// The common case (nothing new, or already applied): no claim kept.
		h.fresh, h.ok = at, true
		h.claims = h.claims[:0]
		return
	}
	n.pruneClaims(h)
	c := boundClaim{at: at}
	for s, seq := range vec {
		if ownStream(s, region) {
			c.own = append(c.own, streamSeq{s, seq})
		}
	}
	if len(h.claims) >= maxBoundClaims {
		h.claims = append(h.claims[:0], h.claims[1:]...)
	}
	h.claims = append(h.claims, c)
}

// pruneClaims moves h's freshness to its newest covered claim and drops
// that claim and the older ones.
func (n *Node) pruneClaims(h *heardFrom) {
	for i := len(h.claims) - 1; i >= 0; i-- {
		if n.covers(&h.claims[i]) {
			if !h.ok || h.claims[i].at > h.fresh {
				h.fresh, h.ok = h.claims[i].at, true
			}
			h.claims = append(h.claims[:0], h.claims[i+1:]...)
			return
		}
	}
}

// freshOf returns the instant as of which the view is known to hold every
// commit of region, without changing anything (a driver may ask under a
// read lock); false when nothing vouches for any instant.
func (n *Node) freshOf(region string) (int64, bool) {
	h := n.bound.heard[region]
	var f int64
	ok := false
	if h != nil {
		f, ok = h.fresh, h.ok
		for i := len(h.claims) - 1; i >= 0; i-- {
			c := &h.claims[i]
			t, cok := c.at, true
			if !n.covers(c) {
				t, cok = n.partial(c)
			}
			if cok && (!ok || t > f) {
				f, ok = t, true
			}
			if cok && t == c.at {
				break // covered: older claims vouch for less
			}
		}
	}
	if !ok && n.started && n.cfg.Genesis && !n.bound.restored && !n.cfg.LostState && !n.cfg.CatchUp {
		// Not heard from since this node started, with every other
		// region, from the state they all start with: fresh as of then.
		return n.startAt, true
	}
	return f, ok
}

// countRegions adds regions (but this one) to the counted ones; a removed
// region named again (by the membership) counts again.
func (n *Node) countRegions(regions []string) {
	for _, r := range regions {
		delete(n.bound.removed, r)
		if r == n.region || n.bound.counted[r] {
			continue
		}
		if n.bound.counted == nil {
			n.bound.counted = map[string]bool{}
		}
		n.bound.counted[r] = true
	}
}

// countOrigins counts, once a recovery ends, every region whose commits
// the view now holds: a region that lost its disk lost its list of the
// cluster's regions too, and a region cut off or down at that moment is in
// no membership it can see, yet its earlier commits, which the peers
// returned, name it. Regions an operator removed stay removed.
func (n *Node) countOrigins() {
	for stream := range n.Vector() {
		origin, _, err := ParseStream(stream)
		if err != nil || n.bound.removed[origin] || len(n.bound.counted) >= MaxVectorEntries {
			continue
		}
		n.countRegions([]string{origin})
	}
}

// KnowRegions adds regions to those the max_lag bound counts (see
// BoundSince): a driver that remembers the cluster's regions across
// restarts (the live node's regions.json) names them at start, so a region
// that is down then still counts. The membership (SetPeers) adds the
// regions it lists by itself.
func (n *Node) KnowRegions(regions []string) { n.countRegions(regions) }

// ForgetRegion stops counting region in the max_lag bound: an operator
// removed it from the cluster for good (DELETE /v1/cluster/members). If it
// shows up in the membership again, it counts again.
func (n *Node) ForgetRegion(region string) {
	delete(n.bound.counted, region)
	if n.bound.removed == nil {
		n.bound.removed = map[string]bool{}
	}
	n.bound.removed[region] = true
}

// CountedRegions returns the regions the max_lag bound counts, sorted.
func (n *Node) CountedRegions() []string {
	out := make([]string, 0, len(n.bound.counted))
	for r := range n.bound.counted {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// never is the instant a region never heard from is fresh as of: the
// earliest a node accepts (Node's doc), so any max_lag bound refuses.
const never int64 = 0

// boundSince is BoundSince in unix nanoseconds, with the region that sets
// it ("" when StaleSince does, or none).
func (n *Node) boundSince() (since int64, limit string, found bool) {
	if n.recovering {
		// A region restarted without its log's content (or catching up on
		// what it missed while down) may lack commits of any age until
		// its peers answered: StaleSince's start is only a lower bound.
		// A wiped seed may not even know its peers yet, so no counted
		// region would hold the bound back.
		return never, "", true
	}
	if s, ok := n.StaleSince(); ok {
		since, found = s.UnixNano(), true
	}
	if n.ack == nil {
		// Without acks nothing vouches for any peer: only a node alone
		// knows its view is complete.
		if n.fillWait {
			return never, n.region, true
		}
		if n.numPeers() > 0 {
			return never, n.firstPeer(), true
		}
		return since, "", found
	}
	for r := range n.bound.counted {
		f, ok := n.freshOf(r)
		if !ok {
			f = never
		}
		if !found || f < since || f == since && limit != "" && r < limit {
			since, limit, found = f, r, true
		}
	}
	if n.fillWait && (!found || since != never) {
		// Recovered from lost state, it waits to fill its old epoch's
		// gaps: commits of that epoch above a gap (or held only by a
		// region that has not answered) are missing from the view, and
		// no other region's ack vouches for them (an ack covers only its
		// own region's commits), so nothing bounds their age.
		return never, n.region, true
	}
	return since, limit, found
}

// firstPeer returns the first peer of the membership, or "".
func (n *Node) firstPeer() string {
	for i, p := range n.peers {
		if i != n.self {
			return p
		}
	}
	return ""
}

// BoundSince returns the instant from which a max_lag read counts the
// view's age: the earlier of StaleSince and, over every counted region,
// the newest instant as of which the view is known to hold all of that
// region's commits (from its acks; a region not heard from yet counts from
// never, or from the node's start with Config.Genesis); never while the
// node recovers, or, recovered from lost state, waits to fill its earlier
// epoch's gaps (nobody vouches for its own earlier commits). False when nothing can be missing: no counted
// region and nothing known stale. See the file comment for the clock
// assumption. It changes nothing.
func (n *Node) BoundSince() (time.Time, bool) {
	s, _, ok := n.boundSince()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, s).UTC(), true
}

// LagBound returns how old the view may be at now: an upper bound of its
// lag, where Lag is a lower bound (now - BoundSince; zero when nothing can
// be missing). max_lag admission compares it with the read's bound.
func (n *Node) LagBound(now time.Time) time.Duration {
	s, ok := n.BoundSince()
	if !ok {
		return 0
	}
	return max(0, now.Sub(s))
}
