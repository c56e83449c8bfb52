package replication

import "fmt"

// Reset makes n what NewNode(cfg) would return, reusing n's memory: the
// capacity of its slices and queues, its origin logs, its maps and the
// storage of its entries. A simulator running thousands of trials resets
// its nodes instead of building new ones, so a trial allocates almost
// nothing and the garbage collector (and its write barriers, on every
// pointer the node writes while a collection runs) stays out of the way.
// Everything n handed out before (views stay valid: they are never
// modified; Ready slices and entries are not) belongs to the old node and
// must not be used once n is reset. TestResetIsNew checks that a reset
// node behaves exactly like a new one.
func (n *Node) Reset(cfg Config) {
	if err := validOrigin(cfg.Region); err != nil {
		panic(fmt.Sprintf("replication.Node.Reset: region: %v", err)) // before n changes
	}
	b := n.buffers()
	*n = Node{}
	n.init(cfg, &b)
}

// nodeBuffers is what Reset carries from the old node to the new one:
// memory only, every length zero and every value cleared.
type nodeBuffers struct {
	origins  map[string]*originLog
	freeLogs []*originLog
	names    []string
	arena    entryArena
	entries  []*entry
	cps      []checkpoint
	pending  []pendingItem
	pick     []int32
	chosen   []int32
	due      []*entry
	known    []*entry
	same     []bool
	rumors   rumorQueue
	streams  rumorQueue
	numNodes func() int
	ready    Ready
	answered map[string]VersionVector
	sights   map[string]peerSight
	waits    []sighting
	ack      *ackState // emptied; nil if the node had no acks
	bound    boundState
}

func (n *Node) buffers() nodeBuffers {
	b := nodeBuffers{
		origins: n.origins, freeLogs: n.freeLogs, names: zeroed(n.names),
		arena: n.arena, entries: zeroed(n.fold.entries), cps: zeroed(n.fold.cps),
		pending: zeroed(n.pending.items), pick: n.pick[:0], chosen: n.chosen[:0],
		due: zeroed(n.scratchDue), known: zeroed(n.known), same: n.same[:0],
		numNodes: n.rumors.q.numNodes,
		ready:    Ready{Messages: zeroed(n.ready.Messages), Persist: zeroed(n.ready.Persist), Applied: zeroed(n.ready.Applied)},
		answered: n.answered, sights: n.pos.peers, waits: zeroed(n.pos.waits),
	}
	for _, o := range n.origins {
		o.seqs.dense = zeroed(o.seqs.dense)
		*o = originLog{seqs: seqIndex{dense: o.seqs.dense}}
		b.freeLogs = append(b.freeLogs, o)
	}
	if n.ack != nil {
		b.ack = n.ack.emptied()
	}
	b.bound = n.bound.emptied()
	clear(b.origins)
	clear(b.answered)
	clear(b.sights)
	b.arena.reset()
	b.rumors = n.rumors.emptied()
	b.streams = n.streams.emptied()
	return b
}

// zeroed clears s (so it keeps nothing alive) and returns it emptied.
func zeroed[T any](s []T) []T {
	clear(s)
	return s[:0]
}

// emptied returns the queue's memory with nothing queued: every item goes
// back to its spare list (reinsert is empty between takes).
func (r *rumorQueue) emptied() rumorQueue {
	q := &r.q
	for _, it := range q.items {
		q.release(it)
	}
	return rumorQueue{
		q:    transmitQueue{items: zeroed(q.items), reinsert: zeroed(q.reinsert), spare: q.spare},
		buf:  zeroed(r.buf),
		pool: nil,
	}
}

// entryArena hands out entries from chunks that double in size (1, 2, 4,
// ... up to 256 entries), so a node that receives few mutations allocates
// little and one that receives many allocates once per chunk, not per
// entry; Reset reuses the chunks.
type entryArena struct {
	chunks [][]entry
	cur    int // chunk being filled
	used   int // entries used in it
}

const maxArenaChunk = 256

func (a *entryArena) new(m Mutation) *entry {
	for a.cur < len(a.chunks) && a.used == len(a.chunks[a.cur]) {
		a.cur++
		a.used = 0
	}
	if a.cur == len(a.chunks) {
		size := 1
		if k := len(a.chunks); k > 0 {
			size = min(2*len(a.chunks[k-1]), maxArenaChunk)
		}
		a.chunks = append(a.chunks, make([]entry, size))
	}
	e := &a.chunks[a.cur][a.used]
	a.used++
	e.m = m
	return e
}

// reset clears every used entry and starts over at the first chunk.
func (a *entryArena) reset() {
	for i := 0; i <= a.cur && i < len(a.chunks); i++ {
		clear(a.chunks[i])
	}
	a.cur, a.used = 0, 0
}
