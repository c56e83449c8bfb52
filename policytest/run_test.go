package policytest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestWrongExpectationFailsReadably: a case whose expectation is wrong fails,
// and the text output says what was expected, what was decided, and why.
func TestWrongExpectationFailsReadably(t *testing.T) {
	// Whatever the evaluator decides for an identity Allow (allow), it is
	// never an explicit deny: no policy here has a Deny statement.
	const src = `
policies:
  read-docs: {Version: "2012-10-17", Statement: [{Sid: ReadDocs, Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::docs/*"}]}
cases:
  - name: alice reads a doc
    doc: https://example.com/why
    request: {principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "arn:aws:s3:::docs/a.pdf"}
    identity: [read-docs]
    expect: explicit-deny
`
	s, err := Load("wrong.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	results := s.Run()
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	r := results[0]
	if r.Passed {
		t.Fatalf("a case expecting explicit-deny for a plain Allow passed: %+v", r)
	}
	if r.Expected != "explicit-deny" || r.Got == "explicit-deny" || r.Got == "" {
		t.Errorf("expected/got = %q/%q", r.Expected, r.Got)
	}
	var rep Report
	rep.Add(results...)
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	wantFirst := "FAIL  wrong.yaml: alice reads a doc: expected explicit-deny, got " + r.Got + "\n"
	if !strings.HasPrefix(text, wantFirst) {
		t.Errorf("first line:\n%s\nwant:\n%s", text, wantFirst)
	}
	if sum := strings.TrimSpace(r.Explanation.Summary); sum == "" {
		t.Errorf("the evaluator gave no summary to explain the failure")
	} else if !strings.Contains(text, "\n      "+strings.Split(sum, "\n")[0]+"\n") {
		t.Errorf("the explanation summary is not printed indented under the FAIL line:\n%s", text)
	}
	if !strings.Contains(text, "      see: https://example.com/why\n") {
		t.Errorf("the case's doc link is not printed:\n%s", text)
	}
	if !strings.HasSuffix(text, "\n0 passed, 1 failed\n") {
		t.Errorf("summary line missing or wrong:\n%s", text)
	}
}

// TestReportJSONShape checks the exact --json shape of docs/design.md.
func TestReportJSONShape(t *testing.T) {
	var rep Report
	rep.Add(Result{Name: "a", File: "f.yaml", Expected: "allow", Got: "allow", Passed: true},
		Result{Name: "b", File: "f.yaml", Expected: "allow", Got: "implicit-deny", Doc: "not in json"})
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	if got := keys(top); got != "cases,failed,passed" {
		t.Errorf("top-level keys = %s", got)
	}
	var cases []map[string]json.RawMessage
	if err := json.Unmarshal(top["cases"], &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("%d cases", len(cases))
	}
	if got := keys(cases[1]); got != "expected,explanation,file,got,name,passed" {
		t.Errorf("case keys = %s", got)
	}
	if string(top["passed"]) != "1" || string(top["failed"]) != "1" {
		t.Errorf("passed/failed = %s/%s", top["passed"], top["failed"])
	}

	var empty Report
	out.Reset()
	_ = empty.WriteJSON(&out)
	if !regexp.MustCompile(`"cases": \[\]`).Match(out.Bytes()) {
		t.Errorf("an empty report must have \"cases\": [], got %s", out.String())
	}
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return strings.Join(ks, ",")
}

func TestTextOutputPassLine(t *testing.T) {
	var rep Report
	rep.Add(Result{Name: "ok case", File: "dir/f.yaml", Expected: "allow", Got: "allow", Passed: true})
	var out bytes.Buffer
	_ = rep.WriteText(&out)
	if want := "PASS  dir/f.yaml: ok case\n1 passed, 0 failed\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestFailureSaysWhyNot: a failing case shows which statements about the
// action did not apply and why, and the context keys the request lacked,
// in text and in JSON.
func TestFailureSaysWhyNot(t *testing.T) {
	const src = `
cases:
  - name: office network only
    request: {principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "arn:aws:s3:::docs/a.pdf", context: {"aws:SourceIp": 11.0.0.1}}
    identity:
      - {Version: "2012-10-17", Statement: [{Sid: Office, Effect: Allow, Action: s3:GetObject, Resource: "*", Condition: {IpAddress: {"aws:SourceIp": 10.0.0.0/8}, Bool: {"aws:MultiFactorAuthPresent": "true"}}}]}
    expect: allow
`
	s, err := Load("why.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	rep.Add(s.Run()...)
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"not applied: identity[0] (identity) statement Office: Allow: Condition: IpAddress aws:SourceIp 11.0.0.1 not in 10.0.0.0/8\n",
		"missing context keys: aws:MultiFactorAuthPresent\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"not_applied"`) || !strings.Contains(out.String(), `"missing_context_keys"`) {
		t.Errorf("JSON lacks not_applied or missing_context_keys:\n%s", out.String())
	}
}
