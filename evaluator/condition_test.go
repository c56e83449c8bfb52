package evaluator

import "testing"

// TestConditions checks every operator family against present, missing and
// multi-valued keys, one condition block per case.
func TestConditions(t *testing.T) {
	ctx := map[string]any{
		"aws:SourceIp":        "203.0.113.5",
		"aws:SecureTransport": true,
		"s3:max-keys":         "10",
		"aws:CurrentTime":     "2026-06-01T12:00:00Z",
		"aws:EpochTime":       1780000000,
		"aws:TagKeys":         []any{"team", "cost"},
		"aws:EmptyList":       []any{},
		"aws:SourceArn":       "arn:aws:sns:us-east-1:111122223333:topic",
		"aws:Referer":         "https://Example.com/page",
		"s3:content":          "QmluYXJ5",
		"aws:v6":              "2001:db8::1",
	}
	tests := []struct {
		name string
		cond string
		want bool
	}{
		{"StringEquals hit", `{"StringEquals":{"aws:Referer":"https://Example.com/page"}}`, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"aws:Referer":"https://example.com/page"}}`, false},
		{"key names are case-insensitive", `{"StringEquals":{"AWS:REFERER":"https://Example.com/page"}}`, true},
		{"values OR", `{"StringEquals":{"aws:Referer":["x","https://Example.com/page"]}}`, true},
		{"keys AND", `{"StringEquals":{"aws:Referer":"https://Example.com/page","s3:max-keys":"11"}}`, false},
		{"operators AND", `{"StringEquals":{"aws:Referer":"https://Example.com/page"},"NumericLessThan":{"s3:max-keys":5}}`, false},
		{"StringNotEquals", `{"StringNotEquals":{"aws:Referer":"x"}}`, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:Referer":"HTTPS://EXAMPLE.COM/PAGE"}}`, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:Referer":"HTTPS://EXAMPLE.COM/PAGE"}}`, false},
		{"StringLike star", `{"StringLike":{"aws:Referer":"https://*.com/*"}}`, true},
		{"StringLike question", `{"StringLike":{"aws:Referer":"https://Example.co?/page"}}`, true},
		{"StringLike is case-sensitive", `{"StringLike":{"aws:Referer":"https://example*"}}`, false},
		{"StringNotLike", `{"StringNotLike":{"aws:Referer":"*evil*"}}`, true},
		{"NumericEquals", `{"NumericEquals":{"s3:max-keys":10}}`, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, false},
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":10}}`, false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":10}}`, true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"s3:max-keys":9.5}}`, true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"s3:max-keys":11}}`, false},
		{"Numeric on non-number", `{"NumericEquals":{"aws:Referer":1}}`, false},
		{"DateLessThan ISO", `{"DateLessThan":{"aws:CurrentTime":"2026-12-31T00:00:00Z"}}`, true},
		{"DateGreaterThan date only", `{"DateGreaterThan":{"aws:CurrentTime":"2026-06-02"}}`, false},
		{"DateEquals epoch vs ISO", `{"DateEquals":{"aws:CurrentTime":1780315200}}`, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, false},
		{"DateLessThanEquals epoch key", `{"DateLessThanEquals":{"aws:EpochTime":"2026-05-28T20:26:40Z"}}`, true},
		{"DateGreaterThanEquals with zone", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-06-01T14:00:00+02:00"}}`, true},
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, true},
		{"Bool JSON false", `{"Bool":{"aws:SecureTransport":false}}`, false},
		{"Bool missing key", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, false},
		{"BinaryEquals", `{"BinaryEquals":{"s3:content":"QmluYXJ5"}}`, true},
		{"IpAddress v4 CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, true},
		{"IpAddress v4 miss", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, false},
		{"IpAddress bare address", `{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}`, true},
		{"IpAddress v6", `{"IpAddress":{"aws:v6":"2001:db8::/32"}}`, true},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, false},
		{"ArnEquals wildcard per part", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:111122223333:*"}}`, true},
		{"ArnLike star does not cross a colon", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:111122223333:topic"}}`, false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sqs:*:*:*"}}`, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:topic"}}`, false},
		{"Null true on missing", `{"Null":{"aws:TokenIssueTime":"true"}}`, true},
		{"Null false on present", `{"Null":{"aws:SourceIp":"false"}}`, true},
		{"Null true on present", `{"Null":{"aws:SourceIp":"true"}}`, false},
		// missing keys
		{"positive operator, missing key", `{"StringEquals":{"aws:Nope":"x"}}`, false},
		{"negated operator, missing key", `{"StringNotEquals":{"aws:Nope":"x"}}`, true},
		{"NotIpAddress missing key", `{"NotIpAddress":{"aws:Nope":"10.0.0.0/8"}}`, true},
		{"ArnNotLike missing key", `{"ArnNotLike":{"aws:Nope":"arn:aws:s3:::*"}}`, true},
		{"IfExists missing key", `{"StringEqualsIfExists":{"aws:Nope":"x"}}`, true},
		{"IfExists present key still checks", `{"StringEqualsIfExists":{"aws:Referer":"x"}}`, false},
		{"NumericLessThanIfExists", `{"NumericLessThanIfExists":{"s3:max-keys":100}}`, true},
		// set operators
		{"ForAnyValue hit", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["cost","owner"]}}`, true},
		{"ForAnyValue miss", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}`, false},
		{"ForAnyValue missing key is false", `{"ForAnyValue:StringEquals":{"aws:Nope":"x"}}`, false},
		{"ForAnyValue empty set is false", `{"ForAnyValue:StringEquals":{"aws:EmptyList":"x"}}`, false},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost","owner"]}}`, true},
		{"ForAllValues not subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}`, false},
		{"ForAllValues missing key is true", `{"ForAllValues:StringEquals":{"aws:Nope":"x"}}`, true},
		{"ForAllValues empty set is true", `{"ForAllValues:StringLike":{"aws:EmptyList":"x*"}}`, true},
		{"ForAllValues negated: no value listed", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["owner"]}}`, true},
		{"ForAnyValue negated: some value not listed", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}}`, true},
		{"ForAnyValue StringLike", `{"ForAnyValue:StringLike":{"aws:TagKeys":"c*"}}`, true},
		{"plain operator on a list matches any", `{"StringEquals":{"aws:TagKeys":"cost"}}`, true},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:Nope":"x"}}`, true},
	}
	c, err := NewContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "c", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":`+tt.cond+`}]}`)
			d := Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: c}, &Input{Identity: []*Policy{p}})
			if got := d.Effect == Allow; got != tt.want {
				t.Fatalf("condition %s: matched = %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

// TestVariables covers ${...} in Resource and condition values, defaults,
// escapes, unresolvable variables and Version 2008-10-17.
func TestVariables(t *testing.T) {
	ctx, _ := NewContext(map[string]any{"aws:PrincipalTag/team": "blue", "aws:TagKeys": []any{"a"}})
	tests := []struct {
		name, version, resource, cond string
		who                           Principal
		target                        string
		want                          bool
	}{
		{"username in resource", "2012-10-17", "arn:aws:s3:::home/${aws:username}/*", "", alice, "arn:aws:s3:::home/alice/x", true},
		{"username of someone else", "2012-10-17", "arn:aws:s3:::home/${aws:username}/*", "", alice, "arn:aws:s3:::home/bob/x", false},
		{"no username for a session: no match", "2012-10-17", "arn:aws:s3:::home/${aws:username}/*", "", session, "arn:aws:s3:::home//x", false},
		{"default value", "2012-10-17", "arn:aws:s3:::home/${aws:username, 'shared'}/*", "", session, "arn:aws:s3:::home/shared/x", true},
		{"escape star is literal", "2012-10-17", "arn:aws:s3:::b/${*}", "", alice, "arn:aws:s3:::b/*", true},
		{"escape star does not wildcard", "2012-10-17", "arn:aws:s3:::b/${*}", "", alice, "arn:aws:s3:::b/x", false},
		{"escape question and dollar", "2012-10-17", "arn:aws:s3:::b/${?}${$}", "", alice, "arn:aws:s3:::b/?$", true},
		{"context key variable", "2012-10-17", "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*", "", alice, "arn:aws:s3:::teams/blue/x", true},
		{"multi-valued key does not resolve", "2012-10-17", "arn:aws:s3:::b/${aws:TagKeys}", "", alice, "arn:aws:s3:::b/a", false},
		{"2008 version keeps ${} literal", "2008-10-17", "arn:aws:s3:::home/${aws:username}/*", "", alice, "arn:aws:s3:::home/${aws:username}/x", true},
		{"2008 version does not substitute", "2008-10-17", "arn:aws:s3:::home/${aws:username}/*", "", alice, "arn:aws:s3:::home/alice/x", false},
		{"variable in condition value", "2012-10-17", "*", `{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/${aws:username}"}}`, alice, "arn:aws:s3:::b", true},
		{"unresolved variable in negated condition: no match", "2012-10-17", "*", `{"StringNotEquals":{"aws:PrincipalAccount":"${aws:nope}"}}`, alice, "arn:aws:s3:::b", false},
		{"derived PrincipalArn of a session is its role", "2012-10-17", "*", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/deployer"}}`, session, "arn:aws:s3:::b", true},
		{"derived PrincipalType", "2012-10-17", "*", `{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`, session, "arn:aws:s3:::b", true},
		{"derived ResourceAccount", "2012-10-17", "*", `{"StringEquals":{"aws:ResourceAccount":"111122223333"}}`, alice, "arn:aws:s3:::b", true},
		{"derived PrincipalIsAWSService", "2012-10-17", "*", `{"Bool":{"aws:PrincipalIsAWSService":"false"}}`, alice, "arn:aws:s3:::b", true},
		{"derived userid of a user", "2012-10-17", "*", `{"StringEquals":{"aws:userid":"alice"}}`, alice, "arn:aws:s3:::b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := `{"Version":"` + tt.version + `","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"` + tt.resource + `"`
			if tt.cond != "" {
				d += `,"Condition":` + tt.cond
			}
			p := mustParse(t, "v", KindIdentity, d+`}]}`)
			got := Evaluate(&Request{Principal: tt.who, Action: "s3:GetObject", Resource: tt.target, Context: ctx}, &Input{Identity: []*Policy{p}}).Effect == Allow
			if got != tt.want {
				t.Fatalf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContextOverridesDerivedKeys(t *testing.T) {
	ctx, err := NewContext(map[string]any{"AWS:PrincipalAccount": "999999999999"})
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, "v", KindIdentity, `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:principalaccount":"999999999999"}}}]}`)
	if Evaluate(&Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b", Context: ctx}, &Input{Identity: []*Policy{p}}).Effect != Allow {
		t.Fatal("a context value must win over the derived one")
	}
}

func TestNewContextRejects(t *testing.T) {
	for name, in := range map[string]map[string]any{
		"case duplicate": {"aws:SourceIp": "1.2.3.4", "AWS:SOURCEIP": "1.2.3.4"},
		"map value":      {"k": map[string]any{}},
		"nested list":    {"k": []any{[]any{"x"}}},
	} {
		if _, err := NewContext(in); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
