package scenarios

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
)

// catalog indexes controlplane.Catalog() by action: the same table that
// generates docs/mutations.md, so the loader accepts exactly the calls and
// arguments the control plane does.
var catalog = sync.OnceValues(func() (map[string]controlplane.CallSpec, []string) {
	m := map[string]controlplane.CallSpec{}
	var names []string
	for _, c := range controlplane.Catalog() {
		m[c.Action] = c
		names = append(names, c.Action)
	}
	sort.Strings(names)
	return m, names
})

// docKind says what a policy-document argument of a call is, so a named
// document is validated by the rules of the role it plays there.
func docKind(call, arg string, with *object, orgPolicy map[string]string) evaluator.Kind {
	switch {
	case call == "s3:PutBucketPolicy":
		return evaluator.KindResource
	case arg == "assume_role_policy_document", call == "iam:UpdateAssumeRolePolicy":
		return evaluator.KindTrust
	case call == "organizations:CreatePolicy":
		if t := with.get("type"); t != nil && t.Value == "RESOURCE_CONTROL_POLICY" {
			return evaluator.KindRCP
		}
		return evaluator.KindSCP
	case call == "organizations:UpdatePolicy":
		if id := with.get("policy_id"); id != nil && orgPolicy[id.Value] == "rcp" {
			return evaluator.KindRCP
		}
		return evaluator.KindSCP
	}
	return evaluator.KindIdentity
}

var stepKeys = []string{"at", "region", "call", "with", "account", "label"}

func (l *loader) steps(n *yaml.Node) {
	items := l.list(n, "steps", "control-plane calls {at, region, call, with}")
	l.totalSteps = len(items)
	// Labels first, so a probe's consistency may name any step.
	for i, it := range items {
		if it.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(it.Content); j += 2 {
			if k := deref(it.Content[j]); k.Value == "label" {
				v := deref(it.Content[j+1])
				if v.Kind == yaml.ScalarNode && v.Value != "" {
					if _, dup := l.labels[v.Value]; dup {
						l.errorf(v, join(index("steps", i), "label"), "label %q is used by another step; labels name one step", v.Value)
					} else {
						l.labels[v.Value] = i + 1
					}
				}
			}
		}
	}
	for i, it := range items {
		l.step(it, index("steps", i))
	}
}

func (l *loader) step(n *yaml.Node, f string) {
	o := l.object(n, f, stepKeys...)
	if o.n == nil || o.n.Kind != yaml.MappingNode {
		return
	}
	st := Step{Line: o.n.Line, Column: o.n.Column}
	if an := l.require(o, "at", "when the call is committed, e.g. 1s"); an != nil {
		st.At, _ = l.instant(an, join(f, "at"))
	}
	if rn := l.require(o, "region", "the region that commits the call"); rn != nil {
		st.Region, _ = l.region(rn, join(f, "region"))
	}
	if an := o.get("account"); an != nil {
		st.Account = l.accountRef(o, f)
	}
	if ln := o.get("label"); ln != nil {
		st.Label, _ = l.nonEmpty(ln, join(f, "label"))
	}
	cn := l.require(o, "call", "the AWS API action, e.g. s3:PutBucketPolicy (see docs/mutations.md)")
	if cn == nil {
		return
	}
	call, ok := l.nonEmpty(cn, join(f, "call"))
	if !ok {
		return
	}
	specs, names := catalog()
	spec, known := specs[call]
	if !known {
		l.errorf(cn, join(f, "call"), "unknown call %q; expected an AWS API action listed in docs/mutations.md%s", call, suggest(call, names))
		return
	}
	st.Call = call
	with, ok := l.with(spec, o.get("with"), o.n, join(f, "with"))
	if ok {
		st.With = with
		l.sc.Steps = append(l.sc.Steps, st)
	}
}

// with checks a call's arguments against its catalog entry and converts
// them to JSON in file order, replacing policy names by their documents.
func (l *loader) with(spec controlplane.CallSpec, n, stepNode *yaml.Node, f string) (json.RawMessage, bool) {
	args := map[string]controlplane.ArgSpec{}
	var argNames []string
	for _, a := range spec.Args {
		args[a.Name] = a
		argNames = append(argNames, a.Name)
	}
	before := len(l.issues)
	w := &object{n: stepNode, path: f, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	var order []string
	if n != nil {
		n = deref(n)
		if n.Kind != yaml.MappingNode {
			l.errorf(n, f, "must be a mapping of the call's arguments (%s), got %s", strings.Join(argNames, ", "), describe(n))
			return nil, false
		}
		w = l.objectOf(n, f, "argument", argNames...)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i]).Value
			if w.keys[k] == deref(n.Content[i]) {
				order = append(order, k)
			}
		}
	}
	for _, a := range spec.Args {
		if a.Required && !w.has(a.Name) {
			at := stepNode
			if n != nil {
				at = n
			}
			l.errorf(at, join(f, a.Name), "%s needs argument %q (%s): %s", spec.Action, a.Name, a.Type, a.Description)
		}
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range order {
		a, v, af := args[k], w.get(k), join(f, k)
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(&buf, k)
		buf.WriteByte(':')
		switch a.Type {
		case "string":
			if s, ok := l.str(v, af); ok {
				writeString(&buf, s)
			}
		case "boolean":
			if b, ok := l.boolean(v, af); ok {
				buf.WriteString(map[bool]string{true: "true", false: "false"}[b])
			}
		case "integer":
			if x, ok := l.integer(v, af); ok {
				buf.WriteString(formatInt(x))
			}
		case "policy document":
			kind := docKind(spec.Action, k, w, l.orgPolicy)
			if doc, ok := l.documentArg(v, af, kind); ok {
				buf.Write(doc)
			}
		default:
			if doc, ok := l.toJSON(v, af); ok {
				buf.Write(doc)
			}
		}
	}
	buf.WriteByte('}')
	if len(l.issues) > before {
		return nil, false
	}
	return buf.Bytes(), true
}

func formatInt(x int64) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// documentArg decodes a policy-document argument: the name of a document in
// `policies`, an inline mapping, or a string holding JSON (as the AWS CLI
// takes it).
func (l *loader) documentArg(v *yaml.Node, f string, kind evaluator.Kind) (json.RawMessage, bool) {
	v = deref(v)
	switch {
	case v.Kind == yaml.MappingNode:
		doc, ok := l.toJSON(v, f)
		if !ok {
			return nil, false
		}
		def := &policyDef{name: f, node: v, doc: doc}
		l.checkInline(def, kind, f)
		return doc, true
	case v.Kind == yaml.ScalarNode && strings.HasPrefix(strings.TrimSpace(v.Value), "{"):
		if !json.Valid([]byte(v.Value)) {
			l.errorf(v, f, "a policy document given as a string must be valid JSON")
			return nil, false
		}
		def := &policyDef{name: f, node: v, doc: json.RawMessage(v.Value)}
		l.checkInline(def, kind, f)
		var buf bytes.Buffer
		writeString(&buf, v.Value)
		return buf.Bytes(), true
	}
	name, ok := l.policyRef(v, f, kind)
	if !ok {
		return nil, false
	}
	doc := l.sc.Policies[name]
	if doc == nil {
		return nil, false // the definition is broken; reported there
	}
	return doc, true
}

// checkInline validates a document written in place, reporting at it.
func (l *loader) checkInline(def *policyDef, kind evaluator.Kind, field string) {
	_, err := evaluator.Parse(field, kind, def.doc)
	if err == nil {
		return
	}
	as := "as " + kindNames[kind]
	if ve, ok := err.(*evaluator.ValidationError); ok && len(ve.Issues) > 0 {
		for _, is := range ve.Issues {
			p := cleanPolicyPath(is.Path)
			at := def.node
			if def.node.Kind == yaml.MappingNode {
				at = findPath(def.node, p)
			}
			l.errorf(at, joinPolicyPath(field, p), "%s (%s)", is.Message, as)
		}
		return
	}
	l.errorf(def.node, field, "invalid policy (%s): %v", as, err)
}
