package replication

import (
	"slices"
	"sort"

	"github.com/iamprop/iamprop/controlplane"
)

// entry is one mutation a region knows about: received (or committed) and,
// once its apply time has come, folded into the view.
type entry struct {
	m       Mutation
	size    int // encoded body size: what it costs in a message
	applied bool
	at      int64   // apply instant (unix ns), once applied: AppliedAt of this region
	tx      *txItem // its place in a rumor queue (the queue's name index), if any
}

// checkpoint is a clone of the view after the first n applied mutations.
type checkpoint struct {
	n  int
	st *controlplane.State
}

// fold is the view as the fold of the applied mutations in the total order.
// Appending in order costs one Apply; a late arrival (ordered before
// mutations already applied) is inserted at its place and the view is
// re-folded from the nearest checkpoint at or before it, so two regions
// that applied the same set hold the same view whatever the arrival order.
type fold struct {
	entries []*entry // applied, sorted by Compare
	cps     []checkpoint
	view    *controlplane.State
	every   int // checkpoint spacing, in applied mutations
	max     int // checkpoints kept
	// cache, when set, makes every view frozen and shared: a step takes
	// the cached successor or clones, and a checkpoint is the view itself
	// (foldcache.go). Nil: the view is private and folded in place.
	cache *FoldCache

	refolds, refoldSteps uint64
}

// newFold starts a fold at initial; entries and cps are empty slices whose
// memory it may reuse (Node.Reset), or nil.
func newFold(initial *controlplane.State, every, max int, cache *FoldCache, entries []*entry, cps []checkpoint) fold {
	if cache != nil {
		base := cache.base(initial)
		return fold{entries: entries, cps: append(cps, checkpoint{0, base}), view: base, every: every, max: max, cache: cache}
	}
	base := initial.Clone()
	return fold{entries: entries, cps: append(cps, checkpoint{0, base}), view: base.Clone(), every: every, max: max}
}

// step folds one mutation into the view.
func (f *fold) step(m *Mutation) {
	if f.cache != nil {
		f.view = f.cache.next(f.view, m)
		return
	}
	applyCall(f.view, m)
}

// snapshot returns a view that nothing will modify, for a checkpoint.
func (f *fold) snapshot() *controlplane.State {
	if f.cache != nil {
		return f.view // frozen already
	}
	return f.view.Clone()
}

// apply folds a batch of newly applied entries (any order) into the view.
func (f *fold) apply(batch []*entry) {
	if len(batch) == 0 {
		return
	}
	if len(batch) > 1 {
		slices.SortFunc(batch, func(a, b *entry) int { return Compare(&a.m, &b.m) })
	}
	for _, e := range batch {
		e.applied = true
	}
	n := len(f.entries)
	if n == 0 || Compare(&f.entries[n-1].m, &batch[0].m) < 0 {
		// The common case: everything is newer than the view.
		for _, e := range batch {
			f.entries = append(f.entries, e)
			f.step(&e.m)
			f.maybeCheckpoint()
		}
		return
	}
	// Late arrival: merge the batch into the sorted log, then re-fold from
	// the last checkpoint at or before the first inserted position.
	pos := sort.Search(n, func(i int) bool { return Compare(&f.entries[i].m, &batch[0].m) > 0 })
	tail := make([]*entry, 0, n-pos+len(batch))
	i, j := pos, 0
	for i < n || j < len(batch) {
		if j == len(batch) || (i < n && Compare(&f.entries[i].m, &batch[j].m) < 0) {
			tail = append(tail, f.entries[i])
			i++
		} else {
			tail = append(tail, batch[j])
			j++
		}
	}
	f.entries = append(f.entries[:pos], tail...)
	c := len(f.cps) - 1
	for f.cps[c].n > pos {
		c--
	}
	f.cps = f.cps[:c+1]
	from := f.cps[c].n
	f.view = f.cps[c].st
	if f.cache == nil {
		f.view = f.view.Clone() // the checkpoint stays as it is
	}
	for k := from; k < len(f.entries); k++ {
		f.step(&f.entries[k].m)
		if (k+1)%f.every == 0 && k+1 > from {
			f.addCheckpoint(k + 1)
		}
	}
	f.refolds++
	f.refoldSteps += uint64(len(f.entries) - from)
}

// replace gives the applied entry e the content m (same id, so the same
// place in the order unless the timestamp differs): e leaves the log, the
// view is re-folded from the checkpoint before its place, and e, with its
// new content, is applied again as a late arrival. Conflicts are rare; two
// re-folds are fine.
func (f *fold) replace(e *entry, m Mutation) {
	i := slices.Index(f.entries, e)
	if i < 0 {
		e.m = m
		return
	}
	f.entries = slices.Delete(f.entries, i, i+1)
	c := len(f.cps) - 1
	for f.cps[c].n > i {
		c--
	}
	f.cps = f.cps[:c+1]
	from := f.cps[c].n
	f.view = f.cps[c].st
	if f.cache == nil {
		f.view = f.view.Clone()
	}
	for k := from; k < len(f.entries); k++ {
		f.step(&f.entries[k].m)
		if (k+1)%f.every == 0 && k+1 > from {
			f.addCheckpoint(k + 1)
		}
	}
	f.refolds++
	f.refoldSteps += uint64(len(f.entries) - from)
	e.m = m
	f.apply([]*entry{e})
}

// applyCall folds one mutation; a gap filler holds a sequence number and
// changes nothing.
func applyCall(st *controlplane.State, m *Mutation) {
	if m.Call.Action != GapAction {
		st.Apply(m.Call)
	}
}

func (f *fold) maybeCheckpoint() {
	if n := len(f.entries); n%f.every == 0 {
		f.addCheckpoint(n)
	}
}

// addCheckpoint records the view after the first n mutations. When the
// list is full it keeps the base, the newest and every other one between,
// so spacing doubles toward the past: memory stays bounded and a re-fold
// costs about as much as the mutation is late.
func (f *fold) addCheckpoint(n int) {
	f.cps = append(f.cps, checkpoint{n, f.snapshot()})
	if len(f.cps) <= f.max {
		return
	}
	kept := f.cps[:1]
	last := len(f.cps) - 1
	for i := 1; i <= last; i++ {
		if i%2 == 0 || i == last {
			kept = append(kept, f.cps[i])
		}
	}
	clear(f.cps[len(kept):])
	f.cps = kept
}
