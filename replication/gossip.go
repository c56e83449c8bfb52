package replication

import (
	"slices"
)

// rumorQueue is a transmit-limited queue of mutations with memberlist's
// TransmitLimitedQueue semantics (see transmitQueue), and the scratch
// buffer its takes reuse.
type rumorQueue struct {
	q    transmitQueue
	buf  []*entry
	pool *MessagePool // nil: allocate each message's slice
}

// take returns the rumors for one peer: up to limit bytes, each costing
// overhead on top of its body, freshest first (memberlist's order), in a
// new slice of exactly that length (it travels in a message), and their
// encoded size in a message (what Message.Size adds for them).
func (r *rumorQueue) take(overhead, limit int) ([]Mutation, int) {
	r.buf = r.q.take(overhead, limit, r.buf[:0])
	if len(r.buf) == 0 {
		return nil, 0
	}
	var out []Mutation
	if r.pool != nil {
		out = r.pool.get(len(r.buf))
	} else {
		out = make([]Mutation, len(r.buf))
	}
	wire := 0
	for i, e := range r.buf {
		out[i] = e.m
		wire += uvarintLen(uint64(e.size)) + e.size
	}
	// r.buf keeps its stale entry pointers: the node holds those entries
	// anyway (Reset clears them), and clearing on every take cost more
	// than it saved.
	r.buf = r.buf[:0]
	return out, wire
}

func (r *rumorQueue) len() int { return r.q.len() }

// randomPeers returns k distinct random peers (fewer if there are not as
// many), like memberlist's kRandomNodes, as positions in n.peers. Small
// clusters use a partial Fisher-Yates shuffle of a private permutation
// (of positions: no strings for the collector to scan); large ones draw
// positions and reject self and repeats, so no node copies a large
// membership.
func (n *Node) randomPeers(k int) []int32 {
	np := n.numPeers()
	k = min(k, np)
	if k == 0 {
		return nil
	}
	if np <= 64 {
		if len(n.pick) != np {
			if cap(n.pick) < np {
				n.pick = make([]int32, 0, np) // sized once, not grown
			}
			n.pick = n.pick[:0]
			for i := range n.peers {
				if i != n.self {
					n.pick = append(n.pick, int32(i))
				}
			}
		}
		for i := 0; i < k; i++ {
			j := i + n.rng.IntN(np-i)
			n.pick[i], n.pick[j] = n.pick[j], n.pick[i]
		}
		return n.pick[:k]
	}
	if cap(n.chosen) < k {
		// Sized once: growing from empty would allocate every round's first draws.
		n.chosen = make([]int32, 0, k)
	}
	n.chosen = n.chosen[:0]
	for len(n.chosen) < k {
		i := int32(n.rng.IntN(len(n.peers)))
		if int(i) == n.self || slices.Contains(n.chosen, i) {
			continue
		}
		n.chosen = append(n.chosen, i)
	}
	return n.chosen
}

// gridNext returns the first instant after now on the grid t + k*step:
// timers keep their phase like a ticker, and missed ticks are dropped (as
// Go's time.Ticker drops them for memberlist).
func gridNext(t, step, now int64) int64 {
	if t > now {
		return t
	}
	return t + ((now-t)/step+1)*step
}

// gossipRound sends queued rumors to Fanout random peers, each peer getting
// its own draw from the queue (so each send counts toward the retransmit
// limit), and stops early when the queue runs dry, as memberlist's gossip
// does.
func (n *Node) gossipRound() {
	acking := n.prepareAcks()
	if n.rumors.len() == 0 && n.streams.len() == 0 && !acking {
		return
	}
	// Origins owed an ack the round's peers did not include get it after.
	defer n.sendOwedAcks()
	for _, peer := range n.randomPeers(n.cfg.Gossip.Fanout) {
		peer := n.member(peer)
		sent := false
		rumor := -1 // the rumor's message to peer in n.ready.Messages, if any
		if n.rumors.len() > 0 {
			if ms, wire := n.rumors.take(mutationOverhead, n.packetLimit); len(ms) > 0 {
				n.sendChunks(peer, KindGossip, ms, wire)
				rumor = len(n.ready.Messages) - 1
				sent = true
			}
		}
		if n.streams.len() > 0 {
			if ms, wire := n.streams.take(mutationOverhead, MaxMessageBytes-headerSize(n.region)); len(ms) > 0 {
				n.sendChunks(peer, KindStream, ms, wire)
				sent = true
			}
		}
		// Acks after the rumors (riding on the rumor's packet where it
		// fits): a receiver learns of a mutation before it learns that the
		// sender applied it.
		if acking && n.sendAcks(peer, rumor) {
			sent = true
		}
		if !sent {
			return
		}
	}
}

// sendChunks sends ms in messages of at most MaxMutationsPerMessage: byte
// budgets alone do not bound the count (a large PacketBytes and tiny
// mutations), and receivers reject longer messages. wire is the mutations'
// encoded size (rumorQueue.take), so a whole message's Size costs nothing.
func (n *Node) sendChunks(to member, kind MessageKind, ms []Mutation, wire int) {
	if len(ms) <= MaxMutationsPerMessage {
		// Whole, capacity included, so a MessagePool can take it back.
		m := Message{Kind: kind, From: n.region, Mutations: ms}
		// Message.Size with no vector: kind, sender, nil vector, count.
		n.sendSized(to, m, 1+stringLen(n.region)+1+1+uvarintLen(uint64(len(ms)))+wire)
		return
	}
	for len(ms) > 0 {
		k := min(len(ms), MaxMutationsPerMessage)
		m := Message{Kind: kind, From: n.region, Mutations: ms[:k:k]}
		n.sendSized(to, m, m.Size())
		ms = ms[k:]
	}
}

// member is a destination: a region, and its position in the membership
// plus one when known (Envelope.Member).
type member struct {
	name string
	pos1 int32
}

// member returns the peer at position i of n.peers.
func (n *Node) member(i int32) member { return member{n.peers[i], i + 1} }

// send sends m to a region named by a message (a reply): position unknown.
func (n *Node) send(to string, m Message) { n.sendSized(member{name: to}, m, m.Size()) }

// sendSized queues m for to, m.Size() being size.
func (n *Node) sendSized(to member, m Message, size int) {
	n.stats.Sent[m.Kind]++
	n.stats.MutationsSent += uint64(len(m.Mutations))
	n.stats.AcksSent += uint64(len(m.Acks))
	n.stats.BytesSent += uint64(size)
	n.ready.Messages = append(n.ready.Messages, Envelope{To: to.name, Member: to.pos1, Msg: m})
}

// maxQueuedRumors bounds each rumor queue, as serf bounds memberlist's
// (its MaxQueueDepth, 4096): a region with nobody to gossip to (alone, or
// cut off from every peer) would otherwise queue every commit for ever,
// and each queueing shifts the whole queue. Past the bound the most sent,
// oldest rumors go (Stats.RumorsPruned); anti-entropy carries them to
// whoever missed them. A trial's queues hold a few rumors: never reached.
const maxQueuedRumors = 4096

// enqueue queues a new mutation for gossip, in the packet queue or, too
// large for a packet, the stream queue, each bounded by maxQueuedRumors.
func (n *Node) enqueue(e *entry) {
	e.size = mutationBodySize(&e.m)
	q := &n.rumors.q
	if e.size+mutationOverhead > n.packetLimit {
		q = &n.streams.q
	}
	q.push(e, e.size)
	if q.len() > maxQueuedRumors {
		n.stats.RumorsPruned += uint64(q.prune(maxQueuedRumors))
	}
}
