package replication

import (
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
//     (NamedBroadcast invalidation; the name here is the mutation ID);
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

	// tiers[t] holds the rumors sent t times, in memberlist's order:
	// length descending, then id descending.
	tiers  [][]*txItem
	byName map[MutationID]*txItem
	n      int
	idGen  int64

	reinsert []*txItem
	spare    []*txItem // recycled items
}

type txItem struct {
	transmits int
	msgLen    int64
	id        int64
	e         *entry
}

func newTransmitQueue(numNodes func() int, mult int) *transmitQueue {
	return &transmitQueue{numNodes: numNodes, mult: mult, byName: map[MutationID]*txItem{}}
}

// before is memberlist's limitedBroadcast.Less within one tier.
func (a *txItem) before(b *txItem) bool {
	if a.msgLen != b.msgLen {
		return a.msgLen > b.msgLen
	}
	return a.id > b.id
}

func (q *transmitQueue) len() int { return q.n }

// push queues e (msgLen bytes) with no transmissions yet.
func (q *transmitQueue) push(e *entry, msgLen int) {
	if q.idGen == math.MaxInt64 {
		q.idGen = 1
	} else {
		q.idGen++
	}
	it := q.newItem()
	*it = txItem{msgLen: int64(msgLen), id: q.idGen, e: e}
	if old, ok := q.byName[e.m.ID]; ok {
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

// cmpKey orders a tier like memberlist's btree; equal keys are one slot.
func cmpKey(x, y *txItem) int {
	if x.before(y) {
		return -1
	}
	if y.before(x) {
		return 1
	}
	return 0
}

// addItem is memberlist's addItem: a btree ReplaceOrInsert keyed by
// (transmits, length, id), then the name index. An item with an equal key
// (possible once the id counter has restarted) is replaced in the tier
// without a Finished call, and stays in the name index if its name
// differs: memberlist's behaviour, kept so the two queues never diverge.
func (q *transmitQueue) addItem(it *txItem) {
	for len(q.tiers) <= it.transmits {
		q.tiers = append(q.tiers, nil)
	}
	t := q.tiers[it.transmits]
	if i, found := slices.BinarySearchFunc(t, it, cmpKey); found {
		t[i] = it
	} else {
		q.tiers[it.transmits] = slices.Insert(t, i, it)
		q.n++
	}
	q.byName[it.e.m.ID] = it
}

// deleteItem is memberlist's deleteItem: the btree Delete removes the
// item with it's key (if any), the name index loses it's name, and an
// emptied queue restarts the id counter.
func (q *transmitQueue) deleteItem(it *txItem) {
	if it.transmits < len(q.tiers) {
		t := q.tiers[it.transmits]
		if i, found := slices.BinarySearchFunc(t, it, cmpKey); found {
			copy(t[i:], t[i+1:])
			t[len(t)-1] = nil
			q.tiers[it.transmits] = t[:len(t)-1]
			q.n--
		}
	}
	delete(q.byName, it.e.m.ID)
	if q.n == 0 {
		q.idGen = 0
	}
}

// take is GetBroadcasts: it appends the picked rumors' entries to out.
func (q *transmitQueue) take(overhead, limit int, out []*entry) []*entry {
	if q.n == 0 {
		return out
	}
	transmitLimit := retransmitLimit(q.mult, q.numNodes())
	minTr, maxTr := -1, -1
	for t := range q.tiers {
		if len(q.tiers[t]) > 0 {
			if minTr < 0 {
				minTr = t
			}
			maxTr = t
		}
	}
	bytesUsed := 0
	reinsert := q.reinsert[:0]
	for t := minTr; t <= maxTr; {
		free := int64(limit - bytesUsed - overhead)
		if free <= 0 {
			break
		}
		tier := q.tiers[t]
		// The first rumor of the tier (largest first) that fits.
		i, _ := slices.BinarySearchFunc(tier, free, func(x *txItem, free int64) int {
			if x.msgLen > free {
				return -1
			}
			return 1
		})
		if i == len(tier) {
			t++
			continue
		}
		keep := tier[i]
		bytesUsed += overhead + int(keep.msgLen)
		out = append(out, keep.e)
		q.deleteItem(keep)
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
	clear(reinsert)
	q.reinsert = reinsert[:0]
	return out
}
