package replication

import (
	"cmp"
	"slices"

	"github.com/iamprop/iamprop/controlplane"
)

// GapAction is the action of a gap filler: a mutation that takes the
// sequence number of an own commit lost with the region's state (no
// region had it when recovery ended). It changes no view; it lets version
// vectors move past the gap, so anti-entropy does not re-send everything
// above it forever.
const GapAction = "iamprop:LostMutation"

// pushPull opens anti-entropy with one random peer.
func (n *Node) pushPull() {
	if ps := n.randomPeers(1); len(ps) > 0 {
		to := n.member(ps[0])
		m := Message{Kind: KindPushPullRequest, From: n.region, Vector: n.sharedRecvVector(), Sums: n.recvSums()}
		n.sendSized(to, m, m.Size())
	}
}

// PushPull opens an anti-entropy exchange with peer now, outside the
// schedule: what memberlist does on join, and what a driver does after a
// restart or a healed partition to catch up at once.
func (n *Node) PushPull(peer string) {
	n.send(peer, Message{Kind: KindPushPullRequest, From: n.region, Vector: n.sharedRecvVector(), Sums: n.recvSums()})
}

// sendMissing sends `to` every known mutation its vector does not cover,
// in messages within MaxMutationsPerMessage and MaxMessageBytes. The first
// message has kind first and carries vec and sums; the rest are KindRepair.
// With first == KindRepair and nothing missing, nothing is sent.
func (n *Node) sendMissing(to string, theirs VersionVector, first MessageKind, vec, sums VersionVector) {
	n.sendEntries(to, n.missing(theirs), first, vec, sums)
}

// sendEntries sends entries as sendMissing does.
func (n *Node) sendEntries(to string, missing []*entry, first MessageKind, vec, sums VersionVector) {
	budget := MaxMessageBytes - headerSize(n.region) - 16*len(vec) - 2*maxStreamLen*len(vec) - 16*len(sums)
	kind := first
	for len(missing) > 0 || kind == KindPushPullResponse {
		var ms []Mutation
		used := 0
		for len(missing) > 0 && len(ms) < MaxMutationsPerMessage {
			e := missing[0]
			if len(ms) > 0 && used+e.size+mutationOverhead > budget {
				break
			}
			used += e.size + mutationOverhead
			ms = append(ms, e.m)
			missing = missing[1:]
		}
		msg := Message{Kind: kind, From: n.region, Mutations: ms}
		if kind == KindPushPullResponse {
			msg.Vector, msg.Sums = vec, sums
		}
		n.send(to, msg)
		kind = KindRepair
	}
}

// missing lists the known mutations a vector does not cover, by origin
// then sequence number.
func (n *Node) missing(v VersionVector) []*entry {
	var out []*entry
	for _, name := range n.names {
		o := n.origins[name]
		from := v[name]
		if from >= o.max {
			continue
		}
		if o.max-from <= 2*uint64(o.seqs.len()) {
			for s := from + 1; s <= o.max; s++ {
				if e := o.seqs.get(s); e != nil {
					out = append(out, e)
				}
			}
			continue
		}
		// Sparse (a far-ahead sequence number): walk the map, not the range.
		start := len(out)
		o.seqs.each(func(s uint64, e *entry) {
			if s > from {
				out = append(out, e)
			}
		})
		slices.SortFunc(out[start:], func(a, b *entry) int { return cmp.Compare(a.m.ID.Seq, b.m.ID.Seq) })
	}
	return out
}

// recvVector summarises the received mutations (applied or pending): what
// anti-entropy need not send us.
func (n *Node) recvVector() VersionVector {
	v := make(VersionVector, len(n.origins))
	for name, o := range n.origins {
		if o.recv > 0 {
			v[name] = o.recv
		}
	}
	return v
}

// askUnanswered sends push/pull requests to up to Fanout random peers that
// have not answered yet (once per gossip interval while recovering).
func (n *Node) askUnanswered() {
	n.checkRecovered()
	n.tryFill()
	if !n.recovering && !n.fillWait {
		return
	}
	var todo []string
	for i, p := range n.peers {
		if i != n.self && !n.holds(p) {
			todo = append(todo, p)
		}
	}
	if len(todo) > 0 && n.askingSince == 0 && n.recovering && n.lostState {
		n.askingSince = n.now
	}
	for k := 0; k < n.cfg.Gossip.Fanout && len(todo) > 0; k++ {
		j := n.rng.IntN(len(todo))
		n.PushPull(todo[j])
		todo[j] = todo[len(todo)-1]
		todo = todo[:len(todo)-1]
	}
}

// starvedRounds is how many gossip intervals a node recovering from lost
// state asks its peers before it answers theirs: long enough for a wiped
// region that can reach one holding state to recover first (a few rounds,
// more on a lossy network), short enough not to hold up a cluster's first
// start long, where every region starts empty and asks the others.
const starvedRounds = 20

// answersWhileRecovering reports whether this node answers a push/pull
// request now. Recovering from a lost disk it holds nothing it can vouch
// for: its answer would let a requester that is recovering too (a wiped
// seed that has heard from no region but another wiped one yet) take a
// near-empty state for the cluster's, end its recovery, commit against it
// and fill its own earlier ids as lost while other regions hold them. So
// it answers only once recovered, or once it has asked for starvedRounds
// gossip intervals without recovering: then, most likely, no reachable
// region holds anything (a new cluster), and waiting on each other would
// never end.
func (n *Node) answersWhileRecovering() bool {
	if !n.recovering || !n.lostState {
		return true
	}
	return n.askingSince != 0 && n.now-n.askingSince >= starvedRounds*int64(n.cfg.Gossip.Interval)
}

// holds reports whether peer p answered a push/pull request and this node
// has received everything its answer covered: a large answer is split
// over several messages, and committing after its first one would
// validate against a view without the rest.
func (n *Node) holds(p string) bool {
	v, ok := n.answered[p]
	if !ok {
		return false
	}
	for name, seq := range v {
		if o := n.origins[name]; o == nil || o.recv < seq {
			return false
		}
	}
	return true
}

// checkRecovered ends recovery once every current peer has answered and
// its whole answer arrived: only
// then can no region hold an earlier commit of ours that we would reuse
// the sequence number of. A peer that left the membership is not waited
// for; if it comes back holding such a commit, the reuse is detected as a
// conflict (Stats.Conflicts), not repaired.
func (n *Node) checkRecovered() {
	if !n.recovering || n.numPeers() == 0 {
		return
	}
	if !n.lostState {
		// Catching up after a restart with the log: one whole answer.
		for p := range n.answered {
			if n.holds(p) {
				n.recovering = false
				n.answered = nil
				n.countOrigins()
				return
			}
		}
		return
	}
	for i, p := range n.peers {
		if i != n.self && !n.holds(p) {
			return
		}
	}
	n.recovering = false
	n.countOrigins()
	n.fillWait = true
	n.tryFill()
}

// tryFill fills the gaps of a recovery from lost state once every region
// known to exist (the max_lag bound's counted regions: the membership,
// the regions whose commits the node holds, minus those removed) has
// answered and its whole answer arrived. A region cut off or down while
// the node recovered may hold the commits the reachable ones lacked:
// filling them earlier would put a no-op under an id that names a real
// commit elsewhere. Until then the node commits in its new epoch; only
// its old epoch's vector waits below the gap.
func (n *Node) tryFill() {
	if !n.fillWait {
		return
	}
	for r := range n.bound.counted {
		if r != n.region && !n.holds(r) {
			return
		}
	}
	n.fillWait = false
	n.answered = nil
	n.fillGaps()
}

// fillGaps commits a gap filler for every sequence number of this
// region's streams that no peer returned: below nextSeq in the current
// epoch (a log from before epochs), and below the highest one known in an
// earlier epoch. Those commits are lost with the region's disk; the
// fillers say so (Stats.Lost), and let every vector move past them.
func (n *Node) fillGaps() {
	var fill []*entry
	gap := func(id MutationID) {
		if n.lookup(id) != nil {
			return
		}
		fill = append(fill, n.newFiller(id))
	}
	for s := uint64(1); s < n.nextSeq; s++ {
		gap(MutationID{Origin: n.region, Epoch: n.cfg.Epoch, Seq: s})
	}
	for _, name := range slices.Clone(n.names) { // gap inserts names
		origin, ep, err := ParseStream(name)
		if err != nil || origin != n.region || ep == n.cfg.Epoch {
			continue
		}
		o := n.origins[name]
		for s := o.recv + 1; s < o.max; s++ {
			gap(MutationID{Origin: origin, Epoch: ep, Seq: s})
		}
	}
	if len(fill) > 0 {
		n.fold.apply(fill)
		n.noteApplied(fill)
		n.stats.Lost += uint64(len(fill))
	}
}

// newFiller makes, persists and queues this region's GapAction filler for
// id, signed as the region's own (only a stream's origin, or a region
// recovering it, fills): the caller applies the batch.
func (n *Node) newFiller(id MutationID) *entry {
	m := Mutation{ID: id, TS: n.clock.now(n.now), Call: controlplane.Call{Action: GapAction, Region: n.region}}
	n.sign(&m)
	e := n.arena.new(m)
	n.remember(e)
	n.ready.Persist = append(n.ready.Persist, e.m)
	n.enqueue(e)
	return e
}
