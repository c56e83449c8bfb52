package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// wideBucket is the public bucket case of the library with 27 more regions
// (30 in all): with memberlist's retransmit limit at that size (4 ×
// ⌈log10 31⌉ = 8 sends per region) a rumor now and then dies out before
// reaching every region, and the first push/pull comes after the 30 s run.
func wideBucket(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 27 {
		sc.Regions = append(sc.Regions, fmt.Sprintf("r%03d", i))
	}
	return sc
}

// TestUnconvergedTrialIsExplained: seed 112 of the 30-region bucket case
// ends not converged (r008 never hears of the payroll upload: the rumor
// died out at 4.15 s, the next push/pull is after the run). The report says
// so: which region lacked which mutation, and why, with the seed.
func TestUnconvergedTrialIsExplained(t *testing.T) {
	tests := []struct {
		name string
		seed uint64
		want []string // "region mutation label reason" per missing pair; nil: converged
	}{
		{"rumor died out before reaching r008", 112, []string{"r008 eu-west-1/2 upload-payroll rumor_died_out"}},
		{"a converged trial has no explanation", 111, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Run(context.Background(), wideBucket(t), Options{Seed: tc.seed, Trials: 1})
			if err != nil {
				t.Fatal(err)
			}
			if run.Converged != (tc.want == nil) {
				t.Fatalf("seed %d: converged = %v", tc.seed, run.Converged)
			}
			if tc.want == nil {
				if run.Unconverged != nil {
					t.Errorf("converged run explains non-convergence: %+v", run.Unconverged)
				}
				return
			}
			u := run.Unconverged
			if u == nil || u.Trials != 1 || len(u.Examples) != 1 {
				t.Fatalf("want one explained trial, got %+v", u)
			}
			ex := u.Examples[0]
			if ex.Trial != 0 || ex.Seed != tc.seed {
				t.Errorf("example is trial %d seed %d, want trial 0 seed %d", ex.Trial, ex.Seed, tc.seed)
			}
			var got []string
			for _, m := range ex.Missing {
				got = append(got, strings.Join([]string{m.Region, m.Mutation, m.Label, m.Reason}, " "))
				if m.Reason == "rumor_died_out" {
					if m.NextPushPullSeconds <= 30 || m.NextPushPullSeconds >= 60 {
						t.Errorf("%s: next push/pull at %vs, want after the 30s run and before 60s", m.Region, m.NextPushPullSeconds)
					}
					if !strings.Contains(m.Detail, "after the run ended") || !strings.Contains(m.Detail, "push/pull") {
						t.Errorf("detail does not say why: %q", m.Detail)
					}
				}
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("missing:\n got %q\nwant %q", got, tc.want)
			}
			if len(u.Reasons) != 1 || u.Reasons[0] != (report.ReasonCount{Reason: "rumor_died_out", Count: len(tc.want)}) {
				t.Errorf("reasons = %+v", u.Reasons)
			}
			for _, e := range run.Expectations {
				if e.Expr == "converged" && (!strings.Contains(e.Detail, "r008") || !strings.Contains(e.Detail, "seed 112")) {
					t.Errorf("converged expectation does not point at the trial: %q", e.Detail)
				}
			}
		})
	}
}

// TestUnconvergedIsBounded: every unconverged trial counts and its reasons
// are tallied, but only the first MaxUnconvergedExamples trials are listed,
// each with at most MaxMissingPerExample pairs, so a scenario that never
// converges cannot blow up the report.
func TestUnconvergedIsBounded(t *testing.T) {
	sc := wideBucket(t)
	a := newAggregate(sc, 1, 30)
	for i := range 30 {
		r := &trialResult{index: i, seed: uint64(1 + i), convergedAt: make([]float64, len(sc.Regions))}
		if i%2 == 0 {
			r.converged = true
		} else {
			for k := range 25 {
				reason := "rumor_died_out"
				if k == 0 {
					reason = "pending_apply"
				}
				r.missing = append(r.missing, report.MissingMutation{Region: sc.Regions[k], Mutation: "eu-west-1/2", Reason: reason})
			}
		}
		a.add(r)
	}
	run := a.finish()
	u := run.Unconverged
	if u == nil || u.Trials != 15 {
		t.Fatalf("want 15 unconverged trials, got %+v", u)
	}
	want := []report.ReasonCount{{Reason: "rumor_died_out", Count: 15 * 24}, {Reason: "pending_apply", Count: 15}}
	if fmt.Sprint(u.Reasons) != fmt.Sprint(want) {
		t.Errorf("reasons = %v, want %v", u.Reasons, want)
	}
	if len(u.Examples) != report.MaxUnconvergedExamples || u.Examples[0].Trial != 1 || u.Examples[9].Trial != 19 {
		t.Fatalf("examples: %d, want the first %d unconverged trials (1, 3, ..., 19)", len(u.Examples), report.MaxUnconvergedExamples)
	}
	for _, ex := range u.Examples {
		if len(ex.Missing) != report.MaxMissingPerExample || ex.MoreMissing != 25-report.MaxMissingPerExample {
			t.Errorf("trial %d: %d listed + %d more, want %d + %d", ex.Trial, len(ex.Missing), ex.MoreMissing,
				report.MaxMissingPerExample, 25-report.MaxMissingPerExample)
		}
	}
}

// TestUnconvergedIsDeterministic: the explanation is part of the report,
// so it too is the same byte for byte whatever the number of workers.
func TestUnconvergedIsDeterministic(t *testing.T) {
	sc := wideBucket(t)
	render := func(workers int) string {
		run, err := Run(context.Background(), sc, Options{Seed: 100, Trials: 20, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := report.JSON(&b, run); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b := render(1), render(2)
	if a != b {
		t.Fatal("seeds 100..119: reports differ between 1 and 2 workers")
	}
	if !strings.Contains(a, `"seed": 112`) {
		t.Error("seeds 100..119 include 112, which does not converge; the report does not list it")
	}
}
