package runner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/sim"
)

// explainMissing lists, at the end of a trial that did not converge, every
// committed mutation a live region lacked and why (sim.Sim.Missing), with
// the reason told in a sentence for the report.
func (t *trial) explainMissing(s *sim.Sim, end time.Duration) []report.MissingMutation {
	live := 0
	for _, r := range t.sc.Regions {
		if s.View(r) != nil {
			live++
		}
	}
	sec := func(d time.Duration) string { return report.FormatSeconds(d.Seconds()) }
	var out []report.MissingMutation
	for _, x := range s.Missing() {
		m := report.MissingMutation{
			Region: x.Region, Mutation: x.Mutation.ID.String(), Call: x.Mutation.Call.Action, Reason: x.Reason.String(),
		}
		if i, ok := t.stepOf[x.Mutation.ID]; ok {
			m.Label = t.sc.Steps[i].Label
		}
		if x.NextPushPull >= 0 {
			m.NextPushPullSeconds = round(x.NextPushPull.Seconds())
		}
		switch x.Reason {
		case sim.Pending:
			m.ApplyAtSeconds = round(x.ApplyAt.Seconds())
			m.Detail = fmt.Sprintf("received, but its propagation delay makes it visible only at %s, after the run ended at %s",
				sec(x.ApplyAt), sec(end))
		case sim.InFlight:
			m.Detail = fmt.Sprintf("a message carrying it was still on the wire when the run ended at %s", sec(end))
		case sim.Spreading:
			m.Detail = fmt.Sprintf("not received yet: other regions were still gossiping it when the run ended at %s", sec(end))
		case sim.RumorDied:
			m.Detail = fmt.Sprintf("its rumor died out before reaching %s (each region that had it sent it %d times, the retransmit limit at %d regions); only push/pull repairs that",
				x.Region, replication.RetransmitLimit(t.plan.gossip.RetransmitMult, live), live)
			if x.NextPushPull >= 0 {
				m.Detail += fmt.Sprintf(", and the next push/pull of %s is at %s, after the run ended at %s", x.Region, sec(x.NextPushPull), sec(end))
			} else {
				m.Detail += ", and push/pull is off"
			}
		case sim.CutOff:
			m.Detail = fmt.Sprintf("a network partition cut %s off from every region that held it when the run ended at %s", x.Region, sec(end))
		case sim.Lost:
			m.Detail = "lost for good: its origin lost its state before any other region held it"
		case sim.Conflict:
			m.Detail = x.Region + " holds another mutation under this ID (a sequence number reused after its origin lost its state)"
		}
		out = append(out, m)
	}
	return out
}

// addUnconverged folds one trial that did not converge into the report.
func (a *aggregate) addUnconverged(r *trialResult) {
	u := a.run.Unconverged
	if u == nil {
		u = &report.Unconverged{}
		a.run.Unconverged = u
		a.reasons = map[string]int{}
	}
	u.Trials++
	for _, m := range r.missing {
		a.reasons[m.Reason]++
	}
	if r.missing == nil || len(u.Examples) >= report.MaxUnconvergedExamples {
		return
	}
	ex := report.UnconvergedTrial{Trial: r.index, Seed: r.seed, Missing: r.missing}
	if k := len(ex.Missing); k > report.MaxMissingPerExample {
		ex.Missing, ex.MoreMissing = ex.Missing[:report.MaxMissingPerExample:report.MaxMissingPerExample], k-report.MaxMissingPerExample
	}
	u.Examples = append(u.Examples, ex)
}

// finishUnconverged orders the reason counts: most frequent first, then by name.
func (a *aggregate) finishUnconverged() {
	u := a.run.Unconverged
	if u == nil {
		return
	}
	u.Reasons = []report.ReasonCount{}
	for reason, n := range a.reasons {
		u.Reasons = append(u.Reasons, report.ReasonCount{Reason: reason, Count: n})
	}
	slices.SortFunc(u.Reasons, func(x, y report.ReasonCount) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return cmp.Compare(x.Reason, y.Reason)
	})
}

// unconvergedDetail is the converged expectation's detail when it failed:
// how many trials, and the first missing mutation of the first explained
// trial, with the seed that replays it.
func unconvergedDetail(u *report.Unconverged, trials int) string {
	d := fmt.Sprintf("converged = false in %d of %d trials", u.Trials, trials)
	if len(u.Examples) > 0 && len(u.Examples[0].Missing) > 0 {
		ex := u.Examples[0]
		m := ex.Missing[0]
		d += fmt.Sprintf("; seed %d: %s lacks %s (%s)", ex.Seed, m.Region, m.Mutation, strings.ReplaceAll(m.Reason, "_", " "))
	}
	return d
}
