package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultWidth is the number of columns the terminal summary fits in when
// TerminalOptions.Width is zero.
const DefaultWidth = 100

// TerminalOptions tunes the terminal summary.
type TerminalOptions struct {
	// ASCII replaces ✓, ✗, · and µ with plain ASCII, for terminals and logs
	// that cannot show them.
	ASCII bool
	// Width is the number of columns every line fits in; 0 means DefaultWidth.
	// Long names and details are cut with an ellipsis rather than wrapped,
	// because a wrapped table row is harder to read than a shortened one.
	Width int
}

// Terminal writes a short summary of r: a header, one table row per probe
// (exposure p50/p99/max, stale allows, denial p50), the expectations with
// their verdicts, and one line on how to read the numbers.
func Terminal(w io.Writer, r *Run, opts TerminalOptions) error {
	width := opts.Width
	if width <= 0 {
		width = DefaultWidth
	}
	ok, bad, dot := "✓", "✗", " · "
	if opts.ASCII {
		ok, bad, dot = "PASS", "FAIL", " | "
	}
	bw := bufio.NewWriter(w)
	line := func(s string) { bw.WriteString(truncate(s, width, opts.ASCII) + "\n") }

	head := r.Scenario
	if r.Title != "" {
		head += ": " + r.Title
	}
	line(head)
	passed := 0
	for _, e := range r.Expectations {
		if e.Passed {
			passed++
		}
	}
	converged := "no"
	if r.Converged {
		converged = "yes"
	}
	trials := plural(r.Trials, "trial", "trials")
	line(strings.Join([]string{
		"mode " + r.Mode,
		"seed " + strconv.FormatUint(r.Seed, 10),
		trials,
		"converged " + converged,
		fmt.Sprintf("expectations %d/%d passed", passed, len(r.Expectations)),
	}, dot))
	bw.WriteString("\n")

	if len(r.Probes) == 0 {
		line("(no probes)")
	} else {
		allowsHead := "STALE ALLOWS"
		if r.Trials > 1 {
			allowsHead = "STALE ALLOWS/TRIAL (TOTAL)"
		}
		rows := [][]string{{"PROBE", "REGION", "EXPOSURE p50", "p99", "max", allowsHead, "DENIAL p50"}}
		d := func(s float64) string { return formatSeconds(s, opts.ASCII) }
		for _, p := range r.Probes {
			rows = append(rows, []string{
				p.Name, p.Region,
				d(p.ExposureSeconds.P50), d(p.ExposureSeconds.P99), d(p.ExposureSeconds.Max),
				cellPerTrial(p.StaleAllows, r.Trials), d(p.DenialSeconds.P50),
			})
		}
		for _, row := range table(rows, width, opts.ASCII) {
			line(row)
		}
		// Probes with an intended access: answers against it, stale or not.
		for _, p := range r.Probes {
			if p.Intended != "" && p.RegionAgainstIntentSeconds != nil && p.TruthAgainstIntentSeconds != nil {
				line(intentLine(p, d))
			}
		}
		// The price of a consistency option: how long requests waited.
		for _, p := range r.Probes {
			if p.LatencySeconds != nil {
				line(fmt.Sprintf("%s: requests that waited for fresh data waited p50 %s, p99 %s, max %s",
					p.Name, d(p.LatencySeconds.P50), d(p.LatencySeconds.P99), d(p.LatencySeconds.Max)))
			}
		}
	}
	bw.WriteString("\n")
	if lines := terminalMutations(r.Mutations, width, opts.ASCII); len(lines) > 0 {
		for _, s := range lines {
			line(s)
		}
		bw.WriteString("\n")
	}

	if len(r.Expectations) == 0 {
		line("(no expectations)")
	}
	for _, e := range r.Expectations {
		mark := ok
		if !e.Passed {
			mark = bad
		}
		s := mark + " " + e.Expr
		if e.Detail != "" {
			s += "  (" + e.Detail + ")"
		}
		line(s)
	}
	bw.WriteString("\n")
	if lines := terminalUnconverged(r.Unconverged, r.Trials, opts.ASCII); len(lines) > 0 {
		for _, s := range lines {
			line(s)
		}
		bw.WriteString("\n")
	}
	if r.Trials > 1 {
		line("Exposure: per-trial time a region allowed what the truth denied.")
		line("Stale allows: such answers served, per trial (in brackets: the total over all trials).")
	} else {
		line("Exposure: per-trial time a region allowed what the truth denied. Stale allows: such answers served.")
	}
	return bw.Flush()
}

// terminalMutations is the table of when each step's mutation was in
// force everywhere (COMPLETE) and when its origin could know it (KNOWN),
// with the difference (KNOWN AFTER), and a line per step that was not
// complete or not known complete in every trial it committed in.
func terminalMutations(ms []Mutation, width int, ascii bool) []string {
	if len(ms) == 0 {
		return nil
	}
	d := func(n int, s float64) string {
		if n == 0 {
			return "-"
		}
		return formatSeconds(s, ascii)
	}
	rows := [][]string{{"STEP", "ORIGIN", "COMPLETE p50", "p99", "KNOWN p50", "p99", "KNOWN AFTER p50", "p99"}}
	var notes []string
	for _, m := range ms {
		both := min(m.Complete, m.KnownComplete)
		rows = append(rows, []string{
			strconv.Itoa(m.Step) + " " + m.Call, m.Origin,
			d(m.Complete, m.CompleteAtSeconds.P50), d(m.Complete, m.CompleteAtSeconds.P99),
			d(m.KnownComplete, m.KnownCompleteAtSeconds.P50), d(m.KnownComplete, m.KnownCompleteAtSeconds.P99),
			d(both, m.KnownAfterCompleteSeconds.P50), d(both, m.KnownAfterCompleteSeconds.P99),
		})
		if m.Complete < m.Committed || m.KnownComplete < m.Committed {
			notes = append(notes, fmt.Sprintf("step %d: committed in %s, complete in %d, known complete in %d by the end",
				m.Step, plural(m.Committed, "trial", "trials"), m.Complete, m.KnownComplete))
		}
	}
	out := table(rows, width, ascii)
	out = append(out, "Complete: the last live region applied it. Known: its origin had every region's ack.")
	return append(out, notes...)
}

// table aligns rows into columns: text left-aligned, numbers (every column
// after the second) right-aligned so magnitudes line up. When the table is
// wider than width it narrows the name columns (probe, then region), which
// are the only ones whose content can grow without bound.
func table(rows [][]string, width int, ascii bool) []string {
	const gap = 2
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	total := gap * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	for _, col := range []int{0, 1} {
		if over := total - width; over > 0 {
			floor := len([]rune(rows[0][col]))
			cut := min(over, widths[col]-floor)
			if cut > 0 {
				widths[col] -= cut
				total -= cut
			}
		}
	}
	out := make([]string, 0, len(rows))
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row {
			c = truncate(c, widths[i], ascii)
			padding := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			if i < 2 {
				b.WriteString(c + padding)
			} else {
				b.WriteString(padding + c)
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}

// plural returns "1 trial" or "20 trials".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// intentLine tells, for a probe with an intended access, how long per
// trial its region and the truth itself answered otherwise.
func intentLine(p Probe, d func(float64) string) string {
	rg, tr := p.RegionAgainstIntentSeconds, p.TruthAgainstIntentSeconds
	return fmt.Sprintf("%s (intended %s): against intent %s p50, %s max; truth itself %s p50, %s max",
		p.Name, p.Intended, d(rg.P50), d(rg.Max), d(tr.P50), d(tr.Max))
}
