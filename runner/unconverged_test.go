package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// wideBucket is the public bucket case of the library with 27 more regions
// (30 in all), which converged in each of 20,000 trials (seeds 1 to
// 20,000) since its uploads stopped waiting for the propagation delay.
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

// endedEarly is the public bucket case of the library without its
// uploads, ended at 3 s, 2 s after the privacy write: a region whose delay
// for it is longer has received it but not applied it when the run ends.
func endedEarly(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = 3 * time.Second
	sc.Steps = sc.Steps[:1]
	for i := range sc.Probes {
		sc.Probes[i].Until = min(sc.Probes[i].Until, sc.Duration)
	}
	return sc
}

// cutOffRegion is the partitioned-region case ended at 20 s, before its
// partition heals at 30.5 s: eu-west-1 cannot have the privacy write.
func cutOffRegion(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.LoadLibrary("partitioned-region")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = 20 * time.Second
	return sc
}

// TestUnconvergedTrialIsExplained: a trial that ends not converged says
// which region lacked which mutation, and why, with the seed that replays
// it; the failed converged expectation points at it.
func TestUnconvergedTrialIsExplained(t *testing.T) {
	tests := []struct {
		name     string
		scenario func(*testing.T) *scenarios.Scenario
		seed     uint64
		want     []string // "region mutation label reason" per missing pair; nil: converged
		detail   []string // in every missing pair's detail
	}{
		{"delay past the run's end", endedEarly, 1,
			[]string{"eu-west-1 us-east-2/1 make-private pending_apply", "ap-southeast-2 us-east-2/1 make-private pending_apply"}, []string{"visible only at", "after the run ended"}},
		{"partition not healed at the end", cutOffRegion, 1,
			[]string{"us-east-2 eu-west-1/1 upload-q3-results cut_off", "us-east-2 eu-west-1/2 upload-payroll cut_off",
				"eu-west-1 us-east-2/1 make-private cut_off",
				"ap-southeast-2 eu-west-1/1 upload-q3-results cut_off", "ap-southeast-2 eu-west-1/2 upload-payroll cut_off"},
			[]string{"a network partition cut", "off from every region that held it"}},
		{"a converged trial has no explanation", wideBucket, 111, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Run(context.Background(), tc.scenario(t), Options{Seed: tc.seed, Trials: 1})
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
				for _, d := range tc.detail {
					if !strings.Contains(m.Detail, d) {
						t.Errorf("detail %q does not say %q", m.Detail, d)
					}
				}
			}
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("missing:\n got %q\nwant %q", got, tc.want)
			}
			reason := strings.Fields(tc.want[0])[3]
			if len(u.Reasons) != 1 || u.Reasons[0] != (report.ReasonCount{Reason: reason, Count: len(tc.want)}) {
				t.Errorf("reasons = %+v", u.Reasons)
			}
			region := strings.Fields(tc.want[0])[0] // the first listed, which the expectation names
			for _, e := range run.Expectations {
				if e.Expr == "converged" && (!strings.Contains(e.Detail, region) || !strings.Contains(e.Detail, fmt.Sprintf("seed %d", tc.seed))) {
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
	sc := endedEarly(t)
	render := func(workers int) (string, *report.Run) {
		run, err := Run(context.Background(), sc, Options{Seed: 1, Trials: 20, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := report.JSON(&b, run); err != nil {
			t.Fatal(err)
		}
		return b.String(), run
	}
	a, run := render(1)
	if b, _ := render(2); a != b {
		t.Fatal("seeds 1..20: reports differ between 1 and 2 workers")
	}
	if u := run.Unconverged; u == nil || u.Trials == 0 || len(u.Examples) == 0 {
		t.Errorf("seeds 1..20 of a run ended 2 s after its commit: want unconverged trials explained, got %+v", u)
	}
}
