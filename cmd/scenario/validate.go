package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

func newValidateCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without running them",
		Long: `validate loads each scenario file and checks it completely (keys, types,
regions, policies and their IAM grammar, calls and their arguments, probes,
durations, expectations) without running anything. Every problem is printed on
stderr as file:line:col: field: reason, all of them at once; valid files print
"FILE: ok" on stdout. Warnings (file:line:col: field: warning: ...) do not make
a file invalid: they point at what AWS would do differently from what the file
seems to say, such as a probe asked of a region that does not decide the
request (a bucket's requests are decided in its home region).

FILE is a path or the name of a library scenario (see 'scenario list').
Exit status: 0 every file is valid, 2 at least one is not.`,
		Example: `  scenario validate scenarios/public-s3-bucket.yaml
  scenario validate scenarios/*.yaml
  scenario validate public-s3-bucket my-case.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			invalid := 0
			for _, a := range args {
				sc, err := loadScenario(a)
				if err != nil {
					invalid++
					// An *Error already names the file on every line.
					var se *scenarios.Error
					if errors.As(err, &se) {
						fmt.Fprintln(cmd.ErrOrStderr(), se)
					} else {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", a, err)
					}
					continue
				}
				// The initial state goes through the same AWS checks as a run.
				if err := runner.Check(sc); err != nil {
					invalid++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				for _, w := range scenarios.Warnings(sc) {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				if !quiet {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s: %d steps, %d probes, %d expectations)\n",
						a, sc.Name, len(sc.Steps), len(sc.Probes), len(sc.Expect))
				}
			}
			if invalid > 0 {
				// The errors are printed above; run adds nothing.
				return invalidInput(errSilent)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing for valid files")
	return cmd
}
