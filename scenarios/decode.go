package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/internal/yamlcheck"
)

// decoder walks a yaml.v3 node tree and collects issues instead of stopping
// at the first one: a user fixing a file wants every mistake in one pass.
type decoder struct {
	file   string
	issues []Issue
	// budget bounds the nodes converted to JSON, so a file of nested aliases
	// (a "billion laughs") fails with an error instead of eating memory.
	budget  int
	dropped int // issues beyond maxIssues, counted not kept
}

// jsonNodeBudget is the alias-expansion bound both YAML loaders share.
const jsonNodeBudget = yamlcheck.Limit

// maxIssues bounds the issues kept for one file: past a few hundred, more
// do not help a user, and a hostile file could otherwise make the report
// itself huge.
const maxIssues = 200

// full reports whether further issues would be dropped, so callers can
// skip building expensive messages.
func (d *decoder) full() bool { return len(d.issues) >= maxIssues }

// errorf records an issue at node n (or at 1:1 when n is nil).
func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	if len(d.issues) >= maxIssues {
		d.dropped++
		return
	}
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	d.issues = append(d.issues, Issue{File: d.file, Line: line, Column: col, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// deref follows aliases to the node they name. yaml.v3 rejects cyclic
// anchors while parsing, so the bound only guards against surprises.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// join builds a field path such as "steps[2].with.bucket".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// describe names the YAML type of a node for "got ..." messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return "the number " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

// object is a decoded mapping: its values by key, in a form that makes
// "missing key" and "unknown key" checks one line each.
type object struct {
	n    *yaml.Node
	path string
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
}

func (o *object) get(key string) *yaml.Node { return o.vals[key] }
func (o *object) has(key string) bool       { return o.vals[key] != nil }

// object decodes a mapping whose keys must come from allowed. A node of
// another kind is reported and yields an empty object, so callers need no
// nil checks.
func (d *decoder) object(n *yaml.Node, path string, allowed ...string) *object {
	return d.objectOf(n, path, "key", allowed...)
}

// objectOf is object with the word for a key in messages ("argument").
func (d *decoder) objectOf(n *yaml.Node, path, noun string, allowed ...string) *object {
	n = deref(n)
	o := &object{n: n, path: path, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if n == nil {
		return o
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping with keys %s, got %s", strings.Join(allowed, ", "), describe(n))
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain words, got %s", describe(k))
			continue
		}
		if k.Value == "<<" {
			d.errorf(k, path, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		if !contains(allowed, k.Value) {
			d.errorf(k, join(path, k.Value), "unknown %s %q; expected one of: %s%s", noun, k.Value, strings.Join(allowed, ", "), suggest(k.Value, allowed))
			continue
		}
		if prev := o.keys[k.Value]; prev != nil {
			d.errorf(k, join(path, k.Value), "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		o.keys[k.Value] = k
		o.vals[k.Value] = deref(v)
	}
	return o
}

// require returns the value of a required key, reporting its absence at
// the mapping.
func (d *decoder) require(o *object, key, what string) *yaml.Node {
	v := o.get(key)
	if v == nil && o.n != nil && o.n.Kind == yaml.MappingNode {
		d.errorf(o.n, join(o.path, key), "missing required key %q (%s)", key, what)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// oneOf lists allowed names for a message, shortened when there are many.
func oneOf(names []string) string {
	const show = 12
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:show], ", ") + fmt.Sprintf(", ... (%d in all)", len(names))
}

// suggest proposes the closest allowed word for a typo (the helper the
// policy-test loader uses too).
func suggest(got string, allowed []string) string { return yamlcheck.Suggest(got, allowed) }

// str decodes a scalar as a string. Unquoted numbers are accepted as their
// text, because account ids (111122223333) are usually written unquoted.
func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	n = deref(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.errorf(n, field, "must be a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// nonEmpty is str that also rejects "".
func (d *decoder) nonEmpty(n *yaml.Node, field string) (string, bool) {
	s, ok := d.str(n, field)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, field, "must not be empty")
		return "", false
	}
	return s, ok
}

// duration decodes "1s", "250ms", "2m" (Go duration syntax; "0" alone is
// also zero). Negative durations are rejected: time runs forward.
func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	n = deref(n)
	if n == nil {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.errorf(n, field, "must be a duration such as 1s, 250ms or 2m, got %s", describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		hint := ""
		if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
			hint = " (add a unit: " + n.Value + "s)"
		}
		d.errorf(n, field, "must be a duration such as 1s, 250ms or 2m, got %q%s", n.Value, hint)
		return 0, false
	}
	if v < 0 {
		d.errorf(n, field, "must not be negative, got %s", n.Value)
		return 0, false
	}
	return v, true
}

// integer decodes a whole number.
func (d *decoder) integer(n *yaml.Node, field string) (int64, bool) {
	n = deref(n)
	if n == nil {
		return 0, false
	}
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.errorf(n, field, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	return v, true
}

// number decodes an integer or a float; NaN and infinities are rejected.
func (d *decoder) number(n *yaml.Node, field string) (float64, bool) {
	n = deref(n)
	if n == nil {
		return 0, false
	}
	var v float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&v) != nil {
		d.errorf(n, field, "must be a number, got %s", describe(n))
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, field, "must be a finite number, got %s", n.Value)
		return 0, false
	}
	return v, true
}

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	n = deref(n)
	if n == nil {
		return false, false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n, field, "must be true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// list returns the items of a sequence: nil for an empty one, and nil,
// reported, for anything else.
func (d *decoder) list(n *yaml.Node, field, what string) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "must be a list of %s, got %s", what, describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		return nil // callers that need items test for nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

// strList decodes a list of non-empty strings, with the node of each.
func (d *decoder) strList(n *yaml.Node, field, what string) ([]string, []*yaml.Node) {
	var out []string
	var nodes []*yaml.Node
	for i, it := range d.list(n, field, what) {
		if s, ok := d.nonEmpty(it, index(field, i)); ok {
			out = append(out, s)
			nodes = append(nodes, it)
		}
	}
	return out, nodes
}

// toJSON converts a YAML value to JSON, keeping mapping keys in file order
// (so a policy reads the same in both forms). Quoted and plain strings stay
// strings; YAML numbers, booleans and null become their JSON forms.
func (d *decoder) toJSON(n *yaml.Node, field string) (json.RawMessage, bool) {
	var buf bytes.Buffer
	if !d.writeJSON(&buf, n, field) {
		return nil, false
	}
	return buf.Bytes(), true
}

func (d *decoder) writeJSON(buf *bytes.Buffer, n *yaml.Node, field string) bool {
	n = deref(n)
	if n == nil {
		buf.WriteString("null")
		return true
	}
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, field, "document too large (more than %d values after expanding aliases)", jsonNodeBudget)
		}
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, field, "keys must be strings, got %s", describe(k))
				return false
			}
			if seen[k.Value] {
				d.errorf(k, join(field, k.Value), "duplicate key %q", k.Value)
				return false
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if !d.writeJSON(buf, n.Content[i+1], join(field, k.Value)) {
				return false
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if !d.writeJSON(buf, c, index(field, i)) {
				return false
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			buf.WriteString("null")
		case "!!bool":
			var b bool
			if n.Decode(&b) != nil {
				writeString(buf, n.Value)
			} else {
				buf.WriteString(strconv.FormatBool(b))
			}
		case "!!int", "!!float":
			var f float64
			if n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				writeString(buf, n.Value)
			} else if json.Valid([]byte(n.Value)) {
				buf.WriteString(n.Value) // keep the author's spelling (1e3, 10)
			} else {
				buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			}
		default:
			writeString(buf, n.Value)
		}
	default:
		d.errorf(n, field, "unsupported YAML node")
		return false
	}
	return true
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}
