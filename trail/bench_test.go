package trail

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// genTrail streams a CloudTrail log file of n records without holding it:
// mostly S3 data events, one IAM change in 50, as a busy account's trail.
type genTrail struct {
	n, i int
	buf  []byte
	t0   time.Time
}

func (g *genTrail) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		switch {
		case g.i == 0:
			g.buf = append(g.buf, `{"Records": [`...)
		case g.i == g.n:
			g.buf = append(g.buf, "\n]}"...)
		default:
			if g.i > 1 {
				g.buf = append(g.buf, ',')
			}
			at := g.t0.Add(time.Duration(g.i) * 10 * time.Millisecond).Format(time.RFC3339Nano)
			if g.i%50 == 0 {
				g.buf = fmt.Appendf(g.buf, `
{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"admin"},"eventTime":%q,"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.22.0","requestParameters":{"userName":"u%d","policyName":"p","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"},"responseElements":null,"requestID":"r%d","eventID":"e%09d","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, at, g.i%100, g.i, g.i)
			} else {
				g.buf = fmt.Appendf(g.buf, `
{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/u%d","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE%d","userName":"u%d"},"eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.9","userAgent":"[aws-cli/2.22.0]","requestParameters":{"bucketName":"example-reports","Host":"example-reports.s3.eu-west-1.amazonaws.com","key":"k%d"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","bytesTransferredIn":0,"bytesTransferredOut":28441},"requestID":"r%d","eventID":"e%09d","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::example-reports/k%d"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data"}`, g.i%100, g.i%100, g.i%100, at, g.i%1000, g.i, g.i, g.i%1000)
			}
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

// BenchmarkDecodeMerge decodes and merges a trail of -records records,
// generated as it is read; heap-MB is the live heap once merged.
func BenchmarkDecodeMerge(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				var m Merger
				if err := Decode("gen.json", &genTrail{n: n, t0: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, m.Add); err != nil {
					b.Fatal(err)
				}
				if got := len(m.Events()); got != n-1 {
					b.Fatalf("%d records, want %d", got, n-1)
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
				runtime.KeepAlive(&m)
			}
		})
	}
}
