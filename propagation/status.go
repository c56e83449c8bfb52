// Package propagation computes how far one mutation has propagated: per
// region applied, pending or unknown, and whether it is applied everywhere.
// It is pure (no clock, no IO): the caller gathers the facts (the cluster's
// regions with their membership state, when each was last heard from, and
// which have applied the mutation) and the current time.
package propagation

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Membership states of a region as the asking node sees it. Alive,
// Suspect, Dead and Left are memberlist's; Unseen is a region remembered
// from an earlier run that this node has not heard from since it started.
const (
	Alive   = "alive"
	Suspect = "suspect"
	Dead    = "dead"
	Left    = "left"
	Unseen  = "unseen"
)

// Per-region propagation statuses.
const (
	// Applied: the region is known to have applied the mutation.
	Applied = "applied"
	// Pending: the region is up and in touch, and has not applied it yet.
	Pending = "pending"
	// Unknown: the region is not known to have applied it, and is down,
	// suspect, or silent for longer than the bound, so nobody can say
	// whether or when it will.
	Unknown = "unknown"
)

// DefaultSilenceBound is how long a region that is not known to be down
// may go unheard before its status turns unknown.
const DefaultSilenceBound = 10 * time.Second

// Region is what the asking node knows of one region of the cluster.
type Region struct {
	// Name is the region's name.
	Name string
	// State is its membership state (Alive, Suspect, Dead, Left, Unseen);
	// an empty or unrecognised state counts as Unseen.
	State string
	// LastHeard is the last instant this node had a sign of life from the
	// region; zero means never.
	LastHeard time.Time
	// Self marks the asking region: it is always in touch with itself.
	Self bool
	// Applied reports that the region is known to have applied the
	// mutation; AppliedAt is when, or zero when that is not known.
	Applied   bool
	AppliedAt time.Time
}

// Input is everything Compute needs.
type Input struct {
	// Now is the instant of the question.
	Now time.Time
	// SilenceBound is how long an alive region may go unheard before its
	// status turns unknown; zero means DefaultSilenceBound.
	SilenceBound time.Duration
	// Regions is every region of the cluster: the regions ever seen and not
	// removed by an operator, down ones included.
	Regions []Region
}

// RegionStatus is one region's answer.
type RegionStatus struct {
	// Region is the region's name.
	Region string
	// Status is Applied, Pending or Unknown.
	Status string
	// AppliedAt is when the region applied it (zero when not applied, or
	// the time is not known).
	AppliedAt time.Time
	// Reason says why the status is Unknown ("" otherwise).
	Reason string
}

// Status is the propagation status of one mutation.
type Status struct {
	// Regions holds one entry per input region, sorted by name.
	Regions []RegionStatus
	// Complete is true only when every region has applied the mutation
	// (and there is at least one region).
	Complete bool
}

// Compute derives each region's status. A region known to have applied the
// mutation is Applied whatever its state now (it did apply it). Otherwise
// the asking region itself is Pending; another region is Unknown when it is
// dead, left, suspect, unseen or unheard for longer than the silence
// bound, and Pending when it is alive and recently heard from.
func Compute(in Input) Status {
	bound := in.SilenceBound
	if bound <= 0 {
		bound = DefaultSilenceBound
	}
	out := Status{Regions: make([]RegionStatus, 0, len(in.Regions)), Complete: len(in.Regions) > 0}
	for _, r := range in.Regions {
		rs := RegionStatus{Region: r.Name}
		switch {
		case r.Applied:
			rs.Status, rs.AppliedAt = Applied, r.AppliedAt
		case r.Self:
			rs.Status = Pending
		default:
			rs.Status, rs.Reason = Pending, unknownReason(r, in.Now, bound)
			if rs.Reason != "" {
				rs.Status = Unknown
			}
		}
		if rs.Status != Applied {
			out.Complete = false
		}
		out.Regions = append(out.Regions, rs)
	}
	slices.SortFunc(out.Regions, func(a, b RegionStatus) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// unknownReason says why a region that has not applied the mutation cannot
// be counted on to apply it, or "" when it is alive and in touch.
func unknownReason(r Region, now time.Time, bound time.Duration) string {
	ago := ""
	if !r.LastHeard.IsZero() {
		ago = fmt.Sprintf("; last heard %v ago", now.Sub(r.LastHeard).Round(time.Millisecond))
	}
	switch r.State {
	case Alive:
		if r.LastHeard.IsZero() {
			return "never heard from"
		}
		if silent := now.Sub(r.LastHeard); silent > bound {
			return fmt.Sprintf("silent for %v (bound %v)", silent.Round(time.Millisecond), bound)
		}
		return ""
	case Suspect:
		return "suspected of failure" + ago
	case Dead:
		return "down (dead)" + ago
	case Left:
		return "down (left the cluster)" + ago
	default:
		return "not heard from since this node started"
	}
}

// Names returns the regions with the given status, in order.
func (s Status) Names(status string) []string {
	out := []string{}
	for _, r := range s.Regions {
		if r.Status == status {
			out = append(out, r.Region)
		}
	}
	return out
}
