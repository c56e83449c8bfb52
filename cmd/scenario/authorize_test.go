package main

import (
	"encoding/json"
	"testing"
)

func TestAuthorizeCommand(t *testing.T) {
	dir := t.TempDir()
	readDocs := writeFile(t, dir, "read-docs.json", `{"Version":"2012-10-17","Statement":[{"Sid":"ReadDocs","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`)
	ec2Only := writeFile(t, dir, "ec2-only.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	denyHTTP := writeFile(t, dir, "deny-http.json", `{"Version":"2012-10-17","Statement":[{"Sid":"DenyHTTP","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	bucket := writeFile(t, dir, "bucket.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`)
	fullAccess := writeFile(t, dir, "full.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	endpoint := writeFile(t, dir, "endpoint.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}]}`)
	teamRole := writeFile(t, dir, "team-role.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/team/Admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`)
	broken := writeFile(t, dir, "broken.json", "{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"Alow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}")
	alice := []string{"authorize", "--principal", "arn:aws:iam::111122223333:user/alice", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::docs/a.pdf"}
	with := func(extra ...string) []string { return append(append([]string(nil), alice...), extra...) }
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut []string
		wantErr []string
	}{
		{"identity allows", with("--identity", readDocs), 0, []string{"decision: Allow", "matched: " + readDocs + " (identity) statement ReadDocs: Allow"}, nil},
		{"nothing allows", with(), 1, []string{"decision: ImplicitDeny", "blocked by: identity"}, nil},
		{"the boundary blocks", with("--identity", readDocs, "--boundary", ec2Only), 1, []string{"decision: ImplicitDeny", "blocked by: boundary"}, nil},
		{"an explicit deny on a context key", with("--identity", readDocs, "--identity", denyHTTP, "--context", "aws:SecureTransport=false"), 1, []string{"decision: ExplicitDeny", "DenyHTTP"}, nil},
		{"the context key decides", with("--identity", readDocs, "--identity", denyHTTP, "--context", "aws:SecureTransport=true"), 0, []string{"decision: Allow", "not applied: " + denyHTTP + " (identity) statement DenyHTTP: Deny: Condition: Bool aws:SecureTransport true does not match false"}, nil},
		{"a key the policies read but the request lacks", with("--identity", readDocs, "--identity", denyHTTP), 0, []string{"decision: Allow", "missing context keys: aws:SecureTransport"}, nil},
		{"an SCP level without an allow", with("--identity", readDocs, "--scp", fullAccess, "--scp", ec2Only), 1, []string{"blocked by: scp", "level 1"}, nil},
		{"cross-account needs the bucket policy", []string{"authorize", "--principal", "arn:aws:iam::444455556666:user/carol", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::docs/a.pdf", "--resource-account", "111122223333", "--identity", readDocs, "--resource-policy", bucket}, 0, []string{"decision: Allow"}, nil},
		{"the endpoint policy blocks", with("--identity", readDocs, "--endpoint", endpoint), 1, []string{"blocked by: endpoint", "VPC endpoint"}, nil},
		{"a role path from the flag", []string{"authorize", "--principal", "arn:aws:sts::111122223333:assumed-role/Admin/s1", "--role-path", "/team/", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::docs/a.pdf", "--resource-policy", teamRole}, 0, []string{"decision: Allow"}, nil},
		{"without the role path the role ARN differs", []string{"authorize", "--principal", "arn:aws:sts::111122223333:assumed-role/Admin/s1", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::docs/a.pdf", "--resource-policy", teamRole}, 1, []string{"decision: ImplicitDeny"}, nil},
		{"an invalid policy is exit 2 with its position", with("--identity", broken), 2, nil, []string{broken + ":2:24: Statement[0].Effect"}},
		{"a bad principal is exit 2", []string{"authorize", "--principal", "alice", "--action", "s3:GetObject", "--resource", "*"}, 2, nil, []string{"principal \"alice\""}},
		{"a missing action is exit 2", []string{"authorize", "--principal", "anonymous", "--resource", "*"}, 2, nil, []string{"--action"}},
		{"a context without = is exit 2", with("--context", "aws:SourceIp"), 2, nil, []string{"KEY=VALUE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectRun(t, tt.args, tt.code, tt.wantOut, tt.wantErr)
		})
	}
}

func TestAuthorizeJSON(t *testing.T) {
	dir := t.TempDir()
	readDocs := writeFile(t, dir, "read-docs.json", `{"Version":"2012-10-17","Statement":[{"Sid":"ReadDocs","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`)
	out, _ := expectRun(t, []string{"authorize", "--json", "--principal", "arn:aws:iam::111122223333:user/alice", "--action", "s3:PutObject", "--resource", "arn:aws:s3:::docs/a.pdf", "--identity", readDocs}, 1, nil, nil)
	var got struct {
		Decision  string            `json:"decision"`
		BlockedBy string            `json:"blocked_by"`
		Summary   string            `json:"summary"`
		Matched   []json.RawMessage `json:"matched"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if got.Decision != "ImplicitDeny" || got.BlockedBy != "identity" || got.Summary == "" || got.Matched == nil {
		t.Errorf("got %+v", got)
	}
}
