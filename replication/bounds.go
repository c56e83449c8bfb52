package replication

import (
	"errors"
	"fmt"
)

// Bounds on what a peer may claim. A peer holding the gossip key can send
// any sequence number and any timestamp; without these bounds one forged
// mutation under this region's own origin with sequence number 2^64-1 made
// its next sequence number wrap to 0, and every later commit failed.
const (
	// DefaultMaxSeqAhead is Config.MaxSeqAhead's default: 2^32 sequence
	// numbers past the highest one known of an origin, a hundred years of
	// commits at one per millisecond. An honest origin never gets that far
	// ahead of a region that heard from it at all; anti-entropy brings the
	// region closer anyway, one chunk at a time, before it sees more.
	DefaultMaxSeqAhead = 1 << 32
	// MaxSeq is the largest sequence number any region accepts, whatever
	// it knows: next-sequence arithmetic never wraps below it.
	MaxSeq = 1 << 62
)

// ErrImplausible is wrapped by the error for a mutation refused for a
// claim no honest peer makes: a sequence number under this region's own
// origin that it never issued, or one implausibly far ahead of what the
// region knows of its origin. The mutation was dropped and counted (Stats)
// and the message's other mutations were taken in, as for ErrConflict.
var ErrImplausible = errors.New("replication: implausible mutation")

// plausible checks a received mutation, unknown to this region, against the
// bounds; nil means take it in. It counts what it refuses.
func (n *Node) plausible(mu *Mutation) error {
	var known uint64
	if o := n.logOf(mu.ID); o != nil {
		known = o.max
	}
	if n.ownEpoch(mu.ID) {
		if n.stats.Committed > 0 && mu.ID.Seq >= n.nextSeq {
			// Once this region has committed in this incarnation it knows
			// its own next sequence number: a higher one is forged. (Before
			// its first commit it may be learning back what a lost log held,
			// within the bound below.)
			n.stats.RefusedOwnOrigin++
			return fmt.Errorf("%w: %s: this region has issued sequence numbers up to %d only", ErrImplausible, mu.ID, n.nextSeq-1)
		}
		known = max(known, n.nextSeq-1)
	}
	if mu.ID.Seq > MaxSeq || (mu.ID.Seq > known && mu.ID.Seq-known > n.cfg.MaxSeqAhead) {
		n.stats.RefusedSeqAhead++
		return fmt.Errorf("%w: %s: sequence number more than %d past %d, the highest known of %s", ErrImplausible, mu.ID, n.cfg.MaxSeqAhead, known, mu.ID.Origin)
	}
	return nil
}
