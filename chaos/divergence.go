package chaos

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// contentKey names what a mutation says, so that two records under one id
// can be compared: its timestamp, call and a hash of its arguments
// (compacted, so a re-encoding of the same JSON is the same content).
func contentKey(m *replication.Mutation) string {
	var buf bytes.Buffer
	args := []byte(m.Call.Args)
	if json.Compact(&buf, args) == nil {
		args = buf.Bytes()
	}
	h := sha256.Sum256(args)
	return fmt.Sprintf("%s %s %s", m.TS, m.Call.Action, hex.EncodeToString(h[:6]))
}

// CheckDivergence adds to res what the divergence faults can break (see
// docs/chaos.md): no id names two different mutations, comparing, per id,
// what every node's log holds (logs, by region, read after the schedule)
// and what the clients were acknowledged (timestamp and call); and every
// conflict, divergence and lost commit found is reported by some node
// itself (finals' Ready, Conflicts and Lost). Where a node cannot report
// it, the finding is the checker's: "unreported".
func CheckDivergence(h History, finals []Final, logs map[string][]replication.Mutation, res *Result) {
	type holder struct {
		key   string
		where []string // regions, or "acknowledged to WORKER"
	}
	byID := map[string][]holder{}
	add := func(id, key, where string, match func(a, b string) bool) {
		hs := byID[id]
		for i := range hs {
			if match(hs[i].key, key) {
				if !slices.Contains(hs[i].where, where) {
					hs[i].where = append(hs[i].where, where)
				}
				return
			}
		}
		byID[id] = append(hs, holder{key: key, where: []string{where}})
	}
	exact := func(a, b string) bool { return a == b }
	// The no-op filler an origin commits under an id it lost (GapAction)
	// is the loss's report, not a second mutation, when the nodes report
	// that id lost (Check's ReportedLost).
	reported := map[string]bool{}
	for _, f := range res.ReportedLost {
		reported[f.ID] = true
	}
	for _, region := range slices.Sorted(maps.Keys(logs)) {
		for i := range logs[region] {
			m := &logs[region][i]
			if m.Call.Action == replication.GapAction && reported[m.ID.String()] {
				continue
			}
			add(m.ID.String(), contentKey(m), region, exact)
		}
	}
	// An acknowledgement carries the timestamp and call, not the stored
	// arguments' encoding: it matches a record with the same prefix.
	for _, op := range h.Ops {
		if op.Outcome != Acked {
			continue
		}
		ts, err := replication.ParseTimestamp(op.HLC)
		if err != nil {
			continue // Check reports it
		}
		prefix := fmt.Sprintf("%s %s ", ts, op.Call)
		add(op.ID, prefix, "acknowledged to "+op.Worker, func(a, b string) bool {
			return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
		})
	}
	already := map[string]bool{}
	for _, f := range res.IDReuse {
		already[f.ID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		hs := byID[id]
		if len(hs) < 2 || already[id] {
			continue
		}
		var parts []string
		for _, hd := range hs {
			parts = append(parts, fmt.Sprintf("%q at %s", strings.TrimSpace(hd.key), strings.Join(hd.where, ", ")))
		}
		res.IDReuse = append(res.IDReuse, Finding{Kind: "id-reuse", ID: id,
			Detail: fmt.Sprintf("one id names %d different mutations: %s", len(hs), strings.Join(parts, "; "))})
	}

	// Reported by the nodes themselves?
	var conflicts, lost float64
	var notReady []string
	for _, f := range finals {
		conflicts += f.Conflicts
		lost += f.Lost
		if !f.Ready {
			notReady = append(notReady, f.Region)
		}
	}
	if (len(res.IDReuse) > 0 || len(res.Divergent) > 0) && conflicts == 0 && len(notReady) == 0 {
		res.Unreported = append(res.Unreported, Finding{Kind: "unreported",
			Detail: fmt.Sprintf("%d reused ids and %d divergent views, yet no node reported a conflict: every conflict counter 0, /readyz 200 everywhere", len(res.IDReuse), len(res.Divergent))})
	}
	// A lost commit is reported when a node names its id lost (GET
	// /v1/view's lost: in a closed epoch's missing range or after it); a
	// counter above 0 says some commit was lost, not which.
	seen := map[string]bool{}
	for _, f := range res.Lost {
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		if id, err := replication.ParseMutationID(f.ID); err == nil && len(reportersOf(finals, id.Stream(), id.Seq)) > 0 {
			continue
		}
		detail := "acknowledged and lost, and no node reports its id lost (GET /v1/view's lost)"
		if lost > 0 {
			detail += fmt.Sprintf("; the nodes' lost counters sum to %v, for other ids", lost)
		}
		res.Unreported = append(res.Unreported, Finding{Kind: "unreported", ID: f.ID, Detail: detail})
	}
}

// CheckReads adds to res every consistency read answered from a view
// older than it promises. An at_least answer's view must include its
// token and everything its origin committed before it (the answer's
// version vector, the applied prefix per origin, reaches the token's
// sequence number): a token stands for its origin's history up to it. A
// max_lag answer's view must include every acknowledged mutation committed
// more than max_lag before the read began. The view is exactly the
// answer's prefix and what it says it holds above it (Read.Above: a view
// applies in timestamp order, so past a lost id whose filler has not
// settled it holds later ones); when the node truncated that list, a
// mutation beyond the prefix is unknown and counted in res.ReadsUnknown,
// not judged. A commit's age is its real age, from the commit's
// timestamp (Op.HLC, placed by History.T0; the acknowledgement's arrival
// when either is missing, which is later, so this never blames a correct
// node), except those res already counts as lost: a lost commit is
// reported once, as lost.
func CheckReads(h History, res *Result) {
	type ack struct {
		end    time.Duration // the commit instant, or the acknowledgement's when unknown
		stream string        // origin epoch: what views' vectors are keyed by
		seq    uint64
		id     string
	}
	lost := map[string]bool{}
	for _, f := range res.Lost {
		lost[f.ID] = true
	}
	for _, f := range res.ReportedLost {
		lost[f.ID] = true
	}
	for _, f := range res.IDReuse {
		lost[f.ID] = true // which of the two a view holds is the id check's matter
	}
	var acks []ack
	for _, op := range h.Ops {
		if op.Outcome != Acked || op.Worker == "setup" || lost[op.ID] {
			continue
		}
		id, err := replication.ParseMutationID(op.ID)
		if err != nil {
			continue
		}
		acks = append(acks, ack{commitInstant(h.T0, op), id.Stream(), id.Seq, op.ID})
	}
	slices.SortFunc(acks, func(a, b ack) int { return cmp.Compare(a.end, b.end) })
	for _, rd := range h.Reads {
		if !rd.Answered {
			continue
		}
		res.Reads++
		switch rd.Mode {
		case "at_least":
			id, err := replication.ParseMutationID(rd.Token)
			if err != nil || lost[rd.Token] {
				continue
			}
			if rd.Vector[id.Stream()] < id.Seq {
				res.StaleReads = append(res.StaleReads, Finding{Kind: "stale-at-least", Region: rd.Region, ID: rd.Token,
					Detail: fmt.Sprintf("answered at %v from a view whose applied prefix of %s ends at %d: it lacks that origin's commits up to its token", rd.Start.Round(time.Millisecond), id.Stream(), rd.Vector[id.Stream()])})
			}
		case "max_lag":
			for _, a := range acks {
				if a.end >= rd.Start-rd.MaxLag {
					break
				}
				if rd.Vector[a.stream] >= a.seq || inRanges(rd.Above[a.stream], a.seq) {
					continue
				}
				if rd.AboveTruncated {
					// The node left some of what its view holds beyond
					// the prefix out of the answer: a.seq may be there.
					res.ReadsUnknown++
					break
				}
				res.StaleReads = append(res.StaleReads, Finding{Kind: "stale-max-lag", Region: rd.Region, ID: a.id,
					Detail: fmt.Sprintf("max_lag %v answered at %v (by %v) from a view without %s (its prefix of that epoch ends at %d; above it the view held %s), committed %v earlier", rd.MaxLag, rd.Start.Round(time.Millisecond), rd.End.Round(time.Millisecond), a.id, rd.Vector[a.stream], rangesString(rd.Above[a.stream]), (rd.Start - a.end).Round(time.Millisecond))})
				break // the oldest missing one says it
			}
		}
	}
}

// inRanges reports whether seq lies in one of the inclusive ranges.
func inRanges(rs [][2]uint64, seq uint64) bool {
	for _, r := range rs {
		if seq >= r[0] && seq <= r[1] {
			return true
		}
	}
	return false
}

// rangesString renders ranges as "3-4, 6", or "nothing".
func rangesString(rs [][2]uint64) string {
	if len(rs) == 0 {
		return "nothing"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatUint(r[0], 10)
		if r[1] != r[0] {
			parts[i] += "-" + strconv.FormatUint(r[1], 10)
		}
	}
	return strings.Join(parts, ", ")
}

// commitInstant places an acknowledged op's commit on the history's
// clock: its timestamp's wall time from t0, within [Start, End] (a
// timestamp the hybrid clock pushed ahead cannot place it after its own
// acknowledgement); End when t0 or the timestamp is missing.
func commitInstant(t0 time.Time, op Op) time.Duration {
	if t0.IsZero() || op.HLC == "" {
		return op.End
	}
	ts, err := replication.ParseTimestamp(op.HLC)
	if err != nil {
		return op.End
	}
	return min(max(time.Unix(0, ts.Wall).Sub(t0), op.Start), op.End)
}

// nodeReports sums, from a node's GET /metrics text, its conflict
// counters and every counter whose name says a commit was lost.
func nodeReports(text []byte) (conflicts, lost float64) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, "iamprop_") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		base, _, _ := strings.Cut(name, "{")
		switch {
		case base == "iamprop_gossip_conflicts_total",
			base == "iamprop_gossip_refused_mutations_total" && strings.Contains(name, `reason="conflict"`):
			conflicts += v
		case strings.Contains(base, "lost") && strings.HasSuffix(base, "_total"):
			lost += v
		}
	}
	return conflicts, lost
}
