package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/policytest"
)

// errSilent carries an exit status whose explanation is already printed (the
// summary line, or the file errors), so run adds nothing to stderr.
var errSilent = errors.New("")

func newTestPolicyCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test-policy FILE|DIR...",
		Short: "Run policy unit tests (YAML files of requests and expected decisions)",
		Long: `test-policy loads policy test files (see docs/policy-tests.md), decides every
case with iamprop's IAM evaluator, and prints one line per case and a summary
line "N passed, M failed". A directory stands for its *.yaml files.

Exit status: 0 all cases passed, 1 a case failed, 2 a file is invalid
(reported as file:line:col: field: reason on stderr; valid files still run).
A document AWS accepts but iamprop models only in part is a warning on
stderr (file:line:col: field: warning: reason); its file still runs.`,
		Example: `  scenario test-policy examples/policy-tests/s3-public-read.yaml
  scenario test-policy --json policytest/testdata/conformance`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := policytest.ExpandPaths(args)
			if err != nil {
				return invalidInput(err)
			}
			var rep policytest.Report
			invalid := false
			for _, f := range files {
				s, err := policytest.LoadFile(f)
				if err != nil {
					invalid = true
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				for _, w := range s.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				rep.Add(s.Run()...)
			}
			if asJSON {
				err = rep.WriteJSON(cmd.OutOrStdout())
			} else {
				err = rep.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return failed(err)
			}
			switch {
			case invalid:
				return invalidInput(errSilent)
			case rep.Failed > 0:
				return failed(errSilent)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"passed", "failed", "cases": [...]} instead of text`)
	return cmd
}
