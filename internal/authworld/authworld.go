// Package authworld is the realistic authorize request of the region
// node's load benchmarks (cmd/authload, api's handler benchmark): the
// mutations that build its world through the API, and the request itself.
package authworld

import "fmt"

// The realistic request: user alice, with identity policies of her own
// (one managed, one inline) and from two groups, a permissions boundary,
// and a bucket policy with a Deny on insecure transport and an Allow for
// her; a context with a source IP that a condition checks. Every layer of
// the evaluation takes part in the decision (Allow).
const (
	// Bucket is the bucket of the request, with the bucket policy.
	Bucket = "load-data"
	// Account is the default account of the world (authload --account).
	Account = "111122223333"
	// Resource is the object the request reads.
	Resource = "arn:aws:s3:::" + Bucket + "/reports/q3.pdf"
)

// Body is the realistic authorize request (JSON of POST /v1/authorize);
// its decision is Allow in the world Calls builds.
func Body() []byte {
	return []byte(`{"principal":"user:alice","action":"s3:GetObject","resource":"` + Resource +
		`","context":{"aws:SourceIp":"203.0.113.5","aws:SecureTransport":true}}`)
}

// Calls are the bodies of POST /v1/mutations that build the world of Body
// in account acct, in commit order, with a policy "churn" and churnUsers
// users churn-0, churn-1, ... for a commit load to attach and detach it.
func Calls(acct string, churnUsers int) []string {
	policy := func(name, doc string) string {
		return fmt.Sprintf(`{"call":"iam:CreatePolicy","with":{"policy_name":%q,"policy_document":%s}}`, name, doc)
	}
	arn := func(name string) string { return "arn:aws:iam::" + acct + ":policy/" + name }
	calls := []string{
		fmt.Sprintf(`{"call":"organizations:CreateAccount","with":{"account_id":%q}}`, acct),
		policy("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*"],"Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`),
		policy("app-read", `{"Version":"2012-10-17","Statement":[`+
			`{"Sid":"ReadReports","Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::`+Bucket+`/reports/*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24"]}}},`+
			`{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::`+Bucket+`"}]}`),
		policy("devs", `{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`+Bucket+`/shared/*"},`+
			`{"Effect":"Deny","Action":["s3:DeleteObject","s3:PutBucketPolicy"],"Resource":"*"}]}`),
		policy("ops", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","cloudwatch:Get*"],"Resource":"*"}]}`),
		policy("churn", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`),
		`{"call":"iam:CreateGroup","with":{"group_name":"devs"}}`,
		`{"call":"iam:CreateGroup","with":{"group_name":"ops"}}`,
		fmt.Sprintf(`{"call":"iam:AttachGroupPolicy","with":{"group_name":"devs","policy_arn":%q}}`, arn("devs")),
		fmt.Sprintf(`{"call":"iam:AttachGroupPolicy","with":{"group_name":"ops","policy_arn":%q}}`, arn("ops")),
		fmt.Sprintf(`{"call":"iam:CreateUser","with":{"user_name":"alice","permissions_boundary":%q}}`, arn("boundary")),
		`{"call":"iam:AddUserToGroup","with":{"group_name":"devs","user_name":"alice"}}`,
		`{"call":"iam:AddUserToGroup","with":{"group_name":"ops","user_name":"alice"}}`,
		fmt.Sprintf(`{"call":"iam:AttachUserPolicy","with":{"user_name":"alice","policy_arn":%q}}`, arn("app-read")),
		`{"call":"iam:PutUserPolicy","with":{"user_name":"alice","policy_name":"uploads","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + Bucket + `/uploads/${aws:username}/*"}]}}}`,
		fmt.Sprintf(`{"call":"s3:CreateBucket","with":{"bucket":%q}}`, Bucket),
		fmt.Sprintf(`{"call":"s3:PutBucketPolicy","with":{"bucket":%q,"policy":{"Version":"2012-10-17","Statement":[`+
			`{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},`+
			`{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}}}`,
			Bucket, Bucket, Bucket, acct, Bucket),
	}
	for w := range churnUsers {
		calls = append(calls, fmt.Sprintf(`{"call":"iam:CreateUser","with":{"user_name":"churn-%d"}}`, w))
	}
	for i, c := range calls {
		if i > 0 { // the account itself is created by the default account, if any
			calls[i] = `{"account":"` + acct + `",` + c[1:]
		}
	}
	return calls
}
