package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
)

func newCompareCmd() *cobra.Command {
	var seed uint64
	var trials int
	cmd := &cobra.Command{
		Use:   "compare FILE FILE...",
		Short: "Run scenarios with the same seeds and compare their exposure side by side",
		Long: `compare runs each scenario (typically a case and its mitigations) with the same
seeds and trial count, and prints their exposure and denial windows side by side.`,
		Example: `  scenario compare public-s3-bucket public-s3-bucket-block-public-access public-s3-bucket-consistency-token --trials 200`,
		Args:    cobra.MinimumNArgs(2),
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
				s := seed
				if s == 0 {
					s = 1 // the same seeds for every scenario, whatever their own default
				}
				run, err := runner.Run(cmd.Context(), sc, runner.Options{Seed: s, Trials: trials})
				if err != nil {
					return invalidInput(err)
				}
				runs = append(runs, run)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "SCENARIO\tPROBE\tREGION\tEXPOSURE p50\tp99\tmax\tSTALE ALLOWS\tDENIAL p50\tPASSED")
			failedAny := false
			for _, r := range runs {
				for _, p := range r.Probes {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%v\n", r.Scenario, p.Name, p.Region,
						report.FormatSeconds(p.ExposureSeconds.P50), report.FormatSeconds(p.ExposureSeconds.P99),
						report.FormatSeconds(p.ExposureSeconds.Max), p.StaleAllows,
						report.FormatSeconds(p.DenialSeconds.P50), r.Passed)
				}
				if !r.Passed {
					failedAny = true
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d trials each, seeds %d..%d\n", trials, max(seed, 1), max(seed, 1)+uint64(trials)-1)
			if failedAny {
				return failed(errors.New(""))
			}
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the first trial for every scenario (default 1)")
	cmd.Flags().IntVar(&trials, "trials", 100, "trials per scenario")
	return cmd
}
