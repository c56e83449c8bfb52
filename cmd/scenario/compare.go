package main

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
)

// compareJSON is `scenario compare --json`.
type compareJSON struct {
	Trials    int                `json:"trials"`
	Scenarios []compareScenarioJ `json:"scenarios"`
}

type compareScenarioJ struct {
	Scenario string          `json:"scenario"`
	Title    string          `json:"title,omitempty"`
	Seed     uint64          `json:"seed"` // of the first trial; trial i uses seed+i
	Passed   bool            `json:"passed"`
	Probes   []compareProbeJ `json:"probes"`
}

type compareProbeJ struct {
	Probe           string       `json:"probe"`
	Region          string       `json:"region"`
	ExposureSeconds report.Stats `json:"exposure_seconds"`
	DenialSeconds   report.Stats `json:"denial_seconds"`
	// StaleAllows is the total over every trial; the per-trial figure is
	// beside it so the two are never confused.
	StaleAllows         int     `json:"stale_allows_total"`
	StaleAllowsPerTrial float64 `json:"stale_allows_per_trial"`
	// WaitSeconds is the consistency token's price: how long the requests
	// that waited for fresh data waited. Absent when none waited.
	WaitSeconds *report.Stats `json:"wait_seconds,omitempty"`
}

func newCompareCmd() *cobra.Command {
	var (
		seed    uint64
		trials  int
		asJSON  bool
		htmlOut string
	)
	cmd := &cobra.Command{
		Use:   "compare FILE FILE...",
		Short: "Run scenarios and compare their exposure, and what a consistency option costs, side by side",
		Long: `compare runs each scenario (typically a case and its mitigations) with the same
trial count, each from its own seed (or every one from --seed), and prints their
exposure and denial windows side by side, with the price of a consistency token:
how long the requests that waited for fresh data waited (WAIT).`,
		Example: `  scenario compare public-s3-bucket public-s3-bucket-block-public-access public-s3-bucket-consistency-token --trials 200
  scenario compare public-s3-bucket public-s3-bucket-consistency-token --seed 7 --json
  scenario compare public-s3-bucket public-s3-bucket-block-public-access public-s3-bucket-consistency-token --html compare.html`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trials < 1 {
				return invalidInput(fmt.Errorf("--trials must be at least 1, got %d", trials))
			}
			var runs []*report.Run
			for _, a := range args {
				sc, err := loadScenario(a)
				if err != nil {
					return invalidInput(err)
				}
				// Seed 0 is the scenario's own seed, as for run.
				run, err := runner.Run(cmd.Context(), sc, runner.Options{Seed: seed, Trials: trials})
				if err != nil {
					return invalidInput(err)
				}
				runs = append(runs, run)
			}
			failedAny := false
			for _, r := range runs {
				failedAny = failedAny || !r.Passed
			}
			out := cmd.OutOrStdout()
			cj := compareJSON{Trials: trials}
			for _, r := range runs {
				cs := compareScenarioJ{Scenario: r.Scenario, Title: r.Title, Seed: r.Seed, Passed: r.Passed}
				for _, p := range r.Probes {
					cs.Probes = append(cs.Probes, compareProbeJ{Probe: p.Name, Region: p.Region, ExposureSeconds: p.ExposureSeconds,
						DenialSeconds: p.DenialSeconds, StaleAllows: p.StaleAllows,
						StaleAllowsPerTrial: float64(p.StaleAllows) / float64(max(r.Trials, 1)), WaitSeconds: p.LatencySeconds})
				}
				cj.Scenarios = append(cj.Scenarios, cs)
			}
			if htmlOut != "" {
				var buf bytes.Buffer
				renderCompareHTML(&buf, cj)
				if err := os.WriteFile(htmlOut, buf.Bytes(), 0o644); err != nil {
					return err
				}
			}
			if asJSON {
				if err := printJSON(out, cj); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "SCENARIO\tPROBE\tREGION\tEXPOSURE p50\tp99\tmax\tSTALE ALLOWS/TRIAL\tDENIAL p50\tWAIT p50\tp99\tPASSED")
				for _, r := range runs {
					for _, p := range r.Probes {
						wait50, wait99 := "-", "-"
						if l := p.LatencySeconds; l != nil {
							wait50, wait99 = report.FormatSeconds(l.P50), report.FormatSeconds(l.P99)
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", r.Scenario, p.Name, p.Region,
							report.FormatSeconds(p.ExposureSeconds.P50), report.FormatSeconds(p.ExposureSeconds.P99),
							report.FormatSeconds(p.ExposureSeconds.Max), perTrial(p.StaleAllows, r.Trials),
							report.FormatSeconds(p.DenialSeconds.P50), wait50, wait99, r.Passed)
					}
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(out, "%d trials each; first seeds:", trials)
				for i, r := range runs {
					sep := ","
					if i == 0 {
						sep = ""
					}
					fmt.Fprintf(out, "%s %s %d", sep, r.Scenario, r.Seed)
				}
				fmt.Fprintln(out, "\nWAIT: how long requests that waited for fresh data (a consistency token) waited; - when none did")
			}
			if failedAny {
				return failed(errors.New(""))
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the first trial for every scenario (default: each scenario's own seed)")
	cmd.Flags().IntVar(&trials, "trials", 100, "trials per scenario")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	cmd.Flags().StringVar(&htmlOut, "html", "", "also write the comparison as an HTML page (exposure p50/p99 bars and the wait per read, per probe) to this file")
	return cmd
}

// perTrial is a total over trials as a per-trial figure, exact when whole.
func perTrial(total, trials int) string {
	if trials <= 1 || total%trials == 0 {
		return fmt.Sprint(total / max(trials, 1))
	}
	return fmt.Sprintf("%.1f", float64(total)/float64(trials))
}

// renderCompareHTML writes a self-contained page: per probe, a bar per
// scenario for exposure p50 (solid) and p99 (light), with the consistency
// token's wait per read beside it, so a mitigation's gain and price read
// together.
func renderCompareHTML(w io.Writer, cj compareJSON) {
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
					w50, w99 = report.FormatSeconds(p.WaitSeconds.P50), report.FormatSeconds(p.WaitSeconds.P99)
				}
				pct := func(v float64) float64 {
					if scale <= 0 {
						return 0
					}
					return 100 * v / scale
				}
				fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td><span class=\"bar\" style=\"width:%.1f%%\" title=\"p50 %s\"></span><span class=\"bar p99\" style=\"width:%.1f%%\" title=\"p99 %s\"></span></td><td class=\"n\">%.1f</td><td class=\"n wait\">%s</td><td class=\"n wait\">%s</td></tr>\n",
					esc(s.Scenario), esc(p.Region), report.FormatSeconds(p.ExposureSeconds.P50), report.FormatSeconds(p.ExposureSeconds.P99),
					pct(p.ExposureSeconds.P50), report.FormatSeconds(p.ExposureSeconds.P50), pct(p.ExposureSeconds.P99), report.FormatSeconds(p.ExposureSeconds.P99),
					p.StaleAllowsPerTrial, w50, w99)
			}
		}
		fmt.Fprintln(w, "</tbody></table>")
	}
	fmt.Fprintln(w, "</body></html>")
}
