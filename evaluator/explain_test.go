package evaluator

import (
	"strings"
	"testing"
)

// TestExplainRequestSaysWhyNot: for each statement about the requested
// action that did not apply, the explanation names the element that failed
// and, for a condition, the operator, key, request value and policy values;
// it lists the context keys the policies read that the request lacked.
func TestExplainRequestSaysWhyNot(t *testing.T) {
	const get, obj = "s3:GetObject", "arn:aws:s3:::docs/a.pdf"
	ctx := func(kv map[string]any) *Context {
		c, err := NewContext(kv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		kind     Kind
		doc      string
		who      Principal
		ctx      *Context
		elem     string // the element that failed, "" when no statement should be listed
		reason   string // a fragment of the reason
		missing  []string
		decision Effect
	}{
		{"ip condition", KindIdentity, doc("Allow", get, "*", `"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), alice, ctx(map[string]any{"aws:SourceIp": "11.0.0.1"}),
			"Condition", "IpAddress aws:SourceIp 11.0.0.1 not in 10.0.0.0/8", nil, ImplicitDeny},
		{"string condition", KindIdentity, doc("Allow", get, "*", `"Condition":{"StringEquals":{"aws:PrincipalTag/team":["ops","sre"]}}`), alice, ctx(map[string]any{"aws:PrincipalTag/team": "dev"}),
			"Condition", `StringEquals aws:PrincipalTag/team "dev" does not match "ops", "sre"`, nil, ImplicitDeny},
		{"numeric condition", KindIdentity, doc("Allow", get, "*", `"Condition":{"NumericLessThan":{"s3:max-keys":"10"}}`), alice, ctx(map[string]any{"s3:max-keys": 50}),
			"Condition", "NumericLessThan s3:max-keys 50 not < 10", nil, ImplicitDeny},
		{"missing key", KindIdentity, doc("Allow", get, "*", `"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`), alice, nil,
			"Condition", "the request has no aws:MultiFactorAuthPresent", []string{"aws:MultiFactorAuthPresent"}, ImplicitDeny},
		{"negated operator that matched", KindIdentity, doc("Allow", get, "*", `"Condition":{"StringNotEquals":{"aws:username":"alice"}}`), alice, nil,
			"Condition", `StringNotEquals aws:username "alice" matches "alice"`, nil, ImplicitDeny},
		{"resource", KindIdentity, doc("Allow", get, "arn:aws:s3:::other/*", ""), alice, nil,
			"Resource", "arn:aws:s3:::docs/a.pdf does not match arn:aws:s3:::other/*", nil, ImplicitDeny},
		{"unresolved variable", KindIdentity, doc("Allow", get, "arn:aws:s3:::docs/${aws:PrincipalTag/dept}/*", ""), alice, nil,
			"Resource", "${aws:PrincipalTag/dept}", []string{"aws:PrincipalTag/dept"}, ImplicitDeny},
		{"principal", KindResource, doc("Allow", get, "*", `"Principal":{"AWS":"arn:aws:iam::111122223333:user/carol"}`), alice, nil,
			"Principal", "arn:aws:iam::111122223333:user/carol", nil, ImplicitDeny},
		{"another action is not listed", KindIdentity, doc("Allow", "s3:PutObject", "*", ""), alice, nil,
			"", "", nil, ImplicitDeny},
		{"a deny that did not apply", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoHTTP","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, alice, ctx(map[string]any{"aws:SecureTransport": true}),
			"Condition", "Bool aws:SecureTransport true does not match false", nil, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "p", tt.kind, tt.doc)
			in := &Input{}
			if tt.kind == KindResource {
				in.ResourcePolicy = p
			} else {
				in.Identity = []*Policy{p}
			}
			req := &Request{Principal: tt.who, Action: get, Resource: obj, Context: tt.ctx}
			ex := ExplainRequest(req, in)
			if ex.Decision != tt.decision.String() {
				t.Errorf("decision %s, want %s", ex.Decision, tt.decision)
			}
			if tt.elem == "" {
				if len(ex.NotApplied) != 0 {
					t.Errorf("want no statement listed, got %+v", ex.NotApplied)
				}
			} else if len(ex.NotApplied) != 1 || ex.NotApplied[0].Element != tt.elem || !strings.Contains(ex.NotApplied[0].Reason, tt.reason) || ex.NotApplied[0].Policy != "p" {
				t.Errorf("not applied = %+v, want one in p with element %s and reason ~%q", ex.NotApplied, tt.elem, tt.reason)
			}
			if strings.Join(ex.MissingKeys, ",") != strings.Join(tt.missing, ",") {
				t.Errorf("missing keys %v, want %v", ex.MissingKeys, tt.missing)
			}
			if d := Evaluate(req, in); d.Effect.String() != ex.Decision {
				t.Errorf("ExplainRequest decided %s, Evaluate %s", ex.Decision, d.Effect)
			}
		})
	}
}
