package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The realistic request: user alice, with identity policies of her own
// (one managed, one inline) and from two groups, a permissions boundary,
// and a bucket policy with a Deny on insecure transport and an Allow for
// her; a context with a source IP that a condition checks. Every layer of
// the evaluation takes part in the decision (Allow).
const (
	bucket          = "load-data"
	defaultAccount  = "111122223333"
	defaultResource = "arn:aws:s3:::" + bucket + "/reports/q3.pdf"
)

// defaultBody is the authorize request the generator sends unless --body
// replaces it.
func defaultBody() []byte {
	return []byte(`{"principal":"user:alice","action":"s3:GetObject","resource":"` + defaultResource +
		`","context":{"aws:SourceIp":"203.0.113.5","aws:SecureTransport":true}}`)
}

// setupCalls are the mutations that build the world of defaultBody, and
// the churn users and policy of --commit-rate, in commit order.
func setupCalls(acct string) []string {
	policy := func(name, doc string) string {
		return fmt.Sprintf(`{"call":"iam:CreatePolicy","with":{"policy_name":%q,"policy_document":%s}}`, name, doc)
	}
	arn := func(name string) string { return "arn:aws:iam::" + acct + ":policy/" + name }
	calls := []string{
		fmt.Sprintf(`{"call":"organizations:CreateAccount","with":{"account_id":%q}}`, acct),
		policy("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*"],"Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`),
		policy("app-read", `{"Version":"2012-10-17","Statement":[`+
			`{"Sid":"ReadReports","Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::`+bucket+`/reports/*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24"]}}},`+
			`{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::`+bucket+`"}]}`),
		policy("devs", `{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`+bucket+`/shared/*"},`+
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
		`{"call":"iam:PutUserPolicy","with":{"user_name":"alice","policy_name":"uploads","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/uploads/${aws:username}/*"}]}}}`,
		fmt.Sprintf(`{"call":"s3:CreateBucket","with":{"bucket":%q}}`, bucket),
		fmt.Sprintf(`{"call":"s3:PutBucketPolicy","with":{"bucket":%q,"policy":{"Version":"2012-10-17","Statement":[`+
			`{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},`+
			`{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}}}`,
			bucket, bucket, bucket, acct, bucket),
	}
	for w := range commitWorkers {
		calls = append(calls, fmt.Sprintf(`{"call":"iam:CreateUser","with":{"user_name":"churn-%d"}}`, w))
	}
	for i, c := range calls {
		if i > 0 { // the account itself is created by the default account, if any
			calls[i] = `{"account":"` + acct + `",` + c[1:]
		}
	}
	return calls
}

// alreadyDone says an error code means a previous setup made the same
// thing: setup runs again against a node that kept its state.
func alreadyDone(code string) bool {
	return strings.Contains(code, "AlreadyExists") || strings.Contains(code, "AlreadyOwned") ||
		strings.HasPrefix(code, "Duplicate")
}

// setup commits setupCalls at the node.
func setup(addr, token, acct string) error {
	cl := &http.Client{Timeout: 30 * time.Second}
	for _, body := range setupCalls(acct) {
		var code int
		var out []byte
		// A node that was just started may still be catching up (503):
		// retry for a while.
		for try := 0; ; try++ {
			req, err := http.NewRequest("POST", "http://"+addr+"/v1/mutations", strings.NewReader(body))
			if err != nil {
				return err
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := cl.Do(req)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			out, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			if code != http.StatusServiceUnavailable || try >= 50 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if code == http.StatusOK {
			continue
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(out, &e)
		if code == http.StatusBadRequest && alreadyDone(e.Error.Code) {
			continue
		}
		return fmt.Errorf("setup: %s: %d %s", firstLine(body), code, bytes.TrimSpace(out))
	}
	return nil
}

func firstLine(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
