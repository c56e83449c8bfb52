package chaos

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/replication"
)

// Finding is one violation the checker found.
type Finding struct {
	// Kind is "lost", "forgotten", "unacknowledged", "divergent",
	// "resurrected", or (Options.Divergence) "id-reuse", "unreported",
	// "stale-at-least", "stale-max-lag".
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"` // the region whose view is wrong
	ID     string `json:"id,omitempty"`     // the mutation or item concerned
	Detail string `json:"detail"`
	// Seed is the schedule seed that reproduces it (set by Run).
	Seed uint64 `json:"seed,omitempty"`
}

// String renders the finding on one line: kind, region, id, detail, and
// the seed that reproduces it.
func (f Finding) String() string {
	s := f.Kind
	if f.Seed != 0 {
		s = fmt.Sprintf("[seed %d] %s", f.Seed, s)
	}
	if f.Region != "" {
		s += " at " + f.Region
	}
	if f.ID != "" {
		s += " " + f.ID
	}
	return s + ": " + f.Detail
}

// Result is the checker's verdict on one schedule.
type Result struct {
	Acked   int `json:"acked"`
	Failed  int `json:"failed"`
	Unknown int `json:"unknown"`
	// FailedBy counts failed and unknown-outcome commits by Op.Code. An AWS
	// code here means a worker's own earlier commit was missing from its
	// origin's view.
	FailedBy map[string]int `json:"failed_by,omitempty"`
	// UnknownCommitted: unknown-outcome commits the cluster did commit
	// (inferred from the version vectors and the digest).
	UnknownCommitted int `json:"unknown_committed"`
	// UnknownLost: unknown-outcome commits the cluster committed and then
	// lost with their origin's disk (slots the nodes report lost that no
	// acknowledgement names).
	UnknownLost int `json:"unknown_lost,omitempty"`
	// DeletesChecked counts (deleted item, region) pairs probed.
	DeletesChecked int    `json:"deletes_checked"`
	TruthDigest    string `json:"truth_digest"`
	// Lost: acknowledged mutations some region has not applied.
	Lost []Finding `json:"lost,omitempty"`
	// Unacknowledged: mutations regions applied that no node acknowledged
	// (beyond what unknown-outcome requests can explain).
	Unacknowledged []Finding `json:"unacknowledged,omitempty"`
	// Divergent: regions whose view digest differs from the truth's.
	Divergent []Finding `json:"divergent,omitempty"`
	// Resurrected: deleted items a region holds again.
	Resurrected []Finding `json:"resurrected,omitempty"`
	// Forgotten: commits refused with an AWS error although the worker only
	// sends calls valid against what it saw acknowledged at that origin (a
	// user it abandoned after an unknown outcome is never touched again):
	// the origin had forgotten an acknowledged commit, a read-your-writes
	// loss even if the cluster repairs it later.
	Forgotten []Finding `json:"forgotten,omitempty"`
	// IDReuse: ids that name two different mutations (two
	// acknowledgements, or different content in two places).
	IDReuse []Finding `json:"id_reuse,omitempty"`
	// Unreported (CheckDivergence): a conflict or a lost commit that no
	// node reported itself.
	Unreported []Finding `json:"unreported,omitempty"`
	// StaleReads (CheckReads): at_least or max_lag answers from a view
	// older than they promise.
	StaleReads []Finding `json:"stale_reads,omitempty"`
	// Reads counts the consistency reads judged (answered ones).
	Reads int `json:"reads,omitempty"`
	// ReadsUnknown counts max_lag answers the checker could not judge:
	// their view's prefix lacked an old commit and the node truncated the
	// list of what the view held above the prefix (Read.AboveTruncated).
	ReadsUnknown int `json:"reads_unknown,omitempty"`
	// ReportedLost: acknowledged mutations no region holds, whose ids the
	// nodes themselves report lost with their origin's disk (Final's
	// LostEpochs): the documented price of acknowledging a commit once
	// its origin's disk holds it, not a finding.
	ReportedLost []Finding `json:"reported_lost,omitempty"`
	// LossConsequences: what follows from a reported loss, not findings
	// either: a deleted item back because its delete was lost
	// ("resurrected"), a valid call refused because the user it names was
	// created by a lost commit ("forgotten").
	LossConsequences []Finding `json:"loss_consequences,omitempty"`
}

// OK reports whether the schedule passed every check.
func (r *Result) OK() bool {
	return len(r.Findings()) == 0
}

// Findings returns every finding, in the order lost, forgotten,
// unacknowledged, divergent, resurrected, id reuse, unreported, stale
// reads.
func (r *Result) Findings() []Finding {
	return slices.Concat(r.Lost, r.Forgotten, r.Unacknowledged, r.Divergent, r.Resurrected, r.IDReuse, r.Unreported, r.StaleReads)
}

// refusedBeforeProposal reports whether a failed commit's code says the
// node refused it before validating it (down, or still catching up): the
// only failures a correct node gives this workload.
func refusedBeforeProposal(code string) bool {
	return code == "refused" || code == "CatchingUp"
}

// maxCandidates bounds the truths tried when unknown-outcome commits make
// the truth ambiguous (which of them were committed).
const maxCandidates = 512

// InitialState is the state a regionnode starts from with --account
// account: what every truth is folded onto.
func InitialState(account string) (*controlplane.State, error) {
	st := controlplane.NewState()
	if account == "" {
		return st, nil
	}
	args, _ := json.Marshal(map[string]string{"account_id": account})
	if err := st.TryApply(controlplane.Call{Action: "organizations:CreateAccount", Args: args}); err != nil {
		return nil, fmt.Errorf("chaos: account %q: %w", account, err)
	}
	return st, nil
}

// truthMut is one mutation of the truth, in the cluster's total order.
type truthMut struct {
	ts     replication.Timestamp
	origin string // the stream: origin and epoch (MutationID.Stream)
	seq    uint64
	call   controlplane.Call
	op     int // index in History.Ops; -1 for unknown-outcome candidates
}

// deleted is an item an acknowledged op removed.
type deleted struct {
	Item
	op int // index in History.Ops
}

// Check judges one schedule: h is what the clients saw, finals what every
// region's API answered after the heal. The truth is the fold, in the
// cluster's total order (HLC, origin, sequence), of every acknowledged
// mutation plus the unknown-outcome ones the cluster committed; which
// unknown ones were committed is inferred from the version vectors (how
// many sequence numbers per origin exist beyond the acknowledged ones) and,
// when several choices fit, from the digest. The workload never touches an
// entity again after an unknown outcome, so those mutations commute with
// every later one and their place in the order does not matter.
func Check(h History, finals []Final) (Result, error) {
	var res Result
	initial, err := InitialState(h.Account)
	if err != nil {
		return res, err
	}
	var acked []truthMut
	ackedSeqs := map[string]map[uint64]bool{}
	unknown := map[string][]truthMut{}
	lastTS := map[string]replication.Timestamp{} // per worker: its last acknowledged commit
	var deletes []deleted
	var refused []int // ops refused with an AWS error: forgotten, unless a reported loss explains them
	for i := range h.Ops {
		op := &h.Ops[i]
		call := controlplane.Call{Action: op.Call, Region: op.Region, Args: op.With}
		switch op.Outcome {
		case Acked:
			res.Acked++
			id, err := replication.ParseMutationID(op.ID)
			if err != nil {
				return res, fmt.Errorf("chaos: op %d (%s at %s): %w", i, op.Call, op.Region, err)
			}
			ts, err := replication.ParseTimestamp(op.HLC)
			if err != nil {
				return res, fmt.Errorf("chaos: op %d (%s): %w", i, op.ID, err)
			}
			if id.Origin != op.Region {
				return res, fmt.Errorf("chaos: op %d: id %s was sent to %s", i, op.ID, op.Region)
			}
			// Per origin epoch (its stream): vectors count them apart.
			stream := id.Stream()
			if ackedSeqs[stream] == nil {
				ackedSeqs[stream] = map[uint64]bool{}
			}
			if ackedSeqs[stream][id.Seq] {
				// Two acknowledgements with one id: a reused sequence
				// number, so one of them cannot be in every view.
				res.IDReuse = append(res.IDReuse, Finding{Kind: "id-reuse", Region: op.Region, ID: op.ID, Detail: "two commits were acknowledged with this id (a sequence number was reused): one of them cannot be in every view"})
			}
			ackedSeqs[stream][id.Seq] = true
			acked = append(acked, truthMut{ts: ts, origin: stream, seq: id.Seq, call: call, op: i})
			lastTS[op.Worker] = ts
			for _, it := range op.Deletes {
				deletes = append(deletes, deleted{it, i})
			}
		case Failed:
			res.Failed++
			res.countFailure(op.Code)
			if !refusedBeforeProposal(op.Code) {
				refused = append(refused, i)
			}
		case Unknown:
			res.Unknown++
			res.countFailure(op.Code)
			ts := lastTS[op.Worker]
			ts.Logical++ // just after the worker's previous commit
			unknown[op.Region] = append(unknown[op.Region], truthMut{ts: ts, origin: op.Region, seq: math.MaxUint64, call: call, op: -1})
		default:
			return res, fmt.Errorf("chaos: op %d: outcome %q: want ok, fail or info", i, op.Outcome)
		}
	}

	// Per origin: the highest sequence number any region applied, and how
	// many of those are not acknowledged.
	ref := replication.VersionVector{}
	for _, f := range finals {
		for o, s := range f.Vector {
			ref[o] = max(ref[o], s)
		}
	}
	origins := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for o := range ref {
			seen[o] = true
		}
		for o := range ackedSeqs {
			seen[o] = true
		}
		for o := range seen {
			if !yield(o) {
				return
			}
		}
	})
	type choice struct {
		origin string
		k      int
		of     []truthMut
	}
	var choices []choice
	for _, o := range origins {
		covered := 0
		for s := range ackedSeqs[o] {
			if s <= ref[o] {
				covered++
			}
		}
		extra := int(ref[o]) - covered
		// A slot the nodes report lost holds its origin's no-op filler (or
		// nothing): whichever unknown-outcome request was committed there
		// was lost with the disk, and is in no view, nor in the truth.
		for s := uint64(1); s <= ref[o] && extra > 0; s++ {
			if !ackedSeqs[o][s] && len(reportersOf(finals, o, s)) > 0 {
				extra--
				res.UnknownLost++
			}
		}
		// A request with an unknown outcome commits in whatever epoch its
		// region was in then.
		region, _, _ := replication.ParseStream(o)
		n := len(unknown[region])
		if extra > n {
			res.Unacknowledged = append(res.Unacknowledged, Finding{Kind: "unacknowledged", ID: o,
				Detail: fmt.Sprintf("regions applied %d mutations of origin %s; %d are acknowledged and only %d more requests had an unknown outcome", ref[o], o, covered, n)})
			extra = n
		}
		if extra > 0 {
			res.UnknownCommitted += extra
			choices = append(choices, choice{o, extra, unknown[region]})
		}
	}

	// Lost: an acknowledged id beyond a region's applied prefix; the
	// price of a lost disk, not a finding, when the nodes report it lost
	// themselves (no region holds it, or its origin filled it with a
	// no-op, which vectors count: what a node reports lost is not in any
	// view once the cluster agrees, else the views differ from the truth
	// and say so). The truth leaves such a commit out: nothing can bring
	// it to any view.
	slices.SortFunc(acked, compareTruth)
	lostOp := map[int]bool{}
	kept := acked[:0:0]
	for _, m := range acked {
		var missing []string
		for _, f := range finals {
			if f.Vector[m.origin] < m.seq {
				missing = append(missing, f.Region)
			}
		}
		id := fmt.Sprintf("%s/%d", m.origin, m.seq)
		if by := reportersOf(finals, m.origin, m.seq); len(by) > 0 {
			lostOp[m.op] = true
			res.ReportedLost = append(res.ReportedLost, Finding{Kind: "reported-lost", ID: id,
				Detail: fmt.Sprintf("acknowledged %s, lost with its origin's disk (held by no region, or only as its origin's no-op filler), and reported lost by %s", m.call.Action, strings.Join(by, ", "))})
			continue
		}
		kept = append(kept, m)
		for _, r := range missing {
			res.Lost = append(res.Lost, Finding{Kind: "lost", Region: r, ID: id,
				Detail: fmt.Sprintf("acknowledged %s not applied (the region's vector has %s at %d)", m.call.Action, m.origin, finalOf(finals, r).Vector[m.origin])})
		}
	}
	acked = kept
	for _, i := range refused {
		op := &h.Ops[i]
		if j := lostPrerequisite(h.Ops, i, lostOp); j >= 0 {
			res.LossConsequences = append(res.LossConsequences, Finding{Kind: "forgotten", Region: op.Region, ID: h.Ops[j].ID,
				Detail: fmt.Sprintf("%s by %s refused with %s: it depends on %s %s, reported lost", op.Call, op.Worker, cmp.Or(op.Code, "no code"), h.Ops[j].Call, h.Ops[j].ID)})
			continue
		}
		res.Forgotten = append(res.Forgotten, Finding{Kind: "forgotten", Region: op.Region,
			Detail: fmt.Sprintf("%s by %s refused with %s, though valid against what that origin had acknowledged", op.Call, op.Worker, cmp.Or(op.Code, "no code"))})
	}

	// The truth: try the ways of choosing which unknown commits happened
	// (few: unknown outcomes are rare) and keep the one the regions agree
	// on, if any.
	target := majorityDigest(finals)
	var truth *controlplane.State
	tried := 0
	forEachCombo(len(choices), func(i int) (int, int) { return len(choices[i].of), choices[i].k }, func(picks [][]int) bool {
		muts := slices.Clone(acked)
		for ci, p := range picks {
			for _, j := range p {
				muts = append(muts, choices[ci].of[j])
			}
		}
		slices.SortStableFunc(muts, compareTruth)
		st := initial.Clone()
		for _, m := range muts {
			st.Apply(m.call)
		}
		if truth == nil {
			truth = st // the first candidate, if none matches
		}
		tried++
		if hexDigest(st) == target {
			truth = st
			return false
		}
		return tried < maxCandidates
	})
	res.TruthDigest = hexDigest(truth)
	for _, f := range finals {
		if f.Digest != res.TruthDigest {
			res.Divergent = append(res.Divergent, Finding{Kind: "divergent", Region: f.Region,
				Detail: fmt.Sprintf("view digest %s, truth %s", short(f.Digest), short(res.TruthDigest))})
		}
	}

	// Resurrection: a deleted item the truth does not hold (nothing
	// re-created it) must be absent from every view.
	// A deleted item back because its delete was lost is a consequence
	// of the reported loss, listed apart.
	for _, del := range deletes {
		it := del.Item
		lostDelete := lostOp[del.op]
		d, rs := truth.Authorize(controlplane.Probe{Principal: it.Principal, Action: it.Action, Resource: it.Resource})
		if !lostDelete && it.present(rs.Authenticated, d.Effect == evaluator.Allow) {
			continue
		}
		for _, f := range finals {
			p, probed := f.Present[it.Key()]
			if !probed {
				continue
			}
			res.DeletesChecked++
			switch {
			case p && lostDelete:
				res.LossConsequences = append(res.LossConsequences, Finding{Kind: "resurrected", Region: f.Region, ID: it.Key(),
					Detail: fmt.Sprintf("deleted %s %s is back: its delete %s was reported lost", it.Kind, it.Name, h.Ops[del.op].ID)})
			case p:
				res.Resurrected = append(res.Resurrected, Finding{Kind: "resurrected", Region: f.Region, ID: it.Key(),
					Detail: fmt.Sprintf("deleted %s %s is back (probe %s %s %s)", it.Kind, it.Name, it.Principal, it.Action, it.Resource)})
			}
		}
	}
	return res, nil
}

// reportersOf lists the regions that report the id stream/seq lost: in a
// missing range of its closed epoch, or after the last id known of it; or,
// at its origin, in an epoch other than the current one that the origin
// does not hold.
func reportersOf(finals []Final, stream string, seq uint64) []string {
	var by []string
	origin, _, _ := replication.ParseStream(stream)
	for _, f := range finals {
		if f.Region == origin && f.Epoch != "" && f.Epoch != stream && f.Vector[stream] < seq {
			by = append(by, f.Region)
			continue
		}
		for _, l := range f.LostEpochs {
			if l.Stream != stream {
				continue
			}
			covered := seq > l.LostAfter
			for _, r := range l.Missing {
				covered = covered || (seq >= r[0] && seq <= r[1])
			}
			if covered {
				by = append(by, f.Region)
				break
			}
		}
	}
	return by
}

// lostPrerequisite returns the index of an acknowledged op of the same
// worker on the user op i names (the workload's calls each name one user),
// reported lost, or -1: the create of that user, or the change op i
// undoes (a policy put, a key created).
func lostPrerequisite(ops []Op, i int, lostOp map[int]bool) int {
	user := userOf(ops[i].With)
	if user == "" {
		return -1
	}
	for j := i - 1; j >= 0; j-- {
		if lostOp[j] && ops[j].Worker == ops[i].Worker && userOf(ops[j].With) == user {
			return j
		}
	}
	return -1
}

// userOf is the user_name argument of a call, "" if none.
func userOf(with json.RawMessage) string {
	var a struct {
		User string `json:"user_name"`
	}
	if json.Unmarshal(with, &a) != nil {
		return ""
	}
	return a.User
}

// finalOf is the final of region r.
func finalOf(finals []Final, r string) Final {
	for _, f := range finals {
		if f.Region == r {
			return f
		}
	}
	return Final{}
}

func (r *Result) countFailure(code string) {
	if r.FailedBy == nil {
		r.FailedBy = map[string]int{}
	}
	r.FailedBy[cmp.Or(code, "unknown")]++
}

func compareTruth(a, b truthMut) int {
	if c := a.ts.Compare(b.ts); c != 0 {
		return c
	}
	if c := strings.Compare(a.origin, b.origin); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func hexDigest(st *controlplane.State) string {
	d := st.Digest()
	return hex.EncodeToString(d[:])
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "(none)"
	}
	return d
}

// majorityDigest is the digest most regions hold (ties: the smallest).
func majorityDigest(finals []Final) string {
	count := map[string]int{}
	best, bestN := "", 0
	for _, f := range finals {
		count[f.Digest]++
	}
	for d, n := range count {
		if n > bestN || (n == bestN && d < best) {
			best, bestN = d, n
		}
	}
	return best
}

// forEachCombo calls fn with every way of choosing, for each of the n
// groups, size(i) = (m, k): k indices out of m, in lexicographic order,
// until fn returns false.
func forEachCombo(n int, size func(i int) (int, int), fn func(picks [][]int) bool) {
	picks := make([][]int, n)
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == n {
			return fn(picks)
		}
		m, k := size(i)
		cur := make([]int, 0, k)
		var choose func(from int) bool
		choose = func(from int) bool {
			if len(cur) == k {
				picks[i] = cur
				return rec(i + 1)
			}
			for j := from; j <= m-(k-len(cur)); j++ {
				cur = append(cur, j)
				if !choose(j + 1) {
					return false
				}
				cur = cur[:len(cur)-1]
			}
			return true
		}
		return choose(0)
	}
	rec(0)
}
