package replication

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// Applied reports that a mutation became visible in the region's view.
type Applied struct {
	Mutation
	// At is the instant the mutation became visible: its scheduled apply
	// instant (commit time + delay, or receipt if later), not the instant
	// the driver happened to call Tick, so exposure windows are exact.
	At time.Time
}

// Ready is what a Node asks its driver to do, accumulated since the last
// call to Ready (etcd-io/raft's Ready: every effect is listed, none is
// carried out by the node itself).
type Ready struct {
	// Messages to send. Msg.Kind.Reliable() says whether the live driver
	// must use the reliable stream.
	Messages []Envelope
	// Persist lists mutations to make durable: the region's own commits and
	// every mutation new to it. Replaying them with Restore after a crash
	// rebuilds the view.
	Persist []Mutation
	// Applied lists the mutations that became visible, in apply order (At
	// never decreases within one Ready or across them).
	Applied []Applied
	// Deadline is the earliest instant the driver must call Tick again:
	// the next gossip round (when rumors are queued), push/pull or pending
	// apply. Zero means none. It may be earlier than the driver's clock if
	// SetPeers was called since the last input; Tick at once then.
	Deadline time.Time
	// Replaced lists mutations whose content changed by a conflict's
	// resolution (conflict.go): the view changed without a new apply.
	Replaced []Mutation
	// Lost lists the origin epochs this region found closed with commits
	// lost (loss.go), once each, when they settled: the driver logs and
	// counts them.
	Lost []LostStream
}

// Stats are the node's counters since it was created, for metrics.
type Stats struct {
	Sent, Received         [MessageKindCount]uint64 // messages, by kind (Received counts rejected ones too)
	MutationsSent          uint64                   // mutations carried by sent messages
	AcksSent               uint64                   // acks carried by sent KindAck messages (ack.go)
	BytesSent              uint64                   // encoded size of sent messages (Message.Size)
	MutationsReceived      uint64                   // mutations carried by accepted messages, duplicates included
	Duplicates             uint64                   // received mutations already known
	Rejected               uint64                   // messages Step rejected whole (malformed)
	Conflicts              uint64                   // a known ID met with other content (forged, corrupted): resolved by conflict.go's rule
	DigestMismatches       uint64                   // push/pull digests of an origin epoch that differed at equal length (conflict.go)
	UnansweredRecovering   uint64                   // push/pull requests left unanswered while recovering from lost state (answersWhileRecovering)
	RumorsPruned           uint64                   // rumors dropped unsent from a full queue (maxQueuedRumors); push/pull repairs whoever missed them
	Lost                   uint64                   // own commits of an earlier epoch or a lost log that no peer held at recovery, filled with GapAction
	Committed              uint64                   // mutations this region committed
	Applied                uint64                   // mutations folded into the view (own commits included)
	Refolds, RefoldApplies uint64                   // late arrivals re-folded, and the Apply calls that cost
	Pending                int                      // received, waiting for their apply time
	Checkpoints            int                      // view clones kept for re-folds
	PullsOnSight           uint64                   // push/pull requests sent because a peer's vector showed something missing (repair.go)
	RefusedOwnOrigin       uint64                   // mutations dropped: under this region's origin, beyond what it issued (bounds.go)
	RefusedSeqAhead        uint64                   // mutations dropped: sequence number implausibly far ahead of its origin (bounds.go)
	RefusedFuture          uint64                   // messages rejected: a timestamp beyond Config.MaxClockOffset
	RefusedBadSignature    uint64                   // mutations dropped: the signature did not verify under the origin's key (sign.go)
	RefusedUnknownSigner   uint64                   // mutations dropped: no key is trusted for the origin (sign.go)
}

// originLog is what a region knows of one origin's mutations.
type originLog struct {
	seqs    seqIndex
	recv    uint64 // 1..recv all received
	applied uint64 // 1..applied all applied
	// above counts the applied numbers beyond applied: a view applies in
	// timestamp order, so it can hold mutations past a gap that the
	// vector's prefix does not count (AppliedAbove).
	above int
	max   uint64
	sum   uint64 // sum of the content hashes of 1..recv (conflict.go)
}

func (o *originLog) advance() {
	for e := o.seqs.get(o.recv + 1); e != nil; e = o.seqs.get(o.recv + 1) {
		o.recv++
		o.sum += contentHash(&e.m)
	}
	for e := o.seqs.get(o.applied + 1); e != nil && e.applied; e = o.seqs.get(o.applied + 1) {
		o.applied++
		o.above-- // every applied number past the prefix was counted (noteApplied)
	}
}

// noteApplied moves the prefixes past a batch the fold just applied. Each
// newly applied number lies beyond its log's prefix (the prefix counts
// only numbers applied before), so all are counted above first, then the
// prefixes advance over whatever became contiguous, in any batch order.
func (n *Node) noteApplied(batch []*entry) {
	for _, e := range batch {
		n.logOf(e.m.ID).above++
	}
	for _, e := range batch {
		n.logOf(e.m.ID).advance()
	}
}

// Node is one region's replication state machine. It does no IO, reads no
// clock and draws randomness only from Config.Rand: the driver passes time
// and messages in (Propose, Step, Tick) and carries out what Ready returns.
// A Node is not safe for concurrent use. Instants passed in must lie
// between 1970 and 2262 (time.Time.UnixNano's range): a simulator starts
// its virtual clock at a fixed date, or at time.Unix(0, 0).
type Node struct {
	cfg    Config
	region string
	rng    *rand.Rand

	clock   hlc
	now     int64 // latest input instant, unix nanoseconds
	started bool
	startAt int64 // the first input instant: a LostState node is stale since then
	nextSeq uint64

	origins  map[string]*originLog
	freeLogs []*originLog // emptied logs kept by Reset, reused by remember
	names    []string     // origins, sorted: deterministic iteration
	arena    entryArena   // storage of the entries
	fold     fold
	pending  pendingHeap

	peers  []string // sorted; may include self (at index self) and be shared with other nodes
	self   int      // index of this region in peers, or -1
	pick   []int32  // small clusters: a private permutation of the peers' positions
	chosen []int32  // large clusters: positions drawn this round

	rumors      rumorQueue // fit a packet
	streams     rumorQueue // too large for a packet
	packetLimit int        // bytes of rumors per gossip packet

	nextGossip, nextPushPull int64
	ppFor                    int   // cluster size ppEvery was computed for
	ppEvery                  int64 // push/pull interval scaled for it (pushPullScale)
	recovering               bool  // LostState or CatchUp: no commits until peers answered a push/pull
	lostState                bool  // recovering needs every peer's answer, then fills gaps
	// askingSince is when this node, recovering from lost state, first
	// asked a peer for its state (0: not yet): answersWhileRecovering.
	askingSince int64
	// fillWait: recovered from lost state, the node waits to fill (declare
	// lost) its own earlier commits until every region known to exist has
	// answered: a region cut off while it recovered may hold them.
	fillWait bool
	// answered holds, while recovering, the peers whose push/pull response
	// arrived and the vector it carried.
	answered map[string]VersionVector

	// ppStaggerEnd is when the first push/pull's stagger ends: memberlist
	// scales the first interval for the cluster size it knows then.
	ppStaggerEnd int64

	ready      Ready
	stats      Stats
	digest     [32]byte
	digestOK   bool
	scratchDue []*entry
	// known[i] is check's lookup of the i-th mutation of the message Step
	// is taking in, so receive need not repeat it (nil: unknown then).
	known []*entry
	same  []bool // same[i]: known[i] has the i-th mutation's content
	// lastOrigin/lastEpoch/lastLog cache lookup's last origin epoch: the mutations of one
	// message or one burst mostly share it, and a log never moves.
	lastOrigin string
	lastEpoch  uint64
	lastLog    *originLog
	lastFrom   string      // the last sender that passed validOrigin
	pos        pullOnSight // repair.go
	ack        *ackState   // ack.go; nil unless Config.Acks, so huge simulations pay nothing
	conflicts  []Conflict  // the latest conflicts met (conflict.go)
	loss       lossState   // closed origin epochs and their lost commits (loss.go)
	bound      boundState  // the max_lag bound (lagbound.go)
}

// NewNode returns a node with the view cfg.Initial and no peers. It panics
// if cfg.Region is not a valid region name (a programming error: every
// message would carry it). A nil cfg.Rand is replaced by a source seeded
// from the region name, so runs stay reproducible.
func NewNode(cfg Config) *Node {
	n := &Node{}
	n.init(cfg, nil)
	return n
}

// init sets up a node from cfg, in n's memory and with b's buffers (Reset)
// or fresh ones (b nil).
func (n *Node) init(cfg Config, b *nodeBuffers) {
	if err := validOrigin(cfg.Region); err != nil {
		panic(fmt.Sprintf("replication.NewNode: region: %v", err))
	}
	cfg.withDefaults()
	if cfg.Rand == nil {
		h := fnv.New64a()
		h.Write([]byte(cfg.Region))
		cfg.Rand = rand.New(rand.NewPCG(h.Sum64(), 0))
	}
	if b == nil {
		b = &nodeBuffers{}
	}
	n.cfg = cfg
	n.region = cfg.Region
	n.rng = cfg.Rand
	n.nextSeq = 1
	n.self = -1
	n.origins = b.origins
	if n.origins == nil {
		n.origins = map[string]*originLog{}
	}
	n.freeLogs, n.names, n.arena = b.freeLogs, b.names, b.arena
	n.fold = newFold(cfg.Initial, cfg.CheckpointEvery, cfg.MaxCheckpoints, cfg.FoldCache, b.entries, b.cps)
	n.pending.items = b.pending
	n.pick, n.chosen, n.scratchDue, n.known, n.same = b.pick, b.chosen, b.due, b.known, b.same
	n.ready = b.ready
	n.recovering = cfg.LostState || cfg.CatchUp
	n.lostState = cfg.LostState
	if n.recovering {
		n.answered = b.answered
		if n.answered == nil {
			n.answered = map[string]VersionVector{}
		}
	}
	n.pos.peers, n.pos.waits = b.sights, b.waits
	n.bound = b.bound
	if cfg.Acks {
		n.ack = b.ack
		if n.ack == nil {
			n.ack = &ackState{}
		}
	}
	numNodes := b.numNodes // it reads n, which Reset keeps in place
	if numNodes == nil {
		numNodes = func() int { return n.numPeers() + 1 }
	}
	n.rumors, n.streams = b.rumors, b.streams
	n.rumors.q.numNodes, n.rumors.q.mult = numNodes, cfg.Gossip.RetransmitMult
	n.streams.q.numNodes, n.streams.q.mult = numNodes, cfg.Gossip.RetransmitMult
	n.packetLimit = cfg.PacketBytes - packetReserve - headerSize(cfg.Region)
	if !cfg.Start.IsZero() {
		n.start(cfg.Start.UnixNano())
	}
}

// Region returns the node's region name.
func (n *Node) Region() string { return n.region }

// Epoch returns the epoch of the node's own commits (Config.Epoch).
func (n *Node) Epoch() uint64 { return n.cfg.Epoch }

// ownEpoch reports whether id was issued by this region in its current
// epoch: only those share the sequence this node continues.
func (n *Node) ownEpoch(id MutationID) bool { return id.Epoch == n.cfg.Epoch && id.Origin == n.region }

// start arms the timers at a random stagger, as memberlist does, so that
// regions started together do not gossip in lockstep.
func (n *Node) start(now int64) {
	if n.started {
		return
	}
	n.started = true
	n.now = now
	n.startAt = now
	n.nextGossip = now + stagger(n.rng, n.cfg.Gossip.Interval)
	if pp := n.cfg.Gossip.PushPullInterval; pp > 0 {
		// memberlist's pushPullTrigger sleeps the random stagger and then
		// a whole (cluster-size scaled) interval before its first
		// push/pull; starting at the stagger alone made the simulator's
		// first anti-entropy come an interval earlier than a live node's
		// (docs/validation.md).
		n.ppStaggerEnd = now + stagger(n.rng, pp)
		n.nextPushPull = n.ppStaggerEnd + n.pushPullEvery()
	}
}

// pushPullEvery is the push/pull interval scaled for the current cluster
// size, computed once per size (it takes two logarithms).
func (n *Node) pushPullEvery() int64 {
	if size := n.numPeers() + 1; size != n.ppFor || n.ppEvery == 0 {
		n.ppFor, n.ppEvery = size, int64(pushPullScale(n.cfg.Gossip.PushPullInterval, size))
	}
	return n.ppEvery
}

// stagger draws a timer's first offset in [0, interval), in whole
// milliseconds when the interval allows: traces stay readable and nothing
// depends on sub-millisecond phases.
func stagger(r *rand.Rand, interval time.Duration) int64 {
	if interval >= 10*time.Millisecond {
		return r.Int64N(int64(interval/time.Millisecond)) * int64(time.Millisecond)
	}
	return r.Int64N(int64(interval))
}

// SetPeers sets the live membership; self and duplicates are ignored. The
// driver calls it whenever membership changes; the cluster size it implies
// sets the retransmit limit and the push/pull scale. A slice that is
// already sorted without duplicates is kept, not copied (do not modify it
// afterwards); checking that costs O(len), so a driver with thousands of
// nodes builds one Membership and hands it to all of them instead.
func (n *Node) SetPeers(regions []string) { n.SetMembership(NewMembership(regions)) }

// Membership is a sorted, duplicate-free list of regions, built once and
// shared by any number of nodes (memory stays linear in nodes, and each
// node's SetMembership costs O(log n)).
type Membership struct{ regions []string }

// NewMembership builds a membership from regions in any order. A slice
// that is already sorted without duplicates is kept, not copied.
func NewMembership(regions []string) *Membership {
	if !strictlySorted(regions) {
		regions = slices.Compact(slices.Sorted(slices.Values(regions)))
	}
	return &Membership{regions: regions}
}

// Len returns the number of regions.
func (m *Membership) Len() int { return len(m.regions) }

// SetMembership is SetPeers with a prebuilt Membership; this node's own
// region in it is ignored.
func (n *Node) SetMembership(m *Membership) {
	n.peers = m.regions
	n.self = -1
	if i, ok := slices.BinarySearch(n.peers, n.region); ok {
		n.self = i
	}
	n.pick = n.pick[:0]
	if n.ack != nil {
		n.countRegions(m.regions) // lagbound.go: only acks can vouch for them
	}
	if n.started && n.cfg.Gossip.PushPullInterval > 0 && n.now < n.ppStaggerEnd {
		// Still in the first stagger: the first interval is scaled for
		// the membership known when the stagger ends (memberlist's
		// pushPullTrigger), not the one at start (often just this node).
		n.nextPushPull = n.ppStaggerEnd + n.pushPullEvery()
	}
}

func strictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// numPeers is the membership size without self.
func (n *Node) numPeers() int {
	if n.self >= 0 {
		return len(n.peers) - 1
	}
	return len(n.peers)
}

// Peers returns the current membership without self, sorted.
func (n *Node) Peers() []string {
	out := make([]string, 0, n.numPeers())
	for i, p := range n.peers {
		if i != n.self {
			out = append(out, p)
		}
	}
	return out
}

// Propose validates c against the local view and commits it: stamped with
// the region's hybrid logical clock and next sequence number, applied
// locally at once (reported in Ready.Applied at now), listed in
// Ready.Persist and queued for gossip. A rejected call changes nothing; the
// error is the view's *controlplane.APIError, or ErrMalformed for a call
// too large to replicate. An empty c.Region is set to this region.
func (n *Node) Propose(now time.Time, c controlplane.Call) (Mutation, error) {
	t := now.UnixNano()
	n.advance(t)
	t = n.now
	if n.recovering {
		if !n.lostState {
			return Mutation{}, &controlplane.APIError{Code: "ServiceUnavailable",
				Message: n.region + " is catching up with its peers after a restart; retry once one has answered its anti-entropy request"}
		}
		return Mutation{}, &controlplane.APIError{Code: "ServiceUnavailable",
			Message: n.region + " is recovering lost state from its peers; retry once every peer has answered its anti-entropy request"}
	}
	if c.Region == "" {
		c.Region = n.region
	}
	c.Args = bytes.Clone(c.Args) // the caller may reuse its buffer
	if err := n.fold.view.Validate(c); err != nil {
		return Mutation{}, err
	}
	clock := n.clock
	m := Mutation{
		ID:     MutationID{Origin: n.region, Epoch: n.cfg.Epoch, Seq: n.nextSeq},
		TS:     clock.now(t),
		Call:   c,
		Revoke: controlplane.IsRevoke(c),
	}
	if err := m.Validate(); err != nil {
		return Mutation{}, err
	}
	n.sign(&m)
	n.clock = clock
	n.nextSeq++
	e := n.arena.new(m)
	n.remember(e)
	n.ready.Persist = append(n.ready.Persist, m)
	n.enqueue(e)
	n.applyAt([]*entry{e}, t)
	n.stats.Committed++
	return m, nil
}

// Step handles one message from a peer. A message that is malformed, comes
// from this region or carries a timestamp implausibly far in the future is
// rejected whole with an error wrapping ErrMalformed, and changes nothing.
// A mutation whose ID is known with different content (a forged origin, or
// a sequence number reused after lost state) is dropped and counted in
// Stats.Conflicts, and Step returns an error wrapping ErrConflict; one that
// claims a sequence number no honest peer sends (bounds.go) is dropped and
// counted likewise, with ErrImplausible. The message's other mutations are
// taken in, so one bad mutation cannot stall anti-entropy between two
// regions for good. Step copies what it keeps of
// m's mutations (sharing their Args bytes, which nobody modifies), so the
// caller may reuse m.Mutations' slice afterwards (the simulator's
// MessagePool does).
func (n *Node) Step(now time.Time, m Message) error {
	n.advance(now.UnixNano())
	if m.Kind.valid() {
		n.stats.Received[m.Kind]++
	} else {
		n.stats.Received[0]++
	}
	if err := n.check(&m); err != nil {
		n.stats.Rejected++
		return err
	}
	n.stats.MutationsReceived += uint64(len(m.Mutations))
	conflict := n.receive(m.Mutations, m.From)
	n.known = n.known[:0] // stale pointers to the node's own entries: nothing to release
	n.noteClaims(&m)      // and pull on sight's look at an advert: one scan of it
	n.takeAcks(m.Acks)    // KindAck, or riding on KindGossip
	switch m.Kind {
	case KindPushPullRequest:
		if !n.answersWhileRecovering() {
			n.stats.UnansweredRecovering++
			break
		}
		// Reply with our vector and what the requester lacks; it answers
		// with what we lack (the "push" half).
		n.sendMissing(m.From, m.Vector, KindPushPullResponse, n.sharedRecvVector(), n.recvSums())
		n.compareSums(m.From, m.Vector, m.Sums)
		n.sendAllAcks(m.From)
	case KindPushPullResponse:
		n.sendMissing(m.From, m.Vector, KindRepair, nil, nil)
		n.compareSums(m.From, m.Vector, m.Sums)
		n.sendAllAcks(m.From)
		n.heardFrom(m.From, m.Vector)
		if n.recovering || n.fillWait {
			// The responder sends everything it had that we lacked, our
			// own earlier commits included, in this message and the repair
			// messages after it: recovery waits until we hold all of it.
			n.answered[m.From] = m.Vector
		}
	}
	if n.recovering && (len(m.Mutations) > 0 || m.Kind == KindPushPullResponse) {
		n.checkRecovered()
	} else if n.fillWait && (len(m.Mutations) > 0 || m.Kind == KindPushPullResponse) {
		n.tryFill()
	}
	return conflict
}

// ErrConflict is wrapped by the error for a mutation whose ID is known with
// different content: a forged origin, a corrupted message, or a sequence
// number reused after a region lost its state.
var ErrConflict = errors.New("replication: conflicting mutation")

// check validates a message before it changes anything.
func (n *Node) check(m *Message) error {
	n.known = n.known[:0]
	n.same = n.same[:0]
	if !m.Kind.valid() {
		return fmt.Errorf("%w: message kind %d", ErrMalformed, m.Kind)
	}
	if m.From != n.lastFrom {
		if err := validOrigin(m.From); err != nil {
			return fmt.Errorf("%w (sender)", err)
		}
		n.lastFrom = m.From // valid: the next message from it skips the scan
	}
	if m.From == n.region {
		return fmt.Errorf("%w: message claims to come from this region (%s)", ErrMalformed, m.From)
	}
	if len(m.Mutations) > MaxMutationsPerMessage {
		return fmt.Errorf("%w: %d mutations exceed %d", ErrMalformed, len(m.Mutations), MaxMutationsPerMessage)
	}
	switch m.Kind {
	case KindPushPullRequest, KindPushPullResponse:
		if m.Vector == nil {
			return fmt.Errorf("%w: %s without a version vector", ErrMalformed, m.Kind)
		}
		if len(m.Vector) > MaxVectorEntries {
			return fmt.Errorf("%w: version vector of %d origins exceeds %d", ErrMalformed, len(m.Vector), MaxVectorEntries)
		}
	}
	if m.Kind == KindPushPullRequest && len(m.Mutations) > 0 {
		return fmt.Errorf("%w: %s carries mutations", ErrMalformed, m.Kind)
	}
	if err := checkAcks(m, n.ack); err != nil {
		return err
	}
	var horizon int64 = math.MaxInt64
	if off := n.cfg.MaxClockOffset; off > 0 {
		horizon = n.now + int64(off)
	}
	for i := range m.Mutations {
		mu := &m.Mutations[i]
		e := n.lookup(mu.ID)
		if e != nil && sameContent(&e.m, mu) {
			// A copy of a mutation this region accepted: valid, and its
			// timestamp passed the horizon then (the common duplicate).
			n.known = append(n.known, e)
			n.same = append(n.same, true)
			continue
		}
		if err := mu.validateFields(); err != nil {
			return err
		}
		if mu.TS.Wall > horizon {
			n.stats.RefusedFuture++
			return fmt.Errorf("%w: %s: timestamp %s is %v ahead of this region's clock", ErrMalformed, mu.ID, mu.TS.Time().Format(time.RFC3339Nano), time.Duration(mu.TS.Wall-n.now))
		}
		if e == nil {
			if err := n.validArgs(mu); err != nil {
				return err
			}
		}
		n.known = append(n.known, e)
		n.same = append(n.same, false)
	}
	return nil
}

// validArgs checks a new mutation's arguments are JSON, once per
// simulation when nodes share a FoldCache (FoldCache.validArgs).
func (n *Node) validArgs(mu *Mutation) error {
	if c := n.cfg.FoldCache; c != nil {
		return c.validArgs(mu)
	}
	return mu.validateArgs()
}

// lookup finds the entry of id, caching the last origin looked up (gossip
// carries runs of one origin). It writes that cache, so it is for the
// node's own input paths only; read-only queries use peek.
func (n *Node) lookup(id MutationID) *entry {
	if o := n.logOf(id); o != nil {
		return o.seqs.get(id.Seq)
	}
	return nil
}

// logOf returns the log of id's origin epoch (nil if unknown), through the
// lookup cache: building the stream name of an epoch other than 0 costs an
// allocation, paid once per run of one origin epoch.
func (n *Node) logOf(id MutationID) *originLog {
	o := n.lastLog
	if o == nil || n.lastOrigin != id.Origin || n.lastEpoch != id.Epoch {
		if o = n.origins[id.Stream()]; o == nil {
			return nil
		}
		n.lastOrigin, n.lastEpoch, n.lastLog = id.Origin, id.Epoch, o
	}
	return o
}

// peek finds the entry of id without touching the lookup cache, so that
// read-only queries (Has, Knows) stay reads: a driver may call them from
// several goroutines under a read lock.
func (n *Node) peek(id MutationID) *entry {
	if o := n.origins[id.Stream()]; o != nil {
		return o.seqs.get(id.Seq)
	}
	return nil
}

// remember records a new entry under its origin epoch.
func (n *Node) remember(e *entry) {
	o := n.logOf(e.m.ID)
	if o == nil {
		name := e.m.ID.Stream()
		if k := len(n.freeLogs); k > 0 {
			o, n.freeLogs = n.freeLogs[k-1], n.freeLogs[:k-1]
		} else {
			o = &originLog{}
		}
		n.noteNewStream(e.m.ID) // before it is listed: another epoch of its origin?
		n.origins[name] = o
		i, _ := slices.BinarySearch(n.names, name)
		n.names = slices.Insert(n.names, i, name)
	}
	o.seqs.put(e.m.ID.Seq, e)
	o.max = max(o.max, e.m.ID.Seq)
	o.advance()
	n.noteReceivedGrew()
}

// receive takes in checked mutations: new ones are persisted, re-queued for
// gossip (memberlist gossip is not transitive: each receiver spreads what
// is new to it) and scheduled to apply at max(receipt, commit + delay).
func (n *Node) receive(ms []Mutation, from string) (conflict error) {
	now := n.now
	due := n.scratchDue[:0]
	known := n.known
	if len(known) != len(ms) {
		known = nil // not the message check just saw
	}
	for i := range ms {
		mu := &ms[i]
		var e *entry
		if known != nil {
			if e = known[i]; e != nil && n.same[i] {
				n.stats.Duplicates++
				continue
			}
		}
		if e == nil {
			// Unknown at check, but an earlier copy in this message may
			// have just been taken in.
			e = n.lookup(mu.ID)
		}
		if e != nil {
			if sameContent(&e.m, mu) {
				n.stats.Duplicates++
			} else if err := n.verify(mu); err != nil {
				// A forgery must not even take part in conflict resolution.
				if conflict == nil {
					conflict = err
				}
			} else if err := n.conflict(e, mu, from); conflict == nil {
				conflict = err
			}
			continue
		}
		if err := n.verify(mu); err != nil {
			if conflict == nil {
				conflict = err
			}
			continue
		}
		if err := n.plausible(mu); err != nil {
			if conflict == nil {
				conflict = err
			}
			continue
		}
		e = n.arena.new(*mu)
		n.remember(e)
		n.clock.observe(mu.TS)
		if n.ownEpoch(mu.ID) && mu.ID.Seq >= n.nextSeq {
			// Our own commits, learned back after losing state: never
			// reuse their sequence numbers.
			n.nextSeq = mu.ID.Seq + 1
		}
		n.ready.Persist = append(n.ready.Persist, e.m)
		n.enqueue(e)
		at := now
		// An S3 data-plane write is no control-plane change: its copy
		// applies on receipt, not after the propagation delay.
		if n.cfg.Delay != nil && !controlplane.IsDataPlane(mu.Call.Action) {
			d := n.cfg.Delay.Sample(mu.ID.Origin, n.region, mu.Revoke, n.rng)
			if a := satAdd(mu.TS.Wall, int64(d)); a > now {
				at = a
			}
		}
		if at <= now {
			due = append(due, e)
		} else {
			n.pending.push(pendingItem{at: at, e: e})
		}
	}
	n.applyAt(due, now)
	n.scratchDue = due[:0] // the node's own entries: nothing to release
	return conflict
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// applyAt folds a batch into the view at instant at and reports it.
func (n *Node) applyAt(batch []*entry, at int64) {
	if len(batch) == 0 {
		return
	}
	n.fold.apply(batch) // sorts batch in the total order
	n.digestOK = false
	when := time.Unix(0, at).UTC()
	if n.ack != nil {
		n.ack.epoch++
	}
	n.noteApplied(batch)
	for _, e := range batch {
		e.at = at
		if e.m.Call.Action != GapAction { // fillers change no view
			n.ready.Applied = append(n.ready.Applied, Applied{Mutation: e.m, At: when})
		}
	}
	n.stats.Applied += uint64(len(batch))
}

// Tick advances the node to now: it applies at now, in the order of their
// apply times, every received mutation whose apply time has come, and runs the
// gossip round and push/pull if they are due. Propose and Step do the same
// first. A driver that calls Tick at every Ready.Deadline applies each
// mutation at its apply time exactly; one whose timer wakes late reports
// the late instant, when its view really changed.
func (n *Node) Tick(now time.Time) { n.advance(now.UnixNano()) }

func (n *Node) advance(now int64) {
	if !n.started {
		n.start(now)
	}
	if now < n.now {
		now = n.now // time never goes backwards for the node
	}
	n.now = now
	for n.pending.len() > 0 && n.pending.top().at <= now {
		at := n.pending.top().at
		due := n.scratchDue[:0]
		for n.pending.len() > 0 && n.pending.top().at == at {
			due = append(due, n.pending.pop().e)
		}
		// Reported at now, when the view changes: a driver whose timer
		// woke late applies late, and says so (the simulator's does not).
		n.applyAt(due, now)
		n.scratchDue = due[:0]
	}
	if n.nextGossip <= now {
		if n.recovering || n.fillWait {
			n.askUnanswered()
		}
		n.askClosing()
		n.pullWaiting()
		mark := len(n.ready.Messages)
		n.gossipRound()
		n.advertise(mark)
		n.nextGossip = gridNext(n.nextGossip, int64(n.cfg.Gossip.Interval), now)
	}
	if pp := n.cfg.Gossip.PushPullInterval; pp > 0 && n.nextPushPull <= now {
		n.pushPull()
		n.nextPushPull = gridNext(n.nextPushPull, n.pushPullEvery(), now)
	}
}

// Ready returns the effects accumulated since the last call and the next
// deadline. The driver sends the messages, makes Persist durable and
// records Applied.
func (n *Node) Ready() Ready {
	r := n.ready
	n.ready = Ready{}
	r.Deadline = n.deadline()
	return r
}

func (n *Node) deadline() time.Time {
	if !n.started {
		return time.Time{}
	}
	var d int64 = math.MaxInt64
	if n.pending.len() > 0 {
		d = n.pending.top().at
	}
	if n.numPeers() > 0 {
		if n.rumors.len() > 0 || n.streams.len() > 0 || n.recovering || n.advertising() || n.acking() || n.closing() {
			d = min(d, gridNext(n.nextGossip, int64(n.cfg.Gossip.Interval), n.now-1))
		}
		if pp := n.cfg.Gossip.PushPullInterval; pp > 0 {
			d = min(d, gridNext(n.nextPushPull, n.pushPullEvery(), n.now-1))
		}
	}
	if d == math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, d).UTC()
}

// View returns the region's current view. It is read-only and valid until
// the next Propose, Step, Tick or Restore (a re-fold replaces it).
func (n *Node) View() *controlplane.State { return n.fold.view }

// Digest returns the view's digest (cached until the view changes).
func (n *Node) Digest() [32]byte {
	if !n.digestOK {
		n.digest = n.fold.view.Digest()
		n.digestOK = true
	}
	return n.digest
}

// Vector returns, per origin epoch (MutationID.Stream), the highest
// sequence number s such that mutations 1..s of it are all applied here.
func (n *Node) Vector() VersionVector {
	v := make(VersionVector, len(n.origins))
	for name, o := range n.origins {
		if o.applied > 0 {
			v[name] = o.applied
		}
	}
	return v
}

// CommittedAt returns the commit instant (timestamp) of the mutation held
// here under id, applied or still pending, and whether one is held.
func (n *Node) CommittedAt(id MutationID) (time.Time, bool) {
	if e := n.peek(id); e != nil {
		return e.m.CommitTime(), true
	}
	return time.Time{}, false
}

// AppliedAbove returns, per origin epoch (Vector's key), the inclusive
// ranges of sequence numbers the view holds beyond Vector's contiguous
// prefix: a view applies mutations in timestamp order as they arrive, so
// after a lost id (until its filler settles) or a late one, it holds
// later numbers the prefix does not count. The view is exactly the
// prefix and these. Only streams that hold some are listed, taken in
// name order until limit ranges in all: truncated reports that some
// were left out (a hostile peer could make a view hold many scattered
// numbers). Nil, without allocating, when there are none: always once the
// view has caught up.
func (n *Node) AppliedAbove(limit int) (above map[string][]SeqRange, truncated bool) {
	ranges := 0
	for _, name := range n.names {
		o := n.origins[name]
		if o.above <= 0 {
			continue
		}
		if ranges >= limit {
			return above, true
		}
		rs, cut := o.appliedAbove(limit - ranges)
		if above == nil {
			above = map[string][]SeqRange{}
		}
		above[name] = rs
		ranges += len(rs)
		if cut {
			return above, true
		}
	}
	return above, false
}

// appliedAbove lists the log's applied numbers beyond its prefix as at
// most limit ranges (cut: more were left out). It walks the dense index
// from the prefix until it has met all o.above of them, and sorts what the
// sparse index holds: a number far ahead costs no walk to it.
func (o *originLog) appliedAbove(limit int) (rs []SeqRange, cut bool) {
	found := 0
	add := func(s uint64) bool {
		found++
		if k := len(rs); k > 0 && rs[k-1].To+1 == s {
			rs[k-1].To = s
			return true
		}
		if len(rs) == limit {
			return false
		}
		rs = append(rs, SeqRange{s, s})
		return true
	}
	d := o.seqs.dense
	for i := o.applied + 1; i < uint64(len(d)) && found < o.above; i++ { // d[i] holds number i+1
		if e := d[i]; e != nil && e.applied && !add(i+1) {
			return rs, true
		}
	}
	if found < o.above {
		var sparse []uint64
		for s, e := range o.seqs.sparse {
			if e.applied && s > o.applied {
				sparse = append(sparse, s)
			}
		}
		slices.Sort(sparse)
		for _, s := range sparse {
			if !add(s) {
				return rs, true
			}
		}
	}
	return rs, false
}

// Has reports whether the mutation is applied here (visible in the view).
func (n *Node) Has(id MutationID) bool {
	e := n.peek(id)
	return e != nil && e.applied
}

// Includes reports whether the view includes id and every earlier
// mutation of its origin epoch: what an at_least consistency token waits
// for. A read after a write (or after a token) then sees that origin's
// history up to it, not the token's mutation alone while an earlier one
// of the same origin is still missing.
func (n *Node) Includes(id MutationID) bool {
	o := n.origins[id.Stream()]
	return id.Seq != 0 && o != nil && o.applied >= id.Seq
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := n.stats
	s.Refolds, s.RefoldApplies = n.fold.refolds, n.fold.refoldSteps
	s.Pending = n.pending.len()
	s.Checkpoints = len(n.fold.cps)
	return s
}

// Restore replays a durable log (the Persist lists of a previous
// incarnation) after a crash, before any other input: every mutation in it
// is known and applied at now (its AppliedAt here), in the total order, with no Applied report (they
// were reported before the crash, or were pending and become visible now),
// no gossip and no Persist. Anti-entropy then fetches what the log lacks.
// Entries that fail validation, carry a sequence number above MaxSeq (a
// forgery taken in before the bounds existed) or conflict with an earlier
// entry are skipped and counted as rejected.
func (n *Node) Restore(now time.Time, log []Mutation) {
	if len(log) > 0 {
		n.bound.restored = true // lagbound.go
	}
	var batch []*entry
	for i := range log {
		mu := &log[i]
		if mu.Validate() != nil || mu.ID.Seq > MaxSeq {
			n.stats.Rejected++
			continue
		}
		if e := n.lookup(mu.ID); e != nil {
			if !sameContent(&e.m, mu) {
				// Both versions in the log (a conflict resolved before the
				// crash persisted its winner): keep the same one.
				n.stats.Rejected++
				if n.noteConflict(e, mu, "") {
					if o := n.logOf(e.m.ID); e.m.ID.Seq <= o.recv {
						o.sum += contentHash(mu) - contentHash(&e.m)
					}
					e.m, e.size = *mu, mutationBodySize(mu) // not applied yet: the batch folds it
				}
			}
			continue
		}
		e := n.arena.new(*mu)
		e.size = mutationBodySize(mu)
		n.remember(e)
		n.clock.observe(mu.TS)
		if n.ownEpoch(mu.ID) && mu.ID.Seq >= n.nextSeq {
			n.nextSeq = mu.ID.Seq + 1
		}
		batch = append(batch, e)
	}
	if len(batch) == 0 {
		return
	}
	n.fold.apply(batch)
	n.digestOK = false
	if n.ack != nil {
		n.ack.epoch++
	}
	at := now.UnixNano()
	for _, e := range batch {
		e.at = at
	}
	n.noteApplied(batch)
}

// Recovering reports whether the node lost its state and has not yet heard
// a push/pull response (it refuses commits meanwhile): a /readyz answer.
func (n *Node) Recovering() bool { return n.recovering }

// Pending returns how many received mutations wait for their apply time.
func (n *Node) Pending() int { return n.pending.len() }

// NumApplied returns how many mutations the view is the fold of (restored
// ones and gap fillers included): the "applied" of GET /v1/view.
func (n *Node) NumApplied() int { return len(n.fold.entries) }
