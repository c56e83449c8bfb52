package replication

// pendingItem is a received mutation waiting for its apply instant.
type pendingItem struct {
	at int64 // unix nanoseconds
	e  *entry
}

func (a pendingItem) before(b pendingItem) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return Compare(&a.e.m, &b.e.m) < 0
}

// pendingHeap is a binary min-heap by (apply instant, total order): a
// hand-rolled one, because container/heap's interface calls dominate when a
// simulation holds thousands of nodes.
type pendingHeap struct{ items []pendingItem }

func (h *pendingHeap) len() int         { return len(h.items) }
func (h *pendingHeap) top() pendingItem { return h.items[0] }

func (h *pendingHeap) push(it pendingItem) {
	h.items = append(h.items, it)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].before(h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *pendingHeap) pop() pendingItem {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items[last] = pendingItem{}
	h.items = h.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.items[l].before(h.items[m]) {
			m = l
		}
		if r < last && h.items[r].before(h.items[m]) {
			m = r
		}
		if m == i {
			return top
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
