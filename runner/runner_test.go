package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// bucketCase is the public bucket story with constant delays, so the exact
// exposure window is known in advance: the privacy write commits at 1s in
// us-east-2 and reaches eu-west-1 after exactly DELAY.
const bucketCase = `name: NAME
title: test
description: test
lesson: test
seed: 1
duration: 30s
regions: [us-east-2, eu-west-1, ap-southeast-2]
propagation:
  default: {dist: constant, value: 2s}
  links: [{from: us-east-2, to: eu-west-1, dist: constant, value: DELAY}]
gossip: {interval: 200ms, fanout: 3, retransmit_mult: 4, push_pull_interval: 30s}
policies:
  public-read:
    Version: "2012-10-17"
    Statement: [{Sid: PublicRead, Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::important-financial-documents/*"}]
  private-only:
    Version: "2012-10-17"
    Statement: [{Sid: OwnerOnly, Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:root"}, Action: "s3:*", Resource: ["arn:aws:s3:::important-financial-documents", "arn:aws:s3:::important-financial-documents/*"]}]
state:
  accounts: ["111122223333"]
  buckets: [{name: important-financial-documents, region: eu-west-1, account: "111122223333", policy: public-read}]
steps:
  - {at: 1s, region: us-east-2, call: s3:PutBucketPolicy, with: {bucket: important-financial-documents, policy: private-only}}
  - {at: 2s, region: eu-west-1, call: s3:PutObject, with: {bucket: important-financial-documents, key: q3.pdf}}
probes:
  - {name: attacker-read, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::important-financial-documents/q3.pdf", every: 100ms, from: 0s, until: 30s}
  - {name: attacker-read-home, region: us-east-2, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::important-financial-documents/q3.pdf", every: 100ms, from: 0s, until: 30s}
expect:
  - "exposure(attacker-read).p50 > 0s"
  - "exposure(attacker-read-home).max == 0s"
  - converged
`

func loadCase(t *testing.T, name, delay string) *scenarios.Scenario {
	t.Helper()
	src := strings.NewReplacer("NAME", name, "DELAY", delay).Replace(bucketCase)
	sc, err := scenarios.Parse(name+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("scenario does not load: %v", err)
	}
	return sc
}

func TestExposureWindowIsExact(t *testing.T) {
	for _, tc := range []struct {
		delay    string
		exposure float64 // seconds
		// requests at 0.1s steps in [1s, 1s+delay): the stale allows served
		staleAllows int
		// of those, the ones after q3.pdf exists (uploaded at 2s)
		confidential int
	}{
		{"6s", 6, 60, 50},
		{"6021ms", 6.021, 61, 51},
		{"500ms", 0.5, 5, 0},
	} {
		t.Run(tc.delay, func(t *testing.T) {
			sc := loadCase(t, "exact", tc.delay)
			run, err := Run(context.Background(), sc, Options{Trials: 1})
			if err != nil {
				t.Fatal(err)
			}
			var p report.Probe
			for _, pr := range run.Probes {
				if pr.Name == "attacker-read" {
					p = pr
				}
			}
			if math.Abs(p.ExposureSeconds.Max-tc.exposure) > 1e-9 {
				t.Errorf("exposure = %vs, want exactly %vs", p.ExposureSeconds.Max, tc.exposure)
			}
			if p.ExposureSeconds.Min != p.ExposureSeconds.Max || p.ExposureSeconds.P50 != p.ExposureSeconds.Max {
				t.Errorf("one trial must give min = p50 = max, got %+v", p.ExposureSeconds)
			}
			if p.Requests != 300 {
				t.Errorf("requests = %d, want 300 (every 100ms over 30s)", p.Requests)
			}
			if p.StaleAllows != tc.staleAllows {
				t.Errorf("stale allows = %d, want %d", p.StaleAllows, tc.staleAllows)
			}
			if p.StaleDenies != 0 || p.DenialSeconds.Max != 0 {
				t.Errorf("no denial expected, got %d stale denies, %vs", p.StaleDenies, p.DenialSeconds.Max)
			}
			if !run.Converged {
				t.Error("run did not converge")
			}
			if !run.Passed {
				t.Errorf("expectations failed: %+v", run.Expectations)
			}
			var lag report.Region
			for _, r := range run.Regions {
				if r.Region == "eu-west-1" {
					lag = r
				}
			}
			if lag.LagSeconds.Max < tc.exposure-1e-9 {
				t.Errorf("eu-west-1 lag max = %v, want at least the link delay %v", lag.LagSeconds.Max, tc.exposure)
			}
		})
	}
}

func TestSameSeedSameReport(t *testing.T) {
	sc := loadCase(t, "determinism", "6s")
	sc.Propagation.Default.Dist = "lognormal"
	sc.Propagation.Default.Median = 4e9
	sc.Propagation.Default.P99 = 12e9
	sc.Propagation.Links = nil
	render := func(workers int) []byte {
		run, err := Run(context.Background(), sc, Options{Trials: 40, Seed: 7, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(run)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := render(1), render(2)
	if !bytes.Equal(a, b) {
		t.Fatalf("seed 7: reports differ between 1 and 2 workers (len %d vs %d)", len(a), len(b))
	}
	c := render(2)
	if !bytes.Equal(b, c) {
		t.Fatal("seed 7: two runs with the same seed differ")
	}
	var run report.Run
	_ = json.Unmarshal(a, &run)
	if run.Probes[0].ExposureSeconds.Min == run.Probes[0].ExposureSeconds.Max {
		t.Errorf("lognormal delays over 40 trials should spread the exposure, got %+v", run.Probes[0].ExposureSeconds)
	}
}

func TestFailedExpectationIsReported(t *testing.T) {
	src := strings.Replace(strings.NewReplacer("NAME", "failing", "DELAY", "6s").Replace(bucketCase),
		`"exposure(attacker-read).p50 > 0s"`, `"exposure(attacker-read).p50 < 1s"`, 1)
	sc, err := scenarios.Parse("failing.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Run(context.Background(), sc, Options{Trials: 1})
	if err != nil {
		t.Fatal(err)
	}
	if run.Passed {
		t.Fatal("an exposure of 6s must fail 'p50 < 1s'")
	}
	e := run.Expectations[0]
	if e.Passed || !strings.Contains(e.Detail, "6s") {
		t.Errorf("expectation detail should show the measured 6s, got %+v", e)
	}
}

func ExampleRun() {
	src := strings.NewReplacer("NAME", "example", "DELAY", "6s").Replace(bucketCase)
	sc, err := scenarios.Parse("example.yaml", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := Run(context.Background(), sc, Options{Trials: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := run.Probes[0]
	fmt.Printf("%s in %s: exposure %.1fs, %d stale allows, passed=%v\n", p.Name, p.Region, p.ExposureSeconds.Max, p.StaleAllows, run.Passed)
	// Output: attacker-read in eu-west-1: exposure 6.0s, 60 stale allows, passed=true
}
