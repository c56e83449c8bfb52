package replication

import (
	"encoding/binary"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// Acks: what each region has applied, disseminated as a message kind of
// its own. A region acks its applied version vector on its next gossip
// round after it changes, to the round's peers, for as many rounds as a
// rumor is retransmitted; a region that learns a newer ack of another
// region relays it the same way (memberlist's gossip is not transitive, as
// for rumors). A newer ack of one region (At, by that region's clock)
// supersedes an older one, like memberlist's NamedBroadcast. From them a
// node knows, for every peer, what it has applied and when it learned so
// (PeerApplied, AppliedAt), and whether a peer applied a mutation it lacks,
// which makes its own view known stale from that instant (StaleSince). It
// used to live in the live driver alone (a version-vector side channel
// through the memberlist delegate), so the simulator did not model it.

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
	size    int           // ackSize of the newest ack: its vector never changes
	marks   map[string][]ackMark
	sends   int // relays left
}

// ackState is the node's acks (Config.Acks).
type ackState struct {
	peers      map[string]*peerAck
	names      []string   // keys of peers, sorted: deterministic relays
	sorted     []*peerAck // peers[names[i]] for each i: relays without map lookups
	epoch      uint64     // bumped whenever something is applied
	sent       uint64     // epoch of the last own ack
	own        Ack
	ownSize    int // ackSize(&own)
	ownSends   int
	scratch    []Ack
	relayCount int // peers with sends left
	// Memory kept by Reset (emptied): peer records and mark slices of
	// the previous run, handed out again before anything is allocated.
	freePeers []*peerAck
	freeMarks [][]ackMark
}

// emptied empties a in place, keeping its memory, for a reset node: every
// peer record (its marks map cleared) and mark slice goes to the free
// lists, so a simulator's next trial allocates none of them again.
func (a *ackState) emptied() *ackState {
	e := a // in place: the state itself is memory too
	*e = ackState{
		peers: a.peers, names: zeroed(a.names), sorted: zeroed(a.sorted), scratch: zeroed(a.scratch),
		freePeers: a.freePeers, freeMarks: a.freeMarks,
	}
	for _, p := range e.peers {
		for _, ms := range p.marks {
			e.freeMarks = append(e.freeMarks, ms[:0])
		}
		clear(p.marks)
		*p = peerAck{marks: p.marks}
		e.freePeers = append(e.freePeers, p)
	}
	clear(e.peers)
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
	return &peerAck{marks: map[string][]ackMark{}}
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
// ack when its applied vector changed, and reports whether there are acks
// to send.
func (n *Node) prepareAcks() bool {
	if n.ack == nil || n.numPeers() == 0 {
		return false
	}
	a := n.ack
	// While recovering, the node's applied prefix of its own earlier
	// epochs may stop below a gap it has not closed yet, so its ack would
	// vouch for fewer commits than it made: peers would take a view that
	// lacks some for fresh (lagbound.go). It acks once recovered.
	if (a.epoch != a.sent || n.heartbeatDue()) && !n.recovering {
		a.sent = a.epoch
		// A heartbeat re-stamps an unchanged vector, an empty one too: it
		// tells the peers that nothing was committed since (lagbound.go).
		if v := n.Vector(); (len(v) > 0 || n.cfg.AckHeartbeat > 0) && len(v) <= MaxVectorEntries {
			a.own = Ack{Region: n.region, At: time.Unix(0, n.now).UTC(), Vector: v}
			a.ownSize = ackSize(&a.own)
			a.ownSends = retransmitLimit(n.cfg.Gossip.RetransmitMult, n.numPeers()+1)
		}
	}
	return a.ownSends > 0 || a.relayCount > 0
}

// acking reports whether acks wait to be sent, so the deadline keeps the
// gossip timer armed for them.
func (n *Node) acking() bool {
	a := n.ack
	if a == nil {
		return false
	}
	return a.epoch != a.sent || a.ownSends > 0 || a.relayCount > 0 || n.cfg.AckHeartbeat > 0
}

// heartbeatRegions is the cluster size up to which heartbeats come every
// Config.AckHeartbeat; beyond it the interval grows with the size.
const heartbeatRegions = 16

// heartbeatDue reports whether the own ack is due again although nothing
// was applied since the last one (Config.AckHeartbeat, times
// ceil(size/16) beyond 16 regions: every region relays every other's
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

// sendAcks sends to peer one KindAck message with the acks that fit a
// packet, the node's own first, never the peer's own back; it reports
// whether it sent one.
func (n *Node) sendAcks(peer member) bool {
	a := n.ack
	m := Message{Kind: KindAck, From: n.region}
	size := m.Size()
	limit := n.cfg.PacketBytes - packetReserve
	list := a.scratch[:0]
	if a.ownSends > 0 {
		if s := a.ownSize; size+s <= limit {
			list = append(list, a.own)
			size += s
			a.ownSends--
		}
	}
	for i := 0; i < len(a.names) && a.relayCount > 0; i++ {
		p := a.sorted[i]
		if p.sends <= 0 || a.names[i] == peer.name {
			continue
		}
		s := p.size
		if size+s > limit {
			continue
		}
		list = append(list, Ack{Region: a.names[i], At: time.Unix(0, p.at).UTC(), Vector: p.vector})
		size += s
		if p.sends--; p.sends == 0 {
			a.relayCount--
		}
	}
	if len(list) == 0 {
		a.scratch = list
		return false
	}
	a.scratch = list[:0]
	// The message outlives the scratch: copy into a slice of its own.
	if pool := n.rumors.pool; pool != nil {
		m.Acks = pool.getAcks(len(list))
		copy(m.Acks, list)
	} else {
		m.Acks = slices.Clone(list)
	}
	n.sendSized(peer, m, size)
	return true
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
	if v := n.Vector(); (len(v) > 0 || n.cfg.AckHeartbeat > 0) && len(v) <= MaxVectorEntries && !n.recovering {
		all = append(all, Ack{Region: n.region, At: time.Unix(0, n.now).UTC(), Vector: v})
	}
	for _, name := range a.names {
		if n.cfg.AckHeartbeat > 0 {
			// With heartbeats every region's ack reaches the peer within
			// a round or two anyway; sending all of them on every
			// push/pull made a 50-region cluster's joins (a push/pull
			// with each member) a storm of ack packets.
			break
		}
		if name != to {
			p := a.peers[name]
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
		known := p != nil
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
			a.sorted = slices.Insert(a.sorted, j, p)
		}
		// With heartbeats on (Config.AckHeartbeat: the cluster's regions
		// share it), an unchanged vector newly stamped is relayed once,
		// not RetransmitMult times: its news is only the instant, and
		// every region sends one every round (lagbound.go).
		heartbeat := n.cfg.AckHeartbeat > 0 && known && maps.Equal(p.vector, ack.Vector)
		p.at, p.learned, p.vector, p.size = at, n.now, ack.Vector, ackSize(ack)
		n.noteClaim(ack.Region, at, ack.Vector) // lagbound.go
		for origin, seq := range ack.Vector {
			ms, ok := p.marks[origin]
			if len(ms) > 0 && ms[len(ms)-1].seq >= seq {
				continue
			}
			if !ok {
				ms = a.marksFor()
			}
			if len(ms) >= maxAckMarks {
				ms = append(ms[:0], ms[len(ms)/2:]...)
			}
			p.marks[origin] = append(ms, ackMark{seq: seq, learned: n.now})
		}
		if n.numPeers() > 0 {
			if p.sends == 0 {
				a.relayCount++
			}
			if heartbeat {
				p.sends = max(p.sends, 1)
			} else {
				p.sends = retransmitLimit(n.cfg.Gossip.RetransmitMult, n.numPeers()+1)
			}
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
	for _, p := range n.ack.peers {
		for origin, ms := range p.marks {
			var have uint64
			if o := n.origins[origin]; o != nil {
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
	ms := p.marks[id.Stream()]
	i, _ := slices.BinarySearchFunc(ms, id.Seq, func(m ackMark, seq uint64) int { return cmpU64(m.seq, seq) })
	if i == len(ms) {
		return time.Time{}, false
	}
	return time.Unix(0, ms[i].learned).UTC(), true
}

// validAcks checks a message's acks: only KindAck carries them, and each
// names a valid region with a bounded vector of valid origins.
func validAcks(m *Message) error { return checkAcks(m, nil) }

// checkAcks is validAcks for a node holding held (nil: none): an ack
// whose vector is the very map held for its region was checked when it
// first came (vectors travel shared and read-only, in the simulator from
// node to node), so only its instant is checked again. Relayed acks
// reach a region many times over; scanning each vector every time was a
// fifth of a 35-region simulation's CPU.
func checkAcks(m *Message, held *ackState) error {
	if m.Kind != KindAck {
		if len(m.Acks) > 0 {
			return fmt.Errorf("%w: %s carries acks", ErrMalformed, m.Kind)
		}
		return nil
	}
	if len(m.Mutations) > 0 || m.Vector != nil {
		return fmt.Errorf("%w: %s carries mutations or a vector", ErrMalformed, m.Kind)
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

// ackSize is an ack's encoded size in a KindAck message.
func ackSize(a *Ack) int {
	n := stringLen(a.Region) + uvarintLen(uint64(a.At.UnixNano())) + uvarintLen(uint64(len(a.Vector))+1)
	for o, s := range a.Vector {
		n += stringLen(o) + uvarintLen(s)
	}
	return n
}

// appendAcks encodes a KindAck message's acks: count (region at vector)*.
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
