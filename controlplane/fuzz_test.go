package controlplane

import (
	"encoding/json"
	"testing"
)

// hostile argument payloads every call must reject or accept cleanly.
var hostile = []string{
	``, `null`, `[]`, `"x"`, `7`, `{`, `{"a":`, `{"user_name":null}`, `{"user_name":{}}`, `{"user_name":[]}`,
	`{"policy_document":"{"}`, `{"policy_document":"[]"}`, `{"policy_document":[]}`, `{"policy":"null"}`,
	`{"bucket":"docs","key":""}`, `{"status":"Inactive","access_key_id":""}`, `{"account_id":"1"}`,
	`{"bucket":"docs","policy":{"Statement":{}}}`, `{"policy_arn":"arn:aws:iam::111122223333:policy/"}`,
	`{"policy_arn":"arn:aws:iam:::policy/x"}`, `{"target_id":"ou:","policy_id":""}`, `{"name":"","type":"","content":""}`,
}

// TestHostileArguments: no call panics or half-applies on bad arguments.
func TestHostileArguments(t *testing.T) {
	for _, spec := range Catalog() {
		for _, args := range hostile {
			s := authWorld(t)
			before := s.Digest()
			c := Call{Action: spec.Action, Args: json.RawMessage(args)}
			err := s.Validate(c)
			if s.Digest() != before {
				t.Fatalf("%s %s: Validate changed the state", spec.Action, args)
			}
			if err == nil {
				continue
			}
			codeOf(t, err)
			s.Apply(c)
			if s.Digest() != before {
				t.Fatalf("%s %s: a rejected call changed the state", spec.Action, args)
			}
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, h := range hostile {
		f.Add("iam:CreateUser", h)
	}
	f.Add("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)
	f.Add("organizations:AttachPolicy", `{"policy_id":"x","target_id":"root"}`)
	f.Fuzz(func(t *testing.T, action, args string) {
		s := base(t)
		before := s.Digest()
		c := Call{Action: action, Args: json.RawMessage(args)}
		if err := s.Validate(c); err != nil {
			codeOf(t, err)
			s.Apply(c)
			if s.Digest() != before {
				t.Fatalf("a rejected call changed the state")
			}
		}
		IsRevoke(c)
	})
}
