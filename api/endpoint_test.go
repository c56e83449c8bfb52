package api

import (
	"strings"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

// An authorize request may go through a VPC endpoint: its policy reaches
// the backend compiled as an endpoint policy, named as the request names
// it; a policy AWS would refuse is refused with AWS's error, before the
// backend is asked.
func TestAuthorizeThroughEndpoint(t *testing.T) {
	auth := map[string]string{"Authorization": "Bearer " + token}
	const req = `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","endpoint":%s}`
	const allowB = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	cases := []struct {
		name, endpoint string
		code           int
		errCode        string
		wantName       string // the compiled endpoint policy's name
	}{
		{"named, policy as an object", `{"name":"vpce-0a1b","policy":` + allowB + `}`, 200, "", "vpce-0a1b"},
		{"policy as a JSON string, as AWS's APIs take it", `{"name":"vpce-0a1b","policy":` + jsonString(allowB) + `}`, 200, "", "vpce-0a1b"},
		{"no name", `{"policy":` + allowB + `}`, 200, "", "endpoint"},
		{"no policy", `{"name":"vpce-0a1b"}`, 400, "InvalidRequest", ""},
		{"null policy", `{"policy":null}`, 400, "InvalidRequest", ""},
		{"an endpoint policy needs a Principal", `{"policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}`, 400, "MalformedPolicyDocument", ""},
		{"policy not an object", `{"policy":[1,2]}`, 400, "MalformedPolicyDocument", ""},
		{"name too long", `{"name":"` + strings.Repeat("v", maxFieldLen+1) + `","policy":` + allowB + `}`, 400, "InvalidRequest", ""},
		{"unknown field", `{"policy":` + allowB + `,"id":"vpce-1"}`, 400, "InvalidRequest", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv, _ := newServer(t, token)
			code, out := do(t, srv, "POST", "/v1/authorize", strings.Replace(req, "%s", tc.endpoint, 1), auth)
			if code != tc.code || errCode(out) != tc.errCode {
				t.Fatalf("got %d %q (%v), want %d %q", code, errCode(out), out, tc.code, tc.errCode)
			}
			if tc.code != 200 {
				if len(f.probes) != 0 {
					t.Errorf("a refused request reached the backend: %+v", f.probes)
				}
				return
			}
			if len(f.probes) != 1 {
				t.Fatalf("backend asked %d times, want once", len(f.probes))
			}
			ep := f.probes[0].Endpoint
			if ep == nil || ep.Kind() != evaluator.KindEndpoint || ep.Name() != tc.wantName || ep.Statements() != 1 {
				t.Fatalf("backend got endpoint %+v, want the one-statement endpoint policy %q", ep, tc.wantName)
			}
		})
	}
	// Without an endpoint the request goes straight to the service.
	f, srv, _ := newServer(t, token)
	if code, out := do(t, srv, "POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`, auth); code != 200 || f.probes[0].Endpoint != nil {
		t.Errorf("no endpoint: %d %v, endpoint %v", code, out, f.probes[0].Endpoint)
	}
}

func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
