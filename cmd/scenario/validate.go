package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// validation is one file's entry in `scenario validate --json`.
type validation struct {
	File         string      `json:"file"`
	Valid        bool        `json:"valid"`
	Name         string      `json:"name,omitempty"`
	Steps        int         `json:"steps,omitempty"`
	Probes       int         `json:"probes,omitempty"`
	Expectations int         `json:"expectations,omitempty"`
	Issues       []issueJSON `json:"issues,omitempty"`
	// Error is a problem that is not in the file's content (no such file,
	// an initial state AWS would refuse).
	Error string `json:"error,omitempty"`
}

// issueJSON is a scenarios.Issue with the field names of the JSON formats.
type issueJSON struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func newValidateCmd() *cobra.Command {
	var quiet, asJSON bool
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
request (a bucket's requests are decided in its home region). --json prints every
file's result as JSON on stdout.

FILE is a path or the name of a library scenario (see 'scenario list').
Exit status: 0 every file is valid, 2 at least one is not.`,
		Example: `  scenario validate scenarios/public-s3-bucket.yaml
  scenario validate scenarios/*.yaml
  scenario validate public-s3-bucket my-case.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			invalid := 0
			var results []validation
			for _, a := range args {
				sc, err := loadScenario(a)
				if asJSON {
					v := validation{File: a}
					var se *scenarios.Error
					switch {
					case errors.As(err, &se):
						for _, is := range se.Issues {
							v.Issues = append(v.Issues, issueJSON{File: is.File, Line: is.Line, Column: is.Column, Field: is.Field, Reason: is.Reason})
						}
					case err != nil:
						v.Error = strings.TrimPrefix(err.Error(), "scenario: ")
					default:
						v.Name, v.Steps, v.Probes, v.Expectations = sc.Name, len(sc.Steps), len(sc.Probes), len(sc.Expect)
						if err := runner.Check(sc); err != nil {
							v.Error = err.Error()
						}
					}
					v.Valid = len(v.Issues) == 0 && v.Error == ""
					if !v.Valid {
						invalid++
					}
					results = append(results, v)
					continue
				}
				if err != nil {
					invalid++
					// An *Error already names the file on every line.
					var se *scenarios.Error
					if errors.As(err, &se) {
						fmt.Fprintln(cmd.ErrOrStderr(), se)
					} else {
						// The error names the file itself.
						fmt.Fprintln(cmd.ErrOrStderr(), "scenario:", strings.TrimPrefix(err.Error(), "scenario: "))
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
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), results); err != nil {
					return err
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON entry per file (valid, issues with line and column) on stdout instead")
	return cmd
}
