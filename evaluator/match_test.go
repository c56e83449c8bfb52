package evaluator

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"abc", "abc", false, true},
		{"abc", "ABC", false, false},
		{"abc", "ABC", true, true},
		{"Get*", "GetObject", false, true},
		{"get*", "GetObject", true, true},
		{"*Object", "GetObject", false, true},
		{"*Obj*", "GetObjectAcl", false, true},
		{"G?t*", "GetObject", false, true},
		{"G?t", "Gt", false, false},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbYd", false, false},
		{"a*a*a", "aaaa", false, true},
		{"*ab", "aab", false, true},
		{"a**", "a", false, true},
		{"?", "é", false, true}, // one character, not one byte
		{"??", "é", false, false},
	}
	for _, tt := range tests {
		if got := MatchWildcard(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("MatchWildcard(%q, %q, %v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}

func TestMatchARN(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"*", "arn:aws:s3:::b", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/k/x", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false},
		{"arn:aws:s3:::b*", "arn:aws:s3:::bucket/k", true},
		{"arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/alice", true},
		{"arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:role/alice", false},
		{"arn:aws:*:*:*:*", "arn:aws:sns:us-east-1:1:t", true},
		{"arn:aws:sns:*:t", "arn:aws:sns:us-east-1:1:t", false},     // malformed pattern matches nothing
		{"arn:aws:sns:*:*:t", "arn:aws:sns:us-east-1:1:x:t", false}, // '*' in ACCOUNT does not eat "1:x"
		{"arn:aws:sns:*:*:*t", "arn:aws:sns:us-east-1:1:x:t", true}, // the resource part keeps its colons
		{"arn:aws:s3:::B", "arn:aws:s3:::b", false},                 // case-sensitive
		{"arn:aws:s3:::b", "not-an-arn", false},
	}
	for _, tt := range tests {
		if got := MatchARN(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("MatchARN(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}

func TestParsePrincipal(t *testing.T) {
	tests := []struct {
		in   string
		want Principal
		err  string
	}{
		{"anonymous", Principal{Type: PrincipalAnonymous}, ""},
		{"111122223333", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: "111122223333"}, ""},
		{"arn:aws:iam::111122223333:root", Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::111122223333:root", Account: "111122223333"}, ""},
		{"arn:aws:iam::111122223333:user/dev/alice", Principal{Type: PrincipalUser, ARN: "arn:aws:iam::111122223333:user/dev/alice", Account: "111122223333", Name: "alice", Path: "/dev/"}, ""},
		{"arn:aws:iam::111122223333:role/deployer", Principal{Type: PrincipalRole, ARN: "arn:aws:iam::111122223333:role/deployer", Account: "111122223333", Name: "deployer", Path: "/"}, ""},
		{"arn:aws:sts::111122223333:assumed-role/deployer/ci", session, ""},
		{"arn:aws:sts::111122223333:federated-user/carol", Principal{Type: PrincipalFederated, ARN: "arn:aws:sts::111122223333:federated-user/carol", Account: "111122223333", Name: "carol"}, ""},
		{"s3.amazonaws.com", s3svc, ""},
		{"alice", Principal{}, "expected"},
		{"arn:aws:iam::12:user/alice", Principal{}, "12-digit"},
		{"arn:aws:sts::111122223333:assumed-role/deployer", Principal{}, "assumed-role/ROLE/SESSION"},
		{"arn:aws:s3::111122223333:bucket", Principal{}, "not a user"},
	}
	for _, tt := range tests {
		got, err := ParsePrincipal(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePrincipal(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePrincipal(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestIsPublic(t *testing.T) {
	stmt := func(principal, cond string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + `}]}`
	}
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"Principal *", stmt(`"*"`, ""), true},
		{"AWS *", stmt(`{"AWS":"*"}`, ""), true},
		{"named account", stmt(`{"AWS":"111122223333"}`, ""), false},
		{"service", stmt(`{"Service":"cloudtrail.amazonaws.com"}`, ""), false},
		{"star limited by org id", stmt(`"*"`, `{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}`), false},
		{"star limited by source vpce", stmt(`"*"`, `{"StringEquals":{"aws:SourceVpce":"vpce-1"}}`), false},
		{"star limited by a narrow IP range", stmt(`"*"`, `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), false},
		{"star with the whole internet", stmt(`"*"`, `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`), true},
		{"star with wildcard org id", stmt(`"*"`, `{"StringLike":{"aws:PrincipalOrgID":"o-*"}}`), true},
		{"star with a non-limiting key", stmt(`"*"`, `{"StringEquals":{"aws:Referer":"https://example.com"}}`), true},
		{"star with a negated operator", stmt(`"*"`, `{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}`), true},
		{"deny with star is not public", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`, false},
	}
	for _, tt := range tests {
		p := mustParse(t, tt.name, KindResource, tt.doc)
		if p.IsPublic() != tt.want {
			t.Errorf("%s: IsPublic = %v, want %v", tt.name, p.IsPublic(), tt.want)
		}
	}
	if mustParse(t, "identity", KindIdentity, doc("Allow", "*", "*", "")).IsPublic() {
		t.Error("an identity policy is never public")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []Kind{KindIdentity, KindResource, KindTrust, KindSCP, KindRCP} {
			p, err := Parse("fuzz", k, data)
			if (p == nil) == (err == nil) {
				t.Fatalf("Parse must return exactly one of a policy and an error")
			}
			if err != nil {
				ve, ok := err.(*ValidationError)
				if !ok || len(ve.Issues) == 0 {
					t.Fatalf("error %v is not a *ValidationError with issues", err)
				}
				for _, is := range ve.Issues {
					if is.Line < 1 || is.Column < 1 || is.Path == "" || is.Code == "" {
						t.Fatalf("issue without a position: %+v", is)
					}
				}
				continue
			}
			_ = Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice/k"}, &Input{Identity: []*Policy{p}, ResourcePolicy: p})
			_ = p.IsPublic()
		}
	})
}

func FuzzMatchWildcard(f *testing.F) {
	f.Add("a*b?c", "aXXbYc", false)
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		got := MatchWildcard(pattern, s, fold)
		if !strings.ContainsAny(pattern, "*?") && !fold && got != (pattern == s) {
			t.Fatalf("literal pattern %q vs %q: %v", pattern, s, got)
		}
		if pattern == "*" && !got {
			t.Fatalf("* must match %q", s)
		}
		if !strings.ContainsAny(s, "*?") && utf8.ValidString(s) && !MatchWildcard(s, s, fold) {
			t.Fatalf("%q must match itself", s)
		}
	})
}

func FuzzMatchARN(f *testing.F) {
	f.Add("arn:aws:s3:::b/*", "arn:aws:s3:::b/k")
	f.Fuzz(func(t *testing.T, pattern, arn string) {
		got := MatchARN(pattern, arn)
		if pattern == "*" && !got {
			t.Fatalf("* must match %q", arn)
		}
		if _, ok := arnParts(arn); ok && strings.HasPrefix(arn, "arn:") && !strings.ContainsAny(arn, "*?$") {
			parts, _ := arnParts(arn)
			if parts[2] != "" && !MatchARN(arn, arn) {
				t.Fatalf("%q must match itself", arn)
			}
		}
	})
}
