package controlplane

import (
	"strings"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

const (
	getQ3 = "arn:aws:s3:::docs/q3.pdf"
	// bucketB lives in acctB so that its RCPs apply (acctA is the
	// management account, which RCPs never restrict).
	getB = "arn:aws:s3:::bdocs/report.pdf"
)

var (
	bPublic  = strings.ReplaceAll(publicRead, "docs/*", "bdocs/*")
	bReadAll = strings.ReplaceAll(readDocs, "docs/*", "bdocs/*")
)

// authWorld extends base with keys, a role with a policy, a user in a
// member account, a public bucket in that account and an organization.
func authWorld(t *testing.T) *State {
	s := base(t)
	mustApply(t, s,
		mk("iam:AttachGroupPolicy", `{"group_name":"devs","policy_arn":"`+readDocsARN+`"}`),
		mk("iam:CreateAccessKey", `{"user_name":"alice","access_key_id":"AKIAALICE1"}`),
		mk("iam:CreateAccessKey", `{"user_name":"alice","access_key_id":"AKIAALICE2"}`),
		mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE2","status":"Inactive"}`),
		mk("iam:CreateUser", `{"user_name":"mallory"}`),
		mk("iam:CreateAccessKey", `{"user_name":"mallory","access_key_id":"AKIAMALLORY"}`),
		mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAMALLORY"}`),
		mk("iam:PutRolePolicy", `{"role_name":"deployer","policy_name":"read","policy_document":`+readDocs+`}`),
		mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"assume","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}}`),
		as(acctB, mk("iam:CreateUser", `{"user_name":"bob"}`)),
		as(acctB, mk("iam:PutUserPolicy", `{"user_name":"bob","policy_name":"read","policy_document":`+bReadAll+`}`)),
		as(acctB, mk("s3:CreateBucket", `{"bucket":"bdocs"}`)),
		as(acctB, mk("s3:PutBucketPolicy", `{"bucket":"bdocs","policy":`+bPublic+`}`)),
		as(acctB, mk("s3:PutObject", `{"bucket":"bdocs","key":"report.pdf"}`)),
	)
	return s
}

func TestAuthorizePrincipals(t *testing.T) {
	s := authWorld(t)
	tests := []struct {
		name          string
		pre           []Call
		probe         Probe
		want          evaluator.Effect
		authenticated bool
		principalARN  string
		identity      int    // identity policies handed to the evaluator
		reason        string // substring of Resolution.Reason
	}{
		{"anonymous, private bucket", nil, Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "anonymous"},
		{"anonymous, public bucket", nil, Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB},
			evaluator.Allow, false, "", 0, "with a bucket policy"},
		{"user through its group's managed policy", nil, Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:iam::" + acctA + ":user/alice", 2, "1 from 1 group"},
		{"user removed from the group", []Call{mk("iam:RemoveUserFromGroup", `{"group_name":"devs","user_name":"alice"}`)},
			Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3}, evaluator.ImplicitDeny, true, "arn:aws:iam::" + acctA + ":user/alice", 1, "0 from 0 groups"},
		{"user ARN", nil, Probe{Principal: "arn:aws:iam::" + acctA + ":user/alice", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:iam::" + acctA + ":user/alice", 2, "user alice"},
		{"user of a member account", nil, Probe{Principal: "user:bob", Action: "s3:GetObject", Resource: getB},
			evaluator.Allow, true, "arn:aws:iam::" + acctB + ":user/bob", 1, "user bob"},
		{"user named with its account", nil, Probe{Principal: "user:" + acctB + "/bob", Action: "s3:GetObject", Resource: getB},
			evaluator.Allow, true, "arn:aws:iam::" + acctB + ":user/bob", 1, "user bob"},
		{"user named in the wrong account", nil, Probe{Principal: "user:" + acctA + "/bob", Action: "s3:GetObject", Resource: getB},
			evaluator.ImplicitDeny, false, "", 0, "does not exist"},
		{"role named with its account", nil, Probe{Principal: "role:" + acctA + "/deployer/ci", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci", 1, "role deployer"},
		{"active key", nil, Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:iam::" + acctA + ":user/alice", 2, "access key AKIAALICE1"},
		{"inactive key", nil, Probe{Principal: "key:AKIAALICE2", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "Inactive"},
		{"deleted key", nil, Probe{Principal: "key:AKIAMALLORY", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "was deleted"},
		{"unknown key", nil, Probe{Principal: "key:AKIANOBODY", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "does not exist"},
		{"deleted user", []Call{mk("iam:DeleteUser", `{"user_name":"mallory"}`)}, Probe{Principal: "user:mallory", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "was deleted"},
		{"role session", nil, Probe{Principal: "role:deployer/ci", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci", 1, "role deployer"},
		{"assumed-role ARN", nil, Probe{Principal: "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci", 1, "role deployer"},
		{"root of the account", nil, Probe{Principal: "arn:aws:iam::" + acctA + ":root", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:iam::" + acctA + ":root", 1, "root user"},
		{"principal of an account outside the view, private bucket", nil, Probe{Principal: "arn:aws:iam::999999999999:user/eve", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, true, "arn:aws:iam::999999999999:user/eve", 1, "does not model"},
		{"principal of an account outside the view, granted by the bucket policy", []Call{mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+strings.ReplaceAll(ownerOnly, acctA, "999999999999")+`}`)},
			Probe{Principal: "arn:aws:iam::999999999999:user/eve", Action: "s3:GetObject", Resource: getQ3},
			evaluator.Allow, true, "arn:aws:iam::999999999999:user/eve", 1, "does not model"},
		{"cross-account user without a grant from the bucket", nil, Probe{Principal: "user:bob", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, true, "arn:aws:iam::" + acctB + ":user/bob", 1, "bucket docs of account " + acctA},
		{"sts:AssumeRole uses the trust policy", nil, Probe{Principal: "user:alice", Action: "sts:AssumeRole", Resource: "arn:aws:iam::" + acctA + ":role/deployer"},
			evaluator.Allow, true, "arn:aws:iam::" + acctA + ":user/alice", 2, "trust policy"},
		{"unknown principal form", nil, Probe{Principal: "bob", Action: "s3:GetObject", Resource: getQ3},
			evaluator.ImplicitDeny, false, "", 0, "not understood"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := s.Clone()
			mustApply(t, v, tc.pre...)
			d, res := v.Authorize(tc.probe)
			if fast := v.Decide(tc.probe); fast.Effect != d.Effect {
				t.Errorf("Decide = %v, Authorize = %v", fast.Effect, d.Effect)
			}
			if res.Authenticated != tc.authenticated {
				t.Errorf("Authenticated = %v, want %v (reason %q)", res.Authenticated, tc.authenticated, res.Reason)
			}
			if res.Request.Principal.ARN != tc.principalARN {
				t.Errorf("principal ARN = %q, want %q", res.Request.Principal.ARN, tc.principalARN)
			}
			if len(res.Input.Identity) != tc.identity {
				t.Errorf("identity policies = %d, want %d", len(res.Input.Identity), tc.identity)
			}
			if !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", res.Reason, tc.reason)
			}
			if d.Effect != tc.want {
				t.Errorf("decision = %v, want %v (reason %q; %+v)", d.Effect, tc.want, res.Reason, d.Explain())
			}
		})
	}
}

func TestAuthorizeResources(t *testing.T) {
	s := authWorld(t)
	_, res := s.Authorize(Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getB})
	if res.Request.ResourceAccount != acctB {
		t.Errorf("ResourceAccount = %q, want the bucket owner %s", res.Request.ResourceAccount, acctB)
	}
	if res.Input.ResourcePolicy == nil {
		t.Errorf("the bucket policy was not handed to the evaluator")
	}
	_, res = s.Authorize(Probe{Principal: "user:alice", Action: "sts:AssumeRole", Resource: "arn:aws:iam::" + acctA + ":role/deployer"})
	if res.Input.ResourcePolicy == nil || !strings.Contains(res.Input.ResourcePolicy.Name(), "trust policy") {
		t.Errorf("the trust policy was not the resource policy of sts:AssumeRole: %+v", res.Input.ResourcePolicy)
	}
	_, res = s.Authorize(Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: "arn:aws:s3:::nope/x"})
	if res.Request.ResourceAccount != acctA || !strings.Contains(res.Reason, "does not exist") {
		t.Errorf("missing bucket: ResourceAccount %q, reason %q", res.Request.ResourceAccount, res.Reason)
	}
	_, res = s.Authorize(Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3, Context: map[string]any{"aws:SourceIp": "203.0.113.5"}})
	if res.Request.Context == nil {
		t.Errorf("the request context was dropped")
	}
}

func TestAuthorizeOrganizationPolicies(t *testing.T) {
	denyS3 := mk("organizations:CreatePolicy", `{"name":"deny-s3","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`)
	rcpDeny := mk("organizations:CreatePolicy", `{"name":"rcp-deny","type":"RESOURCE_CONTROL_POLICY","content":{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}}`)
	prodOU := mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`)
	moveB := mk("organizations:MoveAccount", `{"account_id":"`+acctB+`","source_parent_id":"root","destination_parent_id":"ou:prod"}`)
	attach := func(p, target string) Call {
		return mk("organizations:AttachPolicy", `{"policy_id":"`+p+`","target_id":"`+target+`"}`)
	}
	bob := Probe{Principal: "user:bob", Action: "s3:GetObject", Resource: getB}
	alice := Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3}
	anon := Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB}
	tests := []struct {
		name       string
		pre        []Call
		probe      Probe
		want       evaluator.Effect
		scpLevels  int
		rcpLevels  int
		levelSizes []int // SCPs per level, root first (nil = not checked)
	}{
		{"no organization policies", nil, bob, evaluator.Allow, 0, 0, nil},
		{"an SCP exists but is not attached", []Call{denyS3}, bob, evaluator.Allow, 2, 0, []int{1, 1}},
		{"deny SCP at root", []Call{denyS3, attach("deny-s3", "root")}, bob, evaluator.ExplicitDeny, 2, 0, []int{2, 1}},
		{"deny SCP on the account", []Call{denyS3, attach("deny-s3", acctB)}, bob, evaluator.ExplicitDeny, 2, 0, []int{1, 2}},
		{"deny SCP on the OU", []Call{denyS3, prodOU, moveB, attach("deny-s3", "ou:prod")}, bob, evaluator.ExplicitDeny, 3, 0, []int{1, 2, 1}},
		{"deny SCP on another OU", []Call{denyS3, prodOU, attach("deny-s3", "ou:prod")}, bob, evaluator.Allow, 2, 0, []int{1, 1}},
		{"allow-list SCP without FullAWSAccess", []Call{
			mk("organizations:CreatePolicy", `{"name":"only-iam","type":"SERVICE_CONTROL_POLICY","content":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}}`),
			attach("only-iam", acctB), mk("organizations:DetachPolicy", `{"policy_id":"FullAWSAccess","target_id":"`+acctB+`"}`)},
			bob, evaluator.ImplicitDeny, 2, 0, []int{1, 1}},
		{"the management account is exempt from SCPs", []Call{denyS3, attach("deny-s3", "root")}, alice, evaluator.Allow, 0, 0, nil},
		{"RCP on the resource's account", []Call{rcpDeny, attach("rcp-deny", acctB)}, anon, evaluator.ExplicitDeny, 0, 2, nil},
		{"RCP applies to principals of other accounts too", []Call{rcpDeny, attach("rcp-deny", "root")}, bob, evaluator.ExplicitDeny, 0, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := authWorld(t)
			mustApply(t, s, tc.pre...)
			d, res := s.Authorize(tc.probe)
			if fast := s.Decide(tc.probe); fast.Effect != d.Effect {
				t.Errorf("Decide = %v, Authorize = %v", fast.Effect, d.Effect)
			}
			if len(res.Input.SCPs) != tc.scpLevels || len(res.Input.RCPs) != tc.rcpLevels {
				t.Fatalf("levels: %d SCP, %d RCP; want %d, %d", len(res.Input.SCPs), len(res.Input.RCPs), tc.scpLevels, tc.rcpLevels)
			}
			for i, n := range tc.levelSizes {
				if len(res.Input.SCPs[i]) != n {
					t.Errorf("SCP level %d has %d policies, want %d", i, len(res.Input.SCPs[i]), n)
				}
			}
			if d.Effect != tc.want {
				t.Errorf("decision = %v, want %v (%s)", d.Effect, tc.want, res.Reason)
			}
		})
	}
}

func TestAuthorizeBlockPublicAccess(t *testing.T) {
	tests := []struct {
		name string
		pre  []Call
		want evaluator.BlockPublicAccess
		dec  evaluator.Effect
	}{
		{"none", nil, evaluator.BlockPublicAccess{}, evaluator.Allow},
		{"bucket", []Call{as(acctB, mk("s3:PutPublicAccessBlock", `{"bucket":"bdocs","restrict_public_buckets":true}`))},
			evaluator.BlockPublicAccess{RestrictPublicBuckets: true}, evaluator.ImplicitDeny},
		{"account", []Call{as(acctB, mk("s3control:PutPublicAccessBlock", `{"restrict_public_buckets":true,"block_public_acls":true}`))},
			evaluator.BlockPublicAccess{RestrictPublicBuckets: true, BlockPublicAcls: true}, evaluator.ImplicitDeny},
		{"bucket OR account", []Call{
			as(acctB, mk("s3:PutPublicAccessBlock", `{"bucket":"bdocs","block_public_policy":true}`)),
			as(acctB, mk("s3control:PutPublicAccessBlock", `{"ignore_public_acls":true}`))},
			evaluator.BlockPublicAccess{BlockPublicPolicy: true, IgnorePublicAcls: true}, evaluator.Allow},
		{"account removed", []Call{
			as(acctB, mk("s3control:PutPublicAccessBlock", `{"restrict_public_buckets":true}`)),
			as(acctB, mk("s3control:DeletePublicAccessBlock", `{}`))},
			evaluator.BlockPublicAccess{}, evaluator.Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := authWorld(t)
			mustApply(t, s, tc.pre...)
			d, res := s.Authorize(Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB})
			if res.Input.BlockPublicAccess != tc.want {
				t.Errorf("effective BPA = %+v, want %+v", res.Input.BlockPublicAccess, tc.want)
			}
			if d.Effect != tc.dec {
				t.Errorf("anonymous read = %v, want %v", d.Effect, tc.dec)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	s := authWorld(t)
	if got := s.DefaultAccount(); got != acctA {
		t.Errorf("DefaultAccount = %q, want the first account created %s", got, acctA)
	}
	if NewState().DefaultAccount() != "" {
		t.Errorf("an empty state has a default account")
	}
	if !s.ObjectExists("docs", "q3.pdf") || s.ObjectExists("docs", "q4.pdf") || s.ObjectExists("nope", "q3.pdf") {
		t.Errorf("ObjectExists is wrong")
	}
	mustApply(t, s, mk("s3:DeleteObject", `{"bucket":"docs","key":"q3.pdf"}`))
	if s.ObjectExists("docs", "q3.pdf") {
		t.Errorf("a deleted object still exists")
	}
	c := s.Counts()
	want := Counts{Accounts: 3, Users: 3, Groups: 1, Roles: 1, Policies: 1, AccessKeys: 2, ActiveKeys: 1, Buckets: 2, Objects: 1, Tombstones: 2}
	c.Applied, c.Conflicts, c.PublicBuckets = 0, 0, 0
	if c != want {
		t.Errorf("Counts = %+v, want %+v", c, want)
	}
}

// TestAuthorizeRolePath: a session's principal carries its role's path from
// the state, so a bucket policy naming the role ARN with its path (and in
// another case) grants the session, as AWS matches it.
func TestAuthorizeRolePath(t *testing.T) {
	s := base(t)
	grant := func(roleARN string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`
	}
	mustApply(t, s, mk("iam:CreateRole", `{"role_name":"Super-Admin","path":"/team/","assume_role_policy_document":`+trustA+`}`))
	tests := []struct {
		name, roleARN string
		want          evaluator.Effect
	}{
		{"the role ARN with its path", "arn:aws:iam::" + acctA + ":role/team/Super-Admin", evaluator.Allow},
		{"the name in another case", "arn:aws:iam::" + acctA + ":role/team/super-admin", evaluator.Allow},
		{"the role ARN without its path", "arn:aws:iam::" + acctA + ":role/Super-Admin", evaluator.ImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := s.Clone()
			mustApply(t, v, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+grant(tc.roleARN)+`}`))
			d, res := v.Authorize(Probe{Principal: "role:Super-Admin/s1", Action: "s3:GetObject", Resource: getQ3})
			if res.Request.Principal.Path != "/team/" {
				t.Errorf("session principal path = %q, want /team/", res.Request.Principal.Path)
			}
			if d.Effect != tc.want {
				t.Errorf("decision = %v, want %v: %s", d.Effect, tc.want, d.Explain().Summary)
			}
		})
	}
}

// A probe through a VPC endpoint carries the endpoint's policy into the
// decision: it grants nothing by itself, but must allow the request.
func TestAuthorizeThroughEndpoint(t *testing.T) {
	endpoint := func(resource string) *evaluator.Policy {
		p, err := evaluator.Parse("vpce", evaluator.KindEndpoint, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"`+resource+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name      string
		endpoint  *evaluator.Policy
		dec       evaluator.Effect
		blockedBy string
	}{
		{"no endpoint", nil, evaluator.Allow, ""},
		{"endpoint allowing the bucket", endpoint("arn:aws:s3:::bdocs/*"), evaluator.Allow, ""},
		{"endpoint allowing another bucket only", endpoint("arn:aws:s3:::other/*"), evaluator.ImplicitDeny, "endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := authWorld(t)
			d, res := s.Authorize(Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB, Endpoint: tc.endpoint})
			if d.Effect != tc.dec {
				t.Errorf("anonymous read = %v, want %v", d.Effect, tc.dec)
			}
			if res.Input.Endpoint != tc.endpoint {
				t.Errorf("the decision's input does not carry the probe's endpoint policy")
			}
			if got := d.Explain().BlockedBy; got != tc.blockedBy {
				t.Errorf("blocked by %q, want %q", got, tc.blockedBy)
			}
		})
	}
}

// A prepared probe decides exactly as Decide does, invalid contexts
// included, and allocates less: its context was built once, by Prepare.
func TestPreparedProbe(t *testing.T) {
	s := authWorld(t)
	ctx := map[string]any{"aws:SourceIp": "203.0.113.5", "aws:SecureTransport": true}
	for _, tc := range []struct {
		name  string
		probe Probe
		want  evaluator.Effect
	}{
		{"anonymous, public bucket", Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB, Context: ctx}, evaluator.Allow},
		{"anonymous, private bucket", Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getQ3, Context: ctx}, evaluator.ImplicitDeny},
		{"user through a group", Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3, Context: ctx}, evaluator.Allow},
		{"deleted key", Probe{Principal: "key:AKIAMALLORY", Action: "s3:GetObject", Resource: getQ3}, evaluator.ImplicitDeny},
		{"invalid context", Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3, Context: map[string]any{"a": 1, "A": 2}}, evaluator.ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pp := Prepare(tc.probe)
			got, want := s.DecidePrepared(pp), s.Decide(tc.probe)
			if got.Effect != tc.want || got.Effect != want.Effect {
				t.Fatalf("DecidePrepared = %v, Decide = %v, want %v", got.Effect, want.Effect, tc.want)
			}
			if tc.probe.Context == nil {
				return
			}
			prepared := testing.AllocsPerRun(20, func() { s.DecidePrepared(pp) })
			plain := testing.AllocsPerRun(20, func() { s.Decide(tc.probe) })
			if prepared >= plain {
				t.Errorf("DecidePrepared allocates %v times, Decide %v: the context is built again", prepared, plain)
			}
		})
	}
}
