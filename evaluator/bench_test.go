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
