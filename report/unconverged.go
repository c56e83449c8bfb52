package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Terminal limits: the terminal shows the first few unconverged trials and
// missing mutations; the JSON and HTML reports list them all (up to
// MaxUnconvergedExamples trials).
const (
	terminalUnconvergedTrials  = 5
	terminalMissingPerTrial    = 3
	narrationMissingInTheTrial = 3
)

// reasonWords is a reason's name as words: "rumor_died_out" -> "rumor died out".
func reasonWords(reason string) string { return strings.ReplaceAll(reason, "_", " ") }

// reasonCounts says "1 rumor died out, 1 pending apply".
func reasonCounts(u *Unconverged) string {
	parts := make([]string, 0, len(u.Reasons))
	for _, rc := range u.Reasons {
		parts = append(parts, strconv.Itoa(rc.Count)+" "+reasonWords(rc.Reason))
	}
	return strings.Join(parts, ", ")
}

// shortReason is the reason in a few words with its instant, for a
// terminal line ("rumor died out, next push/pull 47.3s").
func shortReason(m MissingMutation, ascii bool) string {
	d := func(s float64) string { return formatSeconds(s, ascii) }
	switch m.Reason {
	case "pending_apply":
		return "received, applies at " + d(m.ApplyAtSeconds)
	case "in_flight":
		return "still on the wire"
	case "spreading":
		return "still being gossiped"
	case "rumor_died_out":
		if m.NextPushPullSeconds > 0 {
			return "rumor died out, next push/pull " + d(m.NextPushPullSeconds)
		}
		return "rumor died out, push/pull off"
	case "lost":
		return "lost with its origin's state"
	case "conflict":
		return "another mutation holds its ID"
	}
	return reasonWords(m.Reason)
}

// what names a missing mutation: its ID and the step's label, if any.
func (m MissingMutation) what() string {
	if m.Label != "" {
		return m.Mutation + " (" + m.Label + ")"
	}
	return m.Mutation
}

// terminalUnconverged returns the terminal lines that say why the run did
// not converge; none when it converged.
func terminalUnconverged(u *Unconverged, trials int, ascii bool) []string {
	if u == nil {
		return nil
	}
	head := fmt.Sprintf("Not converged in %d of %s", u.Trials, plural(trials, "trial", "trials"))
	if len(u.Reasons) > 0 {
		head += ": " + reasonCounts(u)
	}
	lines := []string{head + "."}
	for i, ex := range u.Examples {
		if i == terminalUnconvergedTrials {
			word := "trials"
			if u.Trials-i == 1 {
				word = "trial"
			}
			lines = append(lines, fmt.Sprintf("  and %d more %s (--json lists up to %d)", u.Trials-i, word, MaxUnconvergedExamples))
			break
		}
		for k, m := range ex.Missing {
			if k == terminalMissingPerTrial {
				lines = append(lines, fmt.Sprintf("  seed %d: and %d more", ex.Seed, len(ex.Missing)-k+ex.MoreMissing))
				break
			}
			lines = append(lines, fmt.Sprintf("  seed %d: %s lacks %s: %s", ex.Seed, m.Region, m.what(), shortReason(m, ascii)))
		}
	}
	if len(u.Examples) > 0 {
		lines = append(lines, "Replay a trial alone with --seed SEED; --json and --html say why in full.")
	}
	return lines
}

// htmlUnconverged writes the "why it did not converge" part of the summary.
func htmlUnconverged(p func(string, ...any), u *Unconverged, trials int) {
	if u == nil {
		return
	}
	p("<h3 id=\"unconverged\">Why it did not converge</h3>\n")
	counts := ""
	if len(u.Reasons) > 0 {
		counts = " (" + reasonCounts(u) + ")"
	}
	p("<p class=\"howto\">%d of %d trials ended with a region whose view differed from the truth%s. A rumor <b>dies out</b> once every region that had it has sent it its retransmit limit of times; a region it missed then waits for push/pull (anti-entropy), which may come after the run. A <b>pending apply</b> was received but becomes visible only after the run, at commit time plus its propagation delay.</p>\n",
		u.Trials, trials, esc(counts))
	if len(u.Examples) == 0 {
		return
	}
	cols := []col{{"trial", "trial", true}, {"replay", "replay", false}, {"region", "region", false}, {"lacked", "lacked", false},
		{"call", "call", false}, {"reason", "reason", false}, {"why", "why", false}}
	tableStart(p, "unconverged", cols)
	for _, ex := range u.Examples {
		for _, m := range ex.Missing {
			tableRow(p, cols, strconv.Itoa(ex.Trial), fmt.Sprintf("<code>--seed %d</code>", ex.Seed), esc(m.Region), esc(m.what()), esc(m.Call), esc(reasonWords(m.Reason)), esc(m.Detail))
		}
		if ex.MoreMissing > 0 {
			p("<tr><td class=\"n\" data-label=\"trial\">%d</td><td colspan=\"6\">and %d more (region, mutation) pairs</td></tr>\n", ex.Trial, ex.MoreMissing)
		}
	}
	tableEnd(p)
	if u.Trials > len(u.Examples) {
		p("<p class=\"note\">The first %d of %d unconverged trials are listed.</p>\n", len(u.Examples), u.Trials)
	}
}

// narrateUnconverged says, for the narrated first trial, what each region
// still lacked at the end and why, and over all trials how many ended so.
func narrateUnconverged(r *Run) []string {
	u := r.Unconverged
	if u == nil {
		return nil
	}
	var out []string
	if len(u.Examples) > 0 && u.Examples[0].Trial == 0 {
		ex := u.Examples[0]
		for k, m := range ex.Missing {
			if k == narrationMissingInTheTrial {
				out = append(out, fmt.Sprintf("And %d more (region, mutation) pairs; the JSON report lists them.", len(ex.Missing)-k+ex.MoreMissing))
				break
			}
			call := m.Call
			if m.Label != "" {
				call += " (" + m.Label + ")"
			}
			out = append(out, fmt.Sprintf("At the end %s still lacked %s: %s.", m.Region, call, m.Detail))
		}
	}
	if r.Trials > 1 {
		s := fmt.Sprintf("%d of %d trials ended not converged", u.Trials, r.Trials)
		if len(u.Reasons) > 0 {
			s += " (" + reasonCounts(u) + ")"
		}
		out = append(out, s+".")
	}
	return out
}
