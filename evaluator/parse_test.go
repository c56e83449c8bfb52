package evaluator

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t testing.TB, name string, kind Kind, doc string) *Policy {
	t.Helper()
	p, err := Parse(name, kind, []byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return p
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		doc  string
		n    int
	}{
		{"single statement object", KindIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`, 1},
		{"arrays everywhere", KindIdentity, `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A1","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}`, 1},
		{"no version means 2008", KindIdentity, `{"Statement":[{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*:user/${aws:username}"}]}`, 1},
		{"bucket policy with principals", KindResource, `{"Version":"2012-10-17","Statement":[{"Sid":"public read","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice","arn:aws:iam::444455556666:root"],"Service":"s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, 1},
		{"NotPrincipal deny", KindResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}]}`, 1},
		{"trust policy without resource", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`, 1},
		{"rcp full access", KindRCP, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, 1},
		{"every operator", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"StringEquals":{"a:b":"x"},"StringNotEquals":{"a:b":"x"},"StringEqualsIgnoreCase":{"a:b":"x"},"StringNotEqualsIgnoreCase":{"a:b":"x"},
			"StringLike":{"a:b":"x*"},"StringNotLike":{"a:b":"x?"},"NumericEquals":{"a:n":1},"NumericNotEquals":{"a:n":"1"},"NumericLessThan":{"a:n":2.5},
			"NumericLessThanEquals":{"a:n":2},"NumericGreaterThan":{"a:n":2},"NumericGreaterThanEquals":{"a:n":2},"DateEquals":{"a:d":"2026-01-01T00:00:00Z"},
			"DateNotEquals":{"a:d":"2026-01-01"},"DateLessThan":{"a:d":1700000000},"DateLessThanEquals":{"a:d":"2026-01-01T00:00:00+02:00"},"DateGreaterThan":{"a:d":"2026-01-01T00:00:00Z"},
			"DateGreaterThanEquals":{"a:d":"2026-01-01T00:00:00Z"},"Bool":{"a:b":true},"BinaryEquals":{"a:b":"QmluYXJ5"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
			"NotIpAddress":{"aws:SourceIp":"10.1.2.3"},"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:*:t"},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:t"},
			"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:*:*:t"},"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:t"},"Null":{"a:b":"true"},
			"StringEqualsIfExists":{"a:b":"x"},"ForAnyValue:StringLike":{"aws:TagKeys":"x*"},"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["x"]}}}]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.name, tt.kind, tt.doc)
			if p.Statements() != tt.n || p.Kind() != tt.kind || p.Name() != tt.name || string(p.Document()) != tt.doc {
				t.Fatalf("got %d statements, kind %v, name %q", p.Statements(), p.Kind(), p.Name())
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const ok = `"Effect":"Allow","Action":"s3:GetObject","Resource":"*"`
	tests := []struct {
		name      string
		kind      Kind
		doc       string
		path      string
		line, col int
		code      string
		msg       string
	}{
		{"not json", KindIdentity, "{\n  \"Version\": ", "$", 2, 14, CodeMalformed, "unexpected end"},
		{"trailing garbage", KindIdentity, `{"Statement":[{` + ok + `}]} x`, "$", 1, 75, CodeMalformed, "after the end"},
		{"not an object", KindIdentity, `[1]`, "$", 1, 1, CodeMalformed, "must be a JSON object"},
		{"bad version", KindIdentity, `{"Version":"2012-10-18","Statement":[{` + ok + `}]}`, "Version", 1, 12, CodeMalformed, "Version must be"},
		{"unknown top element", KindIdentity, `{"Statment":[]}`, "Statment", 1, 2, CodeMalformed, "unknown element"},
		{"missing statement", KindIdentity, `{"Version":"2012-10-17"}`, "$", 1, 1, CodeMalformed, "Statement element is required"},
		{"empty statement list", KindIdentity, `{"Statement":[]}`, "Statement", 1, 14, CodeMalformed, "at least one"},
		{"unknown statement element", KindIdentity, `{"Statement":[{` + ok + `,"Actions":"x"}]}`, "Statement[0].Actions", 1, 72, CodeMalformed, "unknown element"},
		{"bad effect", KindIdentity, "{\"Statement\":[\n {\"Effect\":\"allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}", "Statement[0].Effect", 2, 12, CodeMalformed, "Effect must be"},
		{"missing effect", KindIdentity, `{"Statement":[{"Action":"s3:GetObject","Resource":"*"}]}`, "Statement[0]", 1, 15, CodeMalformed, "Effect element is required"},
		{"action without prefix", KindIdentity, `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","GetObject"],"Resource":"*"}]}`, "Statement[0].Action[1]", 1, 58, CodeMalformed, "no service prefix"},
		{"missing action", KindIdentity, `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, "Statement[0]", 1, 15, CodeMalformed, "Action or NotAction"},
		{"action and notaction", KindIdentity, `{"Statement":[{` + ok + `,"NotAction":"s3:x"}]}`, "Statement[0].NotAction", 1, 84, CodeMalformed, "not both"},
		{"malformed arn", KindIdentity, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:bucket"}]}`, "Statement[0].Resource", 1, 68, CodeMalformed, "malformed ARN"},
		{"missing resource", KindIdentity, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, "Statement[0]", 1, 15, CodeMalformed, "Resource or NotResource"},
		{"principal in identity", KindIdentity, `{"Statement":[{` + ok + `,"Principal":"*"}]}`, "Statement[0].Principal", 1, 84, CodeMalformed, "not allowed in a identity"},
		{"principal in scp", KindSCP, `{"Statement":[{` + ok + `,"Principal":"*"}]}`, "Statement[0].Principal", 1, 84, CodeMalformed, "not allowed in a scp"},
		{"principal in boundary", KindBoundary, `{"Statement":[{` + ok + `,"Principal":"*"}]}`, "Statement[0].Principal", 1, 84, CodeMalformed, "not allowed"},
		{"principal in session", KindSession, `{"Statement":[{` + ok + `,"Principal":"*"}]}`, "Statement[0].Principal", 1, 84, CodeMalformed, "not allowed"},
		{"principal required in bucket policy", KindResource, `{"Statement":[{` + ok + `}]}`, "Statement[0]", 1, 15, CodeMalformed, "needs a Principal"},
		{"principal required in endpoint policy", KindEndpoint, `{"Statement":[{` + ok + `}]}`, "Statement[0]", 1, 15, CodeMalformed, "needs a Principal"},
		{"principal required in trust", KindTrust, `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, "Statement[0]", 1, 15, CodeMalformed, "needs a Principal"},
		{"notprincipal with allow", KindResource, `{"Statement":[{` + ok + `,"NotPrincipal":{"AWS":"111122223333"}}]}`, "Statement[0].NotPrincipal", 1, 87, CodeMalformed, "only be used with"},
		{"notprincipal in trust", KindTrust, `{"Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","NotPrincipal":{"AWS":"111122223333"}}]}`, "Statement[0].NotPrincipal", 1, 73, CodeMalformed, "not allowed in a trust"},
		{"wildcard in principal arn", KindResource, `{"Statement":[{` + ok + `,"Principal":{"AWS":"arn:aws:iam::111122223333:user/*"}}]}`, "Statement[0].Principal.AWS", 1, 91, CodeMalformed, "wildcard is not allowed"},
		{"principal string not star", KindResource, `{"Statement":[{` + ok + `,"Principal":"111122223333"}]}`, "Statement[0].Principal", 1, 84, CodeMalformed, "must be \"*\""},
		{"malformed principal", KindResource, `{"Statement":[{` + ok + `,"Principal":{"AWS":"alice"}}]}`, "Statement[0].Principal.AWS", 1, 91, CodeMalformed, "malformed AWS principal"},
		{"unknown principal type", KindResource, `{"Statement":[{` + ok + `,"Principal":{"Human":"x"}}]}`, "Statement[0].Principal.Human", 1, 85, CodeMalformed, "unknown principal type"},
		{"rcp principal not star", KindRCP, `{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Principal":{"AWS":"111122223333"}}]}`, "Statement[0].Principal", 1, 75, CodeMalformed, "must be \"*\""},
		{"rcp narrow allow", KindRCP, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`, "Statement[0].Effect", 1, 25, CodeMalformed, "RCPFullAWSAccess"},
		{"unknown operator", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"StringEqual":{"a:b":"c"}}}]}`, "Statement[0].Condition.StringEqual", 1, 85, CodeMalformed, "unknown condition operator"},
		{"null with ifexists", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"NullIfExists":{"a:b":"true"}}}]}`, "Statement[0].Condition.NullIfExists", 1, 85, CodeMalformed, "unknown condition operator"},
		{"bad arn condition", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"ArnLike":{"aws:SourceArn":"sns:topic"}}}]}`, "Statement[0].Condition.ArnLike.aws:SourceArn", 1, 112, CodeMalformed, "malformed ARN"},
		{"object as condition value", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"StringEquals":{"a:b":{}}}}]}`, "Statement[0].Condition.StringEquals.a:b", 1, 107, CodeMalformed, "must be a string"},
		{"bad variable", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username"}]}`, "Statement[0].Resource", 1, 83, CodeMalformed, "unterminated policy variable"},
		{"bad variable default", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username, nobody}"}]}`, "Statement[0].Resource", 1, 83, CodeMalformed, "single quotes"},
		{"sid not alphanumeric in IAM", KindIdentity, `{"Statement":[{"Sid":"read all",` + ok + `}]}`, "Statement[0].Sid", 1, 22, CodeMalformed, "letters and digits"},
		{"duplicate sid", KindIdentity, `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, "Statement[1].Sid", 1, 83, CodeMalformed, "duplicate Sid"},
		{"size limit", KindSession, `{"Statement":[{` + ok + `,"Condition":{"StringEquals":{"a:b":"` + strings.Repeat("x", 2100) + `"}}}]}`, "$", 1, 1, CodeLimitExceeded, "at most 2048"},
		{"unknown kind", Kind(99), `{}`, "$", 1, 1, CodeMalformed, "unknown policy kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("doc.json", tt.kind, []byte(tt.doc))
			if p != nil {
				t.Fatalf("got a policy along with an error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if ve.Document != "doc.json" || len(ve.Issues) == 0 {
				t.Fatalf("bad error %#v", ve)
			}
			is := ve.Issues[0]
			if is.Path != tt.path || is.Line != tt.line || is.Column != tt.col || is.Code != tt.code || !strings.Contains(is.Message, tt.msg) {
				t.Fatalf("got %s:%d:%d %s %q, want %s:%d:%d %s ~%q", is.Path, is.Line, is.Column, is.Code, is.Message, tt.path, tt.line, tt.col, tt.code, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "doc.json:") {
				t.Fatalf("Error() = %q", err.Error())
			}
		})
	}
}

func TestParseCollectsEveryIssue(t *testing.T) {
	_, err := Parse("two.json", KindIdentity, []byte(`{"Statement":[{"Effect":"Maybe","Action":"x","Resource":"*"}]}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Issues) != 2 {
		t.Fatalf("want 2 issues, got %v", err)
	}
	want := `two.json:1:25: Statement[0].Effect: Effect must be "Allow" or "Deny" (case-sensitive), not "Maybe"; two.json:1:42: Statement[0].Action: action "x" has no service prefix (expected service:Action, like s3:GetObject)`
	if err.Error() != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", err.Error(), want)
	}
}

func TestSizeAndLimits(t *testing.T) {
	doc := []byte("{ \"a\" :\n 1 }")
	if got := Size(KindIdentity, doc); got != 7 {
		t.Fatalf("IAM size ignores white space: got %d", got)
	}
	if got := Size(KindSCP, doc); got != len(doc) {
		t.Fatalf("SCP size counts every byte: got %d", got)
	}
	for k, want := range map[Kind]int{KindIdentity: 10240, KindBoundary: 6144, KindTrust: 2048, KindSession: 2048, KindSCP: 5120, KindRCP: 5120, KindResource: 20480, KindEndpoint: 20480, Kind(0): 0} {
		if MaxSize(k) != want {
			t.Errorf("MaxSize(%v) = %d, want %d", k, MaxSize(k), want)
		}
	}
}

// TestParseWarns: documents AWS accepts but iamprop models only in part
// compile, with a warning at the element; the warned-about part matches no
// request (a typed value that does not parse compares false, as in AWS).
func TestParseWarns(t *testing.T) {
	ok := `"Effect":"Allow","Action":"s3:GetObject","Resource":"*"`
	tests := []struct {
		name      string
		kind      Kind
		doc       string
		path      string
		line, col int
		code      string
		msg       string
	}{
		{"bad number", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"NumericLessThan":{"a:n":"ten"}}}]}`, "Statement[0].Condition.NumericLessThan.a:n", 1, 110, CodeWarning, "not a number"},
		{"bad date", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"DateLessThan":{"a:d":"tomorrow"}}}]}`, "Statement[0].Condition.DateLessThan.a:d", 1, 107, CodeWarning, "not a date"},
		{"bad ip", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","10.0.0.300"]}}}]}`, "Statement[0].Condition.IpAddress.aws:SourceIp[1]", 1, 127, CodeWarning, "not an IPv4"},
		{"bad bool", KindIdentity, `{"Statement":[{` + ok + `,"Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}`, "Statement[0].Condition.Bool.aws:SecureTransport", 1, 115, CodeWarning, "not true or false"},
		{"duplicate sid in a bucket policy", KindResource, `{"Statement":[{"Sid":"A","Principal":"*",` + ok + `},{"Sid":"A","Principal":"*",` + ok + `}]}`, "Statement[1].Sid", 1, 99, CodeWarning, "duplicate Sid"},
		{"duplicate key", KindIdentity, `{"Statement":[{` + ok + `,"Effect":"Deny"}]}`, "$", 1, 72, CodeWarning, "duplicate key \"Effect\""},
		{"unique id as principal", KindResource, `{"Statement":[{` + ok + `,"Principal":{"AWS":"AROADBQP57FF2AEXAMPLE"}}]}`, "Statement[0].Principal.AWS", 1, 91, CodeWarning, "unique id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("doc.json", tt.kind, []byte(tt.doc))
			if err != nil || p == nil {
				t.Fatalf("a document AWS accepts was refused: %v", err)
			}
			ws := p.Warnings()
			if len(ws) != 1 {
				t.Fatalf("want one warning, got %v", ws)
			}
			is := ws[0]
			if !is.Warning || is.Path != tt.path || is.Line != tt.line || is.Column != tt.col || is.Code != tt.code || !strings.Contains(is.Message, tt.msg) {
				t.Fatalf("got %s:%d:%d %s %q, want %s:%d:%d %s ~%q", is.Path, is.Line, is.Column, is.Code, is.Message, tt.path, tt.line, tt.col, tt.code, tt.msg)
			}
		})
	}
}
