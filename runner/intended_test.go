package runner

import (
	"context"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// A bad policy that over-grants until rolled back is no staleness: the
// truth itself allows. With `intended: deny` the report measures it: how
// long the region, and the truth, answered against the intent.
const badPolicyCase = `name: bad-policy
title: an over-granting policy rolled back
duration: 12s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: constant, value: 2s}
policies:
  public-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::docs-bucket/*"}]}
state:
  accounts: ["111122223333"]
  buckets: [{name: docs-bucket, region: us-east-2}]
steps:
  - {at: 1s, region: us-east-2, call: s3:PutBucketPolicy, with: {bucket: docs-bucket, policy: public-read}, label: bad version}
  - {at: 5s, region: us-east-2, call: s3:DeleteBucketPolicy, with: {bucket: docs-bucket}, label: rollback}
probes:
  - {name: origin, region: us-east-2, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs-bucket/k", intended: deny}
  - {name: remote, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs-bucket/k", intended: deny}
  - {name: plain, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs-bucket/k"}
`

func TestIntendedAccess(t *testing.T) {
	sc, err := scenarios.Parse("bad-policy.yaml", []byte(badPolicyCase))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Run(context.Background(), sc, Options{Trials: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		probe                   string
		exposure, region, truth float64 // seconds per trial; -1: not measured
	}{
		{"origin", 0, 4, 4}, // applies at once: never stale, yet 4 s against intent
		{"remote", 2, 4, 4}, // allows 3 s to 7 s: 2 s of it stale
		{"plain", 2, -1, -1},
	}
	for i, tt := range tests {
		p := run.Probes[i]
		if p.Name != tt.probe {
			t.Fatalf("probe %d is %s, want %s", i, p.Name, tt.probe)
		}
		if got := p.ExposureSeconds.Max; !near(got, tt.exposure) {
			t.Errorf("%s: exposure %v, want %v", p.Name, got, tt.exposure)
		}
		if tt.region < 0 {
			if p.RegionAgainstIntentSeconds != nil || p.Intended != "" {
				t.Errorf("%s: intent measured without intended: %+v", p.Name, p)
			}
			continue
		}
		if p.Intended != "deny" || p.RegionAgainstIntentSeconds == nil || p.TruthAgainstIntentSeconds == nil {
			t.Fatalf("%s: intent not measured: %+v", p.Name, p)
		}
		if got := p.RegionAgainstIntentSeconds.P50; !near(got, tt.region) {
			t.Errorf("%s: region against intent %v, want %v", p.Name, got, tt.region)
		}
		if got := p.TruthAgainstIntentSeconds.P50; !near(got, tt.truth) {
			t.Errorf("%s: truth against intent %v, want %v", p.Name, got, tt.truth)
		}
	}
}

func near(a, b float64) bool { return a-b < 0.01 && b-a < 0.01 }
