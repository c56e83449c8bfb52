package replication

import (
	"unsafe"

	"github.com/iamprop/iamprop/controlplane"
)

// FoldCache shares fold steps between the nodes of one driver. Folding is a
// pure function: the view after applying mutation m to view v is the same
// whichever region computes it. A simulator's regions mostly apply the same
// mutations in the same order, so with a cache each (view, mutation) step
// is computed once and every other region takes the resulting view as is:
// 10,000 regions converging on one mutation fold it once, and a late
// arrival re-folded from a checkpoint mostly finds the steps another
// region already took.
//
// A node with a cache never modifies a view in place: each step clones its
// predecessor (copy-on-write, see controlplane.State.Clone) and the result
// is frozen, shared by every region that reaches it, and doubles as a free
// checkpoint. A node without one (the live driver: one node per process)
// folds in place as before; both give the same views (TestFoldCacheSameRun).
//
// Entries are keyed by the predecessor's identity (pointer) and the
// mutation's ID and timestamp, and the mutation's content is compared on a
// hit, so a reused ID with other content is never confused. The cache keeps
// at most its capacity of steps, dropping the oldest first: what it holds
// changes only speed, never a result. Not safe for concurrent use: one per
// simulation, like MessagePool.
type FoldCache struct {
	bases map[*controlplane.State]*controlplane.State // Config.Initial -> its shared clone
	blank *controlplane.State                         // the Initial of nodes configured without one
	steps map[foldKey]foldStep
	ring  []foldKey // insertion order, for eviction
	head  int
	size  int

	hits, misses uint64

	// valid remembers the argument buffers found valid JSON (by identity:
	// a simulator hands one mutation's Args to every region and nobody
	// modifies them), so each is scanned once per simulation, not once
	// per region; scans counts the scans.
	valid map[argsKey]struct{}
	scans uint64
}

// argsKey names an arguments buffer by identity: its first byte and length.
type argsKey struct {
	p *byte
	n int
}

// maxValidArgs bounds FoldCache.valid; beyond it the memory starts over.
const maxValidArgs = 1 << 12

type foldKey struct {
	pre *controlplane.State
	id  MutationID
	ts  Timestamp
}

type foldStep struct {
	m    Mutation // the mutation folded (its content is compared on a hit)
	post *controlplane.State
}

// DefaultFoldCacheSize is NewFoldCache's capacity when given 0.
const DefaultFoldCacheSize = 1 << 12

// NewFoldCache returns an empty cache keeping up to size fold steps (0:
// DefaultFoldCacheSize). Each kept step keeps its view alive: what that
// costs is the tables the step's call wrote (copy-on-write).
func NewFoldCache(size int) *FoldCache {
	if size <= 0 {
		size = DefaultFoldCacheSize
	}
	return &FoldCache{
		bases: map[*controlplane.State]*controlplane.State{},
		steps: map[foldKey]foldStep{},
		size:  size,
	}
}

// FoldCacheStats counts a cache's lookups.
type FoldCacheStats struct {
	Hits, Misses uint64 // fold steps taken from the cache, and computed
	Held         int    // steps held now
	ArgsScans    uint64 // JSON scans of mutation arguments (validArgs)
}

// Stats returns the cache's counters.
func (c *FoldCache) Stats() FoldCacheStats {
	return FoldCacheStats{Hits: c.hits, Misses: c.misses, Held: len(c.steps), ArgsScans: c.scans}
}

// base returns the shared starting view for initial: one clone per initial
// state, so every node's fold starts from the same predecessor and their
// first steps share cache entries.
func (c *FoldCache) base(initial *controlplane.State) *controlplane.State {
	b, ok := c.bases[initial]
	if !ok {
		b = initial.Clone()
		c.bases[initial] = b
	}
	return b
}

// empty returns the shared empty state nodes without Config.Initial start from.
func (c *FoldCache) empty() *controlplane.State {
	if c.blank == nil {
		c.blank = controlplane.NewState()
	}
	return c.blank
}

// next returns the view after folding m into pre, which it never modifies.
func (c *FoldCache) next(pre *controlplane.State, m *Mutation) *controlplane.State {
	if m.Call.Action == GapAction {
		return pre // a gap filler changes nothing
	}
	k := foldKey{pre: pre, id: m.ID, ts: m.TS}
	if s, ok := c.steps[k]; ok && sameContent(&s.m, m) {
		c.hits++
		return s.post
	}
	c.misses++
	post := pre.Clone()
	post.Apply(m.Call)
	if _, ok := c.steps[k]; !ok {
		if len(c.ring) < c.size {
			c.ring = append(c.ring, k)
		} else {
			delete(c.steps, c.ring[c.head])
			c.ring[c.head] = k
			c.head = (c.head + 1) % c.size
		}
	}
	c.steps[k] = foldStep{m: *m, post: post}
	return post
}

// validArgs is m.validateArgs for the nodes sharing c: an arguments buffer
// another of them found valid is not scanned again. The JSON scan was a
// fifteenth of a simulated trial's CPU, repeated in every region for the
// same bytes. Only valid buffers are remembered: malformed arguments are
// refused by every node, each time.
func (c *FoldCache) validArgs(m *Mutation) error {
	if len(m.Call.Args) == 0 {
		return nil
	}
	k := argsKey{unsafe.SliceData(m.Call.Args), len(m.Call.Args)}
	if _, ok := c.valid[k]; ok {
		return nil
	}
	c.scans++
	if err := m.validateArgs(); err != nil {
		return err
	}
	if c.valid == nil || len(c.valid) >= maxValidArgs {
		c.valid = make(map[argsKey]struct{})
	}
	c.valid[k] = struct{}{}
	return nil
}
