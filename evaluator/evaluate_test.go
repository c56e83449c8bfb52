package evaluator

import (
	"strings"
	"testing"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
)

var (
	alice   = Principal{Type: PrincipalUser, ARN: "arn:aws:iam::" + acctA + ":user/alice", Account: acctA, Name: "alice"}
	bob     = Principal{Type: PrincipalUser, ARN: "arn:aws:iam::" + acctB + ":user/bob", Account: acctB, Name: "bob"}
	session = Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci", Account: acctA, Name: "deployer", Session: "ci"}
	rootA   = Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::" + acctA + ":root", Account: acctA}
	anon    = Principal{Type: PrincipalAnonymous}
	s3svc   = Principal{Type: PrincipalService, Name: "s3.amazonaws.com"}
)

// doc builds a one-statement document; extra is inserted into the statement.
func doc(effect, action, resource, extra string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Action":"` + action + `"`
	if resource != "" {
		s += `,"Resource":"` + resource + `"`
	}
	if extra != "" {
		s += "," + extra
	}
	return s + `}]}`
}

func TestEvaluateDecisionOrder(t *testing.T) {
	const get, obj = "s3:GetObject", "arn:aws:s3:::docs/report.pdf"
	allowGet := doc("Allow", get, "*", "")
	denyGet := doc("Deny", get, "*", "")
	allowAll := doc("Allow", "*", "*", "")
	allowEC2 := doc("Allow", "ec2:*", "*", "")
	pub := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":"*"`)
	pubAWS := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"*"}`)
	toAlice := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"`+alice.ARN+`"}`)
	toBob := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"`+bob.ARN+`"}`)
	toAcctB := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"`+acctB+`"}`)
	toAcctA := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"arn:aws:iam::`+acctA+`:root"}`)
	toRole := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"arn:aws:iam::`+acctA+`:role/deployer"}`)
	toSession := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"AWS":"`+session.ARN+`"}`)
	toS3 := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":{"Service":"s3.amazonaws.com"}`)
	denyAnon := doc("Deny", get, "*", `"Principal":"*"`)
	notPrincipalAlice := doc("Deny", get, "*", `"NotPrincipal":{"AWS":["`+alice.ARN+`","`+acctA+`"]}`)
	notPrincipalAliceOnly := doc("Deny", get, "*", `"NotPrincipal":{"AWS":"`+alice.ARN+`"}`)
	rcpFull := doc("Allow", "*", "*", `"Principal":"*"`)
	rcpDeny := doc("Deny", get, "*", `"Principal":"*"`)
	restricted := doc("Allow", get, "arn:aws:s3:::docs/*", `"Principal":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}`)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + alice.ARN + `"},"Action":"sts:AssumeRole"}]}`
	trustB := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"sts:AssumeRole"}]}`

	type in struct {
		identity []string
		resource string
		trust    string
		boundary string
		session  string
		scps     [][]string
		rcps     [][]string
		bpa      BlockPublicAccess
		mgmt     string
	}
	tests := []struct {
		name      string
		who       Principal
		action    string
		resource  string
		resAcct   string
		in        in
		want      Effect
		blockedBy string
	}{
		{"nothing allows: implicit deny", alice, get, obj, "", in{}, ImplicitDeny, "identity"},
		{"identity allows", alice, get, obj, "", in{identity: []string{allowGet}}, Allow, ""},
		{"identity allows another service only", alice, get, obj, "", in{identity: []string{allowEC2}}, ImplicitDeny, "identity"},
		{"identity deny beats identity allow", alice, get, obj, "", in{identity: []string{allowAll, denyGet}}, ExplicitDeny, "explicit-deny"},
		{"resource deny beats identity allow", alice, get, obj, "", in{identity: []string{allowAll}, resource: doc("Deny", get, "*", `"Principal":{"AWS":"`+acctA+`"}`)}, ExplicitDeny, "explicit-deny"},
		{"boundary deny wins", alice, get, obj, "", in{identity: []string{allowAll}, boundary: denyGet}, ExplicitDeny, "explicit-deny"},
		{"session deny wins", session, get, obj, "", in{identity: []string{allowAll}, session: denyGet}, ExplicitDeny, "explicit-deny"},
		{"scp deny wins", alice, get, obj, "", in{identity: []string{allowAll}, scps: [][]string{{allowAll, denyGet}}}, ExplicitDeny, "explicit-deny"},
		{"rcp deny wins over public bucket", anon, get, obj, acctA, in{resource: pub, rcps: [][]string{{rcpFull, rcpDeny}}}, ExplicitDeny, "explicit-deny"},
		// RCPs
		{"rcp level without allow blocks", alice, get, obj, "", in{identity: []string{allowAll}, rcps: [][]string{{rcpFull}, {}}}, ImplicitDeny, "rcp"},
		{"rcp all levels allow", alice, get, obj, "", in{identity: []string{allowAll}, rcps: [][]string{{rcpFull}, {rcpFull}}}, Allow, ""},
		{"rcp does not apply to management account", alice, get, obj, "", in{identity: []string{allowAll}, rcps: [][]string{{}}, mgmt: acctA}, Allow, ""},
		{"rcp does not apply to service principals", s3svc, get, obj, acctA, in{resource: toS3, rcps: [][]string{{rcpDeny}}}, Allow, ""},
		// SCPs
		{"scp root level allows, account level silent", alice, get, obj, "", in{identity: []string{allowAll}, scps: [][]string{{allowAll}, {allowEC2}}}, ImplicitDeny, "scp"},
		{"scp every level allows", alice, get, obj, "", in{identity: []string{allowAll}, scps: [][]string{{allowAll}, {allowGet}}}, Allow, ""},
		{"scp allow does not grant", alice, get, obj, "", in{scps: [][]string{{allowAll}}}, ImplicitDeny, "identity"},
		{"scp never applies to the management account", alice, get, obj, "", in{identity: []string{allowAll}, scps: [][]string{{denyGet}}, mgmt: acctA}, Allow, ""},
		{"scp limits a same-account resource grant", alice, get, obj, "", in{resource: toAlice, scps: [][]string{{allowEC2}}}, ImplicitDeny, "scp"},
		{"scp does not apply to anonymous", anon, get, obj, acctA, in{resource: pub, scps: [][]string{{allowEC2}}}, Allow, ""},
		// same-account resource policies
		{"bucket policy naming the user grants alone", alice, get, obj, "", in{resource: toAlice}, Allow, ""},
		{"bucket policy naming the user is not limited by boundary", alice, get, obj, "", in{resource: toAlice, boundary: allowEC2}, Allow, ""},
		{"bucket policy naming the session grants despite session policy", session, get, obj, "", in{resource: toSession, session: allowEC2, boundary: allowEC2}, Allow, ""},
		{"bucket policy naming the role grants to its session", session, get, obj, "", in{resource: toRole}, Allow, ""},
		{"role grant still limited by boundary", session, get, obj, "", in{resource: toRole, boundary: allowEC2}, ImplicitDeny, "boundary"},
		{"role grant still limited by session policy", session, get, obj, "", in{resource: toRole, session: allowEC2}, ImplicitDeny, "session"},
		{"account principal delegates to identity", alice, get, obj, "", in{resource: toAcctA}, ImplicitDeny, "identity"},
		{"account principal plus identity allow", alice, get, obj, "", in{resource: toAcctA, identity: []string{allowGet}}, Allow, ""},
		{"account principal grants the root user", rootA, get, obj, "", in{resource: toAcctA, scps: [][]string{{allowAll}}}, Allow, ""},
		{"bucket policy naming another user does not grant", alice, get, obj, "", in{resource: toBob}, ImplicitDeny, "identity"},
		// boundary and session intersection
		{"boundary allows too", alice, get, obj, "", in{identity: []string{allowGet}, boundary: allowAll}, Allow, ""},
		{"boundary does not allow", alice, get, obj, "", in{identity: []string{allowGet}, boundary: allowEC2}, ImplicitDeny, "boundary"},
		{"boundary alone grants nothing", alice, get, obj, "", in{boundary: allowAll}, ImplicitDeny, "identity"},
		{"session policy allows too", session, get, obj, "", in{identity: []string{allowGet}, session: allowAll}, Allow, ""},
		{"session policy does not allow", session, get, obj, "", in{identity: []string{allowGet}, session: allowEC2}, ImplicitDeny, "session"},
		// cross-account
		{"cross-account needs the resource side", bob, get, obj, acctA, in{identity: []string{allowGet}}, ImplicitDeny, "resource"},
		{"cross-account needs the identity side", bob, get, obj, acctA, in{resource: toBob}, ImplicitDeny, "identity"},
		{"cross-account both sides", bob, get, obj, acctA, in{resource: toBob, identity: []string{allowGet}}, Allow, ""},
		{"cross-account to the account", bob, get, obj, acctA, in{resource: toAcctB, identity: []string{allowGet}}, Allow, ""},
		{"cross-account boundary still applies", bob, get, obj, acctA, in{resource: toBob, identity: []string{allowGet}, boundary: allowEC2}, ImplicitDeny, "boundary"},
		// anonymous
		{"anonymous via Principal *", anon, get, obj, acctA, in{resource: pub}, Allow, ""},
		{"anonymous via AWS *", anon, get, obj, acctA, in{resource: pubAWS}, Allow, ""},
		{"anonymous without resource policy", anon, get, obj, acctA, in{identity: []string{allowAll}}, ImplicitDeny, "resource"},
		{"anonymous not matched by account principal", anon, get, obj, acctA, in{resource: toAcctA}, ImplicitDeny, "resource"},
		{"anonymous denied by Principal * deny", anon, get, obj, acctA, in{resource: denyAnon}, ExplicitDeny, "explicit-deny"},
		{"anonymous wrong action", anon, "s3:PutObject", obj, acctA, in{resource: pub}, ImplicitDeny, "resource"},
		{"service principal", s3svc, get, obj, acctA, in{resource: toS3}, Allow, ""},
		// NotPrincipal
		{"NotPrincipal exempts the listed user and account", alice, get, obj, "", in{identity: []string{allowGet}, resource: notPrincipalAlice}, Allow, ""},
		{"NotPrincipal without the account denies the user", alice, get, obj, "", in{identity: []string{allowGet}, resource: notPrincipalAliceOnly}, ExplicitDeny, "explicit-deny"},
		{"NotPrincipal denies everyone else", bob, get, obj, acctA, in{identity: []string{allowGet}, resource: notPrincipalAlice}, ExplicitDeny, "explicit-deny"},
		{"NotPrincipal denies anonymous", anon, get, obj, acctA, in{resource: notPrincipalAlice}, ExplicitDeny, "explicit-deny"},
		{"NotPrincipal boundary quirk", alice, get, obj, "", in{identity: []string{allowGet}, boundary: allowAll, resource: notPrincipalAlice}, ExplicitDeny, "explicit-deny"},
		// Block Public Access
		{"public policy, no BPA", bob, get, obj, acctA, in{resource: pub, identity: []string{allowGet}}, Allow, ""},
		{"RestrictPublicBuckets stops anonymous", anon, get, obj, acctA, in{resource: pub, bpa: BlockPublicAccess{RestrictPublicBuckets: true}}, ImplicitDeny, "block-public-access"},
		{"RestrictPublicBuckets stops cross-account", bob, get, obj, acctA, in{resource: pub, identity: []string{allowGet}, bpa: BlockPublicAccess{RestrictPublicBuckets: true}}, ImplicitDeny, "block-public-access"},
		{"RestrictPublicBuckets keeps owner account", alice, get, obj, acctA, in{resource: pub, bpa: BlockPublicAccess{RestrictPublicBuckets: true}}, Allow, ""},
		{"BlockPublicPolicy alone does not affect evaluation", anon, get, obj, acctA, in{resource: pub, bpa: BlockPublicAccess{BlockPublicPolicy: true, BlockPublicAcls: true, IgnorePublicAcls: true}}, Allow, ""},
		{"RestrictPublicBuckets ignores non-public policy", bob, get, obj, acctA, in{resource: toBob, identity: []string{allowGet}, bpa: BlockPublicAccess{RestrictPublicBuckets: true}}, Allow, ""},
		{"org-restricted wildcard is not public", bob, get, obj, acctA, in{resource: restricted, identity: []string{allowGet}, bpa: BlockPublicAccess{RestrictPublicBuckets: true}}, ImplicitDeny, "resource"},
		// trust policies
		{"trust names the user", alice, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/deployer", "", in{trust: trust}, Allow, ""},
		{"trust does not name the principal", rootA, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/deployer", "", in{trust: trust}, ImplicitDeny, "resource"},
		{"same account: identity allow without trust is not enough", session, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/admin", "", in{identity: []string{allowAll}}, ImplicitDeny, "resource"},
		{"same account: trust naming the account needs identity", session, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/admin", "", in{trust: doc("Allow", "sts:AssumeRole", "", `"Principal":{"AWS":"`+acctA+`"}`)}, ImplicitDeny, "identity"},
		{"same account: trust naming the account plus identity", session, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/admin", "", in{identity: []string{allowAll}, trust: doc("Allow", "sts:AssumeRole", "", `"Principal":{"AWS":"`+acctA+`"}`)}, Allow, ""},
		{"root user has full access in its own account", rootA, "s3:DeleteBucket", "arn:aws:s3:::docs", "", in{}, Allow, ""},
		{"root user of another account needs the resource side", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::" + acctB + ":root", Account: acctB}, get, obj, acctA, in{}, ImplicitDeny, "resource"},
		{"root user of a granted account", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::" + acctB + ":root", Account: acctB}, get, obj, acctA, in{resource: toAcctB}, Allow, ""},
		{"cross-account trust needs identity allow", bob, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/deployer", acctA, in{trust: trustB}, ImplicitDeny, "identity"},
		{"cross-account trust and identity", bob, "sts:AssumeRole", "arn:aws:iam::" + acctA + ":role/deployer", acctA, in{trust: trustB, identity: []string{doc("Allow", "sts:AssumeRole", "arn:aws:iam::"+acctA+":role/*", "")}}, Allow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var input Input
			for i, d := range tt.in.identity {
				input.Identity = append(input.Identity, mustParse(t, "id"+string(rune('0'+i)), KindIdentity, d))
			}
			if tt.in.resource != "" {
				input.ResourcePolicy = mustParse(t, "bucket", KindResource, tt.in.resource)
			}
			if tt.in.trust != "" {
				input.ResourcePolicy = mustParse(t, "trust", KindTrust, tt.in.trust)
			}
			if tt.in.boundary != "" {
				input.Boundary = mustParse(t, "boundary", KindBoundary, tt.in.boundary)
			}
			if tt.in.session != "" {
				input.Session = mustParse(t, "session", KindSession, tt.in.session)
			}
			for _, level := range tt.in.scps {
				var l []*Policy
				for _, d := range level {
					l = append(l, mustParse(t, "scp", KindSCP, d))
				}
				input.SCPs = append(input.SCPs, l)
			}
			for _, level := range tt.in.rcps {
				var l []*Policy
				for _, d := range level {
					l = append(l, mustParse(t, "rcp", KindRCP, d))
				}
				input.RCPs = append(input.RCPs, l)
			}
			input.BlockPublicAccess = tt.in.bpa
			input.ManagementAccount = tt.in.mgmt
			req := &Request{Principal: tt.who, Action: tt.action, Resource: tt.resource, ResourceAccount: tt.resAcct}
			d := Evaluate(req, &input)
			ex := d.Explain()
			if d.Effect != tt.want || ex.BlockedBy != tt.blockedBy {
				t.Fatalf("got %v blocked by %q, want %v blocked by %q\n%s", d.Effect, ex.BlockedBy, tt.want, tt.blockedBy, ex.Summary)
			}
			if ex.Decision != tt.want.String() || ex.Summary == "" {
				t.Fatalf("bad explanation %+v", ex)
			}
			if tt.want == ExplicitDeny && !hasDeny(ex.Matched) {
				t.Fatalf("explicit deny without a matched Deny statement: %+v", ex.Matched)
			}
			if tt.want == Allow && len(ex.Matched) == 0 && tt.who.Type != PrincipalRoot {
				t.Fatalf("allow without a matched statement")
			}
		})
	}
}

func hasDeny(ms []MatchedStatement) bool {
	for _, m := range ms {
		if m.Effect == "Deny" {
			return true
		}
	}
	return false
}

func TestEvaluateNilInputs(t *testing.T) {
	if d := Evaluate(nil, nil); d.Effect != ImplicitDeny {
		t.Fatalf("nil request: %v", d.Effect)
	}
	if d := Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "x"}, nil); d.Effect != ImplicitDeny {
		t.Fatalf("nil input: %v", d.Effect)
	}
	p := mustParse(t, "all", KindIdentity, doc("Allow", "*", "*", ""))
	if d := Evaluate(&Request{Principal: alice, Action: "", Resource: ""}, &Input{Identity: []*Policy{p, nil}}); d.Effect != Allow {
		t.Fatalf("empty action with Action * and a nil policy: %v", d.Effect)
	}
}

func TestExplain(t *testing.T) {
	id := mustParse(t, "readers", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secret/*"}]}`)
	d := Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::secret/x"}, &Input{Identity: []*Policy{id}})
	ex := d.Explain()
	want := []MatchedStatement{{Policy: "readers", Kind: "identity", Sid: "Read", Index: 0, Effect: "Allow"}, {Policy: "readers", Kind: "identity", Index: 1, Effect: "Deny"}}
	if len(ex.Matched) != 2 || ex.Matched[0] != want[0] || ex.Matched[1] != want[1] {
		t.Fatalf("matched = %+v", ex.Matched)
	}
	for _, s := range []string{"User arn:aws:iam::111122223333:user/alice", "s3:GetObject", "#1", `"readers"`, "explicitly denies"} {
		if !strings.Contains(ex.Summary, s) {
			t.Errorf("summary lacks %q: %s", s, ex.Summary)
		}
	}
}

func TestExplainKeepsDeniesWhenFull(t *testing.T) {
	var stmts []string
	for range 12 {
		stmts = append(stmts, `{"Effect":"Deny","Action":"s3:*","Resource":"*"}`)
	}
	allow := mustParse(t, "allow", KindIdentity, doc("Allow", "s3:*", "*", ""))
	deny := mustParse(t, "many", KindIdentity, `{"Statement":[`+strings.Join(stmts, ",")+`]}`)
	d := Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, &Input{Identity: []*Policy{allow, deny}})
	ex := d.Explain()
	if d.Effect != ExplicitDeny || len(ex.Matched) != maxMatched || ex.Matched[0].Effect != "Deny" || !strings.Contains(ex.Summary, "5 more") {
		t.Fatalf("got %v %+v %s", d.Effect, ex.Matched, ex.Summary)
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	req, in := benchSetup(t)
	allocs := testing.AllocsPerRun(100, func() { _ = Evaluate(req, in) })
	if allocs != 0 {
		t.Fatalf("Evaluate allocates %.1f times per call", allocs)
	}
}

func TestZeroDecisionExplains(t *testing.T) {
	ex := Decision{}.Explain()
	if ex.Decision != "ImplicitDeny" || ex.BlockedBy != "" || len(ex.Matched) != 0 || !strings.Contains(ex.Summary, "not evaluated") {
		t.Fatalf("zero decision: %+v", ex)
	}
}
