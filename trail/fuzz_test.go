package trail

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, every
// failure must be an *Error naming the file, and every record it accepts
// must carry the fields the rest of iamprop relies on.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"Records": [{"eventTime": "2026-12-01T09:00:00Z", "eventID": "a", "eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1", "requestParameters": {"userName": "alice"}}]}`))
	f.Add([]byte(`{"Events": [{"EventId": "a", "CloudTrailEvent": "{\"eventTime\": \"2026-12-01T09:00:00Z\", \"eventID\": \"a\", \"eventName\": \"X\", \"eventSource\": \"s3.amazonaws.com\", \"awsRegion\": \"eu-west-1\"}"}], "NextToken": "t"}`))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := Decode("fuzz.json", bytes.NewReader(data), func(e Event) error {
			if e.EventID == "" || e.EventName == "" || e.EventSource == "" || e.AWSRegion == "" || e.EventTime.IsZero() {
				t.Fatalf("accepted a record without a required field: %+v", e)
			}
			if e.File != "fuzz.json" || e.Index != n {
				t.Fatalf("record %d: provenance %s/%d", n, e.File, e.Index)
			}
			n++
			return nil
		})
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || te.File != "fuzz.json" {
				t.Fatalf("error %v (%T) does not name the file", err, err)
			}
		}
		// The pipelined decoder delivers as many records and the same error.
		m := 0
		perr := DecodePipelined("fuzz.json", bytes.NewReader(data), func(Event) error { m++; return nil })
		if m != n || fmt.Sprint(perr) != fmt.Sprint(err) {
			t.Fatalf("pipelined: %d records, %v; Decode: %d records, %v", m, perr, n, err)
		}
	})
}
