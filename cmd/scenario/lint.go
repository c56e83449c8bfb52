package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/lint"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

func newLintCmd() *cobra.Command {
	var snapshot, propagation string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint [--snapshot FILE] [--propagation FILE] [--json] FILE...",
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
  scenario lint --snapshot auth-details.json trail/
  scenario lint --propagation measured.yaml --snapshot auth-details.json trail/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd, args, snapshot, propagation, asJSON)
		},
	}
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "for trails: the state before the trail ('aws iam get-account-authorization-details' output)")
	cmd.Flags().StringVar(&propagation, "propagation", "", "YAML file with a propagation block, for the window estimates (as replay's; it replaces a scenario's own; default for trails: lognormal, median 4s, p99 10s)")
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

func runLint(cmd *cobra.Command, args []string, snapshot, propagation string, asJSON bool) error {
	findings := []lint.Finding{}
	prop, sources, err := readPropagation(propagation)
	if err != nil {
		return invalidInput(err)
	}
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
		if prop != "" {
			if sc.Propagation, err = parsePropagation(propagation, prop, sc.Regions); err != nil {
				return invalidInput(err)
			}
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
		in, closeTrail, err := lintTrail(trailArgs, snapshot, replay.Options{Name: "trail", Propagation: prop, Sources: sources})
		if err != nil {
			return invalidInput(err)
		}
		defer closeTrail()
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
// trail's requests as uses. Only the requests that can meet a change's
// window are kept (within the change's slowest p99 after it): the others
// cannot be relied on at once, and a long trail's requests are not held.
func lintTrail(args []string, snapshot string, o replay.Options) (lint.Input, func(), error) {
	snap, err := readSnapshot(snapshot)
	if err != nil {
		return lint.Input{}, nil, err
	}
	p, b, err := readTrail(args, snap)
	if err != nil {
		return lint.Input{}, nil, err
	}
	fail := func(err error) (lint.Input, func(), error) {
		b.Close()
		return lint.Input{}, nil, err
	}
	sc, err := scenarios.Parse("trail.yaml", p.BaseScenario(o))
	if err != nil {
		return fail(fmt.Errorf("the trail's scenario is invalid: %w", err))
	}
	model, err := runner.DelayModel(sc)
	if err != nil {
		return fail(err)
	}
	initial, err := runner.InitialState(sc)
	if err != nil {
		return fail(fmt.Errorf("the snapshot's state: %w", err))
	}
	in := lint.Input{File: strings.Join(args, " "), Scenario: sc, Model: model, Initial: initial}
	type reach struct{ from, until time.Duration }
	var reaches []reach
	var longest time.Duration
	for _, c := range p.Changes {
		in.EventIDs = append(in.EventIDs, c.EventID)
		var h time.Duration
		for _, r := range sc.Regions {
			if r != c.Region {
				h = max(h, model.Distribution(c.Region, r, c.Revoke).Quantile(0.99))
			}
		}
		at := p.At(c.Time)
		reaches = append(reaches, reach{at, at + h})
		longest = max(longest, h)
	}
	lo := 0
	err = p.EachRequest(func(r replay.Request) error {
		at := p.At(r.Time)
		for lo < len(reaches) && reaches[lo].from+longest < at {
			lo++
		}
		for _, c := range reaches[lo:] {
			if c.from > at {
				break
			}
			if at < c.until {
				in.Uses = append(in.Uses, lint.Use{Ref: "event " + r.EventID + " (" + r.Action + ")", Region: r.Region, Principal: r.Principal, Action: r.Action, Resource: r.Resource, From: at, Until: at})
				break
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return in, func() { b.Close() }, nil
}

// parsePropagation reads a propagation block (readPropagation's YAML) as
// a scenario's, for scenarios whose regions are regions.
func parsePropagation(file, block string, regions []string) (scenarios.Propagation, error) {
	var y strings.Builder
	fmt.Fprintf(&y, "name: propagation\ntitle: propagation\nduration: 1m\nregions: [%s]\npropagation:\n", strings.Join(regions, ", "))
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		y.WriteString("  " + l + "\n")
	}
	sc, err := scenarios.Parse("propagation.yaml", []byte(y.String()))
	if err != nil {
		return scenarios.Propagation{}, fmt.Errorf("%s: %w", file, err)
	}
	return sc.Propagation, nil
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
