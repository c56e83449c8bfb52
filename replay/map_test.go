package replay

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/trail"
)

func ev(id, source, name, region, params, response string) trail.Event {
	e := trail.Event{EventID: id, EventSource: source, EventName: name, AWSRegion: region,
		EventTime: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Recipient: "111122223333",
		Identity: trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin", AccountID: "111122223333", UserName: "admin", AccessKeyID: "AKIAADMIN"}}
	if params != "" {
		e.RequestParameters = json.RawMessage(params)
	}
	if response != "" {
		e.ResponseElements = json.RawMessage(response)
	}
	return e
}

func TestMapChanges(t *testing.T) {
	bucket := ev("b", "s3.amazonaws.com", "CreateBucket", "eu-west-1", `{"bucketName": "docs", "CreateBucketConfiguration": {"LocationConstraint": "ap-southeast-2"}}`, "")
	tests := []struct {
		name   string
		events []trail.Event
		call   string
		region string
		args   string // JSON the call's arguments must equal
		skip   string // or: the reason it is skipped
	}{
		{name: "iam is committed in us-east-1", events: []trail.Event{ev("1", "iam.amazonaws.com", "DetachUserPolicy", "eu-west-1", `{"userName": "bob", "policyArn": "arn:aws:iam::111122223333:policy/p"}`, "")},
			call: "iam:DetachUserPolicy", region: "us-east-1", args: `{"policy_arn":"arn:aws:iam::111122223333:policy/p","user_name":"bob"}`},
		{name: "aws-managed and pathed policies become the account's", events: []trail.Event{ev("1", "iam.amazonaws.com", "AttachRolePolicy", "us-east-1", `{"roleName": "r", "policyArn": "arn:aws:iam::aws:policy/job/ReadOnlyAccess"}`, "")},
			call: "iam:AttachRolePolicy", region: "us-east-1", args: `{"policy_arn":"arn:aws:iam::111122223333:policy/ReadOnlyAccess","role_name":"r"}`},
		{name: "bucket created with its location", events: []trail.Event{bucket},
			call: "s3:CreateBucket", region: "ap-southeast-2", args: `{"bucket":"docs","location_constraint":"ap-southeast-2"}`},
		{name: "bucket created without a location is in us-east-1", events: []trail.Event{ev("1", "s3.amazonaws.com", "CreateBucket", "us-east-1", `{"bucketName": "docs"}`, "")},
			call: "s3:CreateBucket", region: "us-east-1", args: `{"bucket":"docs","location_constraint":"us-east-1"}`},
		{name: "bucket policy committed in the bucket's region", events: []trail.Event{bucket, ev("2", "s3.amazonaws.com", "PutBucketPolicy", "ap-southeast-2", `{"bucketName": "docs", "bucketPolicy": {"Version": "2012-10-17"}, "policy": ""}`, "")},
			call: "s3:PutBucketPolicy", region: "ap-southeast-2", args: `{"bucket":"docs","policy":{"Version":"2012-10-17"}}`},
		{name: "bucket policy sent to another region's endpoint is committed there", events: []trail.Event{bucket, ev("2", "s3.amazonaws.com", "PutBucketPolicy", "us-east-2", `{"bucketName": "docs", "bucketPolicy": {"Version": "2012-10-17"}, "policy": ""}`, "")},
			call: "s3:PutBucketPolicy", region: "us-east-2", args: `{"bucket":"docs","policy":{"Version":"2012-10-17"}}`},
		{name: "object writes belong to the bucket's region", events: []trail.Event{bucket, ev("2", "s3.amazonaws.com", "PutObject", "us-east-2", `{"bucketName": "docs", "key": "a"}`, "")},
			call: "s3:PutObject", region: "ap-southeast-2", args: `{"bucket":"docs","key":"a"}`},
		{name: "bucket public access block", events: []trail.Event{ev("1", "s3.amazonaws.com", "PutBucketPublicAccessBlock", "eu-west-1", `{"bucketName": "docs", "PublicAccessBlockConfiguration": {"xmlns": "x", "BlockPublicAcls": true, "RestrictPublicBuckets": false}}`, "")},
			call: "s3:PutPublicAccessBlock", region: "eu-west-1", args: `{"block_public_acls":true,"bucket":"docs","restrict_public_buckets":false}`},
		{name: "account public access block", events: []trail.Event{ev("1", "s3.amazonaws.com", "PutAccountPublicAccessBlock", "eu-west-1", `{"PublicAccessBlockConfiguration": {"BlockPublicPolicy": true}}`, "")},
			call: "s3control:PutPublicAccessBlock", region: "eu-west-1", args: `{"account_id":"111122223333","block_public_policy":true}`},
		{name: "access key id from the response", events: []trail.Event{ev("1", "iam.amazonaws.com", "CreateAccessKey", "us-east-1", `{"userName": "bob"}`, `{"accessKey": {"accessKeyId": "AKIANEW", "status": "Active", "userName": "bob"}}`)},
			call: "iam:CreateAccessKey", region: "us-east-1", args: `{"access_key_id":"AKIANEW","user_name":"bob"}`},
		{name: "access key without response", events: []trail.Event{ev("1", "iam.amazonaws.com", "CreateAccessKey", "us-east-1", `{"userName": "bob"}`, "")},
			skip: "accessKeyId: missing"},
		{name: "organization ids become names", events: []trail.Event{
			ev("1", "organizations.amazonaws.com", "CreatePolicy", "us-east-1", `{"content": "{}", "name": "deny-s3", "type": "SERVICE_CONTROL_POLICY", "description": "d"}`, `{"policy": {"policySummary": {"id": "p-abc", "name": "deny-s3"}}}`),
			ev("2", "organizations.amazonaws.com", "AttachPolicy", "us-east-1", `{"policyId": "p-abc", "targetId": "r-root1"}`, "")},
			call: "organizations:AttachPolicy", region: "us-east-1", args: `{"policy_id":"deny-s3","target_id":"root"}`},
		{name: "a required argument missing", events: []trail.Event{ev("1", "iam.amazonaws.com", "DeleteUser", "us-east-1", `{}`, "")},
			skip: "no user_name"},
		{name: "failed call", events: []trail.Event{func() trail.Event {
			e := ev("1", "iam.amazonaws.com", "DeleteUser", "us-east-1", `{"userName": "bob"}`, "")
			e.ErrorCode = "AccessDenied"
			return e
		}()}, skip: "failed: AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Map(tt.events, nil)
			last := tt.events[len(tt.events)-1].EventID
			if tt.skip != "" {
				var skipped []Skip
				_ = p.EachSkip(func(s Skip) error { skipped = append(skipped, s); return nil })
				if len(skipped) != 1 || p.Skips() != 1 || skipped[0].EventID != last || !strings.Contains(skipped[0].Reason, tt.skip) {
					t.Fatalf("skipped %+v, want %s skipped for %q", skipped, last, tt.skip)
				}
				for _, c := range p.Changes {
					if c.EventID == last {
						t.Fatalf("skipped record also replayed: %+v", c)
					}
				}
				return
			}
			var got *Change
			for i := range p.Changes {
				if p.Changes[i].EventID == last {
					got = &p.Changes[i]
				}
			}
			if got == nil {
				t.Fatalf("no change for %s; unmapped %+v", last, p.Unmapped)
			}
			if got.Call.Action != tt.call || got.Region != tt.region || string(got.Call.Args) != tt.args {
				t.Errorf("got %s in %s with %s\nwant %s in %s with %s", got.Call.Action, got.Region, got.Call.Args, tt.call, tt.region, tt.args)
			}
		})
	}
}

func TestMapUnmodelledAndRequests(t *testing.T) {
	get := ev("g", "s3.amazonaws.com", "GetObject", "eu-west-1", `{"bucketName": "docs", "key": "a.pdf"}`, "")
	anon := get
	anon.EventID, anon.Identity = "g2", trail.Identity{Type: "AWSAccount", AccountID: "anonymous"}
	assumed := ev("r", "sts.amazonaws.com", "AssumeRole", "eu-west-1", `{"roleArn": "arn:aws:iam::111122223333:role/ops", "roleSessionName": "x"}`, "")
	events := []trail.Event{
		ev("1", "ec2.amazonaws.com", "RunInstances", "us-east-1", `{}`, ""),
		ev("2", "ec2.amazonaws.com", "RunInstances", "us-east-1", `{}`, ""),
		ev("3", "kms.amazonaws.com", "Decrypt", "us-east-1", `{}`, ""),
		get, anon, assumed,
	}
	p := Map(events, nil)
	if got := strings.Join(p.UnmodelledNames(), ","); got != "ec2:RunInstances,kms:Decrypt" || p.Unmodelled["ec2:RunInstances"] != 2 {
		t.Errorf("unmodelled %v", p.Unmodelled)
	}
	want := []Request{
		{Principal: "arn:aws:iam::111122223333:user/admin", Action: "s3:GetObject", Resource: "arn:aws:s3:::docs/a.pdf", Region: "eu-west-1"},
		{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::docs/a.pdf", Region: "eu-west-1"},
		{Principal: "arn:aws:iam::111122223333:user/admin", Action: "sts:AssumeRole", Resource: "arn:aws:iam::111122223333:role/ops", Region: "eu-west-1"},
	}
	var got []Request
	if err := p.EachRequest(func(r Request) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || p.Requests != len(want) {
		t.Fatalf("requests %+v (%d counted)", got, p.Requests)
	}
	for i, w := range want {
		g := got[i]
		if g.Principal != w.Principal || g.Action != w.Action || g.Resource != w.Resource || g.Region != w.Region {
			t.Errorf("request %d: got %+v, want %+v", i, g, w)
		}
	}
	if p.Buckets["docs"] != "eu-west-1" {
		t.Errorf("bucket region from its data events: %q", p.Buckets["docs"])
	}
}
