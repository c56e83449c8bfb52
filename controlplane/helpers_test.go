package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	acctA = "111122223333" // first account: default and management account
	acctB = "444455556666" // member account
	acctC = "777788889999" // member account, placed in an OU by some tests
)

const (
	readDocs   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`
	listDocs   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::docs"}]}`
	denyDocs   = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
	publicRead = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`
	ownerOnly  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`
	trustA     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`
	allowAllS  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	malformed  = `{"Version":"2012-10-17","Statement":[`
)

// mk builds a call from an action and its arguments as a JSON object text.
func mk(action, args string) Call {
	return Call{Action: action, Args: json.RawMessage(args)}
}

// as sets the calling account.
func as(acct string, c Call) Call { c.Account = acct; return c }

// in sets the origin region.
func in(region string, c Call) Call { c.Region = region; return c }

// doc embeds a policy document as a JSON object argument value.
func doc(d string) string { return d }

// str embeds a policy document as a JSON string argument value.
func str(d string) string {
	b, _ := json.Marshal(d)
	return string(b)
}

// big returns an identity policy of about n non-white-space characters.
func big(n int) string {
	var acts []string
	for size := 80; size < n; size += 20 {
		acts = append(acts, fmt.Sprintf(`"s3:GetObject%06d"`, size))
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + strings.Join(acts, ",") + `],"Resource":"*"}]}`
}

// mustApply validates and applies each call, failing the test on the first
// rejection.
func mustApply(t testing.TB, s *State, calls ...Call) {
	t.Helper()
	for _, c := range calls {
		if err := s.Validate(c); err != nil {
			t.Fatalf("setup %s %s: %v", c.Action, c.Args, err)
		}
		before := s.Conflicts()
		s.Apply(c)
		if s.Conflicts() != before {
			t.Fatalf("setup %s: validated but conflicted on apply", c.Action)
		}
	}
}

// codeOf extracts the APIError code ("" for nil).
func codeOf(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	return ae.Code
}

// base is the common world of the tests: three accounts, alice in group
// devs with ReadDocs attached, role deployer, bucket docs with one object.
func base(t testing.TB) *State {
	t.Helper()
	s := NewState()
	mustApply(t, s,
		mk("organizations:CreateAccount", `{"account_id":"`+acctA+`"}`),
		mk("organizations:CreateAccount", `{"account_id":"`+acctB+`"}`),
		mk("organizations:CreateAccount", `{"account_id":"`+acctC+`"}`),
		mk("iam:CreateUser", `{"user_name":"alice"}`),
		mk("iam:CreateGroup", `{"group_name":"devs"}`),
		mk("iam:AddUserToGroup", `{"group_name":"devs","user_name":"alice"}`),
		mk("iam:CreatePolicy", `{"policy_name":"ReadDocs","policy_document":`+readDocs+`}`),
		mk("iam:CreateRole", `{"role_name":"deployer","assume_role_policy_document":`+trustA+`}`),
		in("eu-west-1", mk("s3:CreateBucket", `{"bucket":"docs"}`)),
		mk("s3:PutObject", `{"bucket":"docs","key":"q3.pdf"}`),
	)
	return s
}

const readDocsARN = "arn:aws:iam::" + acctA + ":policy/ReadDocs"
