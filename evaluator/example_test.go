package evaluator_test

import (
	"errors"
	"fmt"

	"github.com/iamprop/iamprop/evaluator"
)

// A public bucket policy lets an anonymous caller read, until S3 Block
// Public Access (RestrictPublicBuckets) is turned on.
func Example() {
	bucket, err := evaluator.Parse("public-read", evaluator.KindResource, []byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
	                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"}]}`))
	if err != nil {
		panic(err)
	}
	who, _ := evaluator.ParsePrincipal("anonymous")
	req := &evaluator.Request{Principal: who, Action: "s3:GetObject", Resource: "arn:aws:s3:::docs/report.pdf", ResourceAccount: "111122223333"}

	in := &evaluator.Input{ResourcePolicy: bucket}
	fmt.Println(bucket.IsPublic(), evaluator.Evaluate(req, in).Effect)

	in.BlockPublicAccess.RestrictPublicBuckets = true
	d := evaluator.Evaluate(req, in)
	fmt.Println(d.Effect, d.Explain().BlockedBy)
	// Output:
	// true Allow
	// ImplicitDeny block-public-access
}

// Validation errors name the document, the JSON path, the line and column.
func ExampleParse() {
	_, err := evaluator.Parse("readonly.json", evaluator.KindIdentity, []byte(`{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]
}`))
	var ve *evaluator.ValidationError
	if errors.As(err, &ve) {
		is := ve.Issues[0]
		fmt.Println(is.Path, is.Line, is.Column, is.Code)
		fmt.Println(err)
	}
	// Output:
	// Statement[0].Action 3 47 MalformedPolicyDocument
	// readonly.json:3:47: Statement[0].Action: action "GetObject" has no service prefix (expected service:Action, like s3:GetObject)
}

// An explicit Deny in any policy wins, and the explanation says which.
func ExampleDecision_Explain() {
	identity, _ := evaluator.Parse("s3-admin", evaluator.KindIdentity, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`))
	scp, _ := evaluator.Parse("no-deletes", evaluator.KindSCP, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`))
	alice, _ := evaluator.ParsePrincipal("arn:aws:iam::111122223333:user/alice")
	d := evaluator.Evaluate(
		&evaluator.Request{Principal: alice, Action: "s3:DeleteObject", Resource: "arn:aws:s3:::docs/a"},
		&evaluator.Input{Identity: []*evaluator.Policy{identity}, SCPs: [][]*evaluator.Policy{{scp}}})
	ex := d.Explain()
	fmt.Println(ex.Decision, ex.BlockedBy)
	for _, m := range ex.Matched {
		fmt.Println(m.Policy, m.Kind, m.Sid, m.Index, m.Effect)
	}
	fmt.Println(ex.Summary)
	// Output:
	// ExplicitDeny explicit-deny
	// no-deletes scp NoDelete 1 Deny
	// no-deletes scp  0 Allow
	// s3-admin identity  0 Allow
	// User arn:aws:iam::111122223333:user/alice asked for s3:DeleteObject on arn:aws:s3:::docs/a. The principal and the resource are in the same account. Statement "NoDelete" of the scp policy "no-deletes" explicitly denies it, and an explicit deny overrides every Allow.
}

// Request context keys are case-insensitive; global keys such as
// aws:username are derived from the request unless the context sets them.
func ExampleNewContext() {
	p, _ := evaluator.Parse("home", evaluator.KindIdentity, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
	  "Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`))
	ctx, _ := evaluator.NewContext(map[string]any{"AWS:SourceIP": "203.0.113.9"})
	alice, _ := evaluator.ParsePrincipal("arn:aws:iam::111122223333:user/alice")
	for _, res := range []string{"arn:aws:s3:::home/alice/notes.txt", "arn:aws:s3:::home/bob/notes.txt"} {
		d := evaluator.Evaluate(&evaluator.Request{Principal: alice, Action: "s3:GetObject", Resource: res, Context: ctx}, &evaluator.Input{Identity: []*evaluator.Policy{p}})
		fmt.Println(res, d.Effect)
	}
	// Output:
	// arn:aws:s3:::home/alice/notes.txt Allow
	// arn:aws:s3:::home/bob/notes.txt ImplicitDeny
}

func ExampleMatchARN() {
	fmt.Println(evaluator.MatchARN("arn:aws:s3:::docs/*", "arn:aws:s3:::docs/2026/q3.pdf"))
	fmt.Println(evaluator.MatchARN("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:user/alice"))
	// Output:
	// true
	// false
}

func ExampleMaxSize() {
	fmt.Println(evaluator.MaxSize(evaluator.KindSCP), evaluator.MaxSize(evaluator.KindTrust), evaluator.MaxUserInlineSize)
	fmt.Println(evaluator.Size(evaluator.KindIdentity, []byte(`{ "a": 1 }`)))
	// Output:
	// 5120 2048 2048
	// 7
}
