// Package trailgen generates large synthetic CloudTrail log files as they
// are read, for benchmarks of the trail decoder and the replay: they need
// a million records without a million records on disk or in memory.
package trailgen

import (
	"fmt"
	"io"
	"time"
)

// Reader streams one CloudTrail log file ({"Records": [...]}) of N
// records, 10 ms apart from Start: Users IAM users are created first,
// then every ChangeEvery-th record puts or deletes (alternately, per user)
// an inline policy that allows s3:GetObject, and every other record is a
// successful GetObject by one of the users on one of Keys objects of a
// bucket in eu-west-1, except that every FailEvery-th of them (none when
// 0) failed with AccessDenied.
type Reader struct {
	N, Users, Keys, ChangeEvery int
	FailEvery                   int
	Start                       time.Time
	i                           int
	buf                         []byte
	toggles                     []bool
}

const identity = `{"type":"IAMUser","principalId":"AIDAEXAMPLE%d","arn":"arn:aws:iam::111122223333:user/%s","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE%d","userName":"%s"}`

func (g *Reader) record(i int) {
	at := g.Start.Add(time.Duration(i) * 10 * time.Millisecond).Format(time.RFC3339Nano)
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	admin := fmt.Sprintf(identity, 0, "admin", 0, "admin")
	switch {
	case i <= g.Users:
		g.buf = fmt.Appendf(g.buf, `{"eventVersion":"1.11","userIdentity":%s,"eventTime":%q,"eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.22.0","requestParameters":{"userName":"u%d"},"responseElements":null,"requestID":"r%d","eventID":%q,"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
			admin, at, i-1, i, id)
	case i%g.ChangeEvery == 0:
		u := (i / g.ChangeEvery) % g.Users
		if g.toggles == nil {
			g.toggles = make([]bool, g.Users)
		}
		g.toggles[u] = !g.toggles[u]
		if g.toggles[u] {
			g.buf = fmt.Appendf(g.buf, `{"eventVersion":"1.11","userIdentity":%s,"eventTime":%q,"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.22.0","requestParameters":{"userName":"u%d","policyName":"read","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"},"responseElements":null,"requestID":"r%d","eventID":%q,"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
				admin, at, u, i, id)
		} else {
			g.buf = fmt.Appendf(g.buf, `{"eventVersion":"1.11","userIdentity":%s,"eventTime":%q,"eventSource":"iam.amazonaws.com","eventName":"DeleteUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.22.0","requestParameters":{"userName":"u%d","policyName":"read"},"responseElements":null,"requestID":"r%d","eventID":%q,"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
				admin, at, u, i, id)
		}
	default:
		u := i % g.Users
		name := fmt.Sprintf("u%d", u)
		failed := ""
		if g.FailEvery > 0 && i%g.FailEvery == 0 {
			failed = `"errorCode":"AccessDenied","errorMessage":"Access Denied",`
		}
		g.buf = fmt.Appendf(g.buf, `{"eventVersion":"1.11","userIdentity":%s,"eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1",%s"sourceIPAddress":"198.51.100.9","userAgent":"[aws-cli/2.22.0]","requestParameters":{"bucketName":"example-reports","Host":"example-reports.s3.eu-west-1.amazonaws.com","key":"k%d"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","bytesTransferredIn":0,"bytesTransferredOut":28441},"requestID":"r%d","eventID":%q,"readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::example-reports/k%d"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data"}`,
			fmt.Sprintf(identity, u+1, name, u+1, name), at, failed, i%g.Keys, i, id, i%g.Keys)
	}
}

// Read implements io.Reader.
func (g *Reader) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.N+1 {
		switch {
		case g.i == 0:
			g.buf = append(g.buf, `{"Records": [`...)
		case g.i == g.N+1:
			g.buf = append(g.buf, "\n]}"...)
		default:
			if g.i > 1 {
				g.buf = append(g.buf, ",\n"...)
			}
			g.record(g.i)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}
