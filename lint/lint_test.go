package lint_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/lint"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

func check(t *testing.T, sc *scenarios.Scenario) []lint.Finding {
	t.Helper()
	model, err := runner.DelayModel(sc)
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(sc)
	if err != nil {
		t.Fatal(err)
	}
	return lint.Check(lint.Input{File: sc.Name, Scenario: sc, Model: model, Initial: initial})
}

// summary renders findings as "STEP:RULE" in a stable order.
func summary(fs []lint.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, strconv.Itoa(f.Step)+":"+f.Rule)
	}
	sort.Strings(out)
	return strings.Join(dedup(out), " ")
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestLibrary(t *testing.T) {
	tests := []struct{ scenario, want string }{
		// The seed story: every bucket rule.
		{"public-s3-bucket", "1:committed-away-from-enforcement 1:reachable-before-restricted 1:revocation-relied-on-at-once 2:upload-after-narrowing 3:upload-after-narrowing"},
		// Its mitigations lose the rules they fix.
		{"public-s3-bucket-policy-first", ""},
		// Committed in the bucket's region, which decides every request for
		// it: in force at once, so uploads right after it are safe.
		{"public-s3-bucket-same-region", "1:reachable-before-restricted"},
		{"public-s3-bucket-consistency-token", "1:committed-away-from-enforcement 1:reachable-before-restricted 2:upload-after-narrowing 3:upload-after-narrowing"},
		{"deleted-access-key", "1:revocation-relied-on-at-once"},
		{"new-role-access-denied", "1:grant-used-at-once"},
		{"revoke-race", "1:revocation-relied-on-at-once 2:grant-used-at-once"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			sc, err := scenarios.LoadLibrary(tt.scenario)
			if err != nil {
				t.Fatal(err)
			}
			fs := check(t, sc)
			if got := summary(fs); got != tt.want {
				t.Errorf("findings\n got %q\nwant %q", got, tt.want)
			}
			for _, f := range fs {
				if f.Fix == "" || f.Message == "" || f.WindowSeconds <= 0 || f.File != sc.Name {
					t.Errorf("incomplete finding %+v", f)
				}
			}
		})
	}
}

func TestRules(t *testing.T) {
	const head = `name: t
title: t
duration: 60s
regions: [us-east-1, eu-west-1]
propagation: {default: {dist: constant, value: 5s}}
policies:
  private: {Version: "2012-10-17", Statement: [{Effect: Deny, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::bkt/*"}]}
  read: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
  read-from-office: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*", Condition: {IpAddress: {"aws:SourceIp": "10.0.0.0/8"}}}]}
  vpce-reads: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "*"}]}
  vpce-writes-only: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:PutObject", Resource: "*"}]}
state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
`
	tests := []struct {
		name, body, want string
		window           float64
	}{
		{"upload 2 s after narrowing from another region", `steps:
  - {at: 1s, region: us-east-1, call: s3:PutBucketPolicy, with: {bucket: bkt, policy: private}}
  - {at: 3s, region: eu-west-1, call: s3:PutObject, with: {bucket: bkt, key: k}}
`, "1:committed-away-from-enforcement 2:upload-after-narrowing", 5},
		// The bucket's region decides every request for the bucket: a
		// narrowing committed there is in force at once.
		{"upload 2 s after narrowing in the bucket's region is fine", `steps:
  - {at: 1s, region: eu-west-1, call: s3:PutBucketPolicy, with: {bucket: bkt, policy: private}}
  - {at: 3s, region: eu-west-1, call: s3:PutObject, with: {bucket: bkt, key: k}}
`, "", 0},
		{"upload after the window is fine", `steps:
  - {at: 1s, region: eu-west-1, call: s3:PutBucketPolicy, with: {bucket: bkt, policy: private}}
  - {at: 7s, region: eu-west-1, call: s3:PutObject, with: {bucket: bkt, key: k}}
`, "", 0},
		{"object before the policy", `steps:
  - {at: 1s, region: eu-west-1, call: s3:PutObject, with: {bucket: bkt, key: k}}
  - {at: 3s, region: eu-west-1, call: s3:PutBucketPolicy, with: {bucket: bkt, policy: private}}
`, "2:reachable-before-restricted", 2},
		{"policy away from the bucket", `steps:
  - {at: 1s, region: us-east-1, call: s3:PutBucketPolicy, with: {bucket: bkt, policy: private}}
`, "1:committed-away-from-enforcement", 5},
		{"user created, then bounded", `steps:
  - {at: 1s, region: us-east-1, call: iam:CreatePolicy, with: {policy_name: bound, policy_document: read}}
  - {at: 2s, region: us-east-1, call: iam:CreateUser, with: {user_name: u}}
  - {at: 4s, region: us-east-1, call: iam:PutUserPermissionsBoundary, with: {user_name: u, permissions_boundary: "arn:aws:iam::111122223333:policy/bound"}}
`, "3:reachable-before-restricted", 7},
		{"grant used at once elsewhere", `steps:
  - {at: 1s, region: us-east-1, call: iam:CreateUser, with: {user_name: u}}
  - {at: 2s, region: us-east-1, call: iam:PutUserPolicy, with: {user_name: u, policy_name: r, policy_document: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", from: 3s}
`, "2:grant-used-at-once", 5},
		{"a reader that waits is not relying on it", `steps:
  - {at: 1s, region: us-east-1, call: iam:CreateUser, with: {user_name: u}}
  - {at: 2s, region: us-east-1, call: iam:PutUserPolicy, with: {user_name: u, policy_name: r, policy_document: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", from: 3s, consistency: {mode: at_least, step: 2}}
`, "", 0},
		{"revocation relied on", `state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
  users: [{name: u, inline: [read]}]
steps:
  - {at: 1s, region: us-east-1, call: iam:DeleteUserPolicy, with: {user_name: u, policy_name: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", from: 2s, until: 3s}
`, "1:revocation-relied-on-at-once", 5},
		// A use is decided as the runner decides it: through its VPC
		// endpoint and with its context.
		{"revocation relied on through an endpoint that lets the read through", `state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
  users: [{name: u, inline: [read]}]
steps:
  - {at: 1s, region: us-east-1, call: iam:DeleteUserPolicy, with: {user_name: u, policy_name: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", endpoint: vpce-reads, from: 2s, until: 3s}
`, "1:revocation-relied-on-at-once", 5},
		{"an endpoint that never lets the read through: nothing is revoked from it", `state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
  users: [{name: u, inline: [read]}]
steps:
  - {at: 1s, region: us-east-1, call: iam:DeleteUserPolicy, with: {user_name: u, policy_name: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", endpoint: vpce-writes-only, from: 2s, until: 3s}
`, "", 0},
		{"revocation of a grant the use meets only with its context", `state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
  users: [{name: u, inline: [read-from-office]}]
steps:
  - {at: 1s, region: us-east-1, call: iam:DeleteUserPolicy, with: {user_name: u, policy_name: read-from-office}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", context: {"aws:SourceIp": "10.1.2.3"}, from: 2s, until: 3s}
`, "1:revocation-relied-on-at-once", 5},
		{"use after the window is fine", `state:
  accounts: ["111122223333"]
  buckets: [{name: bkt, region: eu-west-1}]
  users: [{name: u, inline: [read]}]
steps:
  - {at: 1s, region: us-east-1, call: iam:DeleteUserPolicy, with: {user_name: u, policy_name: read}}
probes:
  - {name: use, region: eu-west-1, principal: "user:u", action: s3:GetObject, resource: "arn:aws:s3:::bkt/k", from: 7s}
`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.body
			if strings.HasPrefix(tt.body, "state:") {
				src = strings.Replace(head, "state:\n  accounts: [\"111122223333\"]\n  buckets: [{name: bkt, region: eu-west-1}]\n", "", 1) + tt.body
			}
			sc, err := scenarios.Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			fs := check(t, sc)
			if got := summary(fs); got != tt.want {
				t.Fatalf("findings %q, want %q: %+v", got, tt.want, fs)
			}
			if len(fs) > 0 && fs[0].WindowSeconds != tt.window {
				t.Errorf("window %vs, want %vs", fs[0].WindowSeconds, tt.window)
			}
		})
	}
}
