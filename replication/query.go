package replication

import "time"

// Knows reports whether the region holds m itself (same ID, same content),
// applied or still waiting for its apply instant: what a simulator asks to
// tell a mutation that can still spread from one lost with a region's
// state. A gap filler under m's ID (GapAction) is not m.
func (n *Node) Knows(m *Mutation) bool {
	e := n.peek(m.ID)
	return e != nil && sameContent(&e.m, m)
}

// PendingApply returns the instant a received mutation becomes visible
// (commit time + propagation delay), while it waits for it: received, not
// yet applied. A simulator asks it to explain a region that lacks a
// mutation at the end of a run. It scans the pending applies, so it is
// for diagnosis, not for every event.
func (n *Node) PendingApply(id MutationID) (time.Time, bool) {
	e := n.peek(id)
	if e == nil || e.applied {
		return time.Time{}, false
	}
	for _, it := range n.pending.items {
		if it.e == e {
			return time.Unix(0, it.at).UTC(), true
		}
	}
	return time.Time{}, false
}

// Gossiping reports whether the region still queues the mutation as a
// rumor: a coming gossip round sends it again, because it has not reached
// its retransmit limit (GossipConfig.RetransmitMult). Once no region
// gossips a mutation and no message carries it, only push/pull can bring
// it to a region that missed it.
func (n *Node) Gossiping(id MutationID) bool {
	e := n.peek(id)
	return e != nil && e.tx != nil
}

// NextPushPull returns the instant of the node's next scheduled push/pull
// (anti-entropy with one random peer); zero when push/pull is off, the
// node has not started or it has no peer to ask.
func (n *Node) NextPushPull() time.Time {
	pp := n.cfg.Gossip.PushPullInterval
	if pp <= 0 || !n.started || n.numPeers() == 0 {
		return time.Time{}
	}
	// Computed, not cached (pushPullEvery caches): a query stays a read.
	every := int64(pushPullScale(pp, n.numPeers()+1))
	return time.Unix(0, gridNext(n.nextPushPull, every, n.now-1)).UTC()
}
