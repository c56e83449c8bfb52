package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/lint"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

func newLintCmd() *cobra.Command {
	var snapshot string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint [--snapshot FILE] [--json] FILE...",
		Short: "Report orderings of changes that open propagation windows, with the fix",
		Long: `lint reads scenarios (.yaml, or library names) and CloudTrail trails (.json, .json.gz,
folders of them, lookup-events output; all trail arguments form one trail) and reports
ordering hazards: each with the step or event_id, the rule, the window the propagation
model predicts, and the fix. Rules: upload-after-narrowing, reachable-before-restricted,
committed-away-from-enforcement, revocation-relied-on-at-once, grant-used-at-once
(docs/replay.md).

Exit status: 1 there are findings, 0 none, 2 invalid input, so CI can gate on it.`,
		Example: `  scenario lint scenarios/public-s3-bucket.yaml
  scenario lint --json runbooks/*.yaml
  scenario lint --snapshot auth-details.json trail/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLint(cmd, args, snapshot, asJSON) },
	}
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "for trails: the state before the trail ('aws iam get-account-authorization-details' output)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"findings\": [...]} instead of the summary")
	return cmd
}

// isScenarioArg tells scenario arguments (files and library names) from trail ones.
func isScenarioArg(a string) bool {
	if strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml") {
		return true
	}
	if _, err := os.Stat(a); err != nil {
		return true // a library name (loadScenario reports a missing file)
	}
	return false
}

func runLint(cmd *cobra.Command, args []string, snapshot string, asJSON bool) error {
	findings := []lint.Finding{}
	var trailArgs []string
	// Everything is read and checked before anything is reported, so bad
	// input never yields a partial verdict.
	var inputs []lint.Input
	for _, a := range args {
		if !isScenarioArg(a) {
			trailArgs = append(trailArgs, a)
			continue
		}
		sc, err := loadScenario(a)
		if err != nil {
			return invalidInput(err)
		}
		model, err := runner.DelayModel(sc)
		if err != nil {
			return invalidInput(err)
		}
		initial, err := runner.InitialState(sc)
		if err != nil {
			return invalidInput(err)
		}
		inputs = append(inputs, lint.Input{File: a, Scenario: sc, Model: model, Initial: initial})
	}
	if len(trailArgs) > 0 {
		in, err := lintTrail(trailArgs, snapshot)
		if err != nil {
			return invalidInput(err)
		}
		inputs = append(inputs, in)
	} else if snapshot != "" {
		return invalidInput(fmt.Errorf("--snapshot applies to trails, and no trail was given"))
	}
	for _, in := range inputs {
		findings = append(findings, lint.Check(in)...)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"findings": findings}); err != nil {
			return err
		}
	} else {
		printFindings(out, findings)
	}
	if len(findings) > 0 {
		return failed(fmt.Errorf("%d ordering hazards", len(findings)))
	}
	return nil
}

// lintTrail turns a trail into the scenario replay would run, with the
// trail's requests as uses.
func lintTrail(args []string, snapshot string) (lint.Input, error) {
	snap, err := readSnapshot(snapshot)
	if err != nil {
		return lint.Input{}, err
	}
	p, _, err := readTrail(args, snap)
	if err != nil {
		return lint.Input{}, err
	}
	sc, err := scenarios.Parse("trail.yaml", p.BaseScenario(replay.Options{Name: "trail"}))
	if err != nil {
		return lint.Input{}, fmt.Errorf("the trail's scenario is invalid: %w", err)
	}
	model, err := runner.DelayModel(sc)
	if err != nil {
		return lint.Input{}, err
	}
	initial, err := runner.InitialState(sc)
	if err != nil {
		return lint.Input{}, fmt.Errorf("the snapshot's state: %w", err)
	}
	in := lint.Input{File: strings.Join(args, " "), Scenario: sc, Model: model, Initial: initial}
	for _, c := range p.Changes {
		in.EventIDs = append(in.EventIDs, c.EventID)
	}
	for _, r := range p.Requests {
		at := p.At(r.Time)
		in.Uses = append(in.Uses, lint.Use{Ref: "event " + r.EventID + " (" + r.Action + ")", Region: r.Region, Principal: r.Principal, Action: r.Action, Resource: r.Resource, From: at, Until: at})
	}
	return in, nil
}

func printFindings(w io.Writer, findings []lint.Finding) {
	if len(findings) == 0 {
		fmt.Fprintln(w, "no ordering hazards found")
		return
	}
	for _, f := range findings {
		where := fmt.Sprintf("step %d", f.Step)
		if f.EventID != "" {
			where = "event " + f.EventID
		}
		fmt.Fprintf(w, "%s: %s: %s: %s (window ~%gs)\n  fix: %s\n", f.File, where, f.Rule, f.Message, f.WindowSeconds, f.Fix)
	}
	fmt.Fprintf(w, "%d ordering hazards\n", len(findings))
}
