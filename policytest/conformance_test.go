package policytest

import (
	"path/filepath"
	"strings"
	"testing"
)

// conformanceDir holds the evaluator's conformance suite: one file per topic,
// every case written from AWS's documentation.
const conformanceDir = "testdata/conformance"

// TestConformanceSuiteSize guards the suite's coverage floor: at least 150
// cases, and every topic of the policy language and of the decision logic
// (docs/policy-language.md) present.
func TestConformanceSuiteSize(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]bool{}
	total := 0
	for _, f := range files {
		s, err := LoadFile(f)
		if err != nil {
			t.Fatalf("conformance file does not load:\n%v", err)
		}
		total += len(s.Cases)
		topics[strings.TrimSuffix(filepath.Base(f), ".yaml")] = true
	}
	if total < 150 {
		t.Errorf("conformance suite has %d cases, want at least 150", total)
	}
	for _, want := range []string{
		"grammar", "actions", "resources",
		"conditions-string", "conditions-numeric-date", "conditions-bool-binary-ip-arn",
		"conditions-missing-keys", "conditions-sets", "conditions-logic", "variables",
		"decision-order", "same-account-resource", "boundary-session", "cross-account",
		"anonymous-root", "notprincipal", "block-public-access", "trust", "documented-behaviour", "role-paths",
	} {
		if !topics[want] {
			t.Errorf("conformance topic %s.yaml is missing", want)
		}
	}
}

// TestConformance runs the whole suite against the evaluator. Each case is a
// subtest named after its file and case, so `go test -run
// 'TestConformance/trust'` runs one topic. A failure prints the decision and
// the evaluator's explanation, the same text `scenario test-policy` prints.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		s, err := LoadFile(f)
		if err != nil {
			t.Fatalf("conformance file does not load:\n%v", err)
		}
		topic := strings.TrimSuffix(filepath.Base(f), ".yaml")
		for _, r := range s.Run() {
			t.Run(topic+"/"+r.Name, func(t *testing.T) {
				if !r.Passed {
					t.Errorf("%s:%d:\n%s", f, caseLine(s, r.Name), r.Text())
				}
			})
		}
	}
}

func caseLine(s *Suite, name string) int {
	for _, c := range s.Cases {
		if c.Name == name {
			return c.Line
		}
	}
	return 0
}

// TestExamples: the example suites shipped for users load and pass, so the
// docs never show a failing example.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/policy-tests/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example suites, want at least 4", len(files))
	}
	for _, f := range files {
		s, err := LoadFile(f)
		if err != nil {
			t.Errorf("example does not load:\n%v", err)
			continue
		}
		for _, r := range s.Run() {
			if !r.Passed {
				t.Errorf("%s", r.Text())
			}
		}
	}
}
