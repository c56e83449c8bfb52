package scenarios

import (
	"errors"
	"strings"
	"testing"
)

// A probe's `endpoint` names the policy of the VPC endpoint its requests
// go through, checked as an endpoint policy.
func TestProbeEndpoint(t *testing.T) {
	const vpce = "  vpce: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: \"*\", Action: \"s3:GetObject\", Resource: \"*\"}]}\n"
	const noPrincipal = "  vpce: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"s3:GetObject\", Resource: \"*\"}]}\n"
	for _, tc := range []struct {
		name    string
		replace []string
		want    string // the probe's Endpoint, or the error
	}{
		{"no endpoint", nil, ""},
		{"endpoint policy", []string{"state:\n", vpce + "state:\n", `resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", endpoint: vpce}`}, "vpce"},
		{"unknown policy", []string{"state:\n", vpce + "state:\n", `resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", endpoint: vpc}`},
			`probes[0].endpoint: unknown policy "vpc"`},
		{"not an endpoint policy", []string{"state:\n", noPrincipal + "state:\n", `resource: "arn:aws:s3:::b/k"}`, `resource: "arn:aws:s3:::b/k", endpoint: vpce}`},
			"as a VPC endpoint policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("t.yaml", []byte(edit(t, baseScenario, tc.replace)))
			var se *Error
			switch {
			case errors.As(err, &se):
				if !strings.Contains(se.Error(), tc.want) || tc.want == "" || tc.want == "vpce" {
					t.Errorf("error %v, want one saying %q", se, tc.want)
				}
			case err != nil:
				t.Fatal(err)
			case sc.Probes[0].Endpoint != tc.want:
				t.Errorf("endpoint = %q, want %q", sc.Probes[0].Endpoint, tc.want)
			}
		})
	}
}
