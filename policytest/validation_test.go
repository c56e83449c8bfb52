package policytest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestPolicyValidation covers the evaluator's validation rules through the test
// file loader: each invalid document is an error at the YAML line of the
// offending element, naming the document and the element, with a reason.
// The rules are AWS's (IAM User Guide, "IAM JSON policy element reference"
// and "IAM and AWS STS quotas"); the checks themselves live in the
// evaluator, so a failure here is either a missing rule there or a
// position lost here.
func TestPolicyValidation(t *testing.T) {
	longActions := strings.Repeat(`"s3:GetObject", `, 450) // about 7,000 characters: over the SCP quota of 5,120
	tests := []struct {
		name     string
		kind     string // the case key the document is used under
		doc      string // the policy document, one statement per line after the first
		wantLine int    // line in the file (the document starts on line 3)
		keyword  string // a word the reason must contain (case-insensitive)
	}{
		{"unknown element", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: s3:GetObject\n        Resource: \"*\"\n        Bogus: 1", 8, "bogus"},
		{"bad Effect", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Alow\n        Action: s3:GetObject\n        Resource: \"*\"", 5, "effect"},
		{"action without a service prefix", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: GetObject\n        Resource: \"*\"", 6, "prefix"},
		{"malformed ARN", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: s3:GetObject\n        Resource: \"arn:aws:s3\"", 7, "arn"},
		{"unknown condition operator", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: s3:GetObject\n        Resource: \"*\"\n        Condition: {StringEqualz: {\"aws:username\": alice}}", 8, "stringequalz"},
		{"partial wildcard in a Principal ARN", "resource_policy", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Principal: {AWS: \"arn:aws:iam::111122223333:user/*\"}\n        Action: s3:GetObject\n        Resource: \"*\"", 6, "wildcard"},
		{"Principal in an identity-based policy", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Principal: \"*\"\n        Action: s3:GetObject\n        Resource: \"*\"", 6, "principal"},
		{"no Principal in a bucket policy", "resource_policy", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: s3:GetObject\n        Resource: \"*\"", 5, "principal"},
		{"NotPrincipal with Allow", "resource_policy", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        NotPrincipal: {AWS: \"arn:aws:iam::111122223333:user/alice\"}\n        Action: s3:GetObject\n        Resource: \"*\"", 6, "notprincipal"},
		{"bad Version", "identity", "Version: \"2012-10-18\"\n    Statement:\n      - Effect: Allow\n        Action: s3:GetObject\n        Resource: \"*\"", 3, "version"},
		{"SCP over its size quota", "scps", "Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Action: [" + longActions + "]\n        Resource: \"*\"", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			use := fmt.Sprintf("%s: p", tt.kind)
			switch tt.kind {
			case "identity":
				use = "identity: [p]"
			case "scps":
				use = "scps: [[p]]"
			}
			src := "policies:\n  p:\n    " + tt.doc + "\ncases:\n  - name: c\n    request: {principal: \"arn:aws:iam::111122223333:user/alice\", action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"}\n    " + use + "\n    expect: allow\n"
			_, err := Load("v.yaml", []byte(src))
			if err == nil {
				t.Fatalf("the evaluator accepted an invalid document (%s)", tt.name)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T: %v", err, err)
			}
			for _, e := range es {
				if !strings.HasPrefix(e.Field, "policies.p") {
					continue
				}
				if tt.wantLine != 0 && e.Line != tt.wantLine {
					continue
				}
				if tt.keyword != "" && !strings.Contains(strings.ToLower(e.Error()), tt.keyword) {
					continue
				}
				return // found the expected error
			}
			t.Errorf("no error at v.yaml:%d in policies.p mentioning %q; got:\n%v", tt.wantLine, tt.keyword, err)
		})
	}
}

// TestWarningsDoNotVoidTheFile: a document AWS accepts but iamprop does not
// model fully is a warning, not an error: the file loads, its cases run, and
// the warning names the element at its YAML line.
func TestWarningsDoNotVoidTheFile(t *testing.T) {
	tests := []struct {
		name    string
		kind    string // the case key the document is used under
		doc     string
		expect  string // the decision the case expects (the warned-about value never matches)
		keyword string // a word the warning must contain
	}{
		{"a Numeric value that is not a number", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - {Effect: Allow, Action: s3:GetObject, Resource: \"*\", Condition: {NumericLessThan: {\"s3:max-keys\": ten}}}", "implicit-deny", "not a number"},
		{"a Bool value that is not true or false", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - {Effect: Allow, Action: s3:GetObject, Resource: \"*\", Condition: {Bool: {\"aws:SecureTransport\": yes-please}}}", "implicit-deny", "true or false"},
		{"an IpAddress value that is not an address", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - {Effect: Allow, Action: s3:GetObject, Resource: \"*\", Condition: {IpAddress: {\"aws:SourceIp\": here}}}", "implicit-deny", "cidr"},
		{"a Date value iamprop cannot read", "identity", "Version: \"2012-10-17\"\n    Statement:\n      - {Effect: Allow, Action: s3:GetObject, Resource: \"*\", Condition: {DateLessThan: {\"aws:CurrentTime\": soon}}}", "implicit-deny", "date"},
		{"a duplicate Sid in a bucket policy", "resource_policy", "Version: \"2012-10-17\"\n    Statement:\n      - {Sid: A, Effect: Allow, Principal: \"*\", Action: s3:GetObject, Resource: \"*\"}\n      - {Sid: A, Effect: Allow, Principal: \"*\", Action: s3:PutObject, Resource: \"*\"}", "allow", "duplicate sid"},
		{"a principal given as an IAM unique id", "resource_policy", "Version: \"2012-10-17\"\n    Statement:\n      - {Effect: Allow, Principal: {AWS: AIDAJQABLZS4A3QDU576Q}, Action: s3:GetObject, Resource: \"*\"}", "implicit-deny", "unique id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			use := tt.kind + ": p"
			if tt.kind == "identity" {
				use = "identity: [p]"
			}
			src := "policies:\n  p:\n    " + tt.doc + "\ncases:\n  - name: c\n    request: {principal: \"arn:aws:iam::111122223333:user/alice\", action: s3:GetObject, resource: \"arn:aws:s3:::b/k\", context: {\"aws:SourceIp\": 10.0.0.1, \"s3:max-keys\": 5, \"aws:SecureTransport\": true, \"aws:CurrentTime\": \"2026-01-01T00:00:00Z\"}}\n    " + use + "\n    expect: " + tt.expect + "\n"
			s, err := Load("w.yaml", []byte(src))
			if err != nil {
				t.Fatalf("a document AWS accepts voided the file:\n%v", err)
			}
			if len(s.Warnings) == 0 {
				t.Fatalf("no warning for %s", tt.name)
			}
			w := s.Warnings[0]
			if !strings.HasPrefix(w.Field, "policies.p") || w.Line < 3 || !strings.Contains(strings.ToLower(w.Error()), tt.keyword) || !strings.Contains(w.Error(), "warning") {
				t.Errorf("warning %q: want it at policies.p (line >= 3), saying \"warning\" and %q", w.Error(), tt.keyword)
			}
			for _, r := range s.Run() {
				if !r.Passed {
					t.Errorf("%s", r.Text())
				}
			}
		})
	}
}
