package evaluator

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// nodeKind is the JSON type of a parsed value.
type nodeKind uint8

const (
	nString nodeKind = iota + 1
	nNumber
	nBool
	nNull
	nObject
	nArray
)

// String names the JSON type, for messages.
func (k nodeKind) String() string {
	return [...]string{"?", "string", "number", "boolean", "null", "object", "array"}[k]
}

// node is one JSON value with the position of its first character. We keep
// our own tree (instead of map[string]any) because every validation issue
// must name a line and column, and object key order must survive for
// deterministic messages.
type node struct {
	kind      nodeKind
	str       string // string value, or the literal text of a number/bool
	keys      []string
	keyPos    []pos
	kids      []*node
	line, col int
}

type pos struct{ line, col int }

// syntaxError is a JSON syntax problem at a position.
type syntaxError struct {
	line, col int
	msg       string
}

// Error renders "LINE:COL: MESSAGE".
func (e *syntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

type jsonParser struct {
	src       []byte
	i         int
	line, col int // of src[i]
	// dups are duplicate object keys: AWS keeps the last value, so the
	// parser does too and Parse reports each as a warning.
	dups []syntaxError
}

// parseJSON parses exactly one JSON value (surrounded by optional white
// space); dups lists duplicate keys, whose last value was kept.
func parseJSON(src []byte) (n *node, dups []syntaxError, err error) {
	p := &jsonParser{src: src, line: 1, col: 1}
	p.skipWS()
	n, err = p.value(0)
	if err != nil {
		return nil, nil, err
	}
	p.skipWS()
	if p.i < len(p.src) {
		return nil, nil, p.errf("unexpected %q after the end of the document", p.src[p.i])
	}
	return n, p.dups, nil
}

func (p *jsonParser) errf(format string, args ...any) error {
	return &syntaxError{line: p.line, col: p.col, msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) advance() {
	c := p.src[p.i]
	p.i++
	if c == '\n' {
		p.line++
		p.col = 1
	} else if c < 0x80 || c >= 0xC0 { // count runes, not UTF-8 continuation bytes
		p.col++
	}
}

func (p *jsonParser) skipWS() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.advance()
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf("nesting deeper than %d levels", maxDepth)
	}
	if p.i >= len(p.src) {
		return nil, p.errf("unexpected end of document")
	}
	n := &node{line: p.line, col: p.col}
	switch c := p.src[p.i]; {
	case c == '{':
		n.kind = nObject
		var seen map[string]int
		p.advance()
		p.skipWS()
		if p.i < len(p.src) && p.src[p.i] == '}' {
			p.advance()
			return n, nil
		}
		for {
			p.skipWS()
			if p.i >= len(p.src) || p.src[p.i] != '"' {
				return nil, p.errf("expected a quoted object key")
			}
			kp := pos{p.line, p.col}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.skipWS()
			if p.i >= len(p.src) || p.src[p.i] != ':' {
				return nil, p.errf("expected ':' after object key %q", k)
			}
			p.advance()
			p.skipWS()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if j := keyIndex(n, k, &seen); j >= 0 {
				p.dups = append(p.dups, syntaxError{line: kp.line, col: kp.col, msg: fmt.Sprintf("duplicate key %q (first at %d:%d); AWS keeps the last value, and so does iamprop", k, n.keyPos[j].line, n.keyPos[j].col)})
				n.keyPos[j], n.kids[j] = kp, v
			} else {
				n.keys = append(n.keys, k)
				n.keyPos = append(n.keyPos, kp)
				n.kids = append(n.kids, v)
			}
			p.skipWS()
			if p.i >= len(p.src) {
				return nil, p.errf("unexpected end of document inside an object")
			}
			if p.src[p.i] == ',' {
				p.advance()
				continue
			}
			if p.src[p.i] == '}' {
				p.advance()
				return n, nil
			}
			return nil, p.errf("expected ',' or '}' in object, found %q", p.src[p.i])
		}
	case c == '[':
		n.kind = nArray
		p.advance()
		p.skipWS()
		if p.i < len(p.src) && p.src[p.i] == ']' {
			p.advance()
			return n, nil
		}
		for {
			p.skipWS()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, v)
			p.skipWS()
			if p.i >= len(p.src) {
				return nil, p.errf("unexpected end of document inside an array")
			}
			if p.src[p.i] == ',' {
				p.advance()
				continue
			}
			if p.src[p.i] == ']' {
				p.advance()
				return n, nil
			}
			return nil, p.errf("expected ',' or ']' in array, found %q", p.src[p.i])
		}
	case c == '"':
		n.kind = nString
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		n.str = s
		return n, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n.kind = nNumber
		start := p.i
		for p.i < len(p.src) && isNumByte(p.src[p.i]) {
			p.advance()
		}
		lit := string(p.src[start:p.i])
		if _, err := strconv.ParseFloat(lit, 64); err != nil || !json.Valid([]byte(lit)) {
			return nil, &syntaxError{line: n.line, col: n.col, msg: fmt.Sprintf("malformed number %q", lit)}
		}
		n.str = lit
		return n, nil
	default:
		for _, w := range [...]struct {
			lit  string
			kind nodeKind
		}{{"true", nBool}, {"false", nBool}, {"null", nNull}} {
			if len(p.src)-p.i >= len(w.lit) && string(p.src[p.i:p.i+len(w.lit)]) == w.lit {
				for range len(w.lit) {
					p.advance()
				}
				n.kind, n.str = w.kind, w.lit
				return n, nil
			}
		}
		return nil, p.errf("unexpected character %q", c)
	}
}

func isNumByte(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')
}

// str reads a quoted string; encoding/json decodes the escapes so we inherit
// its exact rules (\uXXXX, surrogates, invalid UTF-8 replacement).
func (p *jsonParser) str() (string, error) {
	startLine, startCol := p.line, p.col
	start := p.i
	p.advance() // opening quote
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == '\\':
			p.advance()
			if p.i >= len(p.src) {
				return "", p.errf("unterminated string")
			}
			p.advance()
		case c == '"':
			p.advance()
			var s string
			if err := json.Unmarshal(p.src[start:p.i], &s); err != nil {
				return "", &syntaxError{line: startLine, col: startCol, msg: "malformed string: " + err.Error()}
			}
			return s, nil
		case c < 0x20:
			return "", p.errf("control character in string")
		default:
			p.advance()
		}
	}
	return "", &syntaxError{line: startLine, col: startCol, msg: "unterminated string"}
}

// keyIndex finds k among n's keys: a scan for small objects, a map (built
// on demand) for large ones so duplicate detection stays linear.
func keyIndex(n *node, k string, seen *map[string]int) int {
	if len(n.keys) < 32 {
		for j, old := range n.keys {
			if old == k {
				return j
			}
		}
		return -1
	}
	if *seen == nil {
		*seen = make(map[string]int, 2*len(n.keys))
		for j, old := range n.keys {
			(*seen)[old] = j
		}
	}
	if j, ok := (*seen)[k]; ok {
		return j
	}
	(*seen)[k] = len(n.keys)
	return -1
}
