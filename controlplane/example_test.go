package controlplane_test

import (
	"encoding/json"
	"fmt"

	"github.com/iamprop/iamprop/controlplane"
)

// A public bucket made private: the origin validates each call with AWS's
// errors, every region folds the committed calls in order, and Authorize
// answers from a view.
func Example() {
	call := func(action, args string) controlplane.Call {
		return controlplane.Call{Action: action, Args: json.RawMessage(args)}
	}
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`
	private := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}`

	truth := controlplane.NewState()
	for _, c := range []controlplane.Call{
		call("organizations:CreateAccount", `{"account_id":"111122223333"}`),
		call("s3:CreateBucket", `{"bucket":"docs","location_constraint":"eu-west-1"}`),
		call("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+public+`}`),
		call("s3:PutObject", `{"bucket":"docs","key":"q3.pdf"}`),
	} {
		if err := truth.Validate(c); err != nil {
			fmt.Println(err)
			return
		}
		truth.Apply(c)
	}
	// A region far away holds a copy of the view (cloning is O(1)).
	region := truth.Clone()

	// The origin rejects a bad call with an AWS error naming the argument.
	fmt.Println(truth.Validate(call("s3:PutBucketPolicy", `{"bucket":"nope","policy":`+private+`}`)))

	// The fix commits at the origin; the far region has not applied it yet.
	fix := call("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+private+`}`)
	fmt.Println("revoke:", controlplane.IsRevoke(fix))
	truth.Apply(fix)

	read := controlplane.Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::docs/q3.pdf"}
	d, _ := truth.Authorize(read)
	fmt.Println("truth:", d.Effect)
	d, _ = region.Authorize(read)
	fmt.Println("region before apply:", d.Effect, "(an exposure)")

	region.Apply(fix)
	d, _ = region.Authorize(read)
	fmt.Println("region after apply:", d.Effect)
	fmt.Println("converged:", region.Digest() == truth.Digest())
	// Output:
	// NoSuchBucket: s3:PutBucketPolicy: bucket: the specified bucket nope does not exist
	// revoke: true
	// truth: ImplicitDeny
	// region before apply: Allow (an exposure)
	// region after apply: ImplicitDeny
	// converged: true
}

// Calls are rejected, never half-applied, when an argument is wrong.
func ExampleState_Validate() {
	s := controlplane.NewState()
	s.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	for _, args := range []string{`{"user_name":"alice","username":"x"}`, `{"user_name":true}`, `{"user_name":"alice"}`} {
		fmt.Println(s.Validate(controlplane.Call{Action: "iam:CreateUser", Args: json.RawMessage(args)}))
	}
	// Output:
	// ValidationError: iam:CreateUser: unknown argument "username"; accepted arguments: user_name, path, permissions_boundary
	// ValidationError: iam:CreateUser: argument "user_name" must be a string, got a boolean
	// <nil>
}
