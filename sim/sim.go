// Package sim is the deterministic virtual-time simulator: one
// single-threaded loop owns a virtual clock and an event queue ordered by
// (time, sequence number), one seeded random source, a simulated network with
// latency, loss and partitions, and one replication.Node per region. Same
// configuration and seed, same run, byte for byte.
package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

// epoch is virtual time zero, as wall time for the nodes' clocks.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// epochNanos is epoch in Unix nanoseconds: converting between virtual and
// wall time is then one addition (time.Time's Add and Sub cost more, on
// every event).
var epochNanos = epoch.UnixNano()

// Network is the simulated gossip transport between nodes.
type Network struct {
	// Latency is the one-way delivery delay of every message; nil means 0.
	Latency delay.Distribution
	// Loss is the probability that a message is dropped.
	Loss float64
	// Links overrides Latency per directed link {from, to}: a WAN hop
	// between distant regions is slower than one within a continent.
	Links map[[2]string]delay.Distribution
	// Burst, if set, replaces Loss with a Gilbert-Elliott channel per
	// directed link: real packet loss comes in bursts, which defeats
	// retransmission spread over consecutive rounds more than the same
	// average loss spread evenly.
	Burst *GilbertElliott
	// Duplicate is the probability that an unreliable (UDP) message is
	// delivered twice, the copy with its own latency draw, as a network
	// may do; replication must treat the second copy as a no-op.
	Duplicate float64
}

// GilbertElliott is a two-state loss channel: in the good state a message
// is lost with probability LossGood, in the bad state with LossBad; after
// each message the link moves good->bad with probability GoodToBad and
// bad->good with probability BadToGood. Mean burst length is 1/BadToGood
// messages; the stationary loss rate is
// (BadToGood*LossGood + GoodToBad*LossBad) / (GoodToBad + BadToGood).
type GilbertElliott struct {
	GoodToBad, BadToGood float64
	LossGood, LossBad    float64
}

// Config is one simulation.
type Config struct {
	Regions []string
	Seed    uint64
	Gossip  replication.GossipConfig
	Delay   replication.DelayModel
	Network Network
	// Initial is the state every region starts from (cloned, never modified).
	Initial *controlplane.State
	// Trace, if set, receives one line per event (commit, deliver, drop,
	// apply, fault), stamped with the virtual time in nanoseconds: two runs
	// with the same inputs and seed write byte-identical traces, which is how
	// determinism is tested and how a failing seed is replayed and read.
	Trace io.Writer
	// PullOnSight turns on replication.Config.PullOnSight in every region,
	// as the live driver does.
	PullOnSight bool
	// Acks turns on replication.Config.Acks in every region, as the live
	// driver does: each region then knows what its peers applied (and its
	// StaleSince counts what they applied and it lacks), at the cost of a
	// vector per peer in every region, so large clusters leave it off.
	Acks bool
	// AckHeartbeat is replication.Config.AckHeartbeat in every region
	// (with Acks): what max_lag admission needs to hear from quiet
	// regions (OnBound). Zero: acks only when something was applied.
	AckHeartbeat time.Duration

	// noFoldCache folds every region's view privately, in place (tests
	// compare it with the shared replication.FoldCache the simulator uses).
	noFoldCache bool
}

// FaultID names an active fault so it can be healed.
type FaultID int

type fault struct {
	oneWay  [2]string // from, to
	groups  map[string]int
	loss    float64
	latency delay.Distribution
	hasLoss bool
}

// Stats counts what the simulated network did.
type Stats struct {
	Events     uint64 // events processed
	Deliveries uint64 // messages delivered to a live node
	Dropped    uint64 // lost, partitioned, or to a crashed node
}

// Event kinds.
const (
	evFn   uint8 = iota + 1 // a scheduled function: fns[slot]
	evTick                  // a region's timer
	evMsg                   // a message delivery: msgs[slot]
)

// event is one entry of the queue, a small value (no pointers), so the
// queue allocates nothing per event and the garbage collector never scans
// it. A message or function lives in a slab slot, recycled after use.
type event struct {
	at  time.Duration
	seq uint64
	// A tick or delivery for a region carries its node generation so a
	// stale timer or message of a crashed node is ignored.
	region int32
	gen    int32
	slot   int32
	kind   uint8
	// shared: the message's mutations are also in another event (a
	// duplicate), so they are not handed back to the pool.
	shared bool
}

func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// eventQueue is a 4-ary min-heap by (time, sequence number): shallower
// than a binary heap, so a pop touches fewer cache lines.
type eventQueue []event

func (q *eventQueue) push(e event) {
	h := append(*q, e)
	// Sift up by moving parents into the hole: one write per level, not a swap.
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	*q = h
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	last := len(h) - 1
	x := h[last]
	h = h[:last]
	if last > 0 {
		// Sift the last event down from the root through the hole.
		i := 0
		for {
			c := 4*i + 1
			if c >= last {
				break
			}
			m := c
			for k := c + 1; k < c+4 && k < last; k++ {
				if h[k].before(&h[m]) {
					m = k
				}
			}
			if !h[m].before(&x) {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = x
	}
	*q = h
	return top
}

type region struct {
	name string
	node *replication.Node
	gen  int
	down bool
	log  []replication.Mutation // durable log (Ready.Persist)
	// stateLost: the last crash lost the durable log (the restart is a
	// LostState one, whatever the log held or did not hold).
	stateLost bool
	deadline  time.Duration // scheduled tick, -1 when none
	// unapplied holds, from a crash that kept the log until the restart,
	// the logged mutations the region had not applied yet: Restore makes
	// them visible, and the simulator reports those applies (see Restart).
	unapplied []replication.Mutation
	// epoch is the epoch of the region's commits: 0 until it loses its
	// state, a new one at every lost-state restart.
	epoch uint64
	// pcg and rng are the node's random source, reseeded at every start.
	pcg *rand.PCG
	rng *rand.Rand
	// stale and staleSince are the node's StaleSince as last reported to
	// OnStale callbacks (kept only while one is registered).
	stale      bool
	staleSince time.Duration
	// bounded and boundSince are the node's BoundSince as last reported
	// to OnBound callbacks (kept only while one is registered).
	bounded    bool
	boundSince time.Duration
}

// Sim is one deterministic simulation.
type Sim struct {
	cfg   Config
	rand  *rand.Rand
	now   time.Duration
	seq   uint64
	queue eventQueue
	// dueNow holds events due at exactly now, in sequence order, from
	// dueHead on (push): zero-latency messages skip the heap.
	dueNow   []event
	dueHead  int
	regions  []*region
	index    map[string]int
	truth    *replication.Node
	faults   map[FaultID]*fault
	nextID   FaultID
	stats    Stats
	onCommit []func(time.Duration, string, replication.Mutation)
	onApply  []func(time.Duration, string, replication.Mutation)
	onStale  []func(at time.Duration, region string, since time.Duration, stale bool)
	onBound  []func(at time.Duration, region string, since time.Duration, bounded bool)
	members  *replication.Membership // live regions; nil = rebuild
	// memberRegion maps a position in members to the region's index, so a
	// message addressed by position (Envelope.Member) needs no name lookup.
	memberRegion []int32
	// bad holds the links whose Gilbert-Elliott channel is in the bad state.
	bad map[[2]string]bool
	// faultList is the active faults in id order (nil: rebuild from faults).
	faultList []*fault
	// Slabs of in-flight messages and scheduled functions, by event slot.
	msgs slab[replication.Message]
	fns  slab[func()]
	// pool recycles gossip messages' mutation slices between the nodes.
	pool *replication.MessagePool
	// spare is the one set of Ready buffers: lent to the node about to
	// take an input (lend, Node.Recycle) and taken back by drain, so the
	// nodes share it instead of holding one each.
	spare replication.Ready
	// folds shares fold steps between the nodes (and the truth): regions
	// that apply the same mutations in the same order share their views.
	folds *replication.FoldCache
	// committed lists every commit in commit order; lostPossible is set by
	// the first crash that loses state (the only way a commit can be lost).
	committed    []replication.Mutation
	lostPossible bool
	// wallNow caches wall(wallAt) for the current instant.
	wallAt  time.Duration
	wallNow time.Time
	wallOK  bool
	// seen is Reset's scratch map for duplicate region names.
	seen map[string]bool
	// pcg and truthPCG are the sources of rand and of the truth's node.
	pcg, truthPCG *rand.PCG
}

// New builds a simulation; nothing runs until RunUntil.
func New(cfg Config) (*Sim, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	s := &Sim{}
	s.init(cfg)
	return s, nil
}

// Reset makes s what New(cfg) would return, reusing its memory: regions,
// nodes (replication.Node.Reset), queues, slabs, the message pool and,
// when cfg.Initial is the same state as before, the fold cache. A Monte
// Carlo driver resets one simulation per worker instead of building one
// per trial, so a trial allocates little and the garbage collector seldom
// runs. Callbacks registered with OnCommit, OnApply and OnStale are dropped, as in
// a new simulation; views and mutations obtained before are the caller's
// to drop. On error (the same as New's) s is unchanged.
// TestResetIsNew runs seeded schedules on fresh and reset simulations
// and requires identical traces.
func (s *Sim) Reset(cfg Config) error {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	clear(s.seen)
	if err := checkConfigIn(cfg, s.seen); err != nil {
		return err
	}
	s.init(cfg)
	return nil
}

func checkConfig(cfg Config) error {
	return checkConfigIn(cfg, make(map[string]bool, len(cfg.Regions)))
}

// checkConfigIn is checkConfig with an empty map to note names in.
func checkConfigIn(cfg Config, seen map[string]bool) error {
	if len(cfg.Regions) == 0 {
		return errors.New("sim: no regions")
	}
	for _, name := range cfg.Regions {
		if seen[name] {
			return fmt.Errorf("sim: region %q listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// init sets s up from a checked cfg, keeping what memory s already has.
func (s *Sim) init(cfg Config) {
	old := *s
	*s = Sim{
		cfg:    cfg,
		index:  old.index,
		faults: old.faults,
		queue:  old.queue[:0],
		dueNow: old.dueNow[:0],
		bad:    old.bad,
		pool:   old.pool,
		spare:  old.spare,
		msgs:   old.msgs.emptied(),
		fns:    old.fns.emptied(),

		memberRegion: old.memberRegion[:0],
		committed:    zeroed(old.committed),
		pcg:          old.pcg,
		truthPCG:     old.truthPCG,
		seen:         old.seen,
		onCommit:     zeroed(old.onCommit),
		onApply:      zeroed(old.onApply),
		onStale:      zeroed(old.onStale),
		onBound:      zeroed(old.onBound),
	}
	clear(s.index)
	clear(s.faults)
	clear(s.bad)
	if s.pcg == nil {
		s.pcg, s.truthPCG = &rand.PCG{}, &rand.PCG{}
	}
	s.pcg.Seed(cfg.Seed, 0x1a9b0c5)
	s.rand = rand.New(s.pcg)
	if s.index == nil {
		s.index = make(map[string]int, len(cfg.Regions))
	}
	if s.faults == nil {
		s.faults = map[FaultID]*fault{}
	}
	if s.bad == nil {
		s.bad = map[[2]string]bool{}
	}
	if s.pool == nil {
		s.pool = replication.NewMessagePool()
	}
	if cap(s.queue) == 0 {
		// A timer per region and a few messages each in flight: sized
		// once instead of grown by doubling.
		s.queue = make(eventQueue, 0, 4*len(cfg.Regions)+16)
	}
	if !cfg.noFoldCache {
		// The cache's steps start from cfg.Initial: keep them for the
		// same initial state (trials of one scenario), else start over.
		if s.folds = old.folds; s.folds == nil || old.cfg.Initial != cfg.Initial {
			s.folds = replication.NewFoldCache(0)
		}
	}
	s.regions = old.regions[:0]
	for i, name := range cfg.Regions {
		s.index[name] = i
		var r *region
		if i < cap(old.regions) {
			r = old.regions[:cap(old.regions)][i]
		}
		if r == nil {
			r = &region{}
		}
		*r = region{name: name, deadline: -1, node: r.node, log: zeroed(r.log), unapplied: zeroed(r.unapplied), pcg: r.pcg, rng: r.rng}
		s.regions = append(s.regions, r)
	}
	for i := range s.regions {
		s.startNode(i, false)
	}
	// The truth applies every commit at its commit instant, with no delay
	// and no gossip: what a strongly consistent system would answer.
	s.truthPCG.Seed(cfg.Seed, 7)
	truthCfg := replication.Config{
		Region: "truth", Rand: rand.New(s.truthPCG), Initial: cfg.Initial, Gossip: cfg.Gossip,
		MaxClockOffset: -1, FoldCache: s.folds,
	}
	if s.truth = old.truth; s.truth != nil {
		s.truth.Reset(truthCfg)
	} else {
		s.truth = replication.NewNode(truthCfg)
	}
}

// zeroed clears s (so it keeps nothing alive) and returns it emptied.
func zeroed[T any](s []T) []T {
	clear(s)
	return s[:0]
}

func (s *Sim) startNode(i int, lostState bool) {
	r := s.regions[i]
	r.gen++
	// Each start draws its node's seed, as a new PCG would; the region's
	// PCG, Rand and Node are reused (the crashed node is gone for good).
	if r.pcg == nil {
		r.pcg = &rand.PCG{}
		r.rng = rand.New(r.pcg)
	}
	seed := s.rand.Uint64()
	r.pcg.Seed(seed, uint64(i))
	if lostState {
		// A lost log starts a new epoch, so no id is issued twice. It is
		// derived from the start's seed rather than drawn, so runs without
		// lost state draw exactly what they drew before epochs.
		r.epoch = newEpoch(seed, uint64(r.gen))
	}
	cfg := replication.Config{
		Region:    r.name,
		Gossip:    s.cfg.Gossip,
		Delay:     s.cfg.Delay,
		Rand:      r.rng,
		Initial:   s.cfg.Initial,
		Start:     s.wall(s.now),
		LostState: lostState,
		// A restart with the log catches up with a peer before it
		// commits, as a live region restarted with --join does.
		CatchUp: r.gen > 1 && !lostState,
		Epoch:   r.epoch,

		PullOnSight: s.cfg.PullOnSight,
		Acks:        s.cfg.Acks,
		// Every region starts at t=0 from Initial: one not heard from
		// yet is fresh from then on (max_lag), until a restart.
		Genesis:      r.gen == 1,
		AckHeartbeat: s.cfg.AckHeartbeat,
		FoldCache:    s.folds,
	}
	if r.node != nil {
		r.node.Reset(cfg)
	} else {
		r.node = replication.NewNode(cfg)
	}
	r.node.SetMembership(s.membership())
	r.node.SetMessagePool(s.pool)
	r.deadline = -1
	s.drain(i)
}

// newEpoch derives a non-zero epoch from a start's seed and generation
// (splitmix64's finalizer).
func newEpoch(seed, gen uint64) uint64 {
	z := seed + gen*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1
	}
	return z
}

// membership is the sorted list of live regions, built once per membership
// change and shared by every node (each node skips itself), so memory stays
// linear in nodes instead of one n-1 peer list per node.
func (s *Sim) membership() *replication.Membership {
	if s.members == nil {
		var live []int32
		for i, r := range s.regions {
			if !r.down {
				live = append(live, int32(i))
			}
		}
		slices.SortFunc(live, func(a, b int32) int { return strings.Compare(s.regions[a].name, s.regions[b].name) })
		names := make([]string, len(live))
		for k, i := range live {
			names[k] = s.regions[i].name
		}
		s.members = replication.NewMembership(names)
		s.memberRegion = live
	}
	return s.members
}

// refreshPeers tells every live node the current membership, as memberlist's
// failure detector eventually would.
func (s *Sim) refreshPeers() {
	s.members = nil
	for i, r := range s.regions {
		if !r.down {
			r.node.SetMembership(s.membership())
			s.drain(i)
		}
	}
}

func (s *Sim) wall(d time.Duration) time.Time {
	if d == s.now {
		// Every input of one instant shares the conversion.
		if !s.wallOK || s.wallAt != d {
			s.wallAt, s.wallNow, s.wallOK = d, time.Unix(0, epochNanos+int64(d)).UTC(), true
		}
		return s.wallNow
	}
	return time.Unix(0, epochNanos+int64(d)).UTC()
}

// virtual is the inverse of wall.
func virtual(t time.Time) time.Duration { return time.Duration(t.UnixNano() - epochNanos) }

// trace writes one trace line when Config.Trace is set; the check comes
// first so an untraced run pays no formatting cost.
func (s *Sim) trace(format string, args ...any) {
	if s.cfg.Trace == nil {
		return
	}
	fmt.Fprintf(s.cfg.Trace, "%d ", int64(s.now))
	fmt.Fprintf(s.cfg.Trace, format, args...)
	fmt.Fprintln(s.cfg.Trace)
}

func (s *Sim) push(e event) {
	s.seq++
	e.seq = s.seq
	if e.at == s.now {
		// Due now: after every queued event of this instant (they were
		// pushed before it, with lower sequence numbers), so a FIFO keeps
		// the (time, sequence) order without a heap operation.
		s.dueNow = append(s.dueNow, e)
		return
	}
	s.queue.push(e)
}

// slab holds values by slot, reusing freed slots, so an event carries a
// 4-byte slot instead of a pointer and the queue allocates nothing per event.
type slab[T any] struct {
	items []T
	free  []int32
}

// put stores v and returns its slot.
func (s *slab[T]) put(v T) int32 {
	if k := len(s.free); k > 0 {
		slot := s.free[k-1]
		s.free = s.free[:k-1]
		s.items[slot] = v
		return slot
	}
	s.items = append(s.items, v)
	return int32(len(s.items) - 1)
}

// emptied returns the slab's memory with nothing in it.
func (s slab[T]) emptied() slab[T] {
	clear(s.items)
	return slab[T]{items: s.items[:0], free: s.free[:0]}
}

// take returns the value in slot and frees the slot (clearing it, so the
// slab does not keep the value alive).
func (s *slab[T]) take(slot int32) T {
	v := s.items[slot]
	var zero T
	s.items[slot] = zero
	s.free = append(s.free, slot)
	return v
}

// pushMsg queues the delivery of m to region to at instant at.
func (s *Sim) pushMsg(at time.Duration, to int, m replication.Message, shared bool) {
	s.push(event{at: at, kind: evMsg, region: int32(to), gen: int32(s.regions[to].gen), slot: s.msgs.put(m), shared: shared})
}

// Now is the virtual time since the start.
func (s *Sim) Now() time.Duration { return s.now }

// Schedule runs fn inside the loop at virtual time at (not before Now).
func (s *Sim) Schedule(at time.Duration, fn func()) {
	s.push(event{at: max(at, s.now), kind: evFn, slot: s.fns.put(fn)})
}

// OnCommit registers a callback for every commit, right after the truth includes it.
func (s *Sim) OnCommit(fn func(at time.Duration, region string, m replication.Mutation)) {
	s.onCommit = append(s.onCommit, fn)
}

// OnApply registers a callback for every apply, right after the region's view changed.
func (s *Sim) OnApply(fn func(at time.Duration, region string, m replication.Mutation)) {
	s.onApply = append(s.onApply, fn)
}

// OnStale registers a callback for every change of a region's
// replication.Node.StaleSince (whether the view is known to lack a
// committed mutation, and since when), right after the input that changed
// it: what max_lag admission needs. A crashed region reports not stale (it
// serves nothing). Without a callback the simulator does not track it.
func (s *Sim) OnStale(fn func(at time.Duration, region string, since time.Duration, stale bool)) {
	s.onStale = append(s.onStale, fn)
}

// StaleSince is a region's replication.Node.StaleSince in virtual time;
// false when the region is down or not known to be stale.
func (s *Sim) StaleSince(name string) (time.Duration, bool) {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return 0, false
	}
	t, stale := s.regions[i].node.StaleSince()
	if !stale {
		return 0, false
	}
	return virtual(t), true
}

// OnBound registers a callback for every change of a region's
// replication.Node.BoundSince (the instant max_lag admission counts the
// view's age from, and whether there is one), right after the input that
// changed it: what the runner's max_lag probes follow. A crashed region
// reports none (it serves nothing). Without a callback the simulator does
// not track it.
func (s *Sim) OnBound(fn func(at time.Duration, region string, since time.Duration, bounded bool)) {
	s.onBound = append(s.onBound, fn)
}

// BoundSince is a region's replication.Node.BoundSince in virtual time;
// false when the region is down or nothing can be missing from its view.
// A region that has never heard from a peer it counts answers an instant
// long before the simulation began (never).
func (s *Sim) BoundSince(name string) (time.Duration, bool) {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return 0, false
	}
	t, bounded := s.regions[i].node.BoundSince()
	if !bounded {
		return 0, false
	}
	return virtual(t), true
}

// checkBound reports a change of region i's BoundSince to the callbacks.
func (s *Sim) checkBound(i int) {
	r := s.regions[i]
	since, bounded := s.BoundSince(r.name)
	if bounded == r.bounded && since == r.boundSince {
		return
	}
	r.bounded, r.boundSince = bounded, since
	for _, fn := range s.onBound {
		fn(s.now, r.name, since, bounded)
	}
}

// checkStale reports a change of region i's StaleSince to the callbacks.
func (s *Sim) checkStale(i int) {
	r := s.regions[i]
	since, stale := s.StaleSince(r.name)
	if stale == r.stale && since == r.staleSince {
		return
	}
	r.stale, r.staleSince = stale, since
	for _, fn := range s.onStale {
		fn(s.now, r.name, since, stale)
	}
}

// Commit proposes c at region now. A rejected call changes nothing.
func (s *Sim) Commit(regionName string, c controlplane.Call) (replication.Mutation, error) {
	i, ok := s.index[regionName]
	if !ok {
		return replication.Mutation{}, fmt.Errorf("sim: unknown region %q", regionName)
	}
	r := s.regions[i]
	if r.down {
		return replication.Mutation{}, &controlplane.APIError{Code: "ServiceUnavailable", Message: regionName + " is down"}
	}
	s.lend(r)
	m, err := r.node.Propose(s.wall(s.now), c)
	if err != nil {
		return m, err
	}
	// The truth takes the committed mutation as is: an origin that lost
	// its state commits in a new epoch, so ids are never reused.
	_ = s.truth.Step(s.wall(s.now), replication.Message{Kind: replication.KindRepair, From: regionName, Mutations: []replication.Mutation{m}})
	s.truth.Tick(s.wall(s.now))
	_ = s.truth.Ready()
	s.committed = append(s.committed, m)
	s.trace("commit %s %s", regionName, m.ID)
	for _, fn := range s.onCommit {
		fn(s.now, regionName, m)
	}
	s.drain(i)
	return m, nil
}

// lend hands the spare Ready buffers to a node about to take an input;
// drain takes them back, so one set serves every node (a node drained at
// every input needs none between inputs).
func (s *Sim) lend(r *region) {
	r.node.Recycle(s.spare)
	s.spare = replication.Ready{}
}

// drain carries out a region's Ready: messages onto the network, the log,
// apply callbacks, and its next tick.
func (s *Sim) drain(i int) {
	r := s.regions[i]
	rd := r.node.Ready()
	if len(rd.Persist) > 0 {
		r.log = append(r.log, rd.Persist...)
	}
	for _, a := range rd.Applied {
		at := virtual(a.At)
		if s.cfg.Trace != nil {
			s.trace("apply %s %s at=%d", r.name, a.Mutation.ID, int64(at))
		}
		for _, fn := range s.onApply {
			fn(at, r.name, a.Mutation)
		}
	}
	for k := range rd.Messages {
		s.send(i, rd.Messages[k])
	}
	if len(s.onStale) > 0 {
		s.checkStale(i)
	}
	if len(s.onBound) > 0 {
		s.checkBound(i)
	}
	if !rd.Deadline.IsZero() {
		d := max(virtual(rd.Deadline), s.now)
		if r.deadline < 0 || d < r.deadline || r.deadline < s.now {
			r.deadline = d
			s.push(event{at: d, kind: evTick, region: int32(i), gen: int32(r.gen)})
		}
	}
	// Most inputs (a duplicate rumor) produce nothing: skip the clears.
	if len(rd.Messages) > 0 {
		clear(rd.Messages)
	}
	if len(rd.Persist) > 0 {
		clear(rd.Persist)
	}
	if len(rd.Applied) > 0 {
		clear(rd.Applied)
	}
	s.spare = replication.Ready{Messages: rd.Messages[:0], Persist: rd.Persist[:0], Applied: rd.Applied[:0]}
}

func (s *Sim) send(from int, env replication.Envelope) {
	to := -1
	if p := int(env.Member) - 1; p >= 0 && p < len(s.memberRegion) && s.regions[s.memberRegion[p]].name == env.To {
		to = int(s.memberRegion[p])
	} else if i, ok := s.index[env.To]; ok {
		to = i
	} else {
		return
	}
	if s.regions[to].down || len(s.faults) > 0 && s.blocked(s.regions[from].name, env.To) {
		if s.cfg.Trace != nil {
			s.trace("drop %s>%s %v cut", s.regions[from].name, env.To, env.Msg.Kind)
		}
		s.stats.Dropped++
		return
	}
	var link [2]string
	if len(s.cfg.Network.Links) > 0 || s.cfg.Network.Burst != nil || s.cfg.Trace != nil {
		link = [2]string{s.regions[from].name, env.To}
	}
	loss := s.cfg.Network.Loss
	lat := s.cfg.Network.Latency
	if len(s.cfg.Network.Links) > 0 {
		if d, ok := s.cfg.Network.Links[link]; ok {
			lat = d
		}
	}
	lossFault := false
	var faults []*fault
	if len(s.faults) > 0 {
		faults = s.sortedFaults()
	}
	for _, f := range faults {
		if f.hasLoss {
			loss, lossFault = f.loss, true
		}
		if f.latency != nil {
			lat = f.latency
		}
	}
	// The burst channel advances only on unreliable messages (the ones it
	// can drop), and only when configured, so runs without it draw the
	// same random numbers as before it existed. A SetLoss fault overrides it.
	if ge := s.cfg.Network.Burst; ge != nil && !lossFault && !env.Msg.Kind.Reliable() {
		if s.bad[link] {
			loss = ge.LossBad
			if s.rand.Float64() < ge.BadToGood {
				delete(s.bad, link)
			}
		} else {
			loss = ge.LossGood
			if s.rand.Float64() < ge.GoodToBad {
				s.bad[link] = true
			}
		}
	}
	// Reliable kinds ride TCP in the live cluster: retransmitted, not lost.
	if loss > 0 && !env.Msg.Kind.Reliable() && s.rand.Float64() < loss {
		if s.cfg.Trace != nil {
			s.trace("drop %s>%s %v loss", s.regions[from].name, env.To, env.Msg.Kind)
		}
		s.stats.Dropped++
		return
	}
	var d time.Duration
	if lat != nil {
		d = lat.Sample(s.rand)
	}
	// The duplicate draw comes before either push (pushes draw nothing),
	// so the draws and the event order are as they always were.
	dup := false
	if p := s.cfg.Network.Duplicate; p > 0 && !env.Msg.Kind.Reliable() && s.rand.Float64() < p {
		dup = true
	}
	s.pushMsg(s.now+d, to, env.Msg, dup)
	if dup {
		var d2 time.Duration
		if lat != nil {
			d2 = lat.Sample(s.rand)
		}
		if s.cfg.Trace != nil {
			s.trace("duplicate %s>%s %v", link[0], link[1], env.Msg.Kind)
		}
		s.pushMsg(s.now+d2, to, env.Msg, true)
	}
}

func (s *Sim) sortedFaults() []*fault {
	if s.faultList != nil || len(s.faults) == 0 {
		return s.faultList
	}
	ids := make([]FaultID, 0, len(s.faults))
	for id := range s.faults {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*fault, len(ids))
	for k, id := range ids {
		out[k] = s.faults[id]
	}
	s.faultList = out
	return out
}

func (s *Sim) blocked(from, to string) bool {
	for _, f := range s.sortedFaults() {
		if f.oneWay[0] == from && f.oneWay[1] == to {
			return true
		}
		if f.groups != nil {
			gf, okf := f.groups[from]
			gt, okt := f.groups[to]
			if okf && okt && gf != gt {
				return true
			}
			if okf != okt {
				// A region not named in the partition is cut off from those named.
				return true
			}
		}
	}
	return false
}

func (s *Sim) addFault(f *fault) FaultID {
	s.nextID++
	s.faults[s.nextID] = f
	s.faultList = nil
	s.trace("fault %d start %s", s.nextID, f)
	return s.nextID
}

// Partition splits the regions into groups that cannot talk to each other.
func (s *Sim) Partition(groups [][]string) FaultID {
	f := &fault{groups: map[string]int{}}
	for g, list := range groups {
		for _, r := range list {
			f.groups[r] = g
		}
	}
	return s.addFault(f)
}

// PartitionOneWay drops every message from one region to another.
func (s *Sim) PartitionOneWay(from, to string) FaultID {
	return s.addFault(&fault{oneWay: [2]string{from, to}})
}

// SetLoss sets the loss probability of unreliable messages until healed.
func (s *Sim) SetLoss(p float64) FaultID { return s.addFault(&fault{loss: p, hasLoss: true}) }

// SetLatency replaces the network latency until healed.
func (s *Sim) SetLatency(d delay.Distribution) FaultID { return s.addFault(&fault{latency: d}) }

// Heal ends a fault.
func (s *Sim) Heal(id FaultID) {
	if _, ok := s.faults[id]; ok {
		s.trace("fault %d heal", id)
	}
	delete(s.faults, id)
	s.faultList = nil
}

// String describes a fault for the trace; map iteration is avoided so the
// text is deterministic.
func (f *fault) String() string {
	switch {
	case f.groups != nil:
		names := make([]string, 0, len(f.groups))
		for r := range f.groups {
			names = append(names, fmt.Sprintf("%s:%d", r, f.groups[r]))
		}
		slices.Sort(names)
		return fmt.Sprintf("partition %v", names)
	case f.oneWay[0] != "":
		return fmt.Sprintf("oneway %s>%s", f.oneWay[0], f.oneWay[1])
	case f.hasLoss:
		return fmt.Sprintf("loss %v", f.loss)
	case f.latency != nil:
		return fmt.Sprintf("latency %s", f.latency)
	}
	return "none"
}

// Crash stops a region: it serves nothing and receives nothing. With
// loseState its durable log is lost too.
func (s *Sim) Crash(name string, loseState bool) {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return
	}
	r := s.regions[i]
	s.trace("fault crash %s lose_state=%v", name, loseState)
	r.down = true
	r.gen++
	r.stateLost = loseState
	if loseState {
		r.log = nil
		r.unapplied = nil
		s.lostPossible = true
	} else {
		r.unapplied = r.unapplied[:0]
		for _, m := range r.log {
			// Gap fillers stand for lost commits: never applied, never reported.
			if m.Call.Action != replication.GapAction && !r.node.Has(m.ID) {
				r.unapplied = append(r.unapplied, m)
			}
		}
	}
	if len(s.onStale) > 0 {
		s.checkStale(i)
	}
	if len(s.onBound) > 0 {
		s.checkBound(i)
	}
	s.refreshPeers()
}

// Restart brings a crashed region back: it replays its durable log (if it
// kept one) and catches up through anti-entropy. The logged mutations it
// had not applied at the crash (received, waiting for their apply instant)
// become visible at the restart instant, and are reported then (trace and
// OnApply), once; those applied before the crash are not reported again.
func (s *Sim) Restart(name string) {
	i, ok := s.index[name]
	if !ok || !s.regions[i].down {
		return
	}
	r := s.regions[i]
	s.trace("fault restart %s", name)
	r.down = false
	// The kept log stays the region's durable log: Restore persists
	// nothing anew, and a second crash must find everything the first kept.
	lost := r.stateLost
	s.startNode(i, lost)
	if !lost {
		r.node.Restore(s.wall(s.now), slices.Clone(r.log))
		s.drain(i)
		// Restore reports no applies: a restarted node cannot tell which
		// of its logged mutations it had reported before the crash. The
		// simulator can: those it had not applied then become visible now.
		for _, m := range r.unapplied {
			if !r.node.Has(m.ID) {
				continue
			}
			if s.cfg.Trace != nil {
				s.trace("apply %s %s at=%d", r.name, m.ID, int64(s.now))
			}
			for _, fn := range s.onApply {
				fn(s.now, r.name, m)
			}
		}
	}
	r.unapplied = nil
	s.refreshPeers()
}

// View is a region's current view, nil while it is crashed.
func (s *Sim) View(name string) *controlplane.State {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return nil
	}
	return s.regions[i].node.View()
}

// Truth is the state with every committed mutation applied.
func (s *Sim) Truth() *controlplane.State { return s.truth.View() }

// Has reports whether a region has applied a mutation.
func (s *Sim) Has(name string, id replication.MutationID) bool {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return false
	}
	return s.regions[i].node.Has(id)
}

// Includes reports whether region name is up and its view includes id and
// every earlier mutation of id's origin epoch (replication.Node.Includes):
// what an at_least token waits for.
func (s *Sim) Includes(name string, id replication.MutationID) bool {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return false
	}
	return s.regions[i].node.Includes(id)
}

// KnownAppliedAt is when observer's node knew that region had applied id
// (replication.Node.AppliedAt), in virtual time: exact for observer's own
// region, the arrival of region's ack otherwise (Config.Acks). False when
// observer is down or does not know it.
func (s *Sim) KnownAppliedAt(observer, region string, id replication.MutationID) (time.Duration, bool) {
	i, ok := s.index[observer]
	if !ok || s.regions[i].down {
		return 0, false
	}
	t, ok := s.regions[i].node.AppliedAt(region, id)
	if !ok {
		return 0, false
	}
	return virtual(t), true
}

// Converged reports whether every live region's view equals the truth's.
func (s *Sim) Converged() bool {
	want := s.truth.Digest()
	for _, r := range s.regions {
		if !r.down && r.node.Digest() != want {
			return false
		}
	}
	return true
}

// Lost returns the committed mutations that are lost for good, in commit
// order: their origin crashed and lost its state before any other region,
// durable log or message in flight held them, so no region can ever apply
// them (a recovered origin fills their sequence numbers with
// replication.GapAction no-ops). The truth keeps them: they were
// committed, and a client was told so. While any is lost, Converged stays
// false; SurvivorsConverged says whether the regions agree on the rest.
func (s *Sim) Lost() []replication.Mutation {
	var out []replication.Mutation
	for _, i := range s.lostIndices() {
		out = append(out, s.committed[i])
	}
	return out
}

// commitKey tells two commits apart even when a lost-state origin reused a
// sequence number: the reuse has a later timestamp.
type commitKey struct {
	id replication.MutationID
	ts replication.Timestamp
}

// lostIndices returns the positions in s.committed of the lost commits (by
// position: a reused sequence number makes IDs ambiguous).
func (s *Sim) lostIndices() []int {
	if !s.lostPossible {
		return nil
	}
	// Who can still hand a mutation on: live regions (applied or pending),
	// the kept logs of crashed regions, and messages in flight to a live
	// region (one to a crashed region will be dropped).
	// A gap filler that took a lost mutation's ID is not the mutation.
	var kept []map[commitKey]bool
	for _, r := range s.regions {
		if r.down && len(r.log) > 0 {
			ids := make(map[commitKey]bool, len(r.log))
			for _, m := range r.log {
				if m.Call.Action != replication.GapAction {
					ids[commitKey{m.ID, m.TS}] = true
				}
			}
			kept = append(kept, ids)
		}
	}
	inFlight := map[commitKey]bool{}
	for _, e := range slices.Concat(s.queue, s.dueNow[s.dueHead:]) {
		if e.kind != evMsg {
			continue
		}
		if r := s.regions[e.region]; r.down || int(e.gen) != r.gen {
			continue
		}
		for _, m := range s.msgs.items[e.slot].Mutations {
			if m.Call.Action != replication.GapAction {
				inFlight[commitKey{m.ID, m.TS}] = true
			}
		}
	}
	var lost []int
	for i := range s.committed {
		if m := &s.committed[i]; !inFlight[commitKey{m.ID, m.TS}] && !s.held(m, kept) {
			lost = append(lost, i)
		}
	}
	return lost
}

func (s *Sim) held(m *replication.Mutation, kept []map[commitKey]bool) bool {
	for _, r := range s.regions {
		if !r.down && r.node.Knows(m) {
			return true
		}
	}
	for _, ids := range kept {
		if ids[commitKey{m.ID, m.TS}] {
			return true
		}
	}
	return false
}

// SurvivorsConverged reports whether every live region's view equals the
// fold of the committed mutations that are not lost (see Lost): the
// regions agree with each other on everything that survived. With nothing
// lost it is Converged.
func (s *Sim) SurvivorsConverged() bool {
	lost := s.lostIndices()
	if len(lost) == 0 {
		return s.Converged()
	}
	want := s.survivorsDigest(lost)
	for _, r := range s.regions {
		if !r.down && r.node.Digest() != want {
			return false
		}
	}
	return true
}

// survivorsDigest folds every commit but the lost ones into a fresh view.
func (s *Sim) survivorsDigest(lost []int) [32]byte {
	var keep []replication.Mutation
	for i, m := range s.committed {
		if len(lost) > 0 && lost[0] == i {
			lost = lost[1:]
			continue
		}
		keep = append(keep, m)
	}
	n := replication.NewNode(replication.Config{
		Region: "survivors", Rand: rand.New(rand.NewPCG(s.cfg.Seed, 8)), Initial: s.cfg.Initial, Gossip: s.cfg.Gossip,
		MaxClockOffset: -1, FoldCache: s.folds,
	})
	now := s.wall(s.now)
	for len(keep) > 0 {
		k := min(len(keep), replication.MaxMutationsPerMessage)
		_ = n.Step(now, replication.Message{Kind: replication.KindRepair, From: "truth", Mutations: keep[:k:k]})
		keep = keep[k:]
	}
	n.Tick(now)
	return n.Digest()
}

// NodeStats returns a region's replication counters (zero while it is
// crashed): re-folds, duplicates, conflicts, ...
func (s *Sim) NodeStats(name string) replication.Stats {
	i, ok := s.index[name]
	if !ok || s.regions[i].down {
		return replication.Stats{}
	}
	return s.regions[i].node.Stats()
}

// Stats returns the network counters.
func (s *Sim) Stats() Stats { return s.stats }

// RunUntil processes every event up to and including virtual time t.
func (s *Sim) RunUntil(t time.Duration) {
	for {
		var e event
		switch {
		case len(s.queue) > 0 && s.queue[0].at == s.now && s.queue[0].at <= t:
			e = s.queue.pop() // this instant's earlier events first
		case s.dueHead < len(s.dueNow) && s.now <= t:
			e = s.dueNow[s.dueHead]
			if s.dueHead++; s.dueHead == len(s.dueNow) {
				s.dueNow, s.dueHead = s.dueNow[:0], 0
			}
		case len(s.queue) > 0 && s.queue[0].at <= t:
			e = s.queue.pop()
		default:
			if t > s.now {
				s.now = t
			}
			return
		}
		s.now = e.at
		s.stats.Events++
		switch e.kind {
		case evFn:
			fn := s.fns.take(e.slot)
			fn()
		case evTick:
			r := s.regions[e.region]
			if r.down || int(e.gen) != r.gen || e.at != r.deadline {
				continue
			}
			r.deadline = -1
			s.lend(r)
			r.node.Tick(s.wall(s.now))
			s.drain(int(e.region))
		case evMsg:
			msg := s.msgs.take(e.slot)
			r := s.regions[e.region]
			if r.down || int(e.gen) != r.gen {
				if s.cfg.Trace != nil {
					s.trace("drop %s>%s %v down", msg.From, r.name, msg.Kind)
				}
				s.stats.Dropped++
				if !e.shared {
					s.pool.Put(msg.Mutations)
					s.pool.PutAcks(msg.Acks)
				}
				continue
			}
			s.stats.Deliveries++
			if s.cfg.Trace != nil {
				if msg.Kind != replication.KindAck && len(msg.Acks) > 0 {
					// The sender's own ack riding on its gossip.
					s.trace("deliver %s>%s %v+ack", msg.From, r.name, msg.Kind)
				} else {
					s.trace("deliver %s>%s %v", msg.From, r.name, msg.Kind)
				}
			}
			s.lend(r)
			_ = r.node.Step(s.wall(s.now), msg)
			if !e.shared {
				// Step copied what it keeps.
				s.pool.Put(msg.Mutations)
				s.pool.PutAcks(msg.Acks)
			}
			s.drain(int(e.region))
		}
	}
}

// nextAt is the instant of the next event, if any: the current instant
// while events due now wait in the FIFO (pushed between runs, e.g. by a
// Commit), else the heap's earliest.
func (s *Sim) nextAt() (time.Duration, bool) {
	if s.dueHead < len(s.dueNow) {
		return s.now, true
	}
	if len(s.queue) > 0 {
		return s.queue[0].at, true
	}
	return 0, false
}

// RunUntilConverged runs the loop, checking convergence after every event, and
// stops at the first instant at or after from when every live region's view
// equals the truth (see Converged), or at limit. It returns that instant and
// true, or limit and false. Checking per event gives the exact virtual
// instant, which a caller that polls at intervals cannot: that is the
// time-to-converge measured after the last heal.
func (s *Sim) RunUntilConverged(from, limit time.Duration) (time.Duration, bool) {
	s.RunUntil(from)
	for {
		if s.Converged() {
			return s.now, true
		}
		next, ok := s.nextAt()
		if !ok || next > limit {
			s.RunUntil(limit)
			return limit, false
		}
		// Every event at this instant runs before the check, so the answer
		// does not depend on the order of same-instant events.
		s.RunUntil(next)
	}
}
