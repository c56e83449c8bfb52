package policytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds the nesting of a policy document. IAM documents are at most
// five levels deep (Statement, Condition, operator, key, values); the bound
// keeps a hostile file (deep nesting, alias bombs) from exhausting the stack.
const maxDepth = 32

// maxAliasExpansions bounds how many alias nodes one document may expand, so
// that a "billion laughs" file cannot make the converter allocate without end.
const maxAliasExpansions = 1000

// jsonDoc is a policy document converted from YAML to compact JSON, with a map
// from byte offsets in the JSON back to the YAML node that produced them, so
// that an evaluator error at a JSON line and column can be reported at the
// YAML line and column the user wrote.
type jsonDoc struct {
	data  []byte
	spans []span // sorted by offset
}

// span says that the JSON text from offset on was produced by node.
type span struct {
	offset int
	node   *yaml.Node
}

// toJSON converts a YAML node to compact JSON. Mapping keys keep their order
// (AWS reports problems in document order; so do we). Scalars keep the text
// the user wrote: numbers stay numbers when they are valid JSON numbers,
// everything else that is not a bool or null becomes a string (so that
// `Version: 2012-10-17`, which YAML reads as a timestamp, stays the string AWS
// expects).
func toJSON(n *yaml.Node) (*jsonDoc, error) {
	c := &converter{}
	if err := c.value(n, 0); err != nil {
		return nil, err
	}
	return &jsonDoc{data: c.buf.Bytes(), spans: c.spans}, nil
}

type converter struct {
	buf     bytes.Buffer
	spans   []span
	aliases int
}

func (c *converter) mark(n *yaml.Node) {
	c.spans = append(c.spans, span{offset: c.buf.Len(), node: n})
}

func (c *converter) value(n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return &nodeError{node: n, msg: fmt.Sprintf("nested more than %d levels deep", maxDepth)}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &nodeError{node: n, msg: "empty document"}
		}
		return c.value(n.Content[0], depth)
	case yaml.AliasNode:
		c.aliases++
		if c.aliases > maxAliasExpansions || n.Alias == nil {
			return &nodeError{node: n, msg: "too many alias expansions"}
		}
		return c.value(n.Alias, depth+1)
	case yaml.MappingNode:
		c.mark(n)
		c.buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return &nodeError{node: k, msg: "a key must be a plain string"}
			}
			if i > 0 {
				c.buf.WriteByte(',')
			}
			c.mark(k)
			writeJSONString(&c.buf, k.Value)
			c.buf.WriteByte(':')
			if err := c.value(v, depth+1); err != nil {
				return err
			}
		}
		c.buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		c.mark(n)
		c.buf.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			if err := c.value(e, depth+1); err != nil {
				return err
			}
		}
		c.buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		c.mark(n)
		c.scalar(n)
		return nil
	}
	return &nodeError{node: n, msg: "unsupported YAML node"}
}

func (c *converter) scalar(n *yaml.Node) {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		writeJSONString(&c.buf, n.Value)
		return
	}
	switch n.ShortTag() {
	case "!!bool":
		if b, err := strconv.ParseBool(n.Value); err == nil {
			c.buf.WriteString(strconv.FormatBool(b))
			return
		}
	case "!!null":
		c.buf.WriteString("null")
		return
	case "!!int", "!!float":
		if json.Valid([]byte(n.Value)) {
			c.buf.WriteString(n.Value)
			return
		}
	}
	writeJSONString(&c.buf, n.Value)
}

// writeJSONString writes s as a JSON string without HTML escaping, so that
// what the evaluator sees (and counts against size limits) is what the user
// wrote.
func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// nodeAt returns the YAML node that produced the JSON text at the 1-based line
// and column; nil if the position is outside the document.
func (d *jsonDoc) nodeAt(line, col int) *yaml.Node {
	if line < 1 || col < 1 || len(d.spans) == 0 {
		return nil
	}
	// The document is one line unless a string held a raw newline (JSON
	// escapes those), so walk lines for robustness anyway.
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(d.data[off:], '\n')
		if i < 0 {
			return nil
		}
		off += i + 1
	}
	off += col - 1
	if off > len(d.data) {
		return nil
	}
	i := sort.Search(len(d.spans), func(i int) bool { return d.spans[i].offset > off })
	if i == 0 {
		return nil
	}
	return d.spans[i-1].node
}

// nodeAtPath resolves a JSON path such as `$.Statement[0].Condition` or
// `Statement.0.Effect` in the YAML node n. It returns the deepest node it
// could reach, so a path into an element that does not exist still points at
// its parent.
func nodeAtPath(n *yaml.Node, path string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range splitPath(path) {
		next := step(n, part)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func step(n *yaml.Node, part string) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// splitPath splits `$.a[0]["b.c"].d` into a, 0, b.c, d.
func splitPath(path string) []string {
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(path); i++ {
		switch ch := path[i]; ch {
		case '$':
			if i == 0 {
				continue
			}
			cur.WriteByte(ch)
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				cur.WriteString(path[i+1:])
				i = len(path)
				continue
			}
			inner := path[i+1 : i+end]
			inner = strings.Trim(inner, `"'`)
			parts = append(parts, inner)
			i += end
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	return parts
}
