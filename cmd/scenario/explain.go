package main

import "github.com/spf13/cobra"

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, args []string) error {
			return invalidInput(errNotBuilt("explain"))
		},
	}
}
