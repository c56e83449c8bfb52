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
