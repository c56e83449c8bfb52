package evaluator

import (
	"fmt"
	"strings"
	"testing"
)

// benchServices rotate across the statements of the managed policies.
var benchServices = []string{"s3", "ec2", "dynamodb", "sqs", "sns", "lambda", "iam", "kms", "logs", "cloudwatch"}

// benchManaged builds managed policy i of the benchmark set (described in
// docs/benchmarks.md ("Evaluator benchmark"), which the cedar comparison mirrors).
func benchManaged(i int) string {
	var stmts []string
	for j := range 10 {
		svc := benchServices[(i+j)%10]
		var s string
		switch {
		case j == 9: // the statement that grants the benchmark request, via a variable
			s = `{"Sid":"Home","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::corp-data/home/${aws:username}/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}`
		case j == 8:
			s = `{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`
		default:
			res := fmt.Sprintf("arn:aws:%s:us-east-1:111122223333:res-%d-%d/*", svc, i, j)
			if svc == "s3" {
				res = fmt.Sprintf("arn:aws:s3:::team-%d-%d/*", i, j)
			}
			cond := ""
			switch j % 3 {
			case 0:
				cond = fmt.Sprintf(`,"Condition":{"IpAddress":{"aws:SourceIp":"10.%d.0.0/16"}}`, i)
			case 1:
				cond = `,"Condition":{"Bool":{"aws:SecureTransport":"true"}}`
			}
			s = fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":["%s:Get*","%s:List*"],"Resource":"%s"%s}`, j, svc, svc, res, cond)
		}
		stmts = append(stmts, s)
	}
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

const (
	benchSCP = `{"Version":"2012-10-17","Statement":[{"Sid":"RegionLock","Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}`
	benchFullAccess = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	benchBoundary   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*","dynamodb:*"],"Resource":"*"},` +
		`{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	benchBucket = `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::corp-data","arn:aws:s3:::corp-data/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},` +
		`{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::corp-data/*"},` +
		`{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::corp-data/inbox/*"}]}`
)

// benchSetup returns the benchmark request and its policy set.
func benchSetup(t testing.TB) (*Request, *Input) {
	in := &Input{
		SCPs:           [][]*Policy{{mustParse(t, "FullAWSAccess", KindSCP, benchFullAccess), mustParse(t, "region-lock", KindSCP, benchSCP)}},
		Boundary:       mustParse(t, "boundary", KindBoundary, benchBoundary),
		ResourcePolicy: mustParse(t, "corp-data", KindResource, benchBucket),
	}
	for i := range 10 {
		in.Identity = append(in.Identity, mustParse(t, fmt.Sprintf("managed-%d", i), KindIdentity, benchManaged(i)))
	}
	ctx, err := NewContext(map[string]any{"aws:SourceIp": "10.3.4.5", "aws:SecureTransport": true, "aws:RequestedRegion": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::corp-data/home/alice/report.csv", Context: ctx}
	if d := Evaluate(req, in); d.Effect != Allow {
		t.Fatalf("benchmark request: got %v, want Allow: %s", d.Effect, d.Explain().Summary)
	}
	return req, in
}

// BenchmarkEvaluate is the realistic request: target <= 1 µs/op, 0 allocs/op.
func BenchmarkEvaluate(b *testing.B) {
	req, in := benchSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(req, in).Effect != Allow {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkEvaluateDenied: same set, an action every identity statement
// misses (walks the index, finds no Allow).
func BenchmarkEvaluateDenied(b *testing.B) {
	req, in := benchSetup(b)
	r := *req
	r.Action = "s3:PutObject"
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(&r, in).Effect == Allow {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkParse measures compiling one managed policy of the set.
func BenchmarkParse(b *testing.B) {
	doc := []byte(benchManaged(3))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("m", KindIdentity, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// fillPolicy builds a document of statements from stmt(k), k = 0, 1, ...,
// as many as fit in limit as size counts it, then the final statements.
func fillPolicy(kind Kind, limit int, stmt func(k int) string, final ...string) string {
	wrap := func(stmts []string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	}
	stmts := append([]string(nil), final...)
	for k := 0; ; k++ {
		next := append([]string{stmt(k)}, stmts...)
		if Size(kind, []byte(wrap(next))) > limit {
			return wrap(stmts)
		}
		stmts = next
	}
}

// limitsManaged is managed policy i of the AWS-limits set: statements on
// many buckets and services, filled to the 6,144-character quota. Half the
// statements are on S3, so the service index leaves many candidates.
func limitsManaged(i int, final ...string) string {
	return fillPolicy(KindIdentity, MaxManagedSize, func(k int) string {
		svc := benchServices[k%10]
		if k%2 == 0 {
			svc = "s3"
		}
		res := fmt.Sprintf("arn:aws:%s:us-east-1:111122223333:res-%d-%d/*", svc, i, k)
		if svc == "s3" {
			res = fmt.Sprintf("arn:aws:s3:::team-%d-%d/*", i, k)
		}
		cond := ""
		if k%3 == 0 {
			cond = fmt.Sprintf(`,"Condition":{"StringEquals":{"aws:PrincipalTag/team":"t%d"}}`, k)
		}
		return fmt.Sprintf(`{"Sid":"M%dS%d","Effect":"Allow","Action":["%s:Get*","%s:List*","%s:Describe*"],"Resource":"%s"%s}`, i, k, svc, svc, svc, res, cond)
	}, final...)
}

// benchLimitsSetup returns the benchmark request and a policy set at AWS's
// quotas (docs/benchmarks.md, "At AWS's limits"): a user in 10 groups with
// 20 managed policies of 6,144 characters, one inline policy per group
// (5,120) and a user inline policy (2,048), a 20 KB bucket policy, 5 SCP
// levels of 5,120 bytes, and a 6,144-character boundary. The granting
// statement is the last statement of the last managed policy.
func benchLimitsSetup(t testing.TB) (*Request, *Input) {
	check := func(name string, kind Kind, doc string, max int) *Policy {
		if size := Size(kind, []byte(doc)); size > max || size < max*9/10 {
			t.Fatalf("%s: %d of %d: not at the quota", name, size, max)
		}
		return mustParse(t, name, kind, doc)
	}
	in := &Input{}
	home := `{"Sid":"Home","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::corp-data/home/${aws:username}/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}`
	for i := range 20 {
		var final []string
		if i == 19 {
			final = []string{home}
		}
		in.Identity = append(in.Identity, check(fmt.Sprintf("managed-%d", i), KindIdentity, limitsManaged(i, final...), MaxManagedSize))
	}
	for g := range 10 {
		doc := fillPolicy(KindIdentity, MaxGroupInlineSize, func(k int) string {
			return fmt.Sprintf(`{"Sid":"G%dS%d","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/g%d-%d"}`, g, k, g, k)
		})
		in.Identity = append(in.Identity, check(fmt.Sprintf("group-%d-inline", g), KindIdentity, doc, MaxGroupInlineSize))
	}
	userInline := fillPolicy(KindIdentity, MaxUserInlineSize, func(k int) string {
		return fmt.Sprintf(`{"Sid":"U%d","Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::protected-%d/*"}`, k, k)
	})
	in.Identity = append(in.Identity, check("user-inline", KindIdentity, userInline, MaxUserInlineSize))
	bucket := fillPolicy(KindResource, MaxBucketPolicySize, func(k int) string {
		return fmt.Sprintf(`{"Sid":"Partner%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%012d:root"},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::corp-data/partners/p%d/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.%d.0/24"}}}`, k, 500000000000+k, k, k%250)
	}, `{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::corp-data","arn:aws:s3:::corp-data/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
		`{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::corp-data/*"}`)
	in.ResourcePolicy = check("corp-data", KindResource, bucket, MaxBucketPolicySize)
	for level := range 5 {
		scp := fillPolicy(KindSCP, MaxSCPSize, func(k int) string {
			svc := benchServices[(level+k)%10]
			return fmt.Sprintf(`{"Sid":"L%dD%d","Effect":"Deny","Action":["%s:Delete*","%s:Put*Policy"],"Resource":"arn:aws:%s:*:*:locked-%d-%d*"}`, level, k, svc, svc, svc, level, k)
		}, benchSCP[len(`{"Version":"2012-10-17","Statement":[`):len(benchSCP)-2])
		in.SCPs = append(in.SCPs, []*Policy{mustParse(t, fmt.Sprintf("FullAWSAccess-%d", level), KindSCP, benchFullAccess), check(fmt.Sprintf("scp-%d", level), KindSCP, scp, MaxSCPSize)})
	}
	boundary := fillPolicy(KindBoundary, MaxManagedSize, func(k int) string {
		return fmt.Sprintf(`{"Sid":"B%d","Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::111122223333:role/admin-%d"}`, k, k)
	}, `{"Sid":"Services","Effect":"Allow","Action":["s3:*","ec2:*","dynamodb:*"],"Resource":"*"}`)
	in.Boundary = check("boundary", KindBoundary, boundary, MaxManagedSize)
	ctx, err := NewContext(map[string]any{"aws:SourceIp": "10.3.4.5", "aws:SecureTransport": true, "aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "t7"})
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::corp-data/home/alice/report.csv", Context: ctx}
	if d := Evaluate(req, in); d.Effect != Allow {
		t.Fatalf("limits request: got %v, want Allow: %s", d.Effect, d.Explain().Summary)
	}
	return req, in
}

// BenchmarkEvaluateAtLimits decides the realistic request against a policy
// set at AWS's quotas: target within 3x BenchmarkEvaluate, 0 allocs/op.
func BenchmarkEvaluateAtLimits(b *testing.B) {
	req, in := benchLimitsSetup(b)
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(req, in).Effect != Allow {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkEvaluateAtLimitsDenied: the same set, an action no statement
// allows (every candidate statement is checked).
func BenchmarkEvaluateAtLimitsDenied(b *testing.B) {
	req, in := benchLimitsSetup(b)
	r := *req
	r.Action = "s3:PutObject"
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(&r, in).Effect == Allow {
			b.Fatal("allowed")
		}
	}
}
