package runner

import (
	"fmt"
	"time"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// checkExpectations evaluates every expectation of the scenario against the
// aggregated measurements. The loader has already checked their syntax and
// that they name existing probes and regions.
func (a *aggregate) checkExpectations() []report.Expectation {
	var out []report.Expectation
	for _, e := range a.sc.Expect {
		passed, detail := a.check(e)
		out = append(out, report.Expectation{Expr: e.Expr, Passed: passed, Detail: detail})
	}
	return out
}

func (a *aggregate) probeIndex(name string) int {
	for i, p := range a.sc.Probes {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func (a *aggregate) regionIndex(name string) int {
	for i, r := range a.sc.Regions {
		if r == name {
			return i
		}
	}
	return -1
}

func (a *aggregate) check(e scenarios.Expectation) (bool, string) {
	switch e.Kind {
	case "converged":
		want := !e.Negated
		if a.run.Converged == want {
			return true, fmt.Sprintf("converged = %v", a.run.Converged)
		}
		if u := a.run.Unconverged; u != nil && !a.run.Converged {
			return false, unconvergedDetail(u, a.run.Trials)
		}
		return false, fmt.Sprintf("converged = %v in at least one trial", a.run.Converged)
	case "exposure", "denial", "lag":
		var d *Distribution
		if e.Kind == "lag" {
			ri := a.regionIndex(e.Target)
			if ri < 0 {
				return false, fmt.Sprintf("no region %q", e.Target)
			}
			d = &a.lags[ri]
		} else {
			pi := a.probeIndex(e.Target)
			if pi < 0 {
				return false, fmt.Sprintf("no probe %q", e.Target)
			}
			d = &a.exposure[pi]
			if e.Kind == "denial" {
				d = &a.denial[pi]
			}
		}
		s := d.Stats()
		var got float64
		switch e.Stat {
		case "min":
			got = s.Min
		case "p50":
			got = s.P50
		case "p90":
			got = s.P90
		case "p99":
			got = s.P99
		case "max":
			got = s.Max
		case "mean":
			got = s.Mean
		default:
			return false, fmt.Sprintf("unknown statistic %q", e.Stat)
		}
		want := e.Duration.Seconds()
		return compare(got, e.Op, want), fmt.Sprintf("%s = %s", e.Stat, formatDuration(got))
	case "stale_allows", "stale_denies", "confidential_reads":
		pi := a.probeIndex(e.Target)
		if pi < 0 {
			return false, fmt.Sprintf("no probe %q", e.Target)
		}
		var got int
		switch e.Kind {
		case "stale_allows":
			got = a.probes[pi].StaleAllows
		case "stale_denies":
			got = a.probes[pi].StaleDenies
		default:
			got = a.confReads[pi]
		}
		detail := fmt.Sprintf("%s = %d", e.Kind, got)
		if t := a.run.Trials; t > 1 {
			// The count is a sum over trials; say so, with the per-trial
			// figure, so neither is read as the other.
			detail += fmt.Sprintf(" over %d trials, %.1f per trial", t, float64(got)/float64(t))
		}
		return compare(float64(got), e.Op, float64(e.Count)), detail
	}
	return false, fmt.Sprintf("unknown expectation kind %q", e.Kind)
}

func compare(got float64, op string, want float64) bool {
	// Microsecond resolution, as in the report.
	got, want = round(got), round(want)
	switch op {
	case "<":
		return got < want
	case "<=":
		return got <= want
	case ">":
		return got > want
	case ">=":
		return got >= want
	case "==":
		return got == want
	case "!=":
		return got != want
	}
	return false
}

func formatDuration(seconds float64) string {
	return time.Duration(seconds * float64(time.Second)).Round(time.Microsecond).String()
}
