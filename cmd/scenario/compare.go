package main

import "github.com/spf13/cobra"

func newCompareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "compare",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, args []string) error {
			return invalidInput(errNotBuilt("compare"))
		},
	}
}
