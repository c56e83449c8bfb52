package trail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// decodeFiles decodes the named files of testdata into one Merger.
func decodeFiles(t *testing.T, names ...string) (*Merger, error) {
	t.Helper()
	var m Merger
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := Decode(n, bytes.NewReader(data), m.Add); err != nil {
			return &m, err
		}
	}
	return &m, nil
}

const (
	iamFile    = "trail/111122223333_CloudTrail_us-east-1_20261201T0900Z_iam.json"
	s3File     = "trail/111122223333_CloudTrail_eu-west-1_20261201T0900Z_s3.json.gz"
	lookupFile = "trail/lookup-events.json"
)

func TestDecodeMergeOrderAndDuplicates(t *testing.T) {
	m, err := decodeFiles(t, lookupFile, iamFile, s3File)
	if err != nil {
		t.Fatal(err)
	}
	evs := m.Events()
	var names []string
	for _, e := range evs {
		names = append(names, e.EventName)
	}
	want := "CreateBucket CreateUser PutUserPolicy RunInstances DeleteUser PutBucketPolicy GetObject DeleteUserPolicy"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	if m.Duplicates() != 1 {
		t.Errorf("duplicates = %d, want 1 (PutUserPolicy is in the S3 file and in lookup-events)", m.Duplicates())
	}
	if !sort.SliceIsSorted(evs, func(i, j int) bool { return Less(&evs[i], &evs[j]) }) {
		t.Error("events not in trail order")
	}
}

func TestDecodeFields(t *testing.T) {
	m, err := decodeFiles(t, iamFile, s3File, lookupFile)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Event{}
	for _, e := range m.Events() {
		by[e.EventName] = e
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"time", by["CreateUser"].EventTime, time.Date(2026, 12, 1, 9, 0, 5, 0, time.UTC)},
		{"region", by["PutBucketPolicy"].AWSRegion, "eu-west-1"},
		{"service", by["PutBucketPolicy"].Service(), "s3"},
		{"failed", by["DeleteUser"].Failed(), true},
		{"error code", by["DeleteUser"].ErrorCode, "DeleteConflict"},
		{"not failed", by["CreateUser"].Failed(), false},
		{"issuer", by["DeleteUser"].Identity.IssuerARN, "arn:aws:iam::111122223333:role/ops"},
		{"read only", by["GetObject"].ReadOnly, true},
		{"category", by["GetObject"].EventCategory, "Data"},
		{"resources", len(by["GetObject"].Resources), 2},
		{"null response", by["PutUserPolicy"].ResponseElements == nil, true},
		{"lookup file", by["DeleteUserPolicy"].File, lookupFile},
		{"lookup index", by["DeleteUserPolicy"].Index, 1},
		{"user", by["GetObject"].Identity.UserName, "alice"},
		{"key", by["GetObject"].Identity.AccessKeyID, "AKIAEXAMPLEALICE001"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, file, input string
		record            int
		field, reason     string
	}{
		{name: "truncated gzip", file: "bad/truncated.json.gz", record: 1, reason: "truncated"},
		{name: "no eventTime", file: "bad/no-event-time.json", record: 1, field: "eventTime", reason: "missing"},
		{name: "not JSON", input: "hello", record: -1, reason: "invalid JSON"},
		{name: "empty", input: "", record: -1, reason: "truncated"},
		{name: "no list", input: `{"NextToken": "x"}`, record: -1, reason: "neither"},
		{name: "list is object", input: `{"Records": {}}`, record: -1, reason: "expected a list"},
		{name: "both lists", input: `{"Records": [], "Events": []}`, record: -1, reason: "both"},
		{name: "record not object", input: `{"Records": [3]}`, record: 0, reason: "expected a JSON object"},
		{name: "bad time", input: `{"Records": [{"eventTime": "yesterday", "eventID": "a", "eventName": "X", "eventSource": "s", "awsRegion": "r"}]}`, record: 0, field: "eventTime", reason: "not a UTC time"},
		{name: "no eventID", input: `{"Records": [{"eventTime": "2026-12-01T09:00:00Z", "eventName": "X", "eventSource": "s", "awsRegion": "r"}]}`, record: 0, field: "eventID", reason: "missing"},
		{name: "wrong type", input: `{"Records": [{"eventTime": "2026-12-01T09:00:00Z", "eventID": 7}]}`, record: 0, field: "eventID", reason: "expected a string"},
		{name: "bad readOnly", input: `{"Records": [{"eventTime": "2026-12-01T09:00:00Z", "eventID": "a", "eventName": "X", "eventSource": "s", "awsRegion": "r", "readOnly": 3}]}`, record: 0, field: "readOnly", reason: "true or false"},
		{name: "lookup without CloudTrailEvent", input: `{"Events": [{"EventId": "a"}]}`, record: 0, field: "CloudTrailEvent", reason: "missing"},
		{name: "lookup event not JSON", input: `{"Events": [{"CloudTrailEvent": "{oops"}]}`, record: 0, field: "CloudTrailEvent", reason: "invalid JSON"},
		{name: "lookup event field", input: `{"Events": [{"CloudTrailEvent": "{\"eventID\": \"a\"}"}]}`, record: 0, field: "CloudTrailEvent.eventTime", reason: "missing"},
		{name: "trailing data", input: `{"Records": []} {}`, record: -1, reason: "after the JSON object"},
		{name: "truncated record", input: `{"Records": [{"eventTime": "2026`, record: 0, reason: "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			file := tt.file
			if file == "" {
				file = "input.json"
				err = Decode(file, strings.NewReader(tt.input), func(Event) error { return nil })
			} else {
				_, err = decodeFiles(t, file)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.File != file || e.Record != tt.record || e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got %+v\nwant file %s record %d field %q reason containing %q", *e, file, tt.record, tt.field, tt.reason)
			}
			if !strings.HasPrefix(e.Error(), file+": ") {
				t.Errorf("message %q does not start with the file", e.Error())
			}
		})
	}
}

func TestDecodeCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	data, err := os.ReadFile(filepath.Join("testdata", iamFile))
	if err != nil {
		t.Fatal(err)
	}
	err = Decode(iamFile, bytes.NewReader(data), func(Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d records, want stop after 1", err, n)
	}
}

// TestDecodePipelined: the pipelined decoder delivers what Decode
// delivers, in the same order, returns the same errors, and stops when
// the callback fails, also past a batch boundary.
func TestDecodePipelined(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"Records": [`)
	for i := range 2000 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"eventTime": "2026-12-01T09:00:00Z", "eventID": "e%04d", "eventName": "X", "eventSource": "s", "awsRegion": "r"}`, i)
	}
	many.WriteString(`]}`)
	stop := errors.New("stop")
	tests := []struct {
		name, input string
		failAt      int // the callback fails at this record; -1 never
	}{
		{"many records", many.String(), -1},
		{"callback fails past a batch", many.String(), 1500},
		{"callback fails at once", many.String(), 0},
		{"truncated", many.String()[:many.Len()/2], -1},
		{"no eventID", `{"Records": [{"eventTime": "2026-12-01T09:00:00Z", "eventName": "X", "eventSource": "s", "awsRegion": "r"}]}`, -1},
		{"wrong type after good records", many.String()[:many.Len()-2] + `,{"eventTime": "2026-12-01T09:00:00Z", "eventID": 7}]}`, -1},
		{"record not an object", `{"Records": [3]}`, -1},
		{"trailing data", many.String() + ` {}`, -1},
		{"lookup-events", `{"Events": [{"CloudTrailEvent": "{\"eventTime\": \"2026-12-01T09:00:00Z\", \"eventID\": \"a\", \"eventName\": \"X\", \"eventSource\": \"s\", \"awsRegion\": \"r\"}"}, {"EventId": "b"}], "NextToken": "t"}`, -1},
		{"not JSON", `hello`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			collect := func(decode func(string, io.Reader, func(Event) error) error) ([]string, error) {
				var ids []string
				err := decode("in.json", strings.NewReader(tt.input), func(e Event) error {
					if len(ids) == tt.failAt {
						return stop
					}
					ids = append(ids, e.EventID)
					return nil
				})
				return ids, err
			}
			want, wantErr := collect(Decode)
			got, err := collect(DecodePipelined)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("pipelined: %d records, error %v; Decode: %d records, error %v", len(got), err, len(want), wantErr)
			}
			if tt.failAt >= 0 && !errors.Is(err, stop) {
				t.Errorf("error %v, want the callback's", err)
			}
		})
	}
}
