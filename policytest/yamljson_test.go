package policytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parseYAML(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestToJSON(t *testing.T) {
	tests := []struct {
		name, yaml, json string
	}{
		{"timestamp-looking Version stays a string", `{Version: 2012-10-17}`, `{"Version":"2012-10-17"}`},
		{"key order is kept", "b: 1\na: 2\n", `{"b":1,"a":2}`},
		{"bools, null and numbers", `[true, false, null, 3, 2.5]`, `[true,false,null,3,2.5]`},
		{"quoted scalars stay strings", `["true", '10']`, `["true","10"]`},
		{"a leading-zero account id is not a JSON number", `[012345678901]`, `["012345678901"]`},
		{"no HTML escaping", `[a<b&c>d]`, `["a<b&c>d"]`},
		{"aliases expand", "x: &v {a: 1}\ny: *v\n", `{"x":{"a":1},"y":{"a":1}}`},
		{"wildcards and variables", `{Resource: "arn:aws:s3:::b/${aws:username}/*"}`, `{"Resource":"arn:aws:s3:::b/${aws:username}/*"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := toJSON(parseYAML(t, tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if string(d.data) != tt.json {
				t.Errorf("got %s, want %s", d.data, tt.json)
			}
			if !json.Valid(d.data) {
				t.Errorf("not valid JSON: %s", d.data)
			}
		})
	}
}

func TestToJSONLimits(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)
	if _, err := toJSON(parseYAML(t, deep)); err == nil {
		t.Errorf("nesting deeper than %d levels was accepted", maxDepth)
	}
	// A billion-laughs style document: each level doubles the expansion.
	var b bytes.Buffer
	b.WriteString("a: &a [x, x]\n")
	prev := "a"
	for i := 0; i < 20; i++ {
		name := string(rune('b' + i))
		b.WriteString(name + ": &" + name + " [*" + prev + ", *" + prev + "]\n")
		prev = name
	}
	_, err := toJSON(parseYAML(t, b.String()))
	var ne *nodeError
	if !errors.As(err, &ne) || !strings.Contains(ne.msg, "alias") {
		t.Errorf("alias bomb: err = %v, want a too-many-aliases error", err)
	}
}

// TestPositionMapping: a JSON position (what the evaluator reports) leads
// back to the YAML node the user wrote, and so does a JSON path.
func TestPositionMapping(t *testing.T) {
	const src = `Version: "2012-10-17"
Statement:
  - Sid: First
    Effect: Allow
    Action: s3:GetObject
    Resource: "*"
  - Sid: Second
    Effect: Alow
    Action: [s3:PutObject, "s3:Get*"]
    Resource: "*"
`
	root := parseYAML(t, src)
	d, err := toJSON(root)
	if err != nil {
		t.Fatal(err)
	}
	at := func(needle string) int { return bytes.Index(d.data, []byte(needle)) + 1 }
	tests := []struct {
		name     string
		col      int
		wantLine int
		wantCol  int
	}{
		{"the bad Effect value", at(`"Alow"`), 8, 13},
		{"the second Effect key", at(`"Effect":"Alow"`), 8, 5},
		{"inside the second action", at(`"s3:Get*"`) + 3, 9, 28},
		{"the Statement list", at(`[{`), 3, 3},
	}
	for _, tt := range tests {
		n := d.nodeAt(1, tt.col)
		if n == nil || n.Line != tt.wantLine || n.Column != tt.wantCol {
			t.Errorf("%s: nodeAt(1,%d) = %v, want line %d col %d", tt.name, tt.col, pos(n), tt.wantLine, tt.wantCol)
		}
	}
	if n := d.nodeAt(2, 1); n != nil {
		t.Errorf("a position past the end must map to nothing, got %v", pos(n))
	}

	paths := []struct {
		path              string
		wantLine, wantCol int
	}{
		{"$.Statement[1].Effect", 8, 13},
		{"Statement[1].Action[0]", 9, 14},
		{"Statement.1.Sid", 7, 10},
		{`$["Statement"][0]`, 3, 5},
		{"Statement[7].Effect", 0, 0}, // checked below: no element 7
		{"", 1, 1},
	}
	for _, p := range paths {
		n := nodeAtPath(root, p.path)
		if p.path == "Statement[7].Effect" {
			// No element 7: the path stops at the list itself.
			if n == nil || n.Kind != yaml.SequenceNode {
				t.Errorf("%s: got %v, want the Statement list", p.path, pos(n))
			}
			continue
		}
		if n == nil || n.Line != p.wantLine || n.Column != p.wantCol {
			t.Errorf("nodeAtPath(%q) = %v, want line %d col %d", p.path, pos(n), p.wantLine, p.wantCol)
		}
	}
}

func pos(n *yaml.Node) string {
	if n == nil {
		return "nil"
	}
	return fmt.Sprintf("%d:%d", n.Line, n.Column)
}

// TestEvaluatorErrorsPointIntoTheYAML: a policy the evaluator rejects is an
// error at the YAML line of the offending element, not at the JSON the
// loader made.
func TestEvaluatorErrorsPointIntoTheYAML(t *testing.T) {
	const src = `policies:
  bad:
    Version: "2012-10-17"
    Statement:
      - Effect: Alow
        Action: s3:GetObject
        Resource: "*"
cases:
  - {name: c, request: {principal: "arn:aws:iam::111122223333:user/alice", action: s3:GetObject, resource: "*"}, identity: [bad], expect: allow}
`
	_, err := Load("e.yaml", []byte(src))
	if err == nil {
		t.Fatal("the evaluator accepted Effect: Alow")
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T: %v", err, err)
	}
	e := es[0]
	if e.File != "e.yaml" || e.Line != 5 || !strings.HasPrefix(e.Field, "policies.bad") {
		t.Errorf("got %v, want e.yaml:5:...: policies.bad.Statement...: ...", e)
	}
}
