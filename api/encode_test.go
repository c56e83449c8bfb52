package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

// authorizeAnswers are answers whose every field takes a shape that
// encoding/json writes in its own way: HTML characters, non-ASCII and
// invalid UTF-8, control characters, empty optional fields, map key
// order, floats in both notations.
func authorizeAnswers() []AuthorizeResponse {
	exp := evaluator.Explanation{Decision: "Allow", Matched: []evaluator.MatchedStatement{{Policy: "p<1>", Kind: "identity", Sid: "S&1", Index: 2, Effect: "Allow"}},
		Summary: "User arn:aws:iam::1:user/a asked for s3:GetObject on arn:aws:s3:::b/k \"q\" é \u2028."}
	many := map[string]uint64{}
	for i := range 20 {
		many[fmt.Sprintf("r%02d@%d", 19-i, i)] = uint64(i) * 1e15
	}
	aboves := []map[string][][2]uint64{nil, {}, {"us-west-2@3": {{21, 21}}},
		{"b<&>": {{1, 2}, {4, math.MaxUint64}}, "a": {}, "c": nil, "é\xff": {{0, 0}}}}
	var out []AuthorizeResponse
	for _, s := range []string{"", "plain", "a <b> & 'c'", "tab\there\nnl", "café \u2028 \u2029", "bad \xff utf8", `quote " back \ slash`, "\x00\x1f\x7f"} {
		for _, lag := range []float64{0, 1.5, 1e-7, 2.5e-6, 1e21, 123456789.125, 0.000001, -3e-9} {
			for i, vec := range []map[string]uint64{nil, {}, {"b": 2, "a": 1, "eu-west-1@3": math.MaxUint64}, many} {
				above := aboves[(i+len(s))%len(aboves)]
				out = append(out, AuthorizeResponse{Decision: "Allow" + s, Explanation: exp, Reason: s, Authenticated: len(s)%2 == 0,
					View: viewRef{Region: "eu-west-1" + s, Digest: s, Vector: vec, Above: above, AboveTruncated: len(above) > 1 && lag > 1, LagSeconds: lag, Stale: lag > 1}})
			}
		}
	}
	return out
}

// TestWriteAuthorizeAsMarshal: the hand-written answer is, byte for byte,
// what writeJSON (json.Marshal and a newline) writes, headers included.
func TestWriteAuthorizeAsMarshal(t *testing.T) {
	for i, resp := range authorizeAnswers() {
		expJSON, err := json.Marshal(resp.Explanation)
		if err != nil {
			t.Fatal(err)
		}
		want := httptest.NewRecorder()
		writeJSON(want, 200, resp)
		for round := range 2 { // pooled buffers: the second answer reuses the first's
			got := httptest.NewRecorder()
			writeAuthorize(got, &resp, expJSON)
			if got.Body.String() != want.Body.String() {
				t.Fatalf("answer %d, round %d:\n got %s\nwant %s", i, round, got.Body.String(), want.Body.String())
			}
			if got.Code != want.Code || fmt.Sprint(got.Header()) != fmt.Sprint(want.Header()) {
				t.Fatalf("answer %d: %d %v, want %d %v", i, got.Code, got.Header(), want.Code, want.Header())
			}
		}
	}
	// Values encoding/json refuses, and no encoded explanation, take
	// writeJSON's path.
	for _, resp := range []AuthorizeResponse{{View: viewRef{LagSeconds: math.Inf(1)}}, {View: viewRef{LagSeconds: math.NaN()}}} {
		got := httptest.NewRecorder()
		writeAuthorize(got, &resp, []byte(`{}`))
		if got.Code != 500 {
			t.Errorf("lag %v: %d %s, want writeJSON's 500", resp.View.LagSeconds, got.Code, got.Body.String())
		}
	}
	resp := AuthorizeResponse{Decision: "Deny", Explanation: map[string]int{"x": 1}}
	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	writeAuthorize(got, &resp, nil)
	writeJSON(want, 200, resp)
	if got.Body.String() != want.Body.String() {
		t.Errorf("without an encoded explanation: %s, want %s", got.Body.String(), want.Body.String())
	}
}

// FuzzWriteAuthorize: for any strings and lag, the hand-written answer is
// json.Marshal's.
func FuzzWriteAuthorize(f *testing.F) {
	f.Add("Allow", "user <alice>", "eu-west-1", "ab12", "r@1", uint64(3), 0.25, true)
	f.Add("", "", "", "", "", uint64(0), 1e-9, false)
	f.Add("\xff", "\u2028", "é", "\x00", "\"", uint64(1<<63), 1e22, true)
	f.Add("Deny", "", "us-east-2", "us-west-2@3", "us-west-2@3", uint64(22), 0.5, true)
	f.Fuzz(func(t *testing.T, decision, reason, region, digest, origin string, n uint64, lag float64, stale bool) {
		if math.IsInf(lag, 0) || math.IsNaN(lag) {
			return
		}
		resp := AuthorizeResponse{Decision: decision, Explanation: evaluator.Explanation{Summary: reason}, Reason: reason, Authenticated: stale,
			View: viewRef{Region: region, Digest: digest, Vector: map[string]uint64{origin: n, origin + "x": n / 2}, LagSeconds: lag, Stale: stale}}
		if n%3 != 0 { // an answer whose view holds ids above its prefix
			resp.View.Above = map[string][][2]uint64{origin: {{n / 2, n}}, digest: {{n, n}, {n + 2, n + 3}}}
			resp.View.AboveTruncated = stale
		}
		expJSON, err := json.Marshal(resp.Explanation)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendAuthorize(nil, &resp, expJSON); string(got) != string(want)+"\n" {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// TestAppendAuthorizeDoesNotAllocate: writing an answer into a buffer
// large enough allocates nothing, with or without applied_above (a good
// share of answers carry it while commits arrive out of order).
func TestAppendAuthorizeDoesNotAllocate(t *testing.T) {
	exp := []byte(`{"decision":"Allow"}`)
	for _, above := range []map[string][][2]uint64{nil, {"us-west-2@3": {{20, 53}}, "eu-west-1@1": {{4, 4}, {6, 9}}}} {
		resp := AuthorizeResponse{Decision: "Allow", Explanation: "x", View: viewRef{Region: "eu-west-1", Digest: "ab",
			Vector: map[string]uint64{"us-west-2@3": 18, "eu-west-1@1": 2}, Above: above, LagSeconds: 0.5}}
		buf := make([]byte, 0, 4096)
		if a := testing.AllocsPerRun(100, func() { buf = appendAuthorize(buf[:0], &resp, exp) }); a != 0 {
			t.Errorf("above %v: %v allocations per answer, want 0", above, a)
		}
	}
}
