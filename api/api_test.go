package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/replication"
)

// fake records what reached the backend, so tests can assert that bad
// requests never do.
type fake struct {
	conflicts  uint64
	commits    []controlplane.Call
	probes     []controlplane.Probe
	cons       []live.Consistency
	faults     live.FaultSpec
	setFaults  int
	authErr    error
	commitErr  error
	statusErr  error
	readyErr   error
	lastStatus replication.MutationID
	waits      []time.Duration // the wait of each WaitStatus call
	removed    []string
	removeErr  error
}

func (f *fake) Region() string { return "eu-west-1" }
func (f *fake) Commit(c controlplane.Call) (replication.Mutation, error) {
	if f.commitErr != nil {
		return replication.Mutation{}, f.commitErr
	}
	f.commits = append(f.commits, c)
	return replication.Mutation{ID: replication.MutationID{Origin: "eu-west-1", Seq: uint64(len(f.commits))}, TS: replication.Timestamp{Wall: 1e18}, Call: c}, nil
}
func (f *fake) Authorize(_ context.Context, p controlplane.Probe, c live.Consistency) (live.Decision, error) {
	f.probes = append(f.probes, p)
	f.cons = append(f.cons, c)
	if f.authErr != nil {
		return live.Decision{Lag: 3 * time.Second}, f.authErr
	}
	return live.Decision{Effect: "Allow", Digest: "abc", Lag: 1500 * time.Millisecond, Stale: true}, nil
}
func (f *fake) Status(id replication.MutationID) (live.MutationStatus, error) {
	f.lastStatus = id
	if f.statusErr != nil {
		return live.MutationStatus{}, f.statusErr
	}
	return live.MutationStatus{ID: id.String(), Applied: map[string]time.Time{}, Pending: []string{"ap-southeast-2"}}, nil
}
func (f *fake) WaitStatus(_ context.Context, id replication.MutationID, wait time.Duration) (live.MutationStatus, error) {
	f.waits = append(f.waits, wait)
	st, err := f.Status(id)
	st.Complete = true
	return st, err
}
func (f *fake) RemoveMember(region string) error {
	if f.removeErr != nil {
		return f.removeErr
	}
	f.removed = append(f.removed, region)
	return nil
}
func (f *fake) View() live.ViewInfo {
	return live.ViewInfo{Region: "eu-west-1", Digest: "abc", Conflicts: f.conflicts}
}
func (f *fake) Members() []live.MemberInfo {
	return []live.MemberInfo{{Region: "eu-west-1", State: "alive", Self: true}}
}
func (f *fake) SetFaults(s live.FaultSpec) { f.faults = s; f.setFaults++ }
func (f *fake) Faults() live.FaultSpec     { return f.faults }
func (f *fake) Ready() error               { return f.readyErr }
func (f *fake) Healthy() error             { return nil }

const (
	token      = "s3cret-token"
	adminToken = "adm1n-token"
)

func newServer(t *testing.T, tok string) (*fake, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	f := &fake{}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Backend: f, Token: tok, Gatherer: reg, Metrics: m, FaultAPI: true}
	if tok != "" {
		cfg.AdminToken = adminToken
	}
	srv := httptest.NewServer(Handler(cfg))
	t.Cleanup(srv.Close)
	return f, srv, reg
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %v", method, path, err)
		}
	}
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestBadRequestsAreRefusedClearly(t *testing.T) {
	auth := map[string]string{"Authorization": "Bearer " + token}
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	huge := `{"call":"iam:CreateUser","with":{"user_name":"` + strings.Repeat("a", MaxBodyBytes) + `"}}`
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		code                     int
		errCode                  string
	}{
		{"malformed JSON", "POST", "/v1/mutations", `{"call": `, auth, 400, "MalformedJSON"},
		{"not JSON at all", "POST", "/v1/authorize", `principal=anonymous`, auth, 400, "MalformedJSON"},
		{"empty body", "POST", "/v1/authorize", ``, auth, 400, "MalformedJSON"},
		{"trailing data", "POST", "/v1/mutations", `{"call":"iam:CreateUser"} {"call":"x"}`, auth, 400, "MalformedJSON"},
		{"wrong type", "POST", "/v1/mutations", `{"call": 42}`, auth, 400, "InvalidRequest"},
		{"unknown field", "POST", "/v1/mutations", `{"call":"iam:CreateUser","wiht":{}}`, auth, 400, "InvalidRequest"},
		{"missing call", "POST", "/v1/mutations", `{"with":{}}`, auth, 400, "InvalidRequest"},
		{"with not an object", "POST", "/v1/mutations", `{"call":"iam:CreateUser","with":[1]}`, auth, 400, "InvalidRequest"},
		{"huge body", "POST", "/v1/mutations", huge, auth, 413, "RequestTooLarge"},
		{"missing token", "POST", "/v1/mutations", `{"call":"iam:CreateUser"}`, nil, 401, "Unauthorized"},
		{"wrong token", "POST", "/v1/mutations", `{"call":"iam:CreateUser"}`, map[string]string{"Authorization": "Bearer nope"}, 401, "Unauthorized"},
		{"token without Bearer", "POST", "/v1/mutations", `{"call":"iam:CreateUser"}`, map[string]string{"Authorization": token}, 401, "Unauthorized"},
		{"authorize missing resource", "POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject"}`, auth, 400, "InvalidRequest"},
		{"authorize bad context value", "POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","context":{"aws:SourceIp":{"a":1}}}`, auth, 400, "InvalidRequest"},
		{"unknown consistency mode", "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"strong"}}`, auth, 400, "InvalidRequest"},
		{"at_least without token", "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"at_least"}}`, auth, 400, "InvalidRequest"},
		{"at_least timeout too long", "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"at_least","token":"a/1","timeout":"1h"}}`, auth, 400, "InvalidRequest"},
		{"max_lag bad duration", "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"max_lag","max_lag":"soon"}}`, auth, 400, "InvalidRequest"},
		{"bad mutation id", "GET", "/v1/mutations/not-an-id", ``, auth, 400, "InvalidRequest"},
		{"wait not a duration", "GET", "/v1/mutations/us-east-2/1?wait=soon", ``, auth, 400, "InvalidRequest"},
		{"wait without unit", "GET", "/v1/mutations/us-east-2/1?wait=30", ``, auth, 400, "InvalidRequest"},
		{"wait negative", "GET", "/v1/mutations/us-east-2/1?wait=-1s", ``, auth, 400, "InvalidRequest"},
		{"wait too long", "GET", "/v1/mutations/us-east-2/1?wait=61s", ``, auth, 400, "InvalidRequest"},
		{"wait twice", "GET", "/v1/mutations/us-east-2/1?wait=1s&wait=2s", ``, auth, 400, "InvalidRequest"},
		{"unknown query parameter", "GET", "/v1/mutations/us-east-2/1?wiat=1s", ``, auth, 400, "InvalidRequest"},
		{"remove member without token", "DELETE", "/v1/cluster/members/ap-southeast-2", ``, nil, 401, "Unauthorized"},
		{"remove member wrong method", "POST", "/v1/cluster/members/ap-southeast-2", ``, admin, 405, "MethodNotAllowed"},
		{"unknown route", "GET", "/v1/nothing", ``, nil, 404, "NotFound"},
		{"wrong method", "DELETE", "/v1/view", ``, nil, 405, "MethodNotAllowed"},
		{"faults without token", "POST", "/v1/faults", `{"partition":[["a"],["b"]]}`, nil, 401, "Unauthorized"},
		{"faults invalid", "POST", "/v1/faults", `{"partition":[["a"]]}`, admin, 400, "InvalidFaults"},
		{"faults unknown field", "POST", "/v1/faults", `{"partitions":[["a"],["b"]]}`, admin, 400, "InvalidRequest"},
		{"faults bad duration", "POST", "/v1/faults", `{"links":[{"from":"a","to":"b","latency":150}]}`, admin, 400, "InvalidRequest"},
		{"clear faults without token", "DELETE", "/v1/faults", ``, nil, 401, "Unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv, _ := newServer(t, token)
			code, out := do(t, srv, tc.method, tc.path, tc.body, tc.hdr)
			if code != tc.code || errCode(out) != tc.errCode {
				t.Errorf("got %d %q (%v), want %d %q", code, errCode(out), out, tc.code, tc.errCode)
			}
			// Nothing half-applies: a refused request never reaches the node.
			if len(f.commits) != 0 || len(f.probes) != 0 || f.setFaults != 0 || len(f.waits) != 0 || len(f.removed) != 0 {
				t.Errorf("backend was called: commits=%d probes=%d faults=%d waits=%d removed=%d", len(f.commits), len(f.probes), f.setFaults, len(f.waits), len(f.removed))
			}
		})
	}
}

func TestGoodRequests(t *testing.T) {
	f, srv, reg := newServer(t, token)
	auth := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	admin := map[string]string{"Authorization": "Bearer " + adminToken}

	code, out := do(t, srv, "POST", "/v1/mutations", `{"call":"s3:PutBucketPolicy","with":{"bucket":"b","policy":{"Version":"2012-10-17","Statement":[]}}}`, auth)
	if code != 200 || out["id"] != "eu-west-1/1" || out["token"] != "eu-west-1/1" {
		t.Fatalf("commit: %d %v", code, out)
	}
	if len(f.commits) != 1 || f.commits[0].Action != "s3:PutBucketPolicy" || !strings.Contains(string(f.commits[0].Args), `"bucket":"b"`) {
		t.Errorf("backend got %+v", f.commits)
	}
	// "with" may be omitted: the call gets an empty object.
	if code, _ := do(t, srv, "POST", "/v1/mutations", `{"call":"iam:ListNothing"}`, auth); code != 200 || string(f.commits[1].Args) != "{}" {
		t.Errorf("commit without with: %d %q", code, f.commits[1].Args)
	}
	// An AWS error comes back with its code.
	f.commitErr = &controlplane.APIError{Code: "NoSuchEntity", Message: "user bob does not exist"}
	if code, out := do(t, srv, "POST", "/v1/mutations", `{"call":"iam:DeleteUser","with":{"user_name":"bob"}}`, auth); code != 400 || errCode(out) != "NoSuchEntity" {
		t.Errorf("AWS error: %d %v", code, out)
	}

	code, out = do(t, srv, "POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","context":{"aws:SourceIp":"203.0.113.5","aws:SecureTransport":true,"n":[1,"x"]},"consistency":{"mode":"at_least","token":"us-east-2/17","timeout":"2s"}}`, auth)
	view, _ := out["view"].(map[string]any)
	if code != 200 || out["decision"] != "Allow" || view["lag_seconds"] != 1.5 || view["stale"] != true {
		t.Fatalf("authorize: %d %v", code, out)
	}
	if c := f.cons[0]; c.Mode != live.ModeAtLeast || c.Token != "us-east-2/17" || c.Timeout != 2*time.Second {
		t.Errorf("consistency reached the backend as %+v", c)
	}
	f.authErr = live.ErrNotFresh
	if code, out := do(t, srv, "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"at_least","token":"a/1"}}`, auth); code != 503 || errCode(out) != "NotFresh" {
		t.Errorf("fail closed: %d %v", code, out)
	}
	if f.cons[1].Timeout != DefaultWait {
		t.Errorf("default at_least timeout = %v", f.cons[1].Timeout)
	}
	f.authErr = live.ErrTooStale
	if code, out := do(t, srv, "POST", "/v1/authorize", `{"principal":"anonymous","action":"a:b","resource":"r","consistency":{"mode":"max_lag","max_lag":"1s"}}`, auth); code != 503 || errCode(out) != "TooStale" {
		t.Errorf("max_lag: %d %v", code, out)
	}

	// The id holds a slash, and an epoch after "@"; raw and escaped
	// forms work.
	for _, tc := range []struct{ path, id string }{
		{"/v1/mutations/us-east-2/17", "us-east-2/17"},
		{"/v1/mutations/us-east-2%2F17", "us-east-2/17"},
		{"/v1/mutations/us-east-2@00000000000000ff/17", "us-east-2@00000000000000ff/17"},
		{"/v1/mutations/us-east-2%4000000000000000ff%2F17", "us-east-2@00000000000000ff/17"},
	} {
		if code, out := do(t, srv, "GET", tc.path, "", auth); code != 200 || out["id"] != tc.id {
			t.Errorf("GET %s: %d %v", tc.path, code, out)
		}
	}
	if len(f.waits) != 0 {
		t.Errorf("a GET without wait long-polled: %v", f.waits)
	}
	// ?wait= long-polls, up to the bound; wait=0s is a poll that answers
	// at once.
	for _, tc := range []struct {
		query string
		want  time.Duration
	}{{"?wait=30s", 30 * time.Second}, {"?wait=1m", MaxStatusWait}, {"?wait=0s", 0}, {"?wait=250ms", 250 * time.Millisecond}} {
		f.waits = nil
		code, out := do(t, srv, "GET", "/v1/mutations/us-east-2/17"+tc.query, "", auth)
		if code != 200 || out["complete"] != true || len(f.waits) != 1 || f.waits[0] != tc.want {
			t.Errorf("GET %s: %d %v, waits %v; want 200 from WaitStatus(%v)", tc.query, code, out, f.waits, tc.want)
		}
	}
	f.statusErr = live.ErrUnknownMutation
	for _, q := range []string{"", "?wait=1s"} {
		if code, out := do(t, srv, "GET", "/v1/mutations/us-east-2/99"+q, "", auth); code != 404 || errCode(out) != "NoSuchMutation" {
			t.Errorf("unknown mutation%s: %d %v", q, code, out)
		}
	}

	// Removing a member: the backend decides; its refusals have codes.
	code, out = do(t, srv, "DELETE", "/v1/cluster/members/ap-southeast-2", "", admin)
	if code != 200 || out["removed"] != "ap-southeast-2" || len(f.removed) != 1 || f.removed[0] != "ap-southeast-2" {
		t.Errorf("remove member: %d %v, backend got %v", code, out, f.removed)
	}
	for _, tc := range []struct {
		err     error
		code    int
		errCode string
	}{{live.ErrMemberAlive, 409, "MemberAlive"}, {live.ErrNoSuchMember, 404, "NoSuchMember"}} {
		f.removeErr = tc.err
		if code, out := do(t, srv, "DELETE", "/v1/cluster/members/eu-west-1", "", admin); code != tc.code || errCode(out) != tc.errCode {
			t.Errorf("remove refused with %v: %d %v, want %d %s", tc.err, code, out, tc.code, tc.errCode)
		}
	}
	f.removeErr = nil

	if code, out := do(t, srv, "POST", "/v1/faults", `{"partition":[["us-east-2"],["eu-west-1"]],"links":[{"from":"*","to":"*","latency":"50ms","loss":0.1}]}`, admin); code != 200 || out["partition"] == nil {
		t.Errorf("set faults: %d %v", code, out)
	}
	if time.Duration(f.faults.Links[0].Latency) != 50*time.Millisecond {
		t.Errorf("faults reached the backend as %+v", f.faults)
	}
	if code, _ := do(t, srv, "DELETE", "/v1/faults", "", admin); code != 200 || f.faults.Partition != nil {
		t.Errorf("clear faults: %d %+v", code, f.faults)
	}
	for _, p := range []string{"/v1/view", "/v1/cluster", "/v1/faults", "/healthz", "/readyz"} {
		if code, _ := do(t, srv, "GET", p, "", auth); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, out := do(t, srv, "GET", "/readyz", "", nil); code != 200 || out["status"] != "ready" {
		t.Errorf("readyz without conflicts: %d %v", code, out)
	}
	f.conflicts = 2
	if code, out := do(t, srv, "GET", "/readyz", "", nil); code != 200 || out["status"] != "degraded" || out["conflicts"] != 2.0 {
		t.Errorf("readyz after conflicts: %d %v, want 200 degraded with the count", code, out)
	}
	f.conflicts = 0
	f.readyErr = live.ErrStopped
	if code, _ := do(t, srv, "GET", "/readyz", "", auth); code != 503 {
		t.Errorf("readyz when not ready: %d", code)
	}
	if n, err := testutil.GatherAndCount(reg, "iamprop_http_requests_total"); err != nil || n == 0 {
		t.Errorf("request metrics: %d %v", n, err)
	}
	resp, err := srv.Client().Get(srv.URL + "/metrics") // open: MetricsNeedToken is off
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}
}

func TestNoTokenConfiguredAllowsWrites(t *testing.T) {
	f, srv, _ := newServer(t, "")
	if code, _ := do(t, srv, "POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"a"}}`, nil); code != 200 || len(f.commits) != 1 {
		t.Errorf("commit without a configured token: %d", code)
	}
}

// TestAuthorizeCountedByRoute: the authorize hot path, which skips the
// mux, counts its answers under the route pattern and status code as every
// other route does (the first 200 included, the counter being looked up
// then), and routes other methods on the same path through the mux.
func TestAuthorizeCountedByRoute(t *testing.T) {
	_, srv, reg := newServer(t, "")
	body := `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`
	for range 3 {
		if code, _ := do(t, srv, "POST", "/v1/authorize", body, nil); code != 200 {
			t.Fatalf("authorize: %d", code)
		}
	}
	if code, _ := do(t, srv, "POST", "/v1/authorize", `{"principal":"anonymous"}`, nil); code != 400 {
		t.Fatalf("authorize without action: %d", code)
	}
	if code, _ := do(t, srv, "GET", "/v1/authorize", "", nil); code != 405 {
		t.Fatalf("GET /v1/authorize: %d, want 405 from the mux", code)
	}
	want := `
# HELP iamprop_http_requests_total HTTP API requests by route and status code.
# TYPE iamprop_http_requests_total counter
iamprop_http_requests_total{code="200",region="eu-west-1",route="POST /v1/authorize"} 3
iamprop_http_requests_total{code="400",region="eu-west-1",route="POST /v1/authorize"} 1
iamprop_http_requests_total{code="405",region="eu-west-1",route="unmatched"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "iamprop_http_requests_total"); err != nil {
		t.Error(err)
	}
}

// TestWriteJSONAsMarshal: answers encoded into pooled buffers are, byte
// for byte, what json.Marshal gave before plus the newline (HTML escaped
// alike), with the same headers, buffer after buffer.
func TestWriteJSONAsMarshal(t *testing.T) {
	values := []any{
		AuthorizeResponse{Decision: "Allow", Explanation: map[string]any{"summary": "a <b> & 'c'", "matched": []any{1.5, true}},
			Reason: "user alice", Authenticated: true, View: viewRef{Region: "eu-west-1", Digest: "ab", Vector: map[string]uint64{"b": 2, "a": 1}}},
		errorBody{Error: apiError{Code: "InvalidRequest", Message: "\"principal\" is required"}},
		map[string]string{"status": "ok"},
	}
	for round := range 3 {
		for _, v := range values {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			writeJSON(rec, 201, v)
			if got := rec.Body.String(); got != string(want)+"\n" {
				t.Errorf("round %d: got %q, want %q", round, got, string(want)+"\n")
			}
			if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("round %d: %d %v", round, rec.Code, rec.Header())
			}
		}
	}
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, func() {}) // not encodable
	if rec.Code != 500 || !json.Valid(rec.Body.Bytes()) || !strings.Contains(rec.Body.String(), "InternalError") {
		t.Errorf("unencodable value: %d %s", rec.Code, rec.Body.String())
	}
}
