package replication

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Signed mutations. Anyone holding the gossip key can put any mutation on
// the wire, under any origin's name. With a Signer and a Verifier in the
// Config, every mutation carries its origin's signature (Mutation.Sig) over
// SignedBytes, and a region takes in a mutation new to it (or one that
// conflicts with a known id) only if the signature verifies under its
// origin's key. The node does no cryptography itself: the live driver
// passes Ed25519 implementations; the simulator passes none (nil: nothing
// is signed and nothing is checked), since all its regions are honest.

// Signer signs this region's own mutations.
type Signer interface {
	// Sign returns the signature of msg (SignedBytes of a mutation).
	Sign(msg []byte) []byte
}

// Verifier checks that a signature was made by an origin's key.
type Verifier interface {
	// Verify returns nil if sig is origin's signature of msg, an error
	// wrapping ErrUnknownSigner if no key is trusted for origin, and one
	// wrapping ErrBadSignature otherwise (a missing signature included).
	Verify(origin string, msg, sig []byte) error
}

// Errors a Verifier wraps; Step wraps them in its error for the mutation
// and counts it (Stats.RefusedBadSignature, Stats.RefusedUnknownSigner).
var (
	ErrBadSignature  = errors.New("replication: bad signature")
	ErrUnknownSigner = errors.New("replication: unknown signer")
)

// MaxSigBytes bounds Mutation.Sig (an Ed25519 signature is 64 bytes).
const MaxSigBytes = 128

// sigDomain separates mutation signatures from anything else a key might
// ever sign, and names the layout's version.
const sigDomain = "iamprop mutation signature v1\x00"

// SignedBytes returns the bytes an origin signs for m:
//
//	"iamprop mutation signature v1" 0x00
//	u16(len(origin)) origin  u64(epoch)  u64(seq)     (the id)
//	u64(wall) u32(logical)                            (the HLC timestamp)
//	sha256(content)
//	content = u8(revoke) (u32(len(field)) field) for action, account, region, args
//
// All integers are big-endian; every variable-length field is
// length-prefixed, so no two different mutations sign the same bytes.
func SignedBytes(m *Mutation) []byte {
	h := sha256.New()
	var rv [1]byte
	if m.Revoke {
		rv[0] = 1
	}
	h.Write(rv[:])
	field := func(s []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write(s)
	}
	field([]byte(m.Call.Action))
	field([]byte(m.Call.Account))
	field([]byte(m.Call.Region))
	field(m.Call.Args)
	b := make([]byte, 0, len(sigDomain)+2+len(m.ID.Origin)+8+8+8+4+sha256.Size)
	b = append(b, sigDomain...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.ID.Origin)))
	b = append(b, m.ID.Origin...)
	b = binary.BigEndian.AppendUint64(b, m.ID.Epoch)
	b = binary.BigEndian.AppendUint64(b, m.ID.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(m.TS.Wall))
	b = binary.BigEndian.AppendUint32(b, m.TS.Logical)
	return h.Sum(b)
}

// sign sets m.Sig when the node has a Signer.
func (n *Node) sign(m *Mutation) {
	if n.cfg.Signer != nil {
		m.Sig = n.cfg.Signer.Sign(SignedBytes(m))
	}
}

// verify checks a received mutation's signature when the node has a
// Verifier; it counts what it refuses.
func (n *Node) verify(mu *Mutation) error {
	if n.cfg.Verifier == nil {
		return nil
	}
	err := n.cfg.Verifier.Verify(mu.ID.Origin, SignedBytes(mu), mu.Sig)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnknownSigner) {
		n.stats.RefusedUnknownSigner++
		return fmt.Errorf("%w: %s: %w", ErrUnverified, mu.ID, err)
	}
	n.stats.RefusedBadSignature++
	if !errors.Is(err, ErrBadSignature) {
		return fmt.Errorf("%w: %s: %w: %w", ErrUnverified, mu.ID, ErrBadSignature, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnverified, mu.ID, err)
}

// ErrUnverified is wrapped by Step's error for a mutation refused because
// its signature did not verify (with ErrBadSignature or ErrUnknownSigner):
// the mutation was dropped and counted, and the message's other mutations
// were taken in, as for ErrConflict.
var ErrUnverified = errors.New("replication: unverified mutation")
