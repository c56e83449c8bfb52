package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/scenarios"
)

func newListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the scenario library with titles",
		Long: `list prints every scenario of the built-in library (scenarios/*.yaml, embedded
in the binary) with its title. Any command that takes FILE also takes one of
these names.`,
		Example: `  scenario list
  scenario list --json
  scenario run "$(scenario list | awk 'NR==2 {print $1}')"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := scenarios.List()
			if err != nil {
				// A library that does not load is a bug of the build, not of
				// the user's input.
				return failed(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTITLE")
			for _, s := range list {
				fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Title)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"name", "title"}, ...] instead of a table`)
	return cmd
}
