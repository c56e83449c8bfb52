package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Cases whose decision does not depend on how far the evaluator has come:
// no policy names bob, so he is implicitly denied; and a plain Allow is never
// an explicit deny (so expecting one always fails).
const (
	passingFile = `name: passing
policies:
  alice-only: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:user/alice"}, Action: "s3:GetObject", Resource: "arn:aws:s3:::docs/*"}]}
cases:
  - name: bob is not named
    request: {principal: "arn:aws:iam::111122223333:user/bob", action: s3:GetObject, resource: "arn:aws:s3:::docs/a"}
    resource_policy: alice-only
    expect: implicit-deny
  - name: nothing grants anonymous
    request: {principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs/a", resource_account: "111122223333"}
    expect: implicit-deny
`
	failingFile = `cases:
  - name: wrong expectation
    request: {principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "arn:aws:s3:::docs/a"}
    identity: [{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}]
    expect: explicit-deny
`
	invalidFile = `cases:
  - name: typo
    request: {principal: anonymous, action: s3:GetObject, resource: "*"}
    expect: alow
`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTestPolicyCommand(t *testing.T) {
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass.yaml", passingFile)
	fail := writeFile(t, dir, "fail.yaml", failingFile)
	bad := writeFile(t, dir, "bad.yaml", invalidFile)
	passDir := filepath.Join(dir, "suite")
	if err := os.Mkdir(passDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, passDir, "a.yaml", passingFile)
	writeFile(t, passDir, "notes.txt", "not a test file")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantLast   string   // the last line of stdout
		wantErrOut []string // substrings of stderr
	}{
		{
			name:     "all pass",
			args:     []string{"test-policy", pass},
			wantCode: 0,
			wantOut:  []string{"PASS  " + pass + ": bob is not named\n", "PASS  " + pass + ": nothing grants anonymous\n"},
			wantLast: "2 passed, 0 failed",
		},
		{
			name:     "a failing case exits 1",
			args:     []string{"test-policy", pass, fail},
			wantCode: 1,
			wantOut:  []string{"FAIL  " + fail + ": wrong expectation: expected explicit-deny, got "},
			wantLast: "2 passed, 1 failed",
		},
		{
			name:       "an invalid file exits 2 and names file, line, column and field",
			args:       []string{"test-policy", bad},
			wantCode:   2,
			wantLast:   "0 passed, 0 failed",
			wantErrOut: []string{bad + `:4:13: cases[0].expect: unknown decision "alow"`},
		},
		{
			name:       "invalid beats failed, and valid files still run",
			args:       []string{"test-policy", fail, bad, pass},
			wantCode:   2,
			wantOut:    []string{"FAIL  " + fail, "PASS  " + pass},
			wantLast:   "2 passed, 1 failed",
			wantErrOut: []string{bad + ":4:13:"},
		},
		{
			name:     "a directory stands for its yaml files",
			args:     []string{"test-policy", passDir},
			wantCode: 0,
			wantOut:  []string{"PASS  " + filepath.Join(passDir, "a.yaml") + ": bob is not named\n"},
			wantLast: "2 passed, 0 failed",
		},
		{
			name:       "a missing file exits 2",
			args:       []string{"test-policy", filepath.Join(dir, "nope.yaml")},
			wantCode:   2,
			wantErrOut: []string{"nope.yaml"},
		},
		{
			name:       "no arguments is a usage error",
			args:       []string{"test-policy"},
			wantCode:   2,
			wantErrOut: []string{"requires at least 1 arg"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := expectRun(t, tt.args, tt.wantCode, tt.wantOut, tt.wantErrOut)
			if tt.wantLast != "" {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if last := lines[len(lines)-1]; last != tt.wantLast {
					t.Errorf("last line %q, want %q", last, tt.wantLast)
				}
			}
		})
	}
}

func TestTestPolicyJSON(t *testing.T) {
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass.yaml", passingFile)
	fail := writeFile(t, dir, "fail.yaml", failingFile)
	var out, errOut bytes.Buffer
	code := run([]string{"test-policy", "--json", pass, fail}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit status %d, want 1 (stderr %s)", code, errOut.String())
	}
	var rep struct {
		Passed *int `json:"passed"`
		Failed *int `json:"failed"`
		Cases  []struct {
			Name        *string         `json:"name"`
			File        *string         `json:"file"`
			Expected    *string         `json:"expected"`
			Got         *string         `json:"got"`
			Passed      *bool           `json:"passed"`
			Explanation json.RawMessage `json:"explanation"`
		} `json:"cases"`
	}
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out.String())
	}
	if rep.Passed == nil || rep.Failed == nil || *rep.Passed != 2 || *rep.Failed != 1 {
		t.Fatalf("passed/failed = %v/%v, want 2/1", rep.Passed, rep.Failed)
	}
	if len(rep.Cases) != 3 {
		t.Fatalf("%d cases, want 3", len(rep.Cases))
	}
	last := rep.Cases[2]
	if last.Name == nil || *last.Name != "wrong expectation" || last.File == nil || *last.File != fail ||
		last.Expected == nil || *last.Expected != "explicit-deny" || last.Got == nil || last.Passed == nil || *last.Passed ||
		len(last.Explanation) == 0 || string(last.Explanation) == "null" {
		t.Errorf("failing case rendered as %+v", last)
	}
	if dec.More() {
		t.Errorf("more than one JSON document on stdout")
	}
}
