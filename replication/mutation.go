package replication

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// MutationID names one committed mutation: the region that committed it,
// the epoch of that region's log it was committed in, and that region's
// sequence number within the epoch (1, 2, 3, ... with no gaps), so a
// version vector can summarise a set of mutations per origin epoch.
//
// A region starts a new epoch whenever it starts with a new or emptied log
// (a random 64-bit incarnation drawn by the driver and kept in the log's
// header), so an id is never issued twice, whatever a region lost: the
// commits of an earlier epoch that no other region held are lost, never
// overwritten. Epoch 0 is the epoch of logs written before epochs existed
// and of the simulator's regions until they lose their state.
type MutationID struct {
	Origin string // the committing region
	Epoch  uint64 // the origin's log incarnation; 0 for the first epoch of old logs and simulations
	Seq    uint64 // the origin's sequence number within the epoch, from 1
}

// epochSep separates an origin from its epoch in a stream name: origins
// may not contain it, so "us-east-2@00000000000000ff" is unambiguous.
const epochSep = '@'

// epochDigits is the width of an epoch in a stream name (hex, zero-padded).
const epochDigits = 16

// maxStreamLen bounds a stream name: an origin, the separator and an epoch.
const maxStreamLen = maxNameLen + 1 + epochDigits

// Stream returns the name of the id's origin epoch: the origin alone for
// epoch 0, else "origin@epoch" with the epoch in 16 hex digits. Version
// vectors are keyed by it.
func (id MutationID) Stream() string { return StreamName(id.Origin, id.Epoch) }

// StreamName returns the stream name of an origin's epoch (MutationID.Stream).
func StreamName(origin string, epoch uint64) string {
	if epoch == 0 {
		return origin
	}
	var b [maxStreamLen]byte
	buf := append(b[:0], origin...)
	buf = append(buf, epochSep)
	buf = appendEpoch(buf, epoch)
	return string(buf)
}

func appendEpoch(b []byte, epoch uint64) []byte {
	const hex = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hex[(epoch>>uint(shift))&0xf])
	}
	return b
}

// streamLen is len(StreamName(origin, epoch)) without building it.
func streamLen(origin string, epoch uint64) int {
	if epoch == 0 {
		return len(origin)
	}
	return len(origin) + 1 + epochDigits
}

// ParseStream splits a stream name into its origin and epoch.
func ParseStream(s string) (origin string, epoch uint64, err error) {
	origin = s
	if i := strings.IndexByte(s, epochSep); i >= 0 {
		origin = s[:i]
		hexs := s[i+1:]
		if len(hexs) != epochDigits {
			return "", 0, fmt.Errorf("%w: stream %q: want %d hex digits of epoch after %q", ErrMalformed, s, epochDigits, string(epochSep))
		}
		epoch, err = strconv.ParseUint(hexs, 16, 64)
		if err != nil || epoch == 0 {
			return "", 0, fmt.Errorf("%w: stream %q: bad epoch", ErrMalformed, s)
		}
	}
	if err := validOrigin(origin); err != nil {
		return "", 0, err
	}
	return origin, epoch, nil
}

// validStream checks a version vector's key.
func validStream(s string) error {
	if strings.IndexByte(s, epochSep) < 0 {
		return validOrigin(s)
	}
	_, _, err := ParseStream(s)
	return err
}

// String returns the "origin/seq" form of epoch 0, or "origin@epoch/seq"
// (epoch in 16 hex digits), used in tokens and the HTTP API, for example
// "us-east-2/17" or "us-east-2@9f3a0c1b2d4e5f60/17".
func (id MutationID) String() string {
	return id.Stream() + "/" + strconv.FormatUint(id.Seq, 10)
}

// ParseMutationID parses the String form. The sequence number follows the
// last slash and the epoch, when present, the "@", so the origin itself may
// contain neither.
func ParseMutationID(s string) (MutationID, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return MutationID{}, fmt.Errorf("replication: mutation id %q: want origin/seq or origin@epoch/seq", s)
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return MutationID{}, fmt.Errorf("replication: mutation id %q: bad sequence number: %w", s, err)
	}
	origin, ep, err := ParseStream(s[:i])
	if err != nil {
		return MutationID{}, fmt.Errorf("replication: mutation id %q: %w", s, err)
	}
	if seq == 0 {
		return MutationID{}, fmt.Errorf("replication: mutation id %q: sequence numbers start at 1", s)
	}
	return MutationID{Origin: origin, Epoch: ep, Seq: seq}, nil
}

// Timestamp is a hybrid logical clock reading: physical time (Wall, unix
// nanoseconds) plus a logical counter that orders events sharing a Wall.
// A region's clock never goes backwards and always passes every timestamp
// it has received, so a mutation committed after another was seen is
// ordered after it (causality), while timestamps stay close to real time
// (so "commit time" is meaningful for the apply delay).
type Timestamp struct {
	Wall    int64  // physical time, unix nanoseconds
	Logical uint32 // orders events that share a Wall
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	if c := cmp.Compare(t.Wall, u.Wall); c != 0 {
		return c
	}
	return cmp.Compare(t.Logical, u.Logical)
}

// Time returns the physical part as a time.Time (UTC).
func (t Timestamp) Time() time.Time { return time.Unix(0, t.Wall).UTC() }

// String returns "wall.logical" with wall in unix nanoseconds; it sorts like
// the timestamp only for equal-width walls, so compare with Compare.
func (t Timestamp) String() string {
	return strconv.FormatInt(t.Wall, 10) + "." + strconv.FormatUint(uint64(t.Logical), 10)
}

// ParseTimestamp reads the "wall.logical" form of Timestamp.String (the
// API's hlc field).
func ParseTimestamp(s string) (Timestamp, error) {
	w, l, ok := strings.Cut(s, ".")
	wall, err1 := strconv.ParseInt(w, 10, 64)
	logical, err2 := strconv.ParseUint(l, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Timestamp{}, fmt.Errorf("replication: timestamp %q: want wall.logical", s)
	}
	return Timestamp{Wall: wall, Logical: uint32(logical)}, nil
}

// hlc is a region's hybrid logical clock.
type hlc struct{ last Timestamp }

// now stamps a local event (a commit): strictly after every timestamp the
// clock has issued or observed, and at the physical time when that is later.
func (c *hlc) now(phys int64) Timestamp {
	switch {
	case phys > c.last.Wall:
		c.last = Timestamp{Wall: phys}
	case c.last.Logical == ^uint32(0):
		// The logical counter is exhausted: borrow a nanosecond rather than
		// wrap, which would break the order.
		c.last = Timestamp{Wall: c.last.Wall + 1}
	default:
		c.last.Logical++
	}
	return c.last
}

// observe folds a received timestamp into the clock, so the next local
// event is ordered after it.
func (c *hlc) observe(t Timestamp) {
	if t.Compare(c.last) > 0 {
		c.last = t
	}
}

// Mutation is one committed control-plane write as it travels between
// regions. Mutations are totally ordered by Less; every region folds the
// mutations it has applied in that order.
type Mutation struct {
	ID     MutationID        // origin and sequence number
	TS     Timestamp         // the origin's HLC reading at commit
	Call   controlplane.Call // the AWS call, validated at the origin
	Revoke bool              // the call narrows access (controlplane.IsRevoke at commit); selects the revoke delay distribution
	// Sig is the origin's signature of SignedBytes (sign.go); nil when
	// the origin has no Signer. It is not content: sameContent and
	// contentHash ignore it.
	Sig []byte
}

// Less is the total order every region agrees on: timestamp, then origin,
// then epoch and sequence number. Origin breaks ties between regions whose
// clocks read the same; epoch and Seq only matter for a corrupted duplicate.
func Less(a, b *Mutation) bool { return Compare(a, b) < 0 }

// Compare returns -1, 0 or +1 as a sorts before, with or after b in the
// total order.
func Compare(a, b *Mutation) int {
	if c := a.TS.Compare(b.TS); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID.Origin, b.ID.Origin); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID.Epoch, b.ID.Epoch); c != 0 {
		return c
	}
	return cmp.Compare(a.ID.Seq, b.ID.Seq)
}

// CommitTime is the instant the origin committed m (the physical part of
// its timestamp): the zero point of the apply delay and of the lag.
func (m *Mutation) CommitTime() time.Time { return m.TS.Time() }

// sameContent reports whether a and b are the same mutation, field by field:
// a known ID arriving with other content is a forgery or corruption.
func sameContent(a, b *Mutation) bool {
	return a.ID == b.ID && a.TS == b.TS && a.Revoke == b.Revoke &&
		a.Call.Action == b.Call.Action && a.Call.Account == b.Call.Account &&
		a.Call.Region == b.Call.Region && bytes.Equal(a.Call.Args, b.Call.Args)
}

// Field bounds. They keep a hostile or corrupted peer from making a region
// allocate without limit; real values are far smaller.
const (
	maxNameLen   = 64  // origin, account and region names
	maxActionLen = 128 // "iam:PutUserPermissionsBoundary" is 30
)

// ErrMalformed is wrapped by every error about a message or mutation whose
// fields are invalid.
var ErrMalformed = errors.New("replication: malformed")

func validOrigin(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("%w: origin %q: want 1 to %d characters", ErrMalformed, s, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !originChar[c] {
			return fmt.Errorf("%w: origin %q: character %q not allowed", ErrMalformed, s, c)
		}
	}
	return nil
}

// originChar says which bytes an origin may contain: letters, digits and
// "-_.:" (a table: every message's sender and origins are checked).
var originChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
	}
	return t
}()

// Validate checks m's fields without any node state: a well-formed origin,
// a sequence number from 1, a timestamp not before 1970, a bounded action and
// names, and arguments that are a JSON value within MaxArgsBytes.
func (m *Mutation) Validate() error {
	if err := m.validateFields(); err != nil {
		return err
	}
	return m.validateArgs()
}

// validateFields is Validate without the JSON scan of the arguments: cheap
// enough for every duplicate a region receives.
func (m *Mutation) validateFields() error {
	if err := validOrigin(m.ID.Origin); err != nil {
		return err
	}
	if m.ID.Seq == 0 {
		return fmt.Errorf("%w: %s: sequence numbers start at 1", ErrMalformed, m.ID)
	}
	if m.TS.Wall < 0 {
		// Virtual clocks may start at the Unix epoch, not before it.
		return fmt.Errorf("%w: %s: timestamp %s is before 1970", ErrMalformed, m.ID, m.TS)
	}
	if a := m.Call.Action; a == "" || len(a) > maxActionLen || !strings.Contains(a, ":") {
		return fmt.Errorf("%w: %s: action %q: want service:Name", ErrMalformed, m.ID, a)
	}
	if len(m.Call.Account) > maxNameLen || len(m.Call.Region) > maxNameLen {
		return fmt.Errorf("%w: %s: account or region longer than %d", ErrMalformed, m.ID, maxNameLen)
	}
	if len(m.Sig) > MaxSigBytes {
		return fmt.Errorf("%w: %s: signature of %d bytes exceeds %d", ErrMalformed, m.ID, len(m.Sig), MaxSigBytes)
	}
	if len(m.Call.Args) > MaxArgsBytes {
		return fmt.Errorf("%w: %s: arguments of %d bytes exceed %d", ErrMalformed, m.ID, len(m.Call.Args), MaxArgsBytes)
	}
	return nil
}

// validateArgs checks that the arguments are JSON; Step runs it only on
// mutations new to the region.
func (m *Mutation) validateArgs() error {
	if len(m.Call.Args) > 0 && !json.Valid(m.Call.Args) {
		return fmt.Errorf("%w: %s: arguments are not JSON", ErrMalformed, m.ID)
	}
	return nil
}
