package replication

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Loss: the commits an origin acknowledged and lost with its disk before
// any other region held them. Nothing can bring them back without a
// synchronous replication protocol, which iamprop does not model (nor does
// AWS IAM); what it promises is that such a loss is reported by the
// regions themselves, never silent.
//
// A region remembers, per origin epoch (stream), the highest sequence
// number any region was seen to hold (a peer's vector in a push/pull or an
// advert, an ack). A stream is closed once its origin is known to have
// moved on to another epoch: at the origin itself, every epoch of its own
// but the current one (it learns them back from its peers); elsewhere, a
// stream of the origin whose commits are all older than a commit of
// another epoch of it (an origin runs one epoch at a time, and a region
// recovering from a lost log commits only after it has heard its peers,
// so its new epoch's timestamps come after every old one it learned).
// Before reporting, the region gives anti-entropy the chance to fetch what
// any reachable region still holds: it asks every current peer for a
// push/pull and waits until it holds what each answer covered. The stream
// is then settled: every id of it this region does not hold, or holds as
// a gap filler, is lost, exactly (held, claimed] plus "anything after" the
// highest id known (how many, nobody can know). A settled stream is
// reported once in Ready.Lost; Lost and IsLost answer from the current
// holdings, so an id a returning region brings back stops being lost.

// LostStream is one closed origin epoch, as this region reports it: the
// ids in Missing are known lost, and so is every id after
// max(HeldThrough, ClaimedThrough), if the origin committed any.
type LostStream struct {
	Origin string
	Epoch  uint64
	// HeldThrough is the highest sequence number this region holds of
	// the stream (a gap filler included).
	HeldThrough uint64
	// ClaimedThrough is the highest sequence number any region was seen
	// to hold, HeldThrough if none was seen beyond it.
	ClaimedThrough uint64
	// Missing lists the ranges of ids up to ClaimedThrough this region
	// does not hold, or holds as a gap filler only: known lost.
	Missing []SeqRange
	// DetectedAt is when the stream settled here (this region's clock).
	DetectedAt time.Time
}

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct{ From, To uint64 }

// Known counts the ids known lost (Missing); the unknown tail after
// max(HeldThrough, ClaimedThrough) is not counted.
func (l LostStream) Known() uint64 {
	var k uint64
	for _, r := range l.Missing {
		k += r.To - r.From + 1
	}
	return k
}

// Stream returns the stream name of the lost origin epoch.
func (l LostStream) Stream() string { return StreamName(l.Origin, l.Epoch) }

// Covers reports whether l says id is lost: in Missing, or after the
// highest id known.
func (l LostStream) Covers(id MutationID) bool {
	if id.Origin != l.Origin || id.Epoch != l.Epoch || id.Seq == 0 {
		return false
	}
	if id.Seq > max(l.HeldThrough, l.ClaimedThrough) {
		return true
	}
	for _, r := range l.Missing {
		if id.Seq >= r.From && id.Seq <= r.To {
			return true
		}
	}
	return false
}

// maxClaims bounds the remembered claims, so a forger naming streams
// without end cannot make the map grow without limit.
const maxClaims = 4 * MaxVectorEntries

// lossState is the node's part of it.
type lossState struct {
	// claims holds, per stream, the highest sequence number a region was
	// seen to hold, where that exceeded what this region held then.
	claims map[string]uint64
	closed map[string]*closedStream
	names  []string // keys of closed, sorted: deterministic iteration
	open   int      // closed streams not settled yet
	dirty  bool     // a stream appeared that may close another: check
	// answered holds the peers whose push/pull answer arrived since the
	// node started, until every current peer (one at least) is in it:
	// then heardAll is set for good, and the node may say its own ids of
	// other epochs that it does not hold are lost.
	answered map[string]bool
	heardAll bool
}

// closedStream is one stream known closed.
type closedStream struct {
	origin string
	epoch  uint64
	// heard holds the peers whose push/pull answer arrived since the
	// stream closed, and the sequence number their answer covered.
	heard    map[string]uint64
	detected int64 // when it settled; 0 while not yet
}

// noteNewStream runs when the node first holds a mutation of id's stream:
// if its origin has another stream here, one of them may close.
func (n *Node) noteNewStream(id MutationID) {
	if n.loss.dirty {
		return
	}
	if id.Origin == n.region {
		if id.Epoch != n.cfg.Epoch {
			n.loss.dirty = true
		}
		return
	}
	if id.Epoch != 0 && n.origins[id.Origin] != nil {
		n.loss.dirty = true
		return
	}
	// The other epochs of an origin sort together, right after "origin@".
	prefix := id.Origin + string(epochSep)
	name := id.Stream()
	j, _ := slices.BinarySearch(n.names, prefix)
	for ; j < len(n.names) && strings.HasPrefix(n.names[j], prefix); j++ {
		if n.names[j] != name {
			n.loss.dirty = true
			return
		}
	}
}

// noteClaims remembers what a message's vectors say its sender (or, for
// acks, the regions they name) holds beyond what this region holds, and
// hands a gossip message's advertised vector to pull on sight
// (pullIfBehind), from the same scan: adverts are most of a large
// cluster's messages, and scanning each twice was 3% of a 35-region
// trial's CPU.
func (n *Node) noteClaims(m *Message) {
	if m.Vector != nil && (m.Kind == KindGossip || m.Kind == KindStream) && n.sighting() {
		behind, equal := n.claimAndCompare(m.Vector)
		n.pullIfBehind(m.From, m.Vector, behind, equal)
	} else {
		n.claim(m.Vector)
	}
	for i := range m.Acks {
		n.claim(m.Acks[i].Vector)
	}
}

func (n *Node) claim(v VersionVector) {
	for stream, s := range v {
		var held uint64
		if o := n.origins[stream]; o != nil {
			held = o.max
		}
		n.claimStream(stream, s, held)
	}
}

// claimStream is claim for one entry of a vector, held being what this
// region holds of the stream (originLog.max).
func (n *Node) claimStream(stream string, s, held uint64) {
	if s <= held || s-held > n.cfg.MaxSeqAhead {
		return // nothing new, or implausible (bounds.go)
	}
	if n.loss.claims == nil {
		n.loss.claims = map[string]uint64{}
	}
	if c, ok := n.loss.claims[stream]; ok || len(n.loss.claims) < maxClaims {
		n.loss.claims[stream] = max(c, s)
	}
}

// claimAndCompare is claim(theirs) that also reports whether theirs
// counts a mutation this region has not received (behind) and, if not,
// how many of this region's received prefixes it equals (pullIfBehind).
func (n *Node) claimAndCompare(theirs VersionVector) (behind bool, equal int) {
	for stream, s := range theirs {
		var held, have uint64
		if o := n.origins[stream]; o != nil {
			held, have = o.max, o.recv
		}
		n.claimStream(stream, s, held)
		switch {
		case s > have:
			behind = true
		case s == have && s > 0:
			equal++
		}
	}
	return behind, equal
}

// checkClosures closes the streams whose origin moved on to another
// epoch, once something may have changed (noteNewStream).
func (n *Node) checkClosures() {
	if !n.loss.dirty || n.recovering {
		return
	}
	n.loss.dirty = false
	byOrigin := map[string][]string{}
	for _, name := range n.names {
		origin := name
		if i := strings.IndexByte(name, epochSep); i >= 0 {
			origin = name[:i]
		}
		byOrigin[origin] = append(byOrigin[origin], name)
	}
	for _, origin := range slices.Sorted(mapKeys(byOrigin)) {
		streams := byOrigin[origin]
		if origin == n.region {
			for _, name := range streams {
				if _, ep, err := ParseStream(name); err == nil && ep != n.cfg.Epoch {
					n.closeStream(origin, ep, name)
				}
			}
			continue
		}
		if len(streams) < 2 {
			continue
		}
		// The current epoch is the one with the newest commit; the
		// others ended before it began.
		var cur string
		var curTS Timestamp
		for _, name := range streams {
			ts := newestTS(n.origins[name])
			if cur == "" || ts.Compare(curTS) > 0 {
				cur, curTS = name, ts
			}
		}
		for _, name := range streams {
			if name == cur {
				continue
			}
			if _, ep, err := ParseStream(name); err == nil {
				n.closeStream(origin, ep, name)
			}
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// newestTS is the latest timestamp among a stream's mutations held here.
func newestTS(o *originLog) Timestamp {
	var ts Timestamp
	o.seqs.each(func(_ uint64, e *entry) {
		if e.m.TS.Compare(ts) > 0 {
			ts = e.m.TS
		}
	})
	return ts
}

// closeStream records a stream as closed (once).
func (n *Node) closeStream(origin string, epoch uint64, name string) {
	if n.loss.closed[name] != nil {
		return
	}
	if n.loss.closed == nil {
		n.loss.closed = map[string]*closedStream{}
	}
	n.loss.closed[name] = &closedStream{origin: origin, epoch: epoch, heard: map[string]uint64{}}
	i, _ := slices.BinarySearch(n.loss.names, name)
	n.loss.names = slices.Insert(n.loss.names, i, name)
	n.loss.open++
}

// heardFrom records a push/pull answer for the streams closing.
func (n *Node) heardFrom(from string, v VersionVector) {
	if !n.loss.heardAll {
		if n.loss.answered == nil {
			n.loss.answered = map[string]bool{}
		}
		n.loss.answered[from] = true
		n.checkHeardAll()
	}
	if n.loss.open == 0 {
		return
	}
	for _, name := range n.loss.names {
		if cs := n.loss.closed[name]; cs.detected == 0 {
			cs.heard[from] = v[name]
		}
	}
	n.settle()
}

// checkHeardAll sets heardAll once every current peer, one at least, has
// answered a push/pull since the node started.
func (n *Node) checkHeardAll() {
	if n.loss.heardAll || n.numPeers() == 0 {
		return
	}
	for i, p := range n.peers {
		if i != n.self && !n.loss.answered[p] {
			return
		}
	}
	n.loss.heardAll = true
	n.loss.answered = nil
}

// settle reports the closing streams every current peer has answered for,
// once this region holds all their answers covered. With no peer there is
// nobody to ask yet: a membership not listed yet is not a cluster of one.
func (n *Node) settle() {
	if n.loss.open == 0 || n.numPeers() == 0 {
		return
	}
	for _, name := range n.loss.names {
		cs := n.loss.closed[name]
		if cs.detected != 0 {
			continue
		}
		var recv uint64
		if o := n.origins[name]; o != nil {
			recv = o.recv
		}
		done := true
		for i, p := range n.peers {
			if s, ok := cs.heard[p]; i != n.self && (!ok || s > recv) {
				done = false
				break
			}
		}
		if !done {
			continue
		}
		cs.detected = n.now
		cs.heard = nil
		n.loss.open--
		if cs.origin == n.region {
			n.fillOwnGaps(name)
		}
		n.ready.Lost = append(n.ready.Lost, n.lostStream(name, cs))
	}
}

// maxFill bounds the fillers one settled stream gets: a gap wider than
// that comes from a forged sequence number, not from lost commits.
const maxFill = 1 << 20

// fillOwnGaps commits, once one of this region's own closed epochs
// settled, a GapAction filler for every id of it below the highest one
// held that no region returned, as recovery from a lost log does
// (antientropy.go fillGaps): only the origin can sign a filler, and
// without one every version vector stops below the gap for good. A
// region that kept its log but not every record of it (--recover)
// recovers in a new epoch without a lost-state recovery, so it fills here.
func (n *Node) fillOwnGaps(name string) {
	o := n.origins[name]
	if o == nil || o.max-o.recv > maxFill {
		return
	}
	origin, epoch, err := ParseStream(name)
	if err != nil {
		return
	}
	var fill []*entry
	for s := o.recv + 1; s < o.max; s++ {
		if o.seqs.get(s) != nil {
			continue
		}
		fill = append(fill, n.newFiller(MutationID{Origin: origin, Epoch: epoch, Seq: s}))
	}
	if len(fill) == 0 {
		return
	}
	n.fold.apply(fill)
	for _, e := range fill {
		e.at = n.now
	}
	n.noteApplied(fill)
	if n.ack != nil {
		n.ack.epoch++ // the applied vector moved: ack it
	}
	n.stats.Lost += uint64(len(fill))
}

// askClosing runs on every gossip round: it closes what checkClosures
// finds and asks up to Fanout peers that have not answered for a closing
// stream for a push/pull.
func (n *Node) askClosing() {
	n.checkHeardAll() // the membership may have shrunk to those that answered
	n.checkClosures()
	if n.loss.open == 0 {
		return
	}
	n.settle()
	var todo []string
	for i, p := range n.peers {
		if i == n.self {
			continue
		}
		for _, name := range n.loss.names {
			if cs := n.loss.closed[name]; cs.detected == 0 {
				if _, ok := cs.heard[p]; !ok {
					todo = append(todo, p)
					break
				}
			}
		}
	}
	for k := 0; k < n.cfg.Gossip.Fanout && len(todo) > 0; k++ {
		j := n.rng.IntN(len(todo))
		n.PushPull(todo[j])
		todo[j] = todo[len(todo)-1]
		todo = todo[:len(todo)-1]
	}
}

// closing reports whether closures wait to be checked or settled, so the
// deadline keeps the gossip timer armed for them.
func (n *Node) closing() bool { return n.loss.open > 0 || n.loss.dirty }

// lostStream describes a settled stream from the current holdings.
func (n *Node) lostStream(name string, cs *closedStream) LostStream {
	l := LostStream{Origin: cs.origin, Epoch: cs.epoch, DetectedAt: time.Unix(0, cs.detected).UTC()}
	var held []uint64 // real commits held, not fillers
	if o := n.origins[name]; o != nil {
		l.HeldThrough = o.max
		o.seqs.each(func(s uint64, e *entry) {
			if e.m.Call.Action != GapAction {
				held = append(held, s)
			}
		})
	}
	l.ClaimedThrough = max(l.HeldThrough, n.loss.claims[name])
	slices.SortFunc(held, cmp.Compare[uint64])
	next := uint64(1)
	for _, s := range held {
		if s > next {
			l.Missing = append(l.Missing, SeqRange{next, s - 1})
		}
		next = s + 1
	}
	if next <= l.ClaimedThrough {
		l.Missing = append(l.Missing, SeqRange{next, l.ClaimedThrough})
	}
	return l
}

// Lost lists, sorted by stream, the closed origin epochs this region has
// settled: what it reports lost (LostStream).
func (n *Node) Lost() []LostStream {
	var out []LostStream
	for _, name := range n.loss.names {
		if cs := n.loss.closed[name]; cs.detected != 0 {
			out = append(out, n.lostStream(name, cs))
		}
	}
	return out
}

// IsLost reports whether id names a commit this region reports lost with
// its origin's disk: it holds a GapAction filler under it (antientropy.go
// fillGaps), or id's origin epoch is closed and settled here and this
// region does not hold id.
func (n *Node) IsLost(id MutationID) bool {
	e := n.peek(id)
	if e != nil {
		return e.m.Call.Action == GapAction
	}
	cs := n.loss.closed[id.Stream()]
	return id.Seq != 0 && cs != nil && cs.detected != 0
}

// EpochOver reports whether id is this region's own, of another epoch than
// its current one, and not held here, once every peer answered a push/pull
// since the region started: if the region ever acknowledged it, it was
// lost with its disk. It covers an epoch no region holds anything of (the
// region lost its disk before any commit of it spread), which only the
// origin knows is over; unlike IsLost it cannot tell such an id from one
// never issued, so a driver answers "unknown, and lost if it was ever
// acknowledged".
func (n *Node) EpochOver(id MutationID) bool {
	if id.Seq == 0 || id.Origin != n.region || id.Epoch == n.cfg.Epoch || n.recovering || !n.loss.heardAll {
		return false
	}
	e := n.peek(id)
	return e == nil || e.m.Call.Action == GapAction
}
