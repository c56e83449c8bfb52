// Command scenario replays IAM propagation scenarios, measures exposure
// windows, and unit-tests IAM policies.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries an exit status through cobra: 1 = an expectation or a
// policy test failed, 2 = invalid input.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// invalidInput wraps err as an exit-status-2 error.
func invalidInput(err error) error { return &exitError{code: 2, err: err} }

// failed wraps err as an exit-status-1 error.
func failed(err error) error { return &exitError{code: 1, err: err} }

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "scenario",
		Short:         "Replay IAM propagation scenarios and measure exposure windows",
		Long:          "scenario replays cases from scenarios/ in a deterministic virtual-time simulator (default)\nor on a real cluster, measures exposure and denial windows, and unit-tests IAM policies.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newTestPolicyCmd(),
		newAuthorizeCmd(),
		newRunCmd(),
		newValidateCmd(),
		newExplainCmd(),
		newListCmd(),
		newCompareCmd(),
		newChaosCmd(),
		newReplayCmd(),
		newLintCmd(),
		newClusterCmd(),
		newSweepCmd(),
		newPlaygroundCmd(),
	)
	usageOnBadArgs(root)
	return root
}

// usageOnBadArgs makes every command's argument check (missing or extra
// arguments) end with the command's usage line, for every command added
// to root, whichever file defines it.
func usageOnBadArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return invalidInput(fmt.Errorf("%v\nusage: %s (scenario %s --help for more)", err, cmd.UseLine(), strings.TrimPrefix(cmd.CommandPath(), "scenario ")))
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageOnBadArgs(sub)
	}
}

// run executes the CLI and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "scenario:", strings.TrimPrefix(ee.err.Error(), "scenario: "))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "scenario:", err)
	return 2 // usage errors: unknown flag, missing argument
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
