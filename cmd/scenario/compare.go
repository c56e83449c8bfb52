package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
)

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
			cj := report.Compare(trials, runs)
			if htmlOut != "" {
				var buf bytes.Buffer
				report.CompareHTML(&buf, cj)
				if err := os.WriteFile(htmlOut, buf.Bytes(), 0o644); err != nil {
					return err
				}
			}
			if asJSON {
				if err := report.CompareJSON(out, cj); err != nil {
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
