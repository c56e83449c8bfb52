package policytest

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

// TestLoadErrors: every kind of bad input is an error at the right file,
// line and column, naming the field, never a panic and never a Suite.
func TestLoadErrors(t *testing.T) {
	const good = `{principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "arn:aws:s3:::docs/a"}`
	tests := []struct {
		name string
		src  string
		want string // the start of one of the errors
	}{
		{
			name: "unknown key in a case",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    expct: allow\n",
			want: "t.yaml:4:5: cases[0].expct: unknown key",
		},
		{
			name: "unknown top-level key",
			src:  "case:\n  - name: c\n",
			want: "t.yaml:1:1: case: unknown key (want name, policies or cases)",
		},
		{
			name: "unknown key in a request",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: {principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::d/a\", resource_acount: \"111122223333\"}\n" +
				"    expect: allow\n",
			want: "t.yaml:3:89: cases[0].request.resource_acount: unknown key",
		},
		{
			name: "wrong type: identity is a mapping, not a list",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    identity: {Version: \"2012-10-17\", Statement: []}\n" +
				"    expect: allow\n",
			want: "t.yaml:4:15: cases[0].identity: must be a list of policies",
		},
		{
			name: "wrong type: scps is a flat list",
			src: "policies:\n" +
				"  p: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"*\", Resource: \"*\"}]}\n" +
				"cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    scps: [p]\n" +
				"    expect: allow\n",
			want: "t.yaml:6:12: cases[0].scps[0]: each organization level must be a list of policies",
		},
		{
			name: "wrong type: expect is a bool",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    expect: true\n",
			want: "t.yaml:4:13: cases[0].expect: must be a string, got a bool true",
		},
		{
			name: "wrong type: context value is a mapping",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: {principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::d/a\", context: {\"aws:SourceIp\": {a: 1}}}\n" +
				"    expect: allow\n",
			want: "t.yaml:3:115: cases[0].request.context.aws:SourceIp: must be a string, number, bool or a list of those, got a mapping",
		},
		{
			name: "unknown policy name",
			src: "policies:\n" +
				"  read-docs: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"*\", Resource: \"*\"}]}\n" +
				"cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    identity: [read-doc]\n" +
				"    expect: allow\n",
			want: `t.yaml:6:16: cases[0].identity[0]: unknown policy name "read-doc" (known: read-docs)`,
		},
		{
			name: "unknown policy name in a resource policy without library",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    resource_policy: public\n" +
				"    expect: allow\n",
			want: `t.yaml:4:22: cases[0].resource_policy: unknown policy name "public" (the file has no ` + "`policies:`" + ` library)`,
		},
		{
			name: "bad expect value",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    expect: deny\n",
			want: `t.yaml:4:13: cases[0].expect: unknown decision "deny" (want allow, explicit-deny or implicit-deny)`,
		},
		{
			name: "missing expect",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n",
			want: "t.yaml:2:5: cases[0].expect: missing",
		},
		{
			name: "missing principal",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: {action: s3:GetObject, resource: \"*\"}\n" +
				"    expect: allow\n",
			want: "t.yaml:3:14: cases[0].request.principal: missing",
		},
		{
			name: "action without service prefix",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: {principal: anonymous, action: GetObject, resource: \"*\"}\n" +
				"    expect: allow\n",
			want: `t.yaml:3:45: cases[0].request.action: "GetObject" has no service prefix`,
		},
		{
			name: "bad resource account",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: {principal: anonymous, action: s3:GetObject, resource: \"*\", resource_account: \"1234\"}\n" +
				"    expect: allow\n",
			want: `t.yaml:3:92: cases[0].request.resource_account: "1234" is not a 12-digit account id`,
		},
		{
			name: "duplicate case name",
			src: "cases:\n" +
				"  - {name: c, request: " + good + ", expect: allow}\n" +
				"  - {name: c, request: " + good + ", expect: allow}\n",
			want: `t.yaml:3:5: cases[1].name: duplicate case name "c" (first at line 2)`,
		},
		{
			name: "comma in an unquoted flow name",
			src: "cases:\n" +
				"  - {name: a, b, request: " + good + ", expect: allow}\n",
			want: "t.yaml:2:15: cases[0].b: unknown key",
		},
		{
			name: "bad block public access setting",
			src: "cases:\n" +
				"  - name: c\n" +
				"    request: " + good + "\n" +
				"    block_public_access: {restrict_public_bucket: true}\n" +
				"    expect: allow\n",
			want: "t.yaml:4:27: cases[0].block_public_access.restrict_public_bucket: unknown setting",
		},
		{
			name: "policy library entry is not a document",
			src:  "policies:\n  p: [1, 2]\ncases:\n  - {name: c, request: " + good + ", expect: allow}\n",
			want: "t.yaml:2:6: policies.p: must be a policy document",
		},
		{
			name: "invalid YAML",
			src:  "cases:\n  - name: [unclosed\n",
			want: "t.yaml:1:1: invalid YAML: line 1: did not find expected",
		},
		{
			name: "empty file",
			src:  "",
			want: "t.yaml:1:1: empty file",
		},
		{
			name: "no cases",
			src:  "name: nothing\ncases: []\n",
			want: "t.yaml:2:8: cases: empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("loaded without error: %+v", s)
			}
			if s != nil {
				t.Errorf("a file with errors must yield no suite")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T, want Errors", err)
			}
			found := false
			for _, e := range es {
				if strings.HasPrefix(e.Error(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors:\n%v\nwant one starting with\n%s", err, tt.want)
			}
		})
	}
}

// TestLoadGood: a valid file loads with every field in place.
func TestLoadGood(t *testing.T) {
	const src = `name: demo
policies:
  p: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "*"}]}
  RCPFullAWSAccess: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "*", Resource: "*"}]}
cases:
  - name: trust
    doc: see AWS
    request:
      principal: "arn:aws:iam::111122223333:user/alice"
      action: sts:AssumeRole
      resource: "arn:aws:iam::111122223333:role/r"
      resource_account: 111122223333
      context: {"aws:SourceIp": "203.0.113.5", "aws:SecureTransport": true, "s3:max-keys": 10, "aws:TagKeys": [a, b], "aws:Empty": []}
    identity: [p, {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}]
    resource_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "111122223333"}, Action: "sts:AssumeRole"}]}
    boundary: p
    session: p
    scps: [[p], [p, p]]
    rcps: [[RCPFullAWSAccess]]
    block_public_access: {restrict_public_buckets: true, block_public_policy: false}
    expect: explicit-deny
`
	s, err := Load("good.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "demo" || len(s.Cases) != 1 {
		t.Fatalf("suite = %+v", s)
	}
	c := s.Cases[0]
	checks := []struct {
		what string
		ok   bool
	}{
		{"name", c.Name == "trust"},
		{"doc", c.Doc == "see AWS"},
		{"line", c.Line == 6 && c.Column == 5},
		{"action", c.Request.Action == "sts:AssumeRole"},
		{"resource", c.Request.Resource == "arn:aws:iam::111122223333:role/r"},
		{"unquoted account id", c.Request.ResourceAccount == "111122223333"},
		{"context", c.Request.Context != nil},
		{"identity", len(c.Input.Identity) == 2},
		{"resource policy is a trust policy", c.Input.ResourcePolicy != nil && c.Input.ResourcePolicy.Kind() == evaluator.KindTrust},
		{"boundary", c.Input.Boundary != nil},
		{"session", c.Input.Session != nil},
		{"scps", len(c.Input.SCPs) == 2 && len(c.Input.SCPs[1]) == 2},
		{"rcps", len(c.Input.RCPs) == 1},
		{"bpa", c.Input.BlockPublicAccess.RestrictPublicBuckets && !c.Input.BlockPublicAccess.BlockPublicPolicy},
		{"expect", DecisionName(c.Expect) == "explicit-deny"},
		{"named policy keeps its name", c.Input.Boundary != nil && c.Input.Boundary.Name() == "p"},
		{"inline policy is named after its place", len(c.Input.Identity) == 2 && c.Input.Identity[1].Name() == "identity[1]"},
		{"YAML timestamp Version stays a string", c.Input.Boundary != nil && strings.Contains(string(c.Input.Boundary.Document()), `"Version":"2012-10-17"`)},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: not loaded as written", ch.what)
		}
	}
}

func TestManagementAccountDropsOrganizationPolicies(t *testing.T) {
	const src = `policies:
  p: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
  r: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "*", Resource: "*"}]}
cases:
  - {name: c, request: {principal: anonymous, action: s3:GetObject, resource: "*"}, scps: [[p]], rcps: [[r]], management_account: true, expect: allow}
`
	s, err := Load("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if in := s.Cases[0].Input; in.SCPs != nil || in.RCPs != nil {
		t.Errorf("management_account: true must leave SCPs and RCPs out, got %d/%d levels", len(in.SCPs), len(in.RCPs))
	}
}

// TestUnknownKeysSuggest: a misspelt key gets a "did you mean" naming the
// closest allowed key, at every level of the file.
func TestUnknownKeysSuggest(t *testing.T) {
	const good = `{principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "arn:aws:s3:::docs/a"}`
	tests := []struct{ name, src, want string }{
		{"top level", "polices: {}\ncases:\n  - {name: c, request: " + good + ", expect: allow}\n", `polices: unknown key (want name, policies or cases) (did you mean "policies"?)`},
		{"case", "cases:\n  - {name: c, request: " + good + ", expct: allow}\n", `cases[0].expct: unknown key (want one of `},
		{"case suggestion", "cases:\n  - {name: c, request: " + good + ", expct: allow}\n", `(did you mean "expect"?)`},
		{"request", "cases:\n  - {name: c, request: {principal: anonymous, action: s3:GetObject, resource: \"*\", contxt: {}}, expect: allow}\n", `(did you mean "context"?)`},
		{"block public access", "cases:\n  - {name: c, request: " + good + ", block_public_access: {restrict_public_bucket: true}, expect: allow}\n", `(did you mean "restrict_public_buckets"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("t.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %s", err, tt.want)
			}
		})
	}
}

// TestAliasExpansionIsBounded: a small file whose aliases would expand one
// policy a million times is refused with an error, not loaded.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("policies:\n  p: &p {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: [s3:GetObject, s3:PutObject, s3:ListBucket], Resource: \"*\"}]}\n")
	b.WriteString("x:\n  - &l [" + strings.TrimSuffix(strings.Repeat("*p, ", 100), ", ") + "]\n")
	b.WriteString("  - &c {name: c, request: {principal: anonymous, action: s3:GetObject, resource: \"*\"}, scps: [" + strings.TrimSuffix(strings.Repeat("*l, ", 100), ", ") + "], expect: allow}\n")
	b.WriteString("cases: [" + strings.TrimSuffix(strings.Repeat("*c, ", 100), ", ") + "]\n")
	src := b.String()
	if len(src) > 4096 {
		t.Fatalf("the test file is %d bytes; it should stay small", len(src))
	}
	_, err := Load("bomb.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "aliases") {
		t.Fatalf("want an error about expanding aliases, got %v", err)
	}
}
