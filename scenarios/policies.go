package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/evaluator"
)

// policyDef is one entry of `policies`: its JSON, where it was written, and
// every place that uses it, so it can be checked as each kind it plays.
type policyDef struct {
	name string
	node *yaml.Node // the YAML document, or the {file: path} mapping
	// fileNode is set for {file: path}: errors point at the path, and the
	// evaluator's own positions (in that file) go into the message.
	fileNode *yaml.Node
	fileYAML *yaml.Node // root of a YAML policy file, for mapping paths
	shown    string     // the policy file as shown in errors
	doc      json.RawMessage
	uses     []policyUse
}

type policyUse struct {
	kind  evaluator.Kind
	field string
}

// kindNames says what role a document plays, in a learner's words.
var kindNames = map[evaluator.Kind]string{
	evaluator.KindIdentity: "an identity-based policy",
	evaluator.KindResource: "a resource-based (bucket) policy",
	evaluator.KindTrust:    "a role trust policy",
	evaluator.KindSCP:      "a service control policy",
	evaluator.KindRCP:      "a resource control policy",
	evaluator.KindBoundary: "a permissions boundary",
	evaluator.KindSession:  "a session policy",
	evaluator.KindEndpoint: "a VPC endpoint policy",
}

func (l *loader) policyDefs(n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "policies", "must be a mapping of policy names to documents (inline, or {file: path}), got %s", describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "policies", "policy names must be plain words, got %s", describe(k))
			continue
		}
		name := k.Value
		f := join("policies", name)
		if !iamName.MatchString(name) {
			l.errorf(k, f, "policy names are 1 to 128 letters, digits and +=,.@_- (IAM's rule), got %q", name)
			continue
		}
		if _, dup := l.policies[name]; dup {
			l.errorf(k, f, "policy %q is defined twice", name)
			continue
		}
		def := &policyDef{name: name, node: v}
		l.policies[name] = def
		if v.Kind != yaml.MappingNode {
			l.errorf(v, f, "must be a policy document (a mapping with Version and Statement) or {file: path}, got %s", describe(v))
			continue
		}
		if len(v.Content) == 2 && deref(v.Content[0]).Value == "file" {
			l.policyFile(def, deref(v.Content[1]), f)
			continue
		}
		if doc, ok := l.toJSON(v, f); ok {
			def.doc = doc
			l.sc.Policies[name] = doc
		}
	}
}

// policyFile loads {file: path}: a JSON document is kept byte for byte (so
// the evaluator's positions are positions in that file); a YAML one is
// converted like an inline document.
func (l *loader) policyFile(def *policyDef, pn *yaml.Node, field string) {
	field = join(field, "file")
	rel, ok := l.nonEmpty(pn, field)
	if !ok {
		return
	}
	def.fileNode = pn
	data, shown, err := l.read(rel)
	if err != nil {
		l.errorf(pn, field, "cannot read policy file %q (relative to the scenario): %v", rel, unwrapPathError(err))
		return
	}
	def.shown = shown
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		if !json.Valid(trimmed) {
			var se *json.SyntaxError
			msg := "not valid JSON"
			if err := json.Unmarshal(trimmed, new(any)); errors.As(err, &se) {
				// Offset counts the bad byte; positions are in the whole file.
				lead := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
				line, col := offsetToLineCol(data, lead+int(se.Offset)-1)
				msg = fmt.Sprintf("%s:%d:%d: invalid JSON: %v", shown, line, col, se)
			}
			l.errorf(pn, field, "%s", msg)
			return
		}
		def.doc = append(json.RawMessage(nil), data...)
		l.sc.Policies[def.name] = def.doc
		return
	}
	root, err := parseYAML(data)
	if err != nil {
		l.errorf(pn, field, "policy file %s: %v", shown, err)
		return
	}
	// Convert with a decoder of its own, so issues name the policy file and
	// are then reported at the reference in the scenario.
	sub := &decoder{file: shown, budget: l.budget}
	doc, ok := sub.toJSON(root, "")
	l.budget = sub.budget
	if !ok {
		for _, is := range sub.issues {
			l.errorf(pn, field, "%s", is.String())
		}
		return
	}
	def.fileYAML = root
	def.doc = doc
	l.sc.Policies[def.name] = doc
}

func unwrapPathError(err error) error {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) {
		if inner := pe.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func offsetToLineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

// policyRef checks a reference to a named document and records the kind it
// is used as.
func (l *loader) policyRef(n *yaml.Node, field string, kind evaluator.Kind) (string, bool) {
	name, ok := l.nonEmpty(n, field)
	if !ok {
		return "", false
	}
	def, ok := l.policies[name]
	if !ok && l.full() {
		l.dropped++
		return "", false
	}
	if !ok {
		names := sortedKeys(l.policies)
		if len(names) == 0 {
			l.errorf(n, field, "unknown policy %q; the scenario's `policies` section defines none", name)
		} else {
			l.errorf(n, field, "unknown policy %q; expected one of the scenario's policies: %s%s", name, oneOf(names), suggest(name, names))
		}
		return "", false
	}
	def.uses = append(def.uses, policyUse{kind: kind, field: field})
	return name, true
}

// checkPolicies validates every named document as each kind it is used as.
// An unused document is checked as identity-based, or as resource-based when
// it names a Principal (the kinds that may stand alone).
func (l *loader) checkPolicies() {
	for _, name := range sortedKeys(l.policies) {
		def := l.policies[name]
		if def.doc == nil {
			continue
		}
		uses := def.uses
		if len(uses) == 0 {
			kind := evaluator.KindIdentity
			if bytes.Contains(def.doc, []byte(`"Principal"`)) {
				kind = evaluator.KindResource
			}
			uses = []policyUse{{kind: kind}}
		}
		done := map[evaluator.Kind]bool{}
		for _, u := range uses {
			if done[u.kind] {
				continue
			}
			done[u.kind] = true
			l.checkDocument(def, u)
		}
	}
}

func (l *loader) checkDocument(def *policyDef, u policyUse) {
	_, err := evaluator.Parse(def.name, u.kind, def.doc)
	if err == nil {
		return
	}
	as := "as " + kindNames[u.kind]
	if u.field != "" {
		as += ", used by " + u.field
	}
	field := join("policies", def.name)
	var ve *evaluator.ValidationError
	if !errors.As(err, &ve) || len(ve.Issues) == 0 {
		at := def.node
		if def.fileNode != nil {
			at = def.fileNode
		}
		l.errorf(at, field, "invalid policy (%s): %v", as, err)
		return
	}
	for _, is := range ve.Issues {
		path := cleanPolicyPath(is.Path)
		switch {
		case def.fileNode != nil && def.fileYAML == nil:
			// A JSON file: the evaluator's positions are in that file.
			l.errorf(def.fileNode, join(field, "file"), "%s:%d:%d: %s: %s (%s)", def.shown, is.Line, is.Column, path, is.Message, as)
		case def.fileNode != nil:
			at := findPath(def.fileYAML, path)
			l.errorf(def.fileNode, join(field, "file"), "%s:%d:%d: %s: %s (%s)", def.shown, at.Line, at.Column, path, is.Message, as)
		default:
			l.errorf(findPath(def.node, path), joinPolicyPath(field, path), "%s (%s)", is.Message, as)
		}
	}
}

// cleanPolicyPath normalises an evaluator path ("$.Statement[0].Effect",
// "/Statement/0/Effect" or "Statement[0].Effect") to the dotted form.
func cleanPolicyPath(p string) string {
	p = strings.TrimPrefix(p, "$")
	if strings.HasPrefix(p, "/") {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		var b strings.Builder
		for _, s := range parts {
			if _, err := strconv.Atoi(s); err == nil {
				b.WriteString("[" + s + "]")
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return strings.TrimPrefix(p, ".")
}

func joinPolicyPath(field, path string) string {
	switch {
	case path == "":
		return field
	case path[0] == '[':
		return field + path
	}
	return field + "." + path
}

// findPath walks a policy's YAML by an evaluator path to point errors at the
// offending value; it stops at the deepest node it can find.
func findPath(n *yaml.Node, path string) *yaml.Node {
	cur := deref(n)
	rest := path
	for rest != "" && cur != nil {
		if rest[0] == '.' {
			rest = rest[1:]
			continue
		}
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return cur
			}
			i, err := strconv.Atoi(rest[1:end])
			rest = rest[end+1:]
			if err != nil {
				return cur
			}
			switch {
			case cur.Kind == yaml.SequenceNode && i >= 0 && i < len(cur.Content):
				cur = deref(cur.Content[i])
			case cur.Kind == yaml.SequenceNode:
				return cur
			}
			// A single statement written without a list stands for [0].
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return cur
		}
		// Keys may contain dots (condition keys); take the longest match.
		var next *yaml.Node
		taken := 0
		for i := 0; i+1 < len(cur.Content); i += 2 {
			k := deref(cur.Content[i]).Value
			if strings.HasPrefix(rest, k) && len(k) > taken && (len(rest) == len(k) || rest[len(k)] == '.' || rest[len(k)] == '[') {
				next, taken = deref(cur.Content[i+1]), len(k)
			}
		}
		if next == nil {
			return cur
		}
		cur, rest = next, rest[taken:]
	}
	if cur == nil {
		return n
	}
	return cur
}
