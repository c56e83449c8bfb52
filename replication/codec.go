package replication

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/iamprop/iamprop/controlplane"
)

// Wire format, version 1 (all integers are unsigned varints):
//
//	message  = version kind string(from) vector count mutation* [acks] [sums]
//	vector   = 0 (absent) | n+1 (origin seq)*n
//	acks     = count (string(region) at vector)*   (KindAck; KindGossip when it carries any; at in unix ns)
//	sums     = vector                              (push/pull only, when present: per origin epoch a digest)
//	mutation = length body        (length lets gossip budget bytes per rumor)
//	body     = string(stream) seq wall logical flags string(action)
//	           string(account) string(region) bytes(args) [bytes(sig)]
//	flags    = 1 (revoke) | 2 (signed: bytes(sig) follows the arguments)
//	string   = length byte*
//
// A stream is the origin, or for an epoch other than 0 "origin@epoch" with
// the epoch in 16 hex digits (MutationID.Stream): origins cannot contain
// "@", so epochs needed no new version, and logs and peers of epoch 0
// encode byte for byte as before. Vector keys are streams too.
//
// The version byte comes first so a future format can be told apart; a
// decoder rejects versions it does not know rather than guessing.
const codecVersion = 1

const (
	flagRevoke = 1
	flagSigned = 2 // a signature follows the arguments
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendMutationBody appends m's body (without its length prefix). The
// same bytes are what a rumor costs in a gossip packet.
func appendMutationBody(b []byte, m *Mutation) []byte {
	b = binary.AppendUvarint(b, uint64(streamLen(m.ID.Origin, m.ID.Epoch)))
	b = append(b, m.ID.Origin...)
	if m.ID.Epoch != 0 {
		b = append(b, epochSep)
		b = appendEpoch(b, m.ID.Epoch)
	}
	b = binary.AppendUvarint(b, m.ID.Seq)
	b = binary.AppendUvarint(b, uint64(m.TS.Wall))
	b = binary.AppendUvarint(b, uint64(m.TS.Logical))
	var flags uint64
	if m.Revoke {
		flags |= flagRevoke
	}
	if m.Sig != nil {
		flags |= flagSigned
	}
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, m.Call.Action)
	b = appendString(b, m.Call.Account)
	b = appendString(b, m.Call.Region)
	b = binary.AppendUvarint(b, uint64(len(m.Call.Args)))
	b = append(b, m.Call.Args...)
	if m.Sig != nil {
		b = binary.AppendUvarint(b, uint64(len(m.Sig)))
		b = append(b, m.Sig...)
	}
	return b
}

// mutationOverhead is the most a rumor's length prefix costs in a packet
// (a 3-byte varint covers 2 MiB), the "overhead" passed to
// TransmitLimitedQueue.GetBroadcasts.
const mutationOverhead = 3

// Encode returns the message's wire form. A message that passed Validate
// and respects MaxMessageBytes decodes back to an equal Message.
func (m Message) Encode() []byte {
	b := make([]byte, 0, 64+len(m.Mutations)*128)
	b = append(b, codecVersion, byte(m.Kind))
	b = appendString(b, m.From)
	b = appendVector(b, m.Vector)
	b = binary.AppendUvarint(b, uint64(len(m.Mutations)))
	var body []byte
	for i := range m.Mutations {
		body = appendMutationBody(body[:0], &m.Mutations[i])
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	if hasAcks(&m) {
		b = appendAcks(b, m.Acks)
	}
	if m.Sums != nil && isPushPull(m.Kind) {
		b = appendVector(b, m.Sums)
	}
	return b
}

func isPushPull(k MessageKind) bool { return k == KindPushPullRequest || k == KindPushPullResponse }

func appendVector(b []byte, v VersionVector) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	for _, o := range v.Origins() {
		b = appendString(b, o)
		b = binary.AppendUvarint(b, v[o])
	}
	return b
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func stringLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// mutationBodySize is len(appendMutationBody(nil, m)), without encoding.
func mutationBodySize(m *Mutation) int {
	flags := uint64(0) // both flags fit one varint byte
	sl := streamLen(m.ID.Origin, m.ID.Epoch)
	n := uvarintLen(uint64(sl)) + sl + uvarintLen(m.ID.Seq) + uvarintLen(uint64(m.TS.Wall)) +
		uvarintLen(uint64(m.TS.Logical)) + uvarintLen(flags) + stringLen(m.Call.Action) +
		stringLen(m.Call.Account) + stringLen(m.Call.Region) +
		uvarintLen(uint64(len(m.Call.Args))) + len(m.Call.Args)
	if m.Sig != nil {
		n += uvarintLen(uint64(len(m.Sig))) + len(m.Sig)
	}
	return n
}

// Size returns len(m.Encode()) without encoding: what the message costs on
// the wire, for bandwidth metrics in the simulator.
func (m Message) Size() int {
	n := 2 + stringLen(m.From)
	if m.Vector == nil {
		n++
	} else {
		n += uvarintLen(uint64(len(m.Vector)) + 1)
		for o, s := range m.Vector {
			n += stringLen(o) + uvarintLen(s)
		}
	}
	n += uvarintLen(uint64(len(m.Mutations)))
	for i := range m.Mutations {
		b := mutationBodySize(&m.Mutations[i])
		n += uvarintLen(uint64(b)) + b
	}
	if m.Sums != nil && isPushPull(m.Kind) {
		n += uvarintLen(uint64(len(m.Sums)) + 1)
		for o, s := range m.Sums {
			n += stringLen(o) + uvarintLen(s)
		}
	}
	if hasAcks(&m) {
		n += uvarintLen(uint64(len(m.Acks)))
		for i := range m.Acks {
			n += ackSize(&m.Acks[i])
		}
	}
	return n
}

// headerSize is the encoded size of a message from `from` with no vector
// and up to MaxMutationsPerMessage mutations, without the mutations.
func headerSize(from string) int {
	return 2 + binary.MaxVarintLen16 + len(from) + 1 + binary.MaxVarintLen16
}

// decoder reads the wire format; the first error sticks and every later
// read returns zero values, so decoding code stays linear.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: decode: "+format, append([]any{ErrMalformed}, a...)...)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.fail("%s: length %d exceeds the %d bytes allowed or left", what, n, min(max, len(d.b)))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string, max int) string { return string(d.bytes(what, max)) }

// DecodeMessage parses and validates a wire-form message. It never panics,
// allocates in proportion to len(b) only, and rejects anything longer than
// MaxMessageBytes, of an unknown version, truncated, with trailing bytes or
// failing Message.Validate.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageBytes {
		return m, fmt.Errorf("%w: decode: %d bytes exceed %d", ErrMalformed, len(b), MaxMessageBytes)
	}
	if len(b) < 2 {
		return m, fmt.Errorf("%w: decode: %d bytes is too short", ErrMalformed, len(b))
	}
	if b[0] != codecVersion {
		return m, fmt.Errorf("%w: decode: codec version %d, this build reads %d", ErrMalformed, b[0], codecVersion)
	}
	m.Kind = MessageKind(b[1])
	d := &decoder{b: b[2:]}
	m.From = d.string("sender", maxNameLen)
	m.Vector = d.vector()
	nm := d.uvarint("mutation count")
	if nm > MaxMutationsPerMessage || nm > uint64(len(d.b)) {
		d.fail("%d mutations exceed the limit or the input", nm)
	}
	if d.err == nil && nm > 0 {
		m.Mutations = make([]Mutation, nm)
		for i := range m.Mutations {
			body := d.bytes("mutation", MaxMessageBytes)
			if d.err != nil {
				break
			}
			md := &decoder{b: body}
			m.Mutations[i] = md.mutation()
			if md.err == nil && len(md.b) > 0 {
				md.fail("mutation %d: %d trailing bytes", i, len(md.b))
			}
			if md.err != nil {
				d.err = md.err
			}
		}
	}
	if (m.Kind == KindAck || m.Kind == KindGossip && len(d.b) > 0) && d.err == nil {
		m.Acks = d.acks()
		if m.Kind == KindGossip && len(m.Acks) == 0 && d.err == nil {
			d.fail("trailing bytes: an empty acks section") // not what Encode writes
		}
	}
	if isPushPull(m.Kind) && d.err == nil && len(d.b) > 0 {
		m.Sums = d.vector()
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Message{}, d.err
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (d *decoder) mutation() Mutation {
	var m Mutation
	stream := d.bytes("origin", maxStreamLen)
	if i := bytes.IndexByte(stream, epochSep); i >= 0 && d.err == nil {
		o, ep, err := ParseStream(string(stream))
		if err != nil {
			d.fail("%v", err)
		}
		m.ID.Origin, m.ID.Epoch = o, ep
	} else {
		m.ID.Origin = string(stream)
	}
	m.ID.Seq = d.uvarint("seq")
	wall := d.uvarint("wall")
	if wall > 1<<63-1 {
		d.fail("wall %d overflows", wall)
	}
	m.TS.Wall = int64(wall)
	logical := d.uvarint("logical")
	if logical > 1<<32-1 {
		d.fail("logical %d overflows", logical)
	}
	m.TS.Logical = uint32(logical)
	flags := d.uvarint("flags")
	if flags&^(flagRevoke|flagSigned) != 0 {
		d.fail("unknown flags %#x", flags)
	}
	m.Revoke = flags&flagRevoke != 0
	m.Call = controlplane.Call{
		Action:  d.string("action", maxActionLen),
		Account: d.string("account", maxNameLen),
		Region:  d.string("region", maxNameLen),
	}
	if args := d.bytes("args", MaxArgsBytes); len(args) > 0 {
		// Copy: the caller may reuse its receive buffer.
		m.Call.Args = append([]byte(nil), args...)
	}
	if flags&flagSigned != 0 {
		// Copied like the arguments; an empty signature stays non-nil so
		// it re-encodes as it came.
		m.Sig = append([]byte{}, d.bytes("signature", MaxSigBytes)...)
	}
	return m
}

// vector decodes what appendVector wrote.
func (d *decoder) vector() VersionVector {
	var v VersionVector
	if nv := d.uvarint("vector size"); nv > 0 {
		nv--
		if nv > MaxVectorEntries || nv > uint64(len(d.b)) {
			d.fail("vector of %d origins exceeds the limit or the input", nv)
		}
		if d.err == nil {
			v = make(VersionVector, nv)
			for i := uint64(0); i < nv && d.err == nil; i++ {
				o := d.string("vector origin", maxStreamLen)
				s := d.uvarint("vector seq")
				if _, dup := v[o]; dup {
					d.fail("vector origin %q twice", o)
				}
				v[o] = s
			}
		}
	}
	return v
}

// hasAcks reports whether m's encoding has an acks section: always for
// KindAck; for KindGossip only when an own ack rides on it, so that a
// gossip message without one encodes byte for byte as before acks rode.
func hasAcks(m *Message) bool {
	return m.Kind == KindAck || m.Kind == KindGossip && len(m.Acks) > 0
}
