package trail

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadSnapshot(t *testing.T, name string) (*Snapshot, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return DecodeSnapshot(name, f)
}

func TestDecodeSnapshot(t *testing.T) {
	s, err := loadSnapshot(t, "snapshot/authorization-details.json")
	if err != nil {
		t.Fatal(err)
	}
	statement := func(doc json.RawMessage) string {
		var d struct{ Statement []struct{ Effect string } }
		if err := json.Unmarshal(doc, &d); err != nil || len(d.Statement) == 0 {
			return "unparsed"
		}
		return d.Statement[0].Effect
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"users", len(s.Users), 2},
		{"account", s.Account(), "111122223333"},
		{"url-encoded inline", statement(s.Users[1].Inline[0].Document), "Allow"},
		{"url-encoded group inline", statement(s.Groups[0].Inline[0].Document), "Allow"},
		{"url-encoded trust", statement(s.Roles[0].Trust), "Allow"},
		{"object version", statement(s.Policies[0].Versions[0].Document), "Allow"},
		{"url-encoded version", statement(s.Policies[0].Versions[1].Document), "Allow"},
		{"default version", strings.Contains(string(s.Policies[0].Default()), "ListBucket"), true},
		{"boundary", s.Users[1].Boundary, "arn:aws:iam::111122223333:policy/reports-read"},
		{"groups", strings.Join(s.Users[0].Groups, ","), "admins"},
		{"attached", strings.Join(s.Roles[0].Attached, ","), "arn:aws:iam::111122223333:policy/reports-read"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestDecodeSnapshotErrors(t *testing.T) {
	tests := []struct {
		name, input, field, reason string
	}{
		{"trust does not parse", "", "RoleDetailList[0].AssumeRolePolicyDocument (role ops)", "does not parse"},
		{"not a snapshot", `{"Records": []}`, "", "not get-account-authorization-details"},
		{"truncated", `{"UserDetailList": [`, "", "truncated"},
		{"one page", `{"UserDetailList": [], "IsTruncated": true}`, "", "IsTruncated"},
		{"bad percent", `{"GroupDetailList": [{"GroupName": "g", "GroupPolicyList": [{"PolicyName": "p", "PolicyDocument": "%7B%zz"}]}]}`, "GroupDetailList[0].GroupPolicyList[0].PolicyDocument (policy p)", "URL-encoded"},
		{"wrong type", `{"UserDetailList": [{"UserName": 3}]}`, "UserDetailList.UserName", "expected a string"},
		{"no name", `{"RoleDetailList": [{"AssumeRolePolicyDocument": {}}]}`, "RoleDetailList[0].RoleName", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			file := "input.json"
			if tt.input == "" {
				file = "bad/snapshot-bad-trust.json"
				_, err = loadSnapshot(t, file)
			} else {
				_, err = DecodeSnapshot(file, strings.NewReader(tt.input))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want *Error", err)
			}
			if e.File != file || e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got %+v, want field %q reason containing %q", *e, tt.field, tt.reason)
			}
		})
	}
}
