package replication

import (
	"errors"
	"fmt"
	"time"
)

// Consistency selects how fresh a region's view must be to answer a read,
// after SpiceDB's and Zanzibar's consistency options. The live driver's
// authorize path and the simulator's probes both decide it with
// Node.Admit, so the two answer alike.
type Consistency struct {
	// Mode is ModeLocal (also ""), ModeAtLeast or ModeMaxLag.
	Mode string
	// Token is the mutation id (MutationID.String) an at_least read needs
	// applied.
	Token string
	// Timeout is how long an at_least read may wait for its token; the
	// waiting is the driver's (Admit answers for one instant).
	Timeout time.Duration
	// MaxLag is the largest age of the view a max_lag read accepts
	// (Node.LagBound).
	MaxLag time.Duration
}

// Consistency modes.
const (
	ModeLocal   = "local"    // answer from the view as it is
	ModeAtLeast = "at_least" // answer once the view includes Token
	ModeMaxLag  = "max_lag"  // answer only while the view's age is within MaxLag
)

// Reasons Admit refuses a read; each wraps in the error it returns.
var (
	// ErrNotFresh: the view does not include the at_least token (yet).
	ErrNotFresh = errors.New("replication: view does not include the token yet")
	// ErrTooStale: the view may lag by more than max_lag (Node.LagBound).
	ErrTooStale = errors.New("replication: view lags more than max_lag")
	// ErrBadConsistency: an unknown mode, or a token that is not a mutation id.
	ErrBadConsistency = errors.New("replication: bad consistency option")
)

// StaleSince returns the instant since which the view is known to lack a
// committed mutation, and whether it is known to lack one at all: the
// earliest commit time of the mutations received but not yet applied (they
// wait for their apply instant); the instant it learned that a peer applied
// a mutation it has not (Config.Acks; a lower bound of the lag, as that
// mutation was committed earlier); or, while a node restarted without its
// log is catching up (Recovering), its start. The lag as of now is
// now - StaleSince. A view lacking only mutations it has not heard of is
// not known to be stale: no region can know that.
func (n *Node) StaleSince() (time.Time, bool) {
	var since int64
	found := n.recovering && n.started
	if found {
		since = n.startAt
	}
	for i := range n.pending.items {
		w := n.pending.items[i].e.m.TS.Wall
		if !found || w < since {
			since, found = w, true
		}
	}
	if w, ok := n.ackedStaleSince(); ok && (!found || w < since) {
		since, found = w, true
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(0, since).UTC(), true
}

// Lag returns how far behind the view is known to be at now (see
// StaleSince); zero when it is not known to be stale.
func (n *Node) Lag(now time.Time) time.Duration {
	s, ok := n.StaleSince()
	if !ok {
		return 0
	}
	return max(0, now.Sub(s))
}

// Admit decides whether the view may answer a read with consistency c at
// now: local always; at_least once the token's mutation is applied here;
// max_lag while the view's age may be at most MaxLag (LagBound: now -
// BoundSince, an upper bound, so a region cut off from a peer fails closed
// rather than answer from a view missing what that peer committed), so the
// first refused instant is exactly BoundSince + MaxLag + 1ns. A refusal returns
// false and an error wrapping ErrNotFresh, ErrTooStale or
// ErrBadConsistency. Admit changes nothing.
func (n *Node) Admit(now time.Time, c Consistency) (bool, error) {
	switch c.Mode {
	case "", ModeLocal:
		return true, nil
	case ModeAtLeast:
		id, err := ParseMutationID(c.Token)
		if err != nil {
			return false, fmt.Errorf("%w: token: %v", ErrBadConsistency, err)
		}
		if !n.Includes(id) {
			return false, fmt.Errorf("%w: %s not applied in %s", ErrNotFresh, id, n.region)
		}
		return true, nil
	case ModeMaxLag:
		since, limit, found := n.boundSince()
		if !found {
			return true, nil
		}
		if lag := max(0, now.Sub(time.Unix(0, since))); lag > c.MaxLag {
			if since == never && limit == "" {
				return false, fmt.Errorf("%w: %s is recovering its state from its peers: commits of any age may be missing", ErrTooStale, n.region)
			}
			if limit == "" {
				return false, fmt.Errorf("%w: lag %v > %v", ErrTooStale, lag.Round(time.Millisecond), c.MaxLag)
			}
			if limit == n.region {
				return false, fmt.Errorf("%w: %s lost its state and waits for every region to answer before it fills its earlier epoch's gaps: its own earlier commits may be missing", ErrTooStale, n.region)
			}
			if since == never {
				return false, fmt.Errorf("%w: nothing heard from %s yet: its commits may be missing", ErrTooStale, limit)
			}
			return false, fmt.Errorf("%w: view may lag %v > %v: nothing newer heard from %s", ErrTooStale, lag.Round(time.Millisecond), c.MaxLag, limit)
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: mode %q: want local, at_least or max_lag", ErrBadConsistency, c.Mode)
}
