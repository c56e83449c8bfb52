package sim

import (
	"time"

	"github.com/iamprop/iamprop/replication"
)

// MissingReason says why a live region has not applied a committed
// mutation at the current instant.
type MissingReason uint8

// Reasons, from the one that resolves soonest to the ones that never do.
const (
	// Pending: received, waiting for its apply instant (commit time +
	// the propagation delay drawn for this region), which is later.
	Pending MissingReason = iota + 1
	// InFlight: not received, but a message carrying it to the region is
	// on the wire.
	InFlight
	// Spreading: not received and nothing carries it to the region yet,
	// but some live region still queues it as a rumor (retransmits left).
	Spreading
	// RumorDied: not received, no region gossips it any more (every copy
	// used up its retransmit limit, memberlist's RetransmitMult ×
	// ⌈log10(n+1)⌉) and no message carries it to the region: only a
	// push/pull (anti-entropy) can bring it, at the earliest at the
	// region's next one or when a peer's push/pull picks it.
	RumorDied
	// Lost: no region, kept log or message holds it any more (its origin
	// crashed with its state first); see Sim.Lost. Nothing can bring it.
	Lost
	// Conflict: the region holds another mutation under its ID (forged or
	// corrupted: an origin that lost its state commits in a new epoch and
	// never reuses an id); the conflict is counted.
	Conflict
	// CutOff: not received, and a network fault (a partition) cuts the
	// region off from every live region that holds it: neither gossip nor
	// push/pull can bring it until the fault heals.
	CutOff
)

var reasonNames = [...]string{
	Pending:   "pending_apply",
	InFlight:  "in_flight",
	Spreading: "spreading",
	RumorDied: "rumor_died_out",
	Lost:      "lost",
	Conflict:  "conflict",
	CutOff:    "cut_off",
}

// String is the reason's stable name, as the run report carries it.
func (r MissingReason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "unknown"
}

// Missing is one committed mutation a live region has not applied.
type Missing struct {
	Region   string
	Mutation replication.Mutation
	Reason   MissingReason
	// ApplyAt is, for Pending, the instant the mutation becomes visible in
	// the region; -1 otherwise.
	ApplyAt time.Duration
	// NextPushPull is the region's next scheduled push/pull, -1 when it
	// has none (push/pull off, or no peers).
	NextPushPull time.Duration
	// Reported, for Lost, says the region itself reports the id lost
	// (replication.Node.IsLost: its origin epoch closed and settled there),
	// as a live node answers GET /v1/mutations/{id} with status "lost".
	Reported bool
}

// Missing lists, per live region in configuration order and then in commit
// order, every committed mutation the region has not applied now, with
// the reason: why the run is not converged (Converged). It is empty when
// every live region holds every commit; a region whose view still differs
// from the truth then holds a conflicting mutation and is listed with
// Conflict. It costs a scan of the messages in flight: call it once, at
// the end of a run.
func (s *Sim) Missing() []Missing {
	var out []Missing
	lost := map[commitKey]bool{}
	for _, i := range s.lostIndices() {
		m := &s.committed[i]
		lost[commitKey{m.ID, m.TS}] = true
	}
	// Mutations carried by messages in flight, per destination region.
	inFlight := map[int32]map[commitKey]bool{}
	for _, e := range s.queue {
		s.noteInFlight(inFlight, e)
	}
	for _, e := range s.dueNow[s.dueHead:] {
		s.noteInFlight(inFlight, e)
	}
	for ri, r := range s.regions {
		if r.down {
			continue
		}
		next := time.Duration(-1)
		if t := r.node.NextPushPull(); !t.IsZero() {
			next = virtual(t)
		}
		for k := range s.committed {
			m := &s.committed[k]
			key := commitKey{m.ID, m.TS}
			if r.node.Knows(m) && r.node.Has(m.ID) {
				continue
			}
			x := Missing{Region: r.name, Mutation: *m, ApplyAt: -1, NextPushPull: next}
			at, pending := r.node.PendingApply(m.ID)
			knows := r.node.Knows(m)
			switch {
			case knows && pending:
				x.Reason, x.ApplyAt = Pending, virtual(at)
			case !knows && (pending || r.node.Has(m.ID)):
				x.Reason = Conflict
			case lost[key]:
				x.Reason, x.Reported = Lost, r.node.IsLost(m.ID)
			case inFlight[int32(ri)][key]:
				x.Reason = InFlight
			case s.cutOff(r.name, m):
				x.Reason = CutOff
			case s.gossiped(m):
				x.Reason = Spreading
			default:
				x.Reason = RumorDied
			}
			out = append(out, x)
		}
	}
	return out
}

// noteInFlight records the mutations of a message event to a live region.
func (s *Sim) noteInFlight(into map[int32]map[commitKey]bool, e event) {
	if e.kind != evMsg {
		return
	}
	if r := s.regions[e.region]; r.down || int(e.gen) != r.gen {
		return // dropped on arrival
	}
	for _, m := range s.msgs.items[e.slot].Mutations {
		if into[e.region] == nil {
			into[e.region] = map[commitKey]bool{}
		}
		into[e.region][commitKey{m.ID, m.TS}] = true
	}
}

// cutOff reports whether a fault blocks every live region holding m from
// reaching region (and some live region holds it).
func (s *Sim) cutOff(region string, m *replication.Mutation) bool {
	holders := 0
	for _, r := range s.regions {
		if r.down || r.name == region || !r.node.Knows(m) {
			continue
		}
		holders++
		if !s.blocked(r.name, region) {
			return false
		}
	}
	return holders > 0
}

// gossiped reports whether some live region still queues m as a rumor.
func (s *Sim) gossiped(m *replication.Mutation) bool {
	for _, r := range s.regions {
		if !r.down && r.node.Knows(m) && r.node.Gossiping(m.ID) {
			return true
		}
	}
	return false
}
