package policytest_test

import (
	"fmt"
	"os"

	"github.com/iamprop/iamprop/policytest"
)

// Load a policy test file, run it and print the report, as
// `scenario test-policy` does.
func Example() {
	src := []byte(`
name: s3 basics
policies:
  alice-only:
    Version: "2012-10-17"
    Statement:
      - {Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:user/alice"}, Action: s3:GetObject, Resource: "arn:aws:s3:::docs/*"}
cases:
  - name: bob is not named by alice's bucket policy
    request: {principal: "arn:aws:iam::111122223333:user/bob", action: s3:GetObject, resource: "arn:aws:s3:::docs/a.pdf"}
    resource_policy: alice-only
    expect: implicit-deny
`)
	suite, err := policytest.Load("s3.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	var rep policytest.Report
	rep.Add(suite.Run()...)
	_ = rep.WriteText(os.Stdout)
	// Output:
	// PASS  s3.yaml: bob is not named by alice's bucket policy
	// 1 passed, 0 failed
}

// Every problem in a file is reported as file:line:col: field: reason.
func ExampleLoad_errors() {
	src := []byte(`cases:
  - name: typo
    request: {principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs/a"}
    identity: [public-read]
    expect: deny
`)
	_, err := policytest.Load("bad.yaml", src)
	fmt.Println(err)
	// Output:
	// bad.yaml:4:16: cases[0].identity[0]: unknown policy name "public-read" (the file has no `policies:` library)
	// bad.yaml:5:13: cases[0].expect: unknown decision "deny" (want allow, explicit-deny or implicit-deny)
}
