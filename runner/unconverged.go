package runner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/iamprop/iamprop/report"
)

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
