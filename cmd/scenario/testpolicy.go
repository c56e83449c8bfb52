package main

import "github.com/spf13/cobra"

func newTestPolicyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test-policy",
		Short: "not built yet",
		RunE: func(cmd *cobra.Command, args []string) error {
			return invalidInput(errNotBuilt("test-policy"))
		},
	}
}
