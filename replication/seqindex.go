package replication

// seqIndex maps one origin's sequence numbers to entries. Sequence numbers
// are dense from 1, so they index a slice (a map lookup per received rumor
// was a tenth of a large simulation's time); a number far ahead of the
// known ones (a hostile or corrupted peer can send any) goes to a map, so
// memory stays bounded by what was received.
type seqIndex struct {
	dense  []*entry // dense[s-1] holds sequence number s
	sparse map[uint64]*entry
	n      int
}

// seqSlack is how far past the dense prefix a number may land and still
// extend the slice, at most; the gap allowed is also at most the count of
// numbers held, so the slice's empty slots never outnumber its entries
// (a peer sending numbers just under the slack, one after another, would
// otherwise make each mutation cost 1024 slots).
const seqSlack = 1024

func (x *seqIndex) get(s uint64) *entry {
	if s-1 < uint64(len(x.dense)) { // s == 0 wraps to a huge value: absent
		return x.dense[s-1]
	}
	if x.sparse != nil {
		return x.sparse[s]
	}
	return nil
}

func (x *seqIndex) put(s uint64, e *entry) {
	if s == 0 {
		return
	}
	if x.get(s) == nil {
		x.n++
	}
	switch {
	case s-1 < uint64(len(x.dense)):
		x.dense[s-1] = e
	case s-1 < uint64(len(x.dense))+uint64(min(seqSlack, x.n)):
		for uint64(len(x.dense)) < s-1 {
			x.dense = append(x.dense, x.takeSparse(uint64(len(x.dense))+1))
		}
		x.dense = append(x.dense, e)
		delete(x.sparse, s)
		// Numbers held sparse may now continue the dense prefix.
		for len(x.sparse) > 0 {
			next := uint64(len(x.dense)) + 1
			ne, ok := x.sparse[next]
			if !ok {
				break
			}
			delete(x.sparse, next)
			x.dense = append(x.dense, ne)
		}
	default:
		if x.sparse == nil {
			x.sparse = map[uint64]*entry{}
		}
		x.sparse[s] = e
	}
}

func (x *seqIndex) takeSparse(s uint64) *entry {
	if x.sparse == nil {
		return nil
	}
	e := x.sparse[s]
	delete(x.sparse, s)
	return e
}

// len is how many sequence numbers are held.
func (x *seqIndex) len() int { return x.n }

// each calls fn for every held number, in no particular order.
func (x *seqIndex) each(fn func(s uint64, e *entry)) {
	for i, e := range x.dense {
		if e != nil {
			fn(uint64(i)+1, e)
		}
	}
	for s, e := range x.sparse {
		fn(s, e)
	}
}
