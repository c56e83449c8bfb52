package main

import "github.com/spf13/cobra"

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, args []string) error {
			return invalidInput(errNotBuilt("validate"))
		},
	}
}
