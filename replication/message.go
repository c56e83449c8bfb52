package replication

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// MessageKind says what a Message carries and how the driver sends it.
type MessageKind uint8

// Message kinds. Only KindGossip and KindAck fit a UDP packet; the others
// may be large and go over the reliable stream (memberlist's TCP push/pull
// path).
const (
	// KindGossip is one gossip round's rumors for one peer, at most
	// Config.PacketBytes encoded.
	KindGossip MessageKind = iota + 1
	// KindStream is a rumor too large for a packet, sent reliably.
	KindStream
	// KindPushPullRequest opens anti-entropy: the sender's version vector.
	KindPushPullRequest
	// KindPushPullResponse answers it: the responder's version vector and the
	// mutations the requester lacks (more may follow in KindRepair).
	KindPushPullResponse
	// KindRepair carries mutations the receiver lacks, found by push/pull.
	KindRepair
	// KindAck carries regions' applied version vectors (Message.Acks): what
	// each region is known to have applied, and since when. Like a
	// rumor it fits a packet; a region sends only its own ack, except at
	// push/pull, where it sends every ack it holds (Config.Acks). An own
	// ack due in a round that sends a peer rumors rides on their
	// KindGossip message instead, where the packet has room.
	KindAck

	// MessageKindCount bounds the kinds, for arrays indexed by kind.
	MessageKindCount
)

var kindNames = [MessageKindCount]string{"invalid", "gossip", "stream", "push-pull-request", "push-pull-response", "repair", "ack"}

// String returns the kind's metric label, e.g. "gossip".
func (k MessageKind) String() string {
	if k < MessageKindCount {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Reliable reports whether the driver must send this kind over the reliable
// stream (TCP in the live cluster) rather than as a best-effort packet.
func (k MessageKind) Reliable() bool { return k != KindGossip && k != KindAck }

func (k MessageKind) valid() bool { return k >= KindGossip && k < MessageKindCount }

// Message is what one region sends another.
type Message struct {
	Kind      MessageKind   // what the message carries; Kind.Reliable says how to send it
	From      string        // the sending region (not necessarily the mutations' origin: rumors are relayed)
	Mutations []Mutation    // rumors or repairs, in no particular order
	Vector    VersionVector // push/pull: the sender's received-mutation summary
	Sums      VersionVector // push/pull, optional: per origin epoch, the digest of the prefix Vector counts (conflict.go)
	Acks      []Ack         // KindAck: applied vectors, the sender's own (and at push/pull every one it holds); KindGossip: at most the sender's own
}

// Envelope is a Message addressed to one region.
type Envelope struct {
	To string // the destination region
	// Member is To's position in the Membership the node was last given,
	// plus one, so a driver holding that Membership finds the destination
	// without a lookup by name; 0 when the node addressed To by name (a
	// reply to a message).
	Member int32
	Msg    Message // what to send
}

// VersionVector summarises a set of mutations: for each origin, the highest
// sequence number s such that mutations 1..s from that origin are all in the
// set. Mutations above a gap are not summarised (they are re-sent by
// anti-entropy; receivers drop duplicates).
type VersionVector map[string]uint64

// Covers reports whether id is within the summarised prefix of its origin
// epoch.
func (v VersionVector) Covers(id MutationID) bool { return id.Seq != 0 && id.Seq <= v[id.Stream()] }

// Clone returns an independent copy.
func (v VersionVector) Clone() VersionVector { return maps.Clone(v) }

// Origins returns the origins in sorted order, for deterministic iteration.
func (v VersionVector) Origins() []string { return slices.Sorted(maps.Keys(v)) }

// Bounds of one message, so a hostile or broken peer cannot make a region
// allocate without limit, and so anti-entropy is chunked.
const (
	// DefaultPacketBytes is memberlist's UDPBufferSize.
	DefaultPacketBytes = 1400
	// packetReserve is left free in every gossip packet for memberlist's own
	// framing (message type, compound header, label, encryption).
	packetReserve = 48
	// MaxMessageBytes bounds an encoded message.
	MaxMessageBytes = 4 << 20
	// MaxMutationsPerMessage bounds the mutations in one message; larger
	// anti-entropy transfers are split.
	MaxMutationsPerMessage = 1024
	// MaxArgsBytes bounds one call's arguments (AWS's largest policy
	// document, a bucket policy, is 20 KiB).
	MaxArgsBytes = 256 << 10
	// MaxVectorEntries bounds the origins in a version vector.
	MaxVectorEntries = 4096
)

// Validate checks the message's shape and every mutation's fields. Step
// calls it; DecodeMessage output has passed it.
func (m *Message) Validate() error {
	if !m.Kind.valid() {
		return fmt.Errorf("%w: message kind %d", ErrMalformed, m.Kind)
	}
	if err := validOrigin(m.From); err != nil {
		return fmt.Errorf("%w (sender)", err)
	}
	if len(m.Mutations) > MaxMutationsPerMessage {
		return fmt.Errorf("%w: %d mutations exceed %d", ErrMalformed, len(m.Mutations), MaxMutationsPerMessage)
	}
	if len(m.Vector) > MaxVectorEntries {
		return fmt.Errorf("%w: version vector of %d origins exceeds %d", ErrMalformed, len(m.Vector), MaxVectorEntries)
	}
	for o := range m.Vector {
		if err := validStream(o); err != nil {
			return fmt.Errorf("%w (version vector)", err)
		}
	}
	if len(m.Sums) > MaxVectorEntries {
		return fmt.Errorf("%w: digests of %d origins exceed %d", ErrMalformed, len(m.Sums), MaxVectorEntries)
	}
	for o := range m.Sums {
		if err := validStream(o); err != nil {
			return fmt.Errorf("%w (digests)", err)
		}
	}
	if m.Sums != nil && !isPushPull(m.Kind) {
		return fmt.Errorf("%w: %s carries digests", ErrMalformed, m.Kind)
	}
	switch m.Kind {
	case KindPushPullRequest, KindPushPullResponse:
		if m.Vector == nil {
			return fmt.Errorf("%w: %s without a version vector", ErrMalformed, m.Kind)
		}
	}
	if err := validAcks(m); err != nil {
		return err
	}
	if m.Kind == KindPushPullRequest && len(m.Mutations) > 0 {
		return fmt.Errorf("%w: %s carries mutations", ErrMalformed, m.Kind)
	}
	for i := range m.Mutations {
		if err := m.Mutations[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}
