package main

import (
	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
)

func newExplainCmd() *cobra.Command {
	var seed uint64
	cmd := &cobra.Command{
		Use:   "explain FILE",
		Short: "Narrate a scenario's timeline in plain prose",
		Long: `explain runs one trial of a scenario in the simulator and tells what happened,
in order: each commit, each region's apply and its lag, and each probe's
decisions, saying when and why a region's answer was stale.`,
		Example: `  scenario explain scenarios/public-s3-bucket.yaml
  scenario explain public-s3-bucket --seed 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return invalidInput(err)
			}
			run, err := runner.Run(cmd.Context(), sc, runner.Options{Seed: seed, Trials: 1})
			if err != nil {
				return invalidInput(err)
			}
			return report.Narrate(cmd.OutOrStdout(), run)
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the trial (default: the scenario's seed)")
	return cmd
}
