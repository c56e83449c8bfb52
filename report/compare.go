package report

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// Comparison is `scenario compare --json`: runs of a case and its
// mitigations with the same trial count, their key figures side by side.
// The playground shows the same document.
type Comparison struct {
	Trials    int                `json:"trials"`
	Scenarios []ComparedScenario `json:"scenarios"`
}

// ComparedScenario is one run of a Comparison.
type ComparedScenario struct {
	Scenario string          `json:"scenario"`
	Title    string          `json:"title,omitempty"`
	Seed     uint64          `json:"seed"` // of the first trial; trial i uses seed+i
	Passed   bool            `json:"passed"`
	Probes   []ComparedProbe `json:"probes"`
}

// ComparedProbe is one probe's figures in a ComparedScenario.
type ComparedProbe struct {
	Probe           string `json:"probe"`
	Region          string `json:"region"`
	ExposureSeconds Stats  `json:"exposure_seconds"`
	DenialSeconds   Stats  `json:"denial_seconds"`
	// StaleAllows is the total over every trial; the per-trial figure is
	// beside it so the two are never confused.
	StaleAllows         int     `json:"stale_allows_total"`
	StaleAllowsPerTrial float64 `json:"stale_allows_per_trial"`
	// WaitSeconds is the consistency token's price: how long the requests
	// that waited for fresh data waited. Absent when none waited.
	WaitSeconds *Stats `json:"wait_seconds,omitempty"`
}

// Compare gathers the key figures of runs made with trials trials each.
func Compare(trials int, runs []*Run) Comparison {
	c := Comparison{Trials: trials}
	for _, r := range runs {
		cs := ComparedScenario{Scenario: r.Scenario, Title: r.Title, Seed: r.Seed, Passed: r.Passed}
		for _, p := range r.Probes {
			cs.Probes = append(cs.Probes, ComparedProbe{Probe: p.Name, Region: p.Region, ExposureSeconds: p.ExposureSeconds,
				DenialSeconds: p.DenialSeconds, StaleAllows: p.StaleAllows,
				StaleAllowsPerTrial: float64(p.StaleAllows) / float64(max(r.Trials, 1)), WaitSeconds: p.LatencySeconds})
		}
		c.Scenarios = append(c.Scenarios, cs)
	}
	return c
}

// CompareHTML writes a self-contained page: per probe, a bar per
// scenario for exposure p50 (solid) and p99 (light), with the consistency
// token's wait per read beside it, so a mitigation's gain and price read
// together.
func CompareHTML(w io.Writer, cj Comparison) {
	esc := html.EscapeString
	var names []string
	for _, s := range cj.Scenarios {
		names = append(names, s.Scenario)
	}
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>compare: %s</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}td.n,th.n{text-align:right}
.bar{height:10px;background:#d62728;display:block}.bar.p99{background:#d62728;opacity:.35}.wait{color:#555}</style></head><body>
<h1>Exposure side by side</h1>
<p>%d trials per scenario. Bars: exposure window per trial, p50 (solid) and p99 (light), on one scale per probe. WAIT: how long requests that waited for fresh data (a consistency token) waited, the price of removing the exposure.</p>
`, esc(strings.Join(names, " vs ")), cj.Trials)
	// Group rows by probe name, in the first scenario's order.
	var probes []string
	seen := map[string]bool{}
	for _, s := range cj.Scenarios {
		for _, p := range s.Probes {
			if !seen[p.Probe] {
				seen[p.Probe] = true
				probes = append(probes, p.Probe)
			}
		}
	}
	for _, name := range probes {
		scale := 0.0
		for _, s := range cj.Scenarios {
			for _, p := range s.Probes {
				if p.Probe == name {
					scale = max(scale, p.ExposureSeconds.P99)
				}
			}
		}
		fmt.Fprintf(w, "<h2>%s</h2>\n<table><thead><tr><th>scenario</th><th>region</th><th class=\"n\">exposure p50</th><th class=\"n\">p99</th><th style=\"width:320px\"></th><th class=\"n\">stale allows/trial</th><th class=\"n\">wait p50</th><th class=\"n\">wait p99</th></tr></thead><tbody>\n", esc(name))
		for _, s := range cj.Scenarios {
			for _, p := range s.Probes {
				if p.Probe != name {
					continue
				}
				w50, w99 := "-", "-"
				if p.WaitSeconds != nil {
					w50, w99 = FormatSeconds(p.WaitSeconds.P50), FormatSeconds(p.WaitSeconds.P99)
				}
				pct := func(v float64) float64 {
					if scale <= 0 {
						return 0
					}
					return 100 * v / scale
				}
				fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td><span class=\"bar\" style=\"width:%.1f%%\" title=\"p50 %s\"></span><span class=\"bar p99\" style=\"width:%.1f%%\" title=\"p99 %s\"></span></td><td class=\"n\">%.1f</td><td class=\"n wait\">%s</td><td class=\"n wait\">%s</td></tr>\n",
					esc(s.Scenario), esc(p.Region), FormatSeconds(p.ExposureSeconds.P50), FormatSeconds(p.ExposureSeconds.P99),
					pct(p.ExposureSeconds.P50), FormatSeconds(p.ExposureSeconds.P50), pct(p.ExposureSeconds.P99), FormatSeconds(p.ExposureSeconds.P99),
					p.StaleAllowsPerTrial, w50, w99)
			}
		}
		fmt.Fprintln(w, "</tbody></table>")
	}
	fmt.Fprintln(w, "</body></html>")
}

// CompareJSON writes c as `scenario compare --json` prints it: indented by
// two spaces, one trailing newline.
func CompareJSON(w io.Writer, c Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
