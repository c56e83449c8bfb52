package main

import "github.com/spf13/cobra"

func newRunCmd() *cobra.Command      { return &cobra.Command{Use: "run"} }
func newValidateCmd() *cobra.Command { return &cobra.Command{Use: "validate"} }
func newExplainCmd() *cobra.Command  { return &cobra.Command{Use: "explain"} }
func newListCmd() *cobra.Command     { return &cobra.Command{Use: "list"} }
func newCompareCmd() *cobra.Command  { return &cobra.Command{Use: "compare"} }
