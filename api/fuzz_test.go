package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/metrics"
)

// FuzzRequestDecoding throws arbitrary bodies at the write and authorize
// endpoints: the handler never panics, always answers JSON, and a request
// it refuses never reaches the backend (nothing half-applies).
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"call": "iam:CreateUser", "with": {"user_name": "alice"}}`,
		`{"call": "s3:PutBucketPolicy", "with": {"bucket": "b", "policy": {"Version": "2012-10-17", "Statement": []}}}`,
		`{"principal": "anonymous", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}`,
		`{"principal": "anonymous", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k", "consistency": {"mode": "at_least", "token": "us-east-2/1", "timeout": "2s"}}`,
		`{"partition": [["us-east-2"], ["eu-west-1"]]}`,
		`{"call": 7}`, `{"principal": ["x"]}`, `{`, ``, `null`, `[]`, `{"call": "iam:CreateUser", "with": {}} trailing`,
	} {
		for _, path := range []string{"/v1/mutations", "/v1/authorize", "/v1/faults"} {
			f.Add(path, []byte(seed))
		}
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "eu-west-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		switch path {
		case "/v1/mutations", "/v1/authorize", "/v1/faults":
		default:
			return
		}
		fk := &fake{}
		h := Handler(Config{Backend: fk, Token: token, AdminToken: adminToken, FaultAPI: true, Gatherer: reg, Metrics: m})
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		// The admin token opens all three endpoints, so the bodies reach
		// the decoders.
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: answer is not JSON: %q", path, body, rec.Body.String())
		}
		if rec.Code >= 400 && (len(fk.commits) > 0 || fk.setFaults > 0) {
			t.Fatalf("%s %q: refused with %d but reached the backend", path, body, rec.Code)
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: server error %d: %s", path, body, rec.Code, rec.Body.String())
		}
	})
}
