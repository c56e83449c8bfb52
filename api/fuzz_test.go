package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/evaluator"
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

// FuzzAuthorizeFastPath: whatever the hand-written parser of the
// authorize request accepts, encoding/json (decode, with its unknown-field
// and trailing-data checks) accepts too and decodes to the same request;
// what it leaves to decode changes nothing but the speed.
func FuzzAuthorizeFastPath(f *testing.F) {
	for _, seed := range fastPathCases {
		f.Add([]byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast AuthorizeRequest
		if !parseAuthorize(body, &fast) {
			return
		}
		var slow AuthorizeRequest
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/authorize", bytes.NewReader(body))
		if !decode(rec, req, &slow) {
			t.Fatalf("%q: the fast path accepted what decode refuses: %s", body, rec.Body.String())
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast path %#v, decode %#v", body, fast, slow)
		}
		checkCachedParse(t, body, slow)
	})
}

// checkCachedParse: parsing body with a request cache, the first time (a
// miss) and the next (hits, also after other requests' contexts), gives
// want, and the cached evaluator context is the one NewContext builds.
func checkCachedParse(t *testing.T, body []byte, want AuthorizeRequest) {
	t.Helper()
	var rc reqCache
	others := [][]byte{
		[]byte(`{"principal":"x","context":{"a":"}"}}`),
		[]byte(`{"context":{"aws:SourceIp":"10.0.0.1"}}`),
	}
	for round := range 3 {
		var got AuthorizeRequest
		ce, ok := parseAuthorizeWith(body, &got, &rc)
		if !ok {
			t.Fatalf("%q, round %d: refused with a cache", body, round)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q, round %d: cached %#v, decode %#v", body, round, got, want)
		}
		if ce != nil {
			wantCtx, err := evaluator.NewContext(want.Context)
			if gotCtx := ce.prepared(); (err == nil) != (gotCtx != nil) || (err == nil && !reflect.DeepEqual(gotCtx, wantCtx)) {
				t.Fatalf("%q: prepared context %#v, NewContext %#v (%v)", body, gotCtx, wantCtx, err)
			}
		}
		for _, o := range others {
			var x AuthorizeRequest
			parseAuthorizeWith(o, &x, &rc)
		}
	}
}

// fastPathCases are authorize bodies, and whether the fast path takes
// them (the others fall back to encoding/json).
var fastPathCases = []struct {
	body string
	fast bool
}{
	{`{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`, true},
	{` { "principal" : "user:alice" , "action":"s3:GetObject", "resource":"arn:aws:s3:::b/k",
	   "context": {"aws:SourceIp":"203.0.113.5","aws:SecureTransport":true,"n":-1.5e3,"l":["a",2,false],"e":[]} } `, true},
	{`{"context":{}}`, true},
	{`{}`, true},
	{`{"principal":"a","principal":"b"}`, false},                // duplicate: encoding/json keeps the last
	{`{"Principal":"a"}`, false},                                // encoding/json matches keys case-insensitively
	{`{"principal":"caf\u00e9"}`, false},                        // escapes
	{"{\"principal\":\"café\"}", false},                         // non-ASCII
	{`{"principal":null}`, false},                               // null leaves the field empty
	{`{"principal":"a","consistency":{"mode":"local"}}`, false}, // consistency
	{`{"context":{"k":{"nested":1}}}`, false},                   // refused by contextValue, through decode
	{`{"context":{"k":1e999}}`, false},                          // out of range
	{`{"context":{"k":01}}`, false},                             // not a JSON number
	{`{"context":{"a":1,"a":2}}`, false},                        // duplicate context key
	{`{"principal":"a"} {}`, false},                             // trailing data
	{`{"principal":"a",}`, false},                               // trailing comma
	{`{"principal":"a"`, false},                                 // truncated
	{`{"unknown":1}`, false},                                    // unknown field
	{`[]`, false},
}

// TestAuthorizeFastPath: each case takes the path it should, and the
// request decoded either way is the same (FuzzAuthorizeFastPath explores
// beyond these).
func TestAuthorizeFastPath(t *testing.T) {
	for _, tc := range fastPathCases {
		var fast AuthorizeRequest
		got := parseAuthorize([]byte(tc.body), &fast)
		if got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.body, got, tc.fast)
			continue
		}
		if !got {
			continue
		}
		var slow AuthorizeRequest
		rec := httptest.NewRecorder()
		if !decode(rec, httptest.NewRequest(http.MethodPost, "/v1/authorize", strings.NewReader(tc.body)), &slow) {
			t.Errorf("%s: decode refuses it: %s", tc.body, rec.Body.String())
		} else if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast %#v, decode %#v", tc.body, fast, slow)
		} else {
			checkCachedParse(t, []byte(tc.body), slow)
		}
	}
}
