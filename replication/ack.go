package replication

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Acks: what each region has applied, disseminated as a message kind of
// its own. A region acks its applied version vector on its next gossip
// round after it changes: to that round's peers (with heartbeats to a
// retransmit limit of peers, as a rumor: ackSends), and straight to the
// origin of every stream the change advanced, so an origin learns within
// a round of each region's apply that its mutation is there
// (known_complete_at). Acks are not
// relayed: a region sends only its own, so their traffic grows linearly in
// regions (every region relaying every other region's ack for a retransmit
// limit's worth of rounds made it grow with the square, 280-fold from 3 to
// 35 regions). A region learns the acks of the regions that did not send
// it theirs at push/pull, where every ack held is exchanged whole. A newer
// ack of one region (At, by that region's clock) supersedes an older one,
// like memberlist's NamedBroadcast. From them a node knows, for the peers
// it heard from, what they applied and when it learned so (PeerApplied,
// AppliedAt), and whether a peer applied a mutation it lacks, which makes
// its own view known stale from that instant (StaleSince). An ack is only
// ever a region's own report, so nothing is known applied that was not.

// Ack is one region's report of what it has applied: its applied version
// vector as of At, by that region's clock.
type Ack struct {
	Region string
	At     time.Time
	Vector VersionVector
}

// maxAckMarks bounds the remembered instants per peer and origin; beyond
// it the older half is dropped, so AppliedAt of an old mutation may answer
// a later instant (still one at which the peer had applied it).
const maxAckMarks = 1024

// ackMark: from learned on, the peer is known to have applied 1..seq.
type ackMark struct {
	seq     uint64
	learned int64
}

// peerAck is what the node knows of one peer's applied mutations.
type peerAck struct {
	at      int64         // the newest ack's At, by the peer's clock
	learned int64         // when it arrived here
	vector  VersionVector // read-only: shared with the message it came in
	marks   []originMarks // sorted by origin: no map to hash, iterate or clear
}

// originMarks are a peer's marks of one origin stream.
type originMarks struct {
	origin string
	ms     []ackMark
}

// find returns the index of origin's marks in p.marks, or where they go.
func (p *peerAck) find(origin string) (int, bool) {
	return slices.BinarySearchFunc(p.marks, origin, func(o originMarks, s string) int { return strings.Compare(o.origin, s) })
}

// ackState is the node's acks (Config.Acks).
type ackState struct {
	peers    map[string]*peerAck
	names    []string   // keys of peers, sorted: deterministic push/pull
	recs     []*peerAck // peers[names[i]] for each i: iterated without the map
	epoch    uint64     // bumped whenever something is applied
	sent     uint64     // epoch of the last own ack
	own      Ack
	ownSize  int // ackSize(&own)
	ownSends int
	ownEpoch uint64 // epoch own.Vector was made at
	// owed lists the origins (members other than this region) of the
	// streams the own ack advanced, sorted: they get it straight on the
	// ack's first round unless that round's peers include them.
	owed []string
	// Memory kept by Reset (emptied): peer records and mark slices of
	// the previous run, handed out again before anything is allocated.
	freePeers []*peerAck
	freeMarks [][]ackMark
}

// emptied empties a in place, keeping its memory, for a reset node: every
// peer record (its marks emptied) and mark slice goes to the free lists,
// so a simulator's next trial allocates none of them again.
func (a *ackState) emptied() *ackState {
	freePeers, freeMarks := a.freePeers, a.freeMarks
	for _, p := range a.recs {
		for _, om := range p.marks {
			freeMarks = append(freeMarks, om.ms[:0])
		}
		*p = peerAck{marks: zeroed(p.marks)}
		freePeers = append(freePeers, p)
	}
	clear(a.peers)
	e := a // in place: the state itself is memory too
	*e = ackState{
		peers: a.peers, names: zeroed(a.names), recs: zeroed(a.recs), owed: zeroed(a.owed),
		freePeers: freePeers, freeMarks: freeMarks,
	}
	return e
}

// newPeer returns an empty peer record, a recycled one if any.
func (a *ackState) newPeer() *peerAck {
	if k := len(a.freePeers); k > 0 {
		p := a.freePeers[k-1]
		a.freePeers[k-1] = nil
		a.freePeers = a.freePeers[:k-1]
		return p
	}
	return &peerAck{}
}

// marksFor returns an empty mark slice for a new origin of a peer, a
// recycled one if any.
func (a *ackState) marksFor() []ackMark {
	if k := len(a.freeMarks); k > 0 {
		ms := a.freeMarks[k-1]
		a.freeMarks[k-1] = nil
		a.freeMarks = a.freeMarks[:k-1]
		return ms
	}
	return nil
}

// prepareAcks runs at the start of a gossip round: it makes the node's own
// ack when its applied vector changed, with the origins it is owed to, and
// reports whether there are acks to send.
func (n *Node) prepareAcks() bool {
	if n.ack == nil || n.numPeers() == 0 {
		return false
	}
	a := n.ack
	// While recovering, the node's applied prefix of its own earlier
	// epochs may stop below a gap it has not closed yet, so its ack would
	// vouch for fewer commits than it made: peers would take a view that
	// lacks some for fresh (lagbound.go). It acks once recovered and its
	// old epochs' gaps are filled (fillWait).
	if (a.epoch != a.sent || n.heartbeatDue()) && !n.recovering && !n.fillWait {
		a.sent = a.epoch
		// A heartbeat re-stamps an unchanged vector, an empty one too: it
		// tells the peers that nothing was committed since (lagbound.go).
		if v := n.Vector(); (len(v) > 0 || n.cfg.AckHeartbeat > 0) && len(v) <= MaxVectorEntries {
			prev := a.own.Vector // read-only: messages may still hold it
			a.owed = a.owed[:0]
			for stream, seq := range v {
				if seq <= prev[stream] {
					continue
				}
				origin, _, err := ParseStream(stream)
				if err != nil || origin == n.region || slices.Contains(a.owed, origin) {
					continue
				}
				if _, member := slices.BinarySearch(n.peers, origin); member {
					a.owed = append(a.owed, origin)
				}
			}
			slices.Sort(a.owed) // map order: sorted, so runs are reproducible
			a.own = Ack{Region: n.region, At: time.Unix(0, n.now).UTC(), Vector: v}
			a.ownEpoch = a.epoch
			a.ownSize = ackSize(&a.own)
			a.ownSends = n.ackSends()
		}
	}
	return a.ownSends > 0 || len(a.owed) > 0
}

// ackSends is how many random peers get each own ack. With heartbeats
// (Config.AckHeartbeat), a retransmit limit, as a rumor: max_lag
// admission (lagbound.go) at every peer counts from the last ack it heard
// of each region, so each must hear every region often. Without, one
// round's peers (Fanout): the ack reaches the origins it is owed to
// straight anyway, and another region gains from it only an earlier
// StaleSince or AppliedAt (it learns every ack it holds no newer of at
// push/pull). A retransmit limit of them was two thirds of a 35-region
// trial's ack messages.
func (n *Node) ackSends() int {
	if n.cfg.AckHeartbeat > 0 {
		return retransmitLimit(n.cfg.Gossip.RetransmitMult, n.numPeers()+1)
	}
	return min(n.cfg.Gossip.Fanout, n.numPeers())
}

// acking reports whether acks wait to be sent, so the deadline keeps the
// gossip timer armed for them.
func (n *Node) acking() bool {
	a := n.ack
	if a == nil {
		return false
	}
	return a.epoch != a.sent || a.ownSends > 0 || len(a.owed) > 0 || n.cfg.AckHeartbeat > 0
}

// heartbeatRegions is the cluster size up to which heartbeats come every
// Config.AckHeartbeat; beyond it the interval grows with the size.
const heartbeatRegions = 16

// heartbeatDue reports whether the own ack is due again although nothing
// was applied since the last one (Config.AckHeartbeat, times
// ceil(size/16) beyond 16 regions: every region receives every other's
// heartbeats, so each one's work per interval grows with the cluster).
func (n *Node) heartbeatDue() bool {
	hb := int64(n.cfg.AckHeartbeat)
	if hb <= 0 {
		return false
	}
	if size := n.numPeers() + 1; size > heartbeatRegions {
		hb *= int64((size + heartbeatRegions - 1) / heartbeatRegions)
	}
	return n.ack.ownSize == 0 || n.now-n.ack.own.At.UnixNano() >= hb
}

// sendAcks sends to peer the node's own ack while it has sends left: on
// the round's rumor message to peer, n.ready.Messages[rumor], where it
// fits (rumor >= 0), else in a KindAck message of its own; it reports
// whether it sent it. A peer it is owed to is served by it.
func (n *Node) sendAcks(peer member, rumor int) bool {
	a := n.ack
	if a.ownSends <= 0 {
		return false
	}
	a.ownSends--
	if i, ok := slices.BinarySearch(a.owed, peer.name); ok {
		a.owed = slices.Delete(a.owed, i, i+1)
	}
	if rumor >= 0 && n.rideOwnAck(&n.ready.Messages[rumor].Msg) {
		return true
	}
	n.sendOwnAck(peer)
	return true
}

// rideOwnAck puts the own ack on m, a gossip message of this round, if
// the packet has room for it, and reports whether it did. An ack is made
// in the first round after an apply, and an S3 data-plane write, or a
// mutation whose delay ran out before it arrived, applies on receipt: its
// rumor goes out in that same round, to the same peers, so a separate ack
// packet to each of them was a second message where one does.
func (n *Node) rideOwnAck(m *Message) bool {
	if m.Kind != KindGossip || len(m.Acks) > 0 {
		return false
	}
	a := n.ack
	extra := uvarintLen(1) + a.ownSize
	if m.Size()+extra > n.cfg.PacketBytes-packetReserve {
		return false
	}
	if pool := n.rumors.pool; pool != nil {
		m.Acks = pool.getAcks(1)
		m.Acks[0] = a.own
	} else {
		m.Acks = []Ack{a.own}
	}
	n.stats.AcksSent++
	n.stats.BytesSent += uint64(extra)
	return true
}

// sendOwedAcks sends the own ack straight to every origin it is still owed
// to after a round (those the round's peers did not include).
func (n *Node) sendOwedAcks() {
	a := n.ack
	if a == nil {
		return
	}
	for _, origin := range a.owed {
		n.sendOwnAck(member{name: origin})
	}
	a.owed = a.owed[:0]
}

// sendOwnAck sends the own ack to one region.
func (n *Node) sendOwnAck(to member) {
	a := n.ack
	m := Message{Kind: KindAck, From: n.region}
	size := m.Size() + a.ownSize
	if size > n.cfg.PacketBytes-packetReserve {
		return // too many origins for a packet: push/pull exchanges it
	}
	if pool := n.rumors.pool; pool != nil {
		m.Acks = pool.getAcks(1)
		m.Acks[0] = a.own
	} else {
		m.Acks = []Ack{a.own}
	}
	n.sendSized(to, m, size)
}

// sendAllAcks sends to a peer that opened or answered anti-entropy every
// ack this node holds (its own and its peers'), in as many packets as they
// need: a region that joins, restarts or comes back from a partition
// learns what everybody applied without waiting for their next change.
// With heartbeats (Config.AckHeartbeat) it sends its own only.
func (n *Node) sendAllAcks(to string) {
	a := n.ack
	if a == nil {
		return
	}
	var all []Ack
	if pool := n.rumors.pool; pool != nil {
		all = pool.getAcks(1 + len(a.names))[:0] // one message mostly: the pool takes it back
	}
	// The own ack's vector when nothing was applied since it was made (a
	// vector is read-only once built, so messages may share it).
	v := a.own.Vector
	if v == nil || a.ownEpoch != a.epoch {
		v = n.Vector()
	}
	if (len(v) > 0 || n.cfg.AckHeartbeat > 0) && len(v) <= MaxVectorEntries && !n.recovering && !n.fillWait {
		all = append(all, Ack{Region: n.region, At: time.Unix(0, n.now).UTC(), Vector: v})
	}
	for i, name := range a.names {
		if n.cfg.AckHeartbeat > 0 {
			// With heartbeats every region's own ack reaches each peer
			// directly within a few rounds anyway; sending all of them on
			// every push/pull made a 50-region cluster's joins (a
			// push/pull with each member) a storm of ack packets.
			break
		}
		if name != to {
			p := a.recs[i]
			all = append(all, Ack{Region: name, At: time.Unix(0, p.at).UTC(), Vector: p.vector})
		}
	}
	limit := n.cfg.PacketBytes - packetReserve
	for len(all) > 0 {
		m := Message{Kind: KindAck, From: n.region}
		size := m.Size()
		k := 0
		for k < len(all) {
			s := ackSize(&all[k])
			if size+s > limit && k > 0 {
				break
			}
			size += s
			k++
		}
		if size > limit {
			all = all[1:] // one ack too large for a packet: push/pull of mutations covers it
			continue
		}
		m.Acks = all[:k:k]
		n.sendSized(member{name: to}, m, size)
		all = all[k:]
	}
}

// takeAcks records the acks of a KindAck message (checked); a node
// without Config.Acks ignores them.
func (n *Node) takeAcks(acks []Ack) {
	a := n.ack
	if a == nil {
		return
	}
	for i := range acks {
		ack := &acks[i]
		if ack.Region == n.region {
			continue
		}
		at := ack.At.UnixNano()
		p := a.peers[ack.Region]
		if p != nil && p.at >= at {
			continue // not newer
		}

		if p == nil {
			if len(a.peers) >= MaxVectorEntries {
				continue // bounded: a forger cannot make it grow without limit
			}
			if a.peers == nil {
				a.peers = map[string]*peerAck{}
			}
			p = a.newPeer()
			a.peers[ack.Region] = p
			j, _ := slices.BinarySearch(a.names, ack.Region)
			a.names = slices.Insert(a.names, j, ack.Region)
			a.recs = slices.Insert(a.recs, j, p)
		}
		p.at, p.learned, p.vector = at, n.now, ack.Vector
		n.noteClaim(ack.Region, at, ack.Vector) // lagbound.go
		for origin, seq := range ack.Vector {
			i, ok := p.find(origin)
			if !ok {
				p.marks = slices.Insert(p.marks, i, originMarks{origin: origin, ms: append(a.marksFor(), ackMark{seq: seq, learned: n.now})})
				continue
			}
			ms := p.marks[i].ms
			if len(ms) > 0 && ms[len(ms)-1].seq >= seq {
				continue
			}
			if len(ms) >= maxAckMarks {
				ms = append(ms[:0], ms[len(ms)/2:]...)
			}
			p.marks[i].ms = append(ms, ackMark{seq: seq, learned: n.now})
		}
	}
}

// ackedStaleSince is the earliest instant the node learned that a peer
// applied a mutation it has not applied (0, false if none).
func (n *Node) ackedStaleSince() (int64, bool) {
	var since int64
	found := false
	if n.ack == nil {
		return 0, false
	}
	for _, p := range n.ack.recs {
		for _, om := range p.marks {
			ms := om.ms
			var have uint64
			if o := n.origins[om.origin]; o != nil {
				have = o.applied
			}
			i, _ := slices.BinarySearchFunc(ms, have+1, func(m ackMark, seq uint64) int { return cmpU64(m.seq, seq) })
			if i < len(ms) && (!found || ms[i].learned < since) {
				since, found = ms[i].learned, true
			}
		}
	}
	return since, found
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PeerApplied returns what region is known to have applied: its newest
// ack's vector (a copy) and the instant this node learned it; false when
// no ack of region has arrived. For this node's own region it returns
// Vector and the latest input instant.
func (n *Node) PeerApplied(region string) (VersionVector, time.Time, bool) {
	if region == n.region {
		return n.Vector(), time.Unix(0, n.now).UTC(), true
	}
	if n.ack == nil || n.ack.peers[region] == nil {
		return nil, time.Time{}, false
	}
	p := n.ack.peers[region]
	return p.vector.Clone(), time.Unix(0, p.learned).UTC(), true
}

// AckedRegions returns the regions whose acks this node holds, sorted.
func (n *Node) AckedRegions() []string {
	if n.ack == nil || len(n.ack.names) == 0 {
		return nil // also after Reset, which keeps the names' memory
	}
	return slices.Clone(n.ack.names)
}

// AppliedAt returns when region is known to have applied id, as far as
// this node knows: for this region the exact apply instant; for a peer the
// instant this node learned, from the peer's ack, that it had applied id
// and every earlier mutation of its origin (an upper bound, within a
// gossip round or two of the apply; a mutation the peer applied out of
// order shows once the gap below it is applied too).
func (n *Node) AppliedAt(region string, id MutationID) (time.Time, bool) {
	if region == n.region {
		if e := n.peek(id); e != nil && e.applied {
			return time.Unix(0, e.at).UTC(), true
		}
		return time.Time{}, false
	}
	if n.ack == nil || n.ack.peers[region] == nil || id.Seq == 0 {
		return time.Time{}, false
	}
	p := n.ack.peers[region]
	if p == nil {
		return time.Time{}, false
	}
	j, ok := p.find(id.Stream())
	if !ok {
		return time.Time{}, false
	}
	ms := p.marks[j].ms
	i, _ := slices.BinarySearchFunc(ms, id.Seq, func(m ackMark, seq uint64) int { return cmpU64(m.seq, seq) })
	if i == len(ms) {
		return time.Time{}, false
	}
	return time.Unix(0, ms[i].learned).UTC(), true
}

// validAcks checks a message's acks: only KindAck and KindGossip carry
// them, and each names a valid region with a bounded vector of valid
// origins.
func validAcks(m *Message) error { return checkAcks(m, nil) }

// checkAcks is validAcks for a node holding held (nil: none): an ack
// whose vector is the very map held for its region was checked when it
// first came (vectors travel shared and read-only, in the simulator from
// node to node), so only its instant is checked again. Relayed acks
// reach a region many times over; scanning each vector every time was a
// fifth of a 35-region simulation's CPU.
func checkAcks(m *Message, held *ackState) error {
	switch {
	case m.Kind == KindAck:
		if len(m.Mutations) > 0 || m.Vector != nil {
			return fmt.Errorf("%w: %s carries mutations or a vector", ErrMalformed, m.Kind)
		}
	case len(m.Acks) == 0:
		return nil
	case m.Kind != KindGossip:
		return fmt.Errorf("%w: %s carries acks", ErrMalformed, m.Kind)
	case len(m.Acks) > 1 || m.Acks[0].Region != m.From:
		// Only the sender's own ack rides on gossip: acks are never relayed.
		return fmt.Errorf("%w: %s carries acks other than its sender's own", ErrMalformed, m.Kind)
	}
	if len(m.Acks) > MaxVectorEntries {
		return fmt.Errorf("%w: %d acks exceed %d", ErrMalformed, len(m.Acks), MaxVectorEntries)
	}
	for i := range m.Acks {
		a := &m.Acks[i]
		known := false
		if held != nil {
			p := held.peers[a.Region]
			known = p != nil && sameVector(p.vector, a.Vector) // region and vector checked before
		}
		if !known {
			if err := validOrigin(a.Region); err != nil {
				return fmt.Errorf("%w (ack)", err)
			}
		}
		if w := a.At.UnixNano(); w <= 0 {
			return fmt.Errorf("%w: ack of %s at %d", ErrMalformed, a.Region, w)
		}
		if known {
			continue
		}
		if len(a.Vector) > MaxVectorEntries {
			return fmt.Errorf("%w: ack vector of %d origins exceeds %d", ErrMalformed, len(a.Vector), MaxVectorEntries)
		}
		for o := range a.Vector {
			if err := validStream(o); err != nil {
				return fmt.Errorf("%w (ack vector)", err)
			}
		}
	}
	return nil
}

// sameVector reports whether a and b are the same map (not merely equal).
func sameVector(a, b VersionVector) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// ackSize is an ack's encoded size in a message.
func ackSize(a *Ack) int {
	n := stringLen(a.Region) + uvarintLen(uint64(a.At.UnixNano())) + uvarintLen(uint64(len(a.Vector))+1)
	for o, s := range a.Vector {
		n += stringLen(o) + uvarintLen(s)
	}
	return n
}

// appendAcks encodes a message's acks: count (region at vector)*.
func appendAcks(b []byte, acks []Ack) []byte {
	b = binary.AppendUvarint(b, uint64(len(acks)))
	for i := range acks {
		b = appendString(b, acks[i].Region)
		b = binary.AppendUvarint(b, uint64(acks[i].At.UnixNano()))
		b = appendVector(b, acks[i].Vector)
	}
	return b
}

// acks decodes what appendAcks wrote.
func (d *decoder) acks() []Ack {
	k := d.uvarint("ack count")
	if k > MaxVectorEntries || k > uint64(len(d.b)) {
		d.fail("%d acks exceed the limit or the input", k)
		return nil
	}
	out := make([]Ack, 0, k)
	for i := uint64(0); i < k && d.err == nil; i++ {
		var a Ack
		a.Region = d.string("ack region", maxNameLen)
		at := d.uvarint("ack instant")
		if at > 1<<63-1 {
			d.fail("ack instant %d overflows", at)
		}
		a.At = time.Unix(0, int64(at)).UTC()
		a.Vector = d.vector()
		out = append(out, a)
	}
	return out
}
