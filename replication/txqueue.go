package replication

import (
	"cmp"
	"math"
	"slices"
)

// transmitQueue is memberlist's TransmitLimitedQueue (hashicorp/memberlist
// v0.7.0, queue.go) re-implemented for mutations, with the same semantics
// decision for decision:
//
//   - a rumor is sent at most retransmitLimit(RetransmitMult, NumNodes())
//     times (RetransmitMult × ⌈log10(n+1)⌉, n read at every take);
//   - a take visits the tiers of transmit count from the least sent up,
//     and in a tier picks the largest rumor that still fits the remaining
//     budget, the newest first among equal sizes (memberlist's btree order
//     transmits ↑, length ↓, id ↓), staying on a tier until nothing more of
//     it fits; each pick costs overhead + length bytes;
//   - a picked rumor moves to the next tier after the take (not during it,
//     so one take never sends it twice), or leaves the queue on its last send;
//   - queueing a rumor whose name is queued replaces the older one
//     (NamedBroadcast invalidation; the name here is the mutation ID, and
//     since a node holds one entry per ID, the name index is the entry's
//     tx field rather than a map). The node queues each entry once, so in
//     production this path never runs; it is kept so that the queue can be
//     checked against memberlist's decision for decision (txqueue_test.go);
//   - ids come from a counter that restarts at 0 whenever the queue
//     empties, also mid-take (memberlist's deleteItem), which decides the
//     order of equal-size rumors.
//
// Why not memberlist's own type: the simulator's target is millions of
// deliveries per wall second, and every GetBroadcasts call allocates
// (two btree pivots and a closure per tier, the result and reinsert
// slices) while every rumor costs a broadcast, a limitedBroadcast, a btree
// slot, a name string and an index entry. This queue allocates nothing in
// steady state. TestTransmitQueueMatchesMemberlist drives both with the
// same random operations and requires identical results, so sim and live
// keep disseminating exactly as memberlist would.
type transmitQueue struct {
	numNodes func() int
	mult     int

	// items holds the rumors in memberlist's btree order: transmit count
	// ascending, then length descending, then id descending. One sorted
	// slice: queues are short (a rumor lives a few rounds), so shifting
	// beats a tree, and its capacity is reused.
	items []*txItem
	idGen int64

	reinsert []*txItem
	spare    []*txItem // recycled items

	// limitFor/limit cache retransmitLimit for the last cluster size: the
	// logarithm is worth computing once per membership, not per take.
	limitFor, limit int
}

type txItem struct {
	transmits int
	msgLen    int64
	id        int64
	e         *entry
}

// cmpKey is memberlist's limitedBroadcast.Less as a three-way compare:
// fewer transmits first, then longer, then newer (higher id). It orders
// the items as memberlist's btree does; equal keys are one slot.
func cmpKey(x, y *txItem) int {
	if x.transmits != y.transmits {
		return cmp.Compare(x.transmits, y.transmits)
	}
	if x.msgLen != y.msgLen {
		return cmp.Compare(y.msgLen, x.msgLen)
	}
	return cmp.Compare(y.id, x.id)
}

func newTransmitQueue(numNodes func() int, mult int) *transmitQueue {
	return &transmitQueue{numNodes: numNodes, mult: mult}
}

// firstNotBefore returns the index of the first item that is not less
// than the pivot {transmits t, length free, id MaxInt64}: in tier t, the
// largest rumor of at most free bytes (any id is below MaxInt64).
func (q *transmitQueue) firstNotBefore(t int, free int64) int {
	lo, hi := 0, len(q.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		x := q.items[m]
		if x.transmits < t || x.transmits == t && x.msgLen > free {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (q *transmitQueue) len() int { return len(q.items) }

// push queues e (msgLen bytes) with no transmissions yet.
func (q *transmitQueue) push(e *entry, msgLen int) {
	if q.idGen == math.MaxInt64 {
		q.idGen = 1
	} else {
		q.idGen++
	}
	it := q.newItem()
	*it = txItem{msgLen: int64(msgLen), id: q.idGen, e: e}
	if old := e.tx; old != nil {
		q.deleteItem(old)
		q.release(old)
	}
	q.addItem(it)
}

func (q *transmitQueue) newItem() *txItem {
	if k := len(q.spare); k > 0 {
		it := q.spare[k-1]
		q.spare = q.spare[:k-1]
		return it
	}
	return new(txItem)
}

func (q *transmitQueue) release(it *txItem) {
	*it = txItem{}
	q.spare = append(q.spare, it)
}

// addItem is memberlist's addItem: a btree ReplaceOrInsert keyed by
// (transmits, length, id), then the name index. An item with an equal key
// (possible once the id counter has restarted) is replaced without a
// Finished call, and stays in the name index if its name differs:
// memberlist's behaviour, kept so the two queues never diverge.
func (q *transmitQueue) addItem(it *txItem) {
	if i, found := slices.BinarySearchFunc(q.items, it, cmpKey); found {
		q.items[i] = it
	} else {
		q.items = slices.Insert(q.items, i, it)
	}
	it.e.tx = it
}

// deleteItem is memberlist's deleteItem: the btree Delete removes the
// item with it's key (if any), the name index loses it's name, and an
// emptied queue restarts the id counter.
func (q *transmitQueue) deleteItem(it *txItem) {
	if i, found := slices.BinarySearchFunc(q.items, it, cmpKey); found {
		q.deleteAt(i)
	}
	it.e.tx = nil
	if len(q.items) == 0 {
		q.idGen = 0
	}
}

func (q *transmitQueue) deleteAt(i int) {
	copy(q.items[i:], q.items[i+1:])
	q.items[len(q.items)-1] = nil
	q.items = q.items[:len(q.items)-1]
}

// prune is memberlist's Prune: while more than maxRetain rumors are
// queued, it drops the last in queue order (the most sent, then the
// shortest, then the oldest). It returns how many it dropped.
func (q *transmitQueue) prune(maxRetain int) int {
	dropped := 0
	for len(q.items) > max(maxRetain, 0) {
		it := q.items[len(q.items)-1]
		q.deleteItem(it)
		q.release(it)
		dropped++
	}
	return dropped
}

// take is GetBroadcasts: it appends the picked rumors' entries to out.
func (q *transmitQueue) take(overhead, limit int, out []*entry) []*entry {
	if len(q.items) == 0 {
		return out
	}
	if n := q.numNodes(); n != q.limitFor || q.limit == 0 {
		q.limitFor, q.limit = n, retransmitLimit(q.mult, n)
	}
	transmitLimit := q.limit
	if len(q.items) == 1 {
		// One rumor queued (a trial of one change, a quiet cluster): the
		// loop below would delete it and insert it again; the result is
		// the same, the item staying in place.
		it := q.items[0]
		if free := int64(limit - overhead); free <= 0 || it.msgLen > free {
			return out // as the loop: no room, or the rumor does not fit
		}
		out = append(out, it.e)
		q.idGen = 0 // the loop's deleteAt empties the queue: ids restart
		if it.transmits+1 >= transmitLimit {
			q.deleteAt(0)
			it.e.tx = nil
			q.release(it)
		} else {
			it.transmits++
		}
		return out
	}
	minTr, maxTr := q.items[0].transmits, q.items[len(q.items)-1].transmits
	bytesUsed := 0
	reinsert := q.reinsert[:0]
	for t := minTr; t <= maxTr; {
		free := int64(limit - bytesUsed - overhead)
		if free <= 0 {
			break
		}
		// The first item at or after memberlist's pivot {t, free, MaxInt64}:
		// the largest rumor of tier t that fits, if it is in tier t.
		i := q.firstNotBefore(t, free)
		if i == len(q.items) || q.items[i].transmits != t {
			t++
			continue
		}
		keep := q.items[i]
		bytesUsed += overhead + int(keep.msgLen)
		out = append(out, keep.e)
		q.deleteAt(i)
		keep.e.tx = nil
		if len(q.items) == 0 {
			q.idGen = 0
		}
		if keep.transmits+1 >= transmitLimit {
			q.release(keep)
		} else {
			keep.transmits++
			reinsert = append(reinsert, keep)
		}
	}
	for _, it := range reinsert {
		q.addItem(it)
	}
	q.reinsert = reinsert[:0] // stale item pointers stay: the queue owns those items
	return out
}
