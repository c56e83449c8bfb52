package main

import (
	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
)

// explainJSON is `scenario explain --json`: the narration in parts and the
// trial's timeline (commits, applies, faults, stale windows, samples).
type explainJSON struct {
	Scenario  string           `json:"scenario"`
	Title     string           `json:"title,omitempty"`
	Seed      uint64           `json:"seed"`
	Narration report.Narration `json:"narration"`
	Timeline  *report.Timeline `json:"timeline,omitempty"`
}

func newExplainCmd() *cobra.Command {
	var (
		seed   uint64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "explain FILE",
		Short: "Narrate a scenario's timeline in plain prose",
		Long: `explain runs one trial of a scenario in the simulator and tells what happened,
in order: each commit, each region's apply and its lag, and each probe's
decisions, saying when and why a region's answer was stale. --json prints the
same sentences in parts, with the trial's timeline.`,
		Example: `  scenario explain scenarios/public-s3-bucket.yaml
  scenario explain public-s3-bucket --seed 3
  scenario explain public-s3-bucket --json | jq -r '.narration.story[]'`,
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
			if asJSON {
				return printJSON(cmd.OutOrStdout(), explainJSON{Scenario: run.Scenario, Title: run.Title, Seed: run.Seed,
					Narration: report.Narrated(run), Timeline: run.Timeline})
			}
			return report.Narrate(cmd.OutOrStdout(), run)
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the trial (default: the scenario's seed)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the narration and the timeline as JSON")
	return cmd
}
