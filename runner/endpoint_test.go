package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// A probe through a VPC endpoint is decided with the endpoint's policy as
// well: an endpoint that only lets requests for another bucket through
// stops the public read everywhere and at every instant, so the stale
// public policy exposes nothing to it.
func TestProbeThroughEndpoint(t *testing.T) {
	const policies = "policies:\n  vpce:\n    Version: \"2012-10-17\"\n    Statement: [{Effect: Allow, Principal: \"*\", Action: \"s3:GetObject\", Resource: \"arn:aws:s3:::RESOURCE\"}]\n"
	for _, tc := range []struct {
		name, resource      string
		exposure            float64
		requests, allowsMin int
	}{
		{"endpoint allowing the bucket", "important-financial-documents/*", 6, 300, 1},
		{"endpoint allowing another bucket only", "other-bucket/*", 0, 300, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("NAME", "vpce", "DELAY", "6s").Replace(bucketCase)
			src = strings.Replace(src, "policies:\n", strings.Replace(policies, "RESOURCE", tc.resource, 1), 1)
			src = strings.Replace(src, `q3.pdf", every: 100ms, from: 0s, until: 30s}`, `q3.pdf", endpoint: vpce, every: 100ms, from: 0s, until: 30s}`, 1)
			sc, err := scenarios.Parse("vpce.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if sc.Probes[0].Endpoint != "vpce" {
				t.Fatalf("test bug: the probe has no endpoint")
			}
			run, err := Run(context.Background(), sc, Options{Trials: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := run.Probes[0]
			if p.ExposureSeconds.Max != tc.exposure || p.Requests != tc.requests {
				t.Errorf("exposure %vs over %d requests, want %vs over %d", p.ExposureSeconds.Max, p.Requests, tc.exposure, tc.requests)
			}
			if tc.allowsMin == 0 && p.StaleAllows != 0 {
				t.Errorf("stale allows = %d through an endpoint that never lets the read through", p.StaleAllows)
			}
			if tc.allowsMin > 0 && p.StaleAllows < tc.allowsMin {
				t.Errorf("stale allows = %d through an endpoint that lets the read through, want the stale public policy's", p.StaleAllows)
			}
		})
	}
}
