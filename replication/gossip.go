package replication

import (
	"slices"

	"github.com/hashicorp/memberlist"
)

// rumorQueue is a memberlist.TransmitLimitedQueue of mutations, with the
// index that maps the byte slices GetBroadcasts returns back to their
// mutations (the queue hands out Message() slices themselves, so the
// address of the first byte identifies the broadcast; this spares decoding
// our own bytes on every send).
type rumorQueue struct {
	q     memberlist.TransmitLimitedQueue
	index map[*byte]*broadcast
	done  []*broadcast // finished during the current queue call
}

func newRumorQueue(numNodes func() int, mult int) *rumorQueue {
	return &rumorQueue{
		q:     memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: mult},
		index: map[*byte]*broadcast{},
	}
}

func (r *rumorQueue) push(e *entry, body []byte) {
	b := &broadcast{name: e.m.ID.String(), msg: body, e: e, owner: r}
	r.index[&body[0]] = b
	r.q.QueueBroadcast(b)
	r.sweep()
}

// take returns the rumors for one peer: up to limit bytes, each costing
// overhead on top of its body, freshest first (memberlist's order).
func (r *rumorQueue) take(overhead, limit int, out []Mutation) []Mutation {
	for _, msg := range r.q.GetBroadcasts(overhead, limit) {
		if b := r.index[&msg[0]]; b != nil {
			out = append(out, b.e.m)
		}
	}
	r.sweep()
	return out
}

func (r *rumorQueue) len() int { return r.q.NumQueued() }

// sweep forgets the broadcasts the queue finished with. It runs after the
// queue call, because GetBroadcasts finishes a rumor on its last send before
// returning its bytes.
func (r *rumorQueue) sweep() {
	for _, b := range r.done {
		if k := &b.msg[0]; r.index[k] == b {
			delete(r.index, k)
		}
	}
	clear(r.done)
	r.done = r.done[:0]
}

// broadcast is one mutation in a TransmitLimitedQueue. It is a
// NamedBroadcast named by mutation ID, not by document: see Name.
type broadcast struct {
	name  string
	msg   []byte
	e     *entry
	owner *rumorQueue
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

// Name identifies the broadcast in the queue. It is the mutation ID, so
// queueing the same mutation again replaces it (and the queue takes its O(1)
// path for named broadcasts, rather than scanning every queued item through
// Invalidates).
//
// It is deliberately not the document the mutation writes ("bucket b's
// policy"): a newer write to a document must not drop an older one from the
// queue here, because the view is the fold of the set of mutations, not of
// the newest write per document. Dropping the older rumor would leave it to
// push/pull (30s or more) at every region, so: the version vector would
// stall below it and push/pull would keep re-sending; Has would stay false
// for its consistency token; its lag and t-visibility would measure the
// push/pull interval instead of gossip; and calls that are not overwrites
// (CreatePolicyVersion, AddUserToGroup, PutObject) would simply be missing
// from rumors. The bandwidth saved is one small rumor.
func (b *broadcast) Name() string { return b.name }

// Invalidates follows memberlist's rule for named broadcasts.
func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	nb, ok := other.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}

// Message is the mutation's encoded body: its size is what it costs in a
// packet.
func (b *broadcast) Message() []byte { return b.msg }

// Finished is called by the queue when it drops the broadcast (sent its
// last time, or replaced); the index entry goes at the next sweep.
func (b *broadcast) Finished() { b.owner.done = append(b.owner.done, b) }

// randomPeers returns k distinct random peers (fewer if there are not as
// many), like memberlist's kRandomNodes. Small clusters use a partial
// Fisher-Yates shuffle of a private copy; large ones draw indices and
// reject self and repeats, so no node copies a large membership.
func (n *Node) randomPeers(k int) []string {
	np := n.numPeers()
	k = min(k, np)
	if k == 0 {
		return nil
	}
	if np <= 64 {
		if len(n.pick) != np {
			n.pick = n.Peers()
		}
		for i := 0; i < k; i++ {
			j := i + n.rng.IntN(np-i)
			n.pick[i], n.pick[j] = n.pick[j], n.pick[i]
		}
		return n.pick[:k]
	}
	n.chosen = n.chosen[:0]
	out := n.pickOut[:0]
	for len(out) < k {
		i := n.rng.IntN(len(n.peers))
		if i == n.self || slices.Contains(n.chosen, i) {
			continue
		}
		n.chosen = append(n.chosen, i)
		out = append(out, n.peers[i])
	}
	n.pickOut = out
	return out
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
	if n.rumors.len() == 0 && n.streams.len() == 0 {
		return
	}
	for _, peer := range n.randomPeers(n.cfg.Gossip.Fanout) {
		sent := false
		if n.rumors.len() > 0 {
			if ms := n.rumors.take(mutationOverhead, n.packetLimit, nil); len(ms) > 0 {
				n.sendChunks(peer, KindGossip, ms)
				sent = true
			}
		}
		if n.streams.len() > 0 {
			if ms := n.streams.take(mutationOverhead, MaxMessageBytes-headerSize(n.region), nil); len(ms) > 0 {
				n.sendChunks(peer, KindStream, ms)
				sent = true
			}
		}
		if !sent {
			return
		}
	}
}

// sendChunks sends ms in messages of at most MaxMutationsPerMessage: byte
// budgets alone do not bound the count (a large PacketBytes and tiny
// mutations), and receivers reject longer messages.
func (n *Node) sendChunks(to string, kind MessageKind, ms []Mutation) {
	for len(ms) > 0 {
		k := min(len(ms), MaxMutationsPerMessage)
		n.send(to, Message{Kind: kind, From: n.region, Mutations: ms[:k:k]})
		ms = ms[k:]
	}
}

func (n *Node) send(to string, m Message) {
	n.stats.Sent[m.Kind]++
	n.stats.MutationsSent += uint64(len(m.Mutations))
	n.stats.BytesSent += uint64(m.Size())
	n.ready.Messages = append(n.ready.Messages, Envelope{To: to, Msg: m})
}

// enqueue queues a new mutation for gossip.
func (n *Node) enqueue(e *entry) {
	body := appendMutationBody(nil, &e.m)
	e.size = len(body)
	if len(body)+mutationOverhead <= n.packetLimit {
		n.rumors.push(e, body)
	} else {
		n.streams.push(e, body)
	}
}
