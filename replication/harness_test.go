package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// epoch is t=0 of every scripted story; times print relative to it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time  { return epoch.Add(d) }
func rel(t time.Time) time.Duration { return t.Sub(epoch) }

// linkDelay is the trivial delay model of the tests: a constant per
// (origin, destination) link, a default, and optionally another constant
// for revokes.
type linkDelay struct {
	def   time.Duration
	links map[[2]string]time.Duration
}

func (l *linkDelay) Sample(origin, dest string, revoke bool, _ *rand.Rand) time.Duration {
	if d, ok := l.links[[2]string{origin, dest}]; ok {
		return d
	}
	return l.def
}

// testAccount is the account every test state starts with.
const testAccount = "111122223333"

// initialState is the state of every test node before any mutation: one
// account and one user, so IAM calls validate.
func initialState(t testing.TB) *controlplane.State {
	t.Helper()
	s := controlplane.NewState()
	for _, c := range []controlplane.Call{
		call("organizations:CreateAccount", `{"account_id":"`+testAccount+`"}`),
		call("iam:CreateUser", `{"user_name":"alice"}`),
	} {
		if err := s.Validate(c); err != nil {
			t.Fatalf("initial state: %s: %v", c.Action, err)
		}
		s.Apply(c)
	}
	return s
}

func call(action, args string) controlplane.Call {
	return controlplane.Call{Action: action, Args: json.RawMessage(args)}
}

// inflight is a message on the harness's network.
type inflight struct {
	from string
	env  Envelope
	due  time.Time // delivery instant (run); deliver ignores it
}

// harness is a few nodes, a manual clock and a network the script controls:
// messages wait in the outbox until a command delivers or drops them.
type harness struct {
	t       testing.TB
	regions []string
	nodes   map[string]*Node
	cfgs    map[string]Config
	now     time.Time
	outbox  []inflight
	durable map[string][]Mutation // each region's persisted log
	dl      map[string]time.Time  // each node's last Ready.Deadline
	lastAt  map[string]time.Time  // each node's last Applied.At: must never decrease
	// lastInput is each node's previous collected input: a mutation due
	// by then was applied then, not at a later input.
	lastInput map[string]time.Time
	// receipts records when each region first received each mutation, so
	// every Applied.At can be checked against max(receipt, commit + delay).
	receipts map[string]map[MutationID]time.Time
	delay    *linkDelay
	down     map[string]bool
	cut      map[[2]string]bool // partitioned links (from, to)
	latency  time.Duration
	loss     float64    // probability that a delivery is lost
	lossRNG  *rand.Rand // draws losses
	out      *strings.Builder
	quiet    bool   // run: print only applies and rejections
	epochs   uint64 // lost-state restarts so far: each draws a new epoch
}

func newHarness(t testing.TB, regions []string, delay DelayModel, g GossipConfig, seed uint64) *harness {
	h := &harness{
		t: t, regions: regions, nodes: map[string]*Node{}, cfgs: map[string]Config{},
		now: epoch, durable: map[string][]Mutation{}, dl: map[string]time.Time{}, lastAt: map[string]time.Time{}, lastInput: map[string]time.Time{},
		down: map[string]bool{}, cut: map[[2]string]bool{}, out: &strings.Builder{},
		receipts: map[string]map[MutationID]time.Time{},
	}
	h.delay, _ = delay.(*linkDelay)
	for _, r := range regions {
		h.receipts[r] = map[MutationID]time.Time{}
	}
	init := initialState(t)
	for i, r := range regions {
		cfg := Config{
			Region: r, Gossip: g, Delay: delay, Initial: init, Start: epoch,
			Rand: rand.New(rand.NewPCG(seed, uint64(i))),
		}
		h.cfgs[r] = cfg
		h.nodes[r] = NewNode(cfg)
		h.nodes[r].SetPeers(regions)
	}
	return h
}

func (h *harness) printf(format string, a ...any) { fmt.Fprintf(h.out, format, a...) }

func ids(ms []Mutation) string {
	s := make([]string, len(ms))
	for i := range ms {
		s[i] = ms[i].ID.String()
	}
	return strings.Join(s, " ")
}

func vecString(v VersionVector) string {
	var parts []string
	for _, o := range v.Origins() {
		parts = append(parts, fmt.Sprintf("%s:%d", o, v[o]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func describe(m Message) string {
	s := m.Kind.String()
	if m.Vector != nil {
		s += " vector=" + vecString(m.Vector)
	}
	if len(m.Mutations) > 0 {
		s += " [" + ids(m.Mutations) + "]"
	}
	return s
}

// collect carries out one node's Ready: persist, report applies, queue
// messages, remember the deadline.
func (h *harness) collect(r string) {
	n := h.nodes[r]
	rd := n.Ready()
	h.durable[r] = append(h.durable[r], rd.Persist...)
	for _, a := range rd.Applied {
		if a.At.Before(h.lastAt[r]) || a.At.After(h.now) || a.At.Before(a.CommitTime()) {
			h.t.Errorf("%s applied %s at %v: before its previous apply (%v), after now (%v) or before its commit", r, a.ID, rel(a.At), rel(h.lastAt[r]), rel(h.now))
		}
		h.lastAt[r] = a.At
		h.checkApplyInstant(r, a)
		h.printf("%s applied %s at %v (lag %v)\n", r, a.ID, rel(a.At), a.At.Sub(a.CommitTime()))
	}
	for _, e := range rd.Messages {
		if !h.quiet {
			h.printf("%s -> %s %s\n", r, e.To, describe(e.Msg))
		}
		h.outbox = append(h.outbox, inflight{from: r, env: e, due: h.now.Add(h.latency)})
	}
	if !rd.Deadline.IsZero() && rd.Deadline.Before(h.now) {
		h.t.Errorf("%s: deadline %v is before now %v", r, rel(rd.Deadline), rel(h.now))
	}
	h.dl[r] = rd.Deadline
	h.lastInput[r] = h.now
	checkAbove(h.t, r, n)
}

// checkAbove checks, against the entries themselves, what each origin
// log counts applied beyond its prefix, and that AppliedAbove lists
// exactly those numbers.
func checkAbove(t testing.TB, r string, n *Node) {
	t.Helper()
	above, _ := n.AppliedAbove(math.MaxInt)
	for name, o := range n.origins {
		want := map[uint64]bool{}
		o.seqs.each(func(s uint64, e *entry) {
			if e.applied && s > o.applied {
				want[s] = true
			}
		})
		got := 0
		for _, rg := range above[name] {
			for s := rg.From; s <= rg.To; s++ {
				got++
				if !want[s] {
					t.Errorf("%s: AppliedAbove lists %s/%d, not applied beyond the prefix %d", r, name, s, o.applied)
				}
			}
		}
		if o.above != len(want) || got != len(want) {
			t.Errorf("%s: %s counts %d applied beyond its prefix %d, AppliedAbove lists %d; the entries say %d", r, name, o.above, o.applied, got, len(want))
		}
	}
}

func (h *harness) collectAll() {
	for _, r := range h.regions {
		if !h.down[r] {
			h.collect(r)
		}
	}
}

// deliver hands one message to its destination (dropped if it is down or
// the link is cut) and collects the effects.
func (h *harness) deliver(m inflight) {
	to := m.env.To
	if h.down[to] || h.cut[[2]string{m.from, to}] || (h.loss > 0 && h.lossRNG.Float64() < h.loss) {
		if !h.quiet {
			h.printf("%s -> %s %s: lost\n", m.from, to, m.env.Msg.Kind)
		}
		return
	}
	before := h.nodes[to].Stats().Duplicates
	if err := h.step(to, m.env.Msg); err != nil {
		h.printf("%s rejected %s from %s: %v\n", to, m.env.Msg.Kind, m.from, err)
	} else if !h.quiet {
		dup := h.nodes[to].Stats().Duplicates - before
		h.printf("%s -> %s %s: delivered, %d new\n", m.from, to, m.env.Msg.Kind, uint64(len(m.env.Msg.Mutations))-dup)
	}
	h.collect(to)
}

// step hands msg to region to, recording first receipts.
func (h *harness) step(to string, msg Message) error {
	var fresh []MutationID
	for i := range msg.Mutations {
		if id := msg.Mutations[i].ID; h.nodes[to].lookup(id) == nil {
			fresh = append(fresh, id)
		}
	}
	err := h.nodes[to].Step(h.now, msg)
	if err == nil || errors.Is(err, ErrConflict) { // taken in
		for _, id := range fresh {
			if _, seen := h.receipts[to][id]; !seen {
				h.receipts[to][id] = h.now
			}
		}
	}
	return err
}

// run advances virtual time to until as the simulator would: each node is
// ticked at its deadline and messages arrive after h.latency.
func (h *harness) run(until time.Time) {
	for {
		next := until
		found := false
		for _, r := range h.regions {
			if d := h.dl[r]; !h.down[r] && !d.IsZero() && !d.After(next) {
				next, found = d, true
			}
		}
		for _, m := range h.outbox {
			if !m.due.After(next) {
				next, found = m.due, true
			}
		}
		if !found {
			break
		}
		if next.After(h.now) {
			h.now = next
		}
		// Deliver what is due, in send order, then tick what is due.
		var keep []inflight
		var due []inflight
		for _, m := range h.outbox {
			if !m.due.After(h.now) {
				due = append(due, m)
			} else {
				keep = append(keep, m)
			}
		}
		h.outbox = keep
		for _, m := range due {
			h.deliver(m)
		}
		for _, r := range h.regions {
			if d := h.dl[r]; !h.down[r] && !d.IsZero() && !d.After(h.now) {
				h.nodes[r].Tick(h.now)
				h.collect(r)
			}
		}
	}
	if until.After(h.now) {
		h.now = until
	}
}

// status prints each region's applied set and vector, and groups equal
// digests under letters (A, B, ...), so scripts do not depend on the
// control plane's digest encoding.
func (h *harness) status() {
	groups := map[[32]byte]string{}
	for _, r := range h.regions {
		n := h.nodes[r]
		d := n.Digest()
		g, ok := groups[d]
		if !ok {
			g = string(rune('A' + len(groups)))
			groups[d] = g
		}
		var applied []string
		for _, e := range n.fold.entries {
			applied = append(applied, e.m.ID.String())
		}
		state := ""
		if h.down[r] {
			state = " (down)"
		}
		h.printf("%s%s: digest %s vector %s pending %d applied [%s]\n", r, state, g, vecString(n.Vector()), n.Pending(), strings.Join(applied, " "))
	}
}

// restart replaces region r's node: from its durable log, or with its
// state lost.
func (h *harness) restart(r string, loseState bool) { h.restartWith(r, loseState, false) }

// restartWith is restart, catching up with a peer before committing
// (Config.CatchUp) when catchUp.
func (h *harness) restartWith(r string, loseState, catchUp bool) {
	cfg := h.cfgs[r]
	cfg.Start = h.now
	cfg.LostState = loseState
	cfg.CatchUp = catchUp
	if loseState {
		// A new log starts a new epoch, drawn by the driver.
		h.epochs++
		cfg.Epoch = 0x9e3779b97f4a7c15 * h.epochs
		h.cfgs[r] = cfg
	}
	n := NewNode(cfg)
	n.SetPeers(h.regions)
	if loseState {
		h.durable[r] = nil
	} else {
		n.Restore(time.Unix(0, 0), h.durable[r])
	}
	h.nodes[r], h.down[r] = n, false
	h.receipts[r] = map[MutationID]time.Time{} // a new incarnation receives afresh
	h.collect(r)
}

// checkApplyInstant checks the apply-time rule: an own commit applies at
// its commit instant; a received mutation is due at max(first receipt,
// commit + link delay), to the nanosecond, and applies at the node's first
// input at or after that (the harness collects after every input, so at
// now), which is the due instant when the node is ticked at its deadline.
func (h *harness) checkApplyInstant(r string, a Applied) {
	if h.delay == nil {
		return
	}
	got, received := h.receipts[r][a.ID]
	if !received {
		if !a.At.Equal(a.CommitTime()) {
			h.t.Errorf("%s applied its own %s at %v, want its commit instant %v", r, a.ID, rel(a.At), rel(a.CommitTime()))
		}
		return
	}
	due := a.CommitTime().Add(h.delay.Sample(a.ID.Origin, r, a.Revoke, nil))
	if got.After(due) {
		due = got
	}
	if !a.At.Equal(h.now) || a.At.Before(due) || (!due.After(h.lastInput[r]) && h.lastInput[r].Before(h.now)) {
		h.t.Errorf("%s applied %s at %v, due at %v (max of receipt and commit + delay): want the first input at or after it (previous input %v, now %v)",
			r, a.ID, rel(a.At), rel(due), rel(h.lastInput[r]), rel(h.now))
	}
}

// converged reports whether every region holds the same digest.
func (h *harness) converged() bool {
	var first [32]byte
	for i, r := range h.regions {
		d := h.nodes[r].Digest()
		if i == 0 {
			first = d
		} else if d != first {
			return false
		}
	}
	return true
}

// sortedIDs returns the IDs of ms in the total order.
func sortedIDs(ms []Mutation) []string {
	c := slices.Clone(ms)
	sort.Slice(c, func(i, j int) bool { return Less(&c[i], &c[j]) })
	out := make([]string, len(c))
	for i := range c {
		out[i] = c[i].ID.String()
	}
	return out
}
