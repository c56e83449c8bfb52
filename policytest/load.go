package policytest

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/internal/yamlcheck"
)

// Suite is one policy test file, loaded and validated: every policy parsed and
// compiled by the evaluator, every request resolved. Running it cannot fail
// for a reason that loading could have found.
type Suite struct {
	File  string  // the path the file was loaded from, as given
	Name  string  // the optional `name:` of the file
	Cases []*Case // in file order
	// Warnings are documents AWS accepts that iamprop models only in part
	// (a typed condition value it cannot read, a principal given as an IAM
	// unique id): the file still loads and runs, and the CLI prints them.
	Warnings []*Error
}

// Case is one request with the policies that apply to it and the decision
// the author expects.
type Case struct {
	Name         string
	Line, Column int    // where the case starts in the file
	Doc          string // optional `doc:` note, e.g. the AWS documentation page the case comes from
	Request      evaluator.Request
	Input        evaluator.Input
	Expect       evaluator.Effect
}

// Error is one problem in a policy test file, at a YAML line and column.
// Its text is `file:line:col: field: reason`, the format editors and CI logs
// turn into links.
type Error struct {
	File         string
	Line, Column int
	Field        string // dotted path of the element, e.g. cases[2].expect
	Reason       string
	Warning      bool // a Suite warning, not a load error: the text says "warning: "
}

func (e *Error) Error() string {
	reason := e.Reason
	if e.Warning {
		reason = "warning: " + reason
	}
	if e.Field == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, reason)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Field, reason)
}

// Errors is every problem found in one file, in file order. A file with any
// error yields no Suite: a half-loaded suite would report a pass that tested
// less than the author wrote.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// maxErrors caps how many problems one file reports; past that the first
// ones are what the author needs to fix anyway.
const maxErrors = 50

// Decision names used in test files and output.
const (
	DecisionAllow        = "allow"
	DecisionExplicitDeny = "explicit-deny"
	DecisionImplicitDeny = "implicit-deny"
)

// DecisionName returns the test-file spelling of an evaluator effect.
func DecisionName(e evaluator.Effect) string {
	switch e {
	case evaluator.Allow:
		return DecisionAllow
	case evaluator.ExplicitDeny:
		return DecisionExplicitDeny
	default:
		return DecisionImplicitDeny
	}
}

func parseDecision(s string) (evaluator.Effect, bool) {
	switch s {
	case DecisionAllow:
		return evaluator.Allow, true
	case DecisionExplicitDeny:
		return evaluator.ExplicitDeny, true
	case DecisionImplicitDeny:
		return evaluator.ImplicitDeny, true
	}
	return 0, false
}

// LoadFile reads and loads one policy test file.
func LoadFile(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, data)
}

// Load parses a policy test file (the format of docs/design.md, "Policy test
// file"). file names the source in errors. On failure the error is an Errors
// value listing every problem with its line and column; Load never panics.
func Load(file string, data []byte) (suite *Suite, err error) {
	l := &loader{file: file, named: map[string]*yaml.Node{}, parsed: map[parsedKey]parsed{}, inline: map[inlineKey]*evaluator.Policy{}, sizes: map[*yaml.Node]int{}, budget: yamlcheck.Limit}
	defer func() {
		// A panic here is a bug in this package or in the evaluator, never
		// the user's fault; report it as an error that says so, and keep the
		// command alive for the other files.
		if r := recover(); r != nil {
			suite = nil
			err = Errors{{File: file, Line: 1, Column: 1, Reason: fmt.Sprintf("internal error while loading (please report): %v", r)}}
		}
	}()
	s := l.load(data)
	if s != nil {
		s.Warnings = l.warns
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, l.errs
	}
	return s, nil
}

type parsedKey struct {
	name string
	kind evaluator.Kind
}

type parsed struct {
	p   *evaluator.Policy
	err bool
}

type loader struct {
	file   string
	errs   Errors
	warns  []*Error
	named  map[string]*yaml.Node // the `policies:` library
	parsed map[parsedKey]parsed  // named documents compiled per kind
	// inline caches inline documents per node and kind: a document reached
	// again through an alias is compiled once.
	inline map[inlineKey]*evaluator.Policy
	// budget is what is left of yamlcheck.Limit: every policy use costs
	// the values its document expands to, so aliases to aliases cannot
	// make loading cost more than a large file would.
	budget int
	sizes  map[*yaml.Node]int
	over   bool // the budget ran out; the error is reported once
}

type inlineKey struct {
	node *yaml.Node
	kind evaluator.Kind
}

// spend charges the values n expands to against the file's budget; false
// (with one error for the file) once it is exhausted.
func (l *loader) spend(n *yaml.Node, field string) bool {
	if l.over {
		return false
	}
	size, ok := l.sizes[n]
	if !ok {
		size = yamlcheck.Size(n, yamlcheck.Limit+1)
		l.sizes[n] = size
	}
	l.budget -= size
	if l.budget < 0 {
		l.over = true
		l.errorf(n, field, "the file is too large after expanding aliases (more than %d values); use each policy by name instead of repeating aliases", yamlcheck.Limit)
		return false
	}
	return true
}

// nodeError is a problem at a node, before the field path is known.
type nodeError struct {
	node *yaml.Node
	msg  string
}

func (e *nodeError) Error() string { return e.msg }

func (l *loader) errorf(n *yaml.Node, field, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		return
	}
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, n.Column
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Column: col, Field: field, Reason: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func (l *loader) load(data []byte) *Suite {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Column: 1, Reason: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return nil
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		l.errorf(nil, "", "empty file: expected a mapping with `cases:`")
		return nil
	}
	top := resolve(root.Content[0])
	if top.Kind != yaml.MappingNode {
		l.errorf(top, "", "expected a mapping with `cases:`, got %s", kindName(top))
		return nil
	}
	s := &Suite{File: l.file}
	var casesNode *yaml.Node
	l.eachKey(top, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			s.Name, _ = l.str(v, "name")
		case "policies":
			l.library(v)
		case "cases":
			casesNode = v
		default:
			l.errorf(k, key, "unknown key (want name, policies or cases)%s", yamlcheck.Suggest(key, []string{"name", "policies", "cases"}))
		}
	})
	if casesNode == nil {
		l.errorf(top, "cases", "missing: a test file needs at least one case")
		return nil
	}
	casesNode = resolve(casesNode)
	if casesNode.Kind != yaml.SequenceNode {
		l.errorf(casesNode, "cases", "must be a list of cases, got %s", kindName(casesNode))
		return nil
	}
	if len(casesNode.Content) == 0 {
		l.errorf(casesNode, "cases", "empty: a test file needs at least one case")
	}
	seen := map[string]*yaml.Node{}
	for i, cn := range casesNode.Content {
		if l.over {
			break
		}
		c := l.testCase(fmt.Sprintf("cases[%d]", i), resolve(cn))
		if c == nil {
			continue
		}
		if prev, dup := seen[c.Name]; dup {
			l.errorf(cn, fmt.Sprintf("cases[%d].name", i), "duplicate case name %q (first at line %d)", c.Name, prev.Line)
			continue
		}
		seen[c.Name] = cn
		s.Cases = append(s.Cases, c)
	}
	return s
}

// eachKey calls f for every key of a mapping, reporting non-string and
// duplicate keys itself.
func (l *loader) eachKey(m *yaml.Node, field string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, field, "keys must be plain strings")
			continue
		}
		if seen[k.Value] {
			l.errorf(k, join(field, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		f(k.Value, k, v)
	}
}

func (l *loader) library(n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "policies", "must be a mapping from names to policy documents, got %s", kindName(n))
		return
	}
	l.eachKey(n, "policies", func(name string, k, v *yaml.Node) {
		v = resolve(v)
		if name == "" {
			l.errorf(k, "policies", "a policy name must not be empty")
			return
		}
		if v.Kind != yaml.MappingNode {
			l.errorf(v, "policies."+name, "must be a policy document (a mapping with Version and Statement), got %s", kindName(v))
			return
		}
		l.named[name] = v
	})
}

// caseKeys lists every key a case may have, for the unknown-key message.
var caseKeys = []string{"name", "doc", "request", "identity", "resource_policy", "boundary", "session", "endpoint_policy", "scps", "rcps", "block_public_access", "management_account", "expect"}

func (l *loader) testCase(field string, n *yaml.Node) *Case {
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "a case must be a mapping, got %s", kindName(n))
		return nil
	}
	before := len(l.errs)
	c := &Case{Line: n.Line, Column: n.Column}
	vals := map[string]*yaml.Node{}
	l.eachKey(n, field, func(key string, k, v *yaml.Node) {
		for _, ok := range caseKeys {
			if key == ok {
				vals[key] = v
				return
			}
		}
		hint := ""
		if strings.Contains(key, " ") {
			// `{name: a, b, expect: allow}` splits the name at the comma.
			hint = "; a comma inside an unquoted value of a {flow: mapping} ends the value: quote it"
		}
		l.errorf(k, join(field, key), "unknown key (want one of %s)%s%s", strings.Join(caseKeys, ", "), yamlcheck.Suggest(key, caseKeys), hint)
	})
	if v, ok := vals["name"]; ok {
		c.Name, _ = l.str(v, join(field, "name"))
	} else {
		l.errorf(n, join(field, "name"), "missing: every case needs a name")
	}
	if v, ok := vals["doc"]; ok {
		c.Doc, _ = l.str(v, join(field, "doc"))
	}
	if v, ok := vals["expect"]; ok {
		if s, ok := l.str(v, join(field, "expect")); ok {
			e, ok := parseDecision(s)
			if !ok {
				l.errorf(v, join(field, "expect"), "unknown decision %q (want allow, explicit-deny or implicit-deny)", s)
			}
			c.Expect = e
		}
	} else {
		l.errorf(n, join(field, "expect"), "missing: want allow, explicit-deny or implicit-deny")
	}
	if v, ok := vals["request"]; ok {
		l.request(v, join(field, "request"), &c.Request)
	} else {
		l.errorf(n, join(field, "request"), "missing: every case needs a request (principal, action, resource)")
	}

	resKind := evaluator.KindResource
	if strings.EqualFold(c.Request.Action, "sts:AssumeRole") {
		resKind = evaluator.KindTrust
	}
	if v, ok := vals["identity"]; ok {
		c.Input.Identity = l.policyList(v, join(field, "identity"), "identity", evaluator.KindIdentity)
	}
	if v, ok := vals["resource_policy"]; ok {
		c.Input.ResourcePolicy = l.policy(v, join(field, "resource_policy"), "resource_policy", resKind)
	}
	if v, ok := vals["boundary"]; ok {
		c.Input.Boundary = l.policy(v, join(field, "boundary"), "boundary", evaluator.KindBoundary)
	}
	if v, ok := vals["session"]; ok {
		c.Input.Session = l.policy(v, join(field, "session"), "session", evaluator.KindSession)
	}
	if v, ok := vals["endpoint_policy"]; ok {
		c.Input.Endpoint = l.policy(v, join(field, "endpoint_policy"), "endpoint_policy", evaluator.KindEndpoint)
	}
	if v, ok := vals["scps"]; ok {
		c.Input.SCPs = l.levels(v, join(field, "scps"), "scps", evaluator.KindSCP)
	}
	if v, ok := vals["rcps"]; ok {
		c.Input.RCPs = l.levels(v, join(field, "rcps"), "rcps", evaluator.KindRCP)
	}
	if v, ok := vals["block_public_access"]; ok {
		l.bpa(v, join(field, "block_public_access"), &c.Input.BlockPublicAccess)
	}
	if v, ok := vals["management_account"]; ok {
		if mgmt, ok := l.boolean(v, join(field, "management_account")); ok && mgmt {
			// AWS: SCPs and RCPs never restrict the organization's management
			// account. The file may still list the organization's policies
			// (that is what the case is about); they just do not apply.
			c.Input.SCPs, c.Input.RCPs = nil, nil
		}
	}
	if len(l.errs) > before {
		return nil
	}
	return c
}

var requestKeys = []string{"principal", "role_path", "action", "resource", "resource_account", "context"}

func (l *loader) request(n *yaml.Node, field string, r *evaluator.Request) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "must be a mapping with principal, action and resource, got %s", kindName(n))
		return
	}
	vals := map[string]*yaml.Node{}
	l.eachKey(n, field, func(key string, k, v *yaml.Node) {
		for _, ok := range requestKeys {
			if key == ok {
				vals[key] = v
				return
			}
		}
		l.errorf(k, join(field, key), "unknown key (want one of %s)%s", strings.Join(requestKeys, ", "), yamlcheck.Suggest(key, requestKeys))
	})
	for _, req := range []string{"principal", "action", "resource"} {
		if _, ok := vals[req]; !ok {
			l.errorf(n, join(field, req), "missing")
		}
	}
	if v, ok := vals["principal"]; ok {
		if s, ok := l.str(v, join(field, "principal")); ok {
			p, err := evaluator.ParsePrincipal(s)
			if err != nil {
				l.errorf(v, join(field, "principal"), "%v", err)
			}
			r.Principal = p
		}
	}
	if v, ok := vals["role_path"]; ok {
		// A session ARN does not show its role's path; AWS matches the
		// role ARN with its path, so the case gives it.
		if s, ok := l.str(v, join(field, "role_path")); ok {
			switch {
			case len(s) == 0 || s[0] != '/' || s[len(s)-1] != '/':
				l.errorf(v, join(field, "role_path"), "%q: an IAM path starts and ends with / (like /team/)", s)
			case r.Principal.Type != evaluator.PrincipalAssumedRole && r.Principal.Type != evaluator.PrincipalRole:
				l.errorf(v, join(field, "role_path"), "only a role or an assumed-role session has a role path")
			default:
				r.Principal.Path = s
			}
		}
	}
	if v, ok := vals["action"]; ok {
		if s, ok := l.str(v, join(field, "action")); ok {
			if !strings.Contains(s, ":") {
				l.errorf(v, join(field, "action"), "%q has no service prefix (want e.g. s3:GetObject)", s)
			}
			r.Action = s
		}
	}
	if v, ok := vals["resource"]; ok {
		r.Resource, _ = l.str(v, join(field, "resource"))
	}
	if v, ok := vals["resource_account"]; ok {
		// Account ids are often written unquoted; YAML then reads a number
		// (or, with a leading 0, a float). Take the text as written.
		v = resolve(v)
		if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!str" && v.ShortTag() != "!!int" && v.ShortTag() != "!!float") {
			l.errorf(v, join(field, "resource_account"), "must be a 12-digit account id, got %s", kindName(v))
		} else if !isAccountID(v.Value) {
			l.errorf(v, join(field, "resource_account"), "%q is not a 12-digit account id", v.Value)
		} else {
			r.ResourceAccount = v.Value
		}
	}
	if v, ok := vals["context"]; ok {
		values := l.context(v, join(field, "context"))
		if values != nil {
			ctx, err := evaluator.NewContext(values)
			if err != nil {
				l.errorf(v, join(field, "context"), "%v", err)
			}
			r.Context = ctx
		}
	}
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// context converts the `context:` mapping to the values NewContext takes:
// string, int, float64, bool or a list of those.
func (l *loader) context(n *yaml.Node, field string) map[string]any {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "must be a mapping from context keys to values, got %s", kindName(n))
		return nil
	}
	out := map[string]any{}
	l.eachKey(n, field, func(key string, k, v *yaml.Node) {
		f := join(field, key)
		if !strings.Contains(key, ":") {
			l.errorf(k, f, "context key %q has no prefix (want e.g. aws:SourceIp)", key)
			return
		}
		v = resolve(v)
		switch v.Kind {
		case yaml.ScalarNode:
			if x, ok := l.contextScalar(v, f); ok {
				out[key] = x
			}
		case yaml.SequenceNode:
			list := make([]any, 0, len(v.Content))
			for i, e := range v.Content {
				e = resolve(e)
				if e.Kind != yaml.ScalarNode {
					l.errorf(e, fmt.Sprintf("%s[%d]", f, i), "must be a string, number or bool, got %s", kindName(e))
					continue
				}
				if x, ok := l.contextScalar(e, fmt.Sprintf("%s[%d]", f, i)); ok {
					list = append(list, x)
				}
			}
			out[key] = list
		default:
			l.errorf(v, f, "must be a string, number, bool or a list of those, got %s", kindName(v))
		}
	})
	return out
}

func (l *loader) contextScalar(v *yaml.Node, field string) (any, bool) {
	if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return v.Value, true
	}
	switch v.ShortTag() {
	case "!!bool":
		b, err := strconv.ParseBool(v.Value)
		if err == nil {
			return b, true
		}
		return v.Value, true
	case "!!int":
		if i, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			return int(i), true
		}
		return v.Value, true
	case "!!float":
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
			return f, true
		}
		return v.Value, true
	case "!!null":
		l.errorf(v, field, "a context value must not be null (leave the key out to test a missing key)")
		return nil, false
	}
	return v.Value, true
}

func (l *loader) bpa(n *yaml.Node, field string, b *evaluator.BlockPublicAccess) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, field, "must be a mapping of the four settings, got %s", kindName(n))
		return
	}
	l.eachKey(n, field, func(key string, k, v *yaml.Node) {
		var dst *bool
		switch key {
		case "block_public_acls":
			dst = &b.BlockPublicAcls
		case "ignore_public_acls":
			dst = &b.IgnorePublicAcls
		case "block_public_policy":
			dst = &b.BlockPublicPolicy
		case "restrict_public_buckets":
			dst = &b.RestrictPublicBuckets
		default:
			l.errorf(k, join(field, key), "unknown setting (want block_public_acls, ignore_public_acls, block_public_policy or restrict_public_buckets)%s",
				yamlcheck.Suggest(key, []string{"block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"}))
			return
		}
		if x, ok := l.boolean(v, join(field, key)); ok {
			*dst = x
		}
	})
}

// policyList loads a list of POLICY (names or inline documents).
func (l *loader) policyList(n *yaml.Node, field, label string, kind evaluator.Kind) []*evaluator.Policy {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, field, "must be a list of policies (names from `policies` or inline documents), got %s", kindName(n))
		return nil
	}
	out := make([]*evaluator.Policy, 0, len(n.Content))
	for i, e := range n.Content {
		if l.over {
			return nil
		}
		if p := l.policy(e, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%s[%d]", label, i), kind); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// levels loads the organization shape: one list of policies per level.
func (l *loader) levels(n *yaml.Node, field, label string, kind evaluator.Kind) [][]*evaluator.Policy {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, field, "must be a list of organization levels, each a list of policies (e.g. [[root-policy], [ou-policy]]), got %s", kindName(n))
		return nil
	}
	out := make([][]*evaluator.Policy, 0, len(n.Content))
	for i, e := range n.Content {
		if resolve(e).Kind != yaml.SequenceNode {
			l.errorf(e, fmt.Sprintf("%s[%d]", field, i), "each organization level must be a list of policies, got %s", kindName(resolve(e)))
			continue
		}
		out = append(out, l.policyList(e, fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%s[%d]", label, i), kind))
	}
	return out
}

// policy loads one POLICY: a name from the library, or an inline document.
// label names an inline document in explanations ("identity[0]").
func (l *loader) policy(n *yaml.Node, field, label string, kind evaluator.Kind) *evaluator.Policy {
	n = resolve(n)
	if !l.spend(n, field) {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" {
			l.errorf(n, field, "must be a policy name or an inline document, got %s", kindName(n))
			return nil
		}
		doc, ok := l.named[n.Value]
		if !ok {
			l.errorf(n, field, "unknown policy name %q%s", n.Value, l.suggest(n.Value))
			return nil
		}
		key := parsedKey{n.Value, kind}
		if got, done := l.parsed[key]; done {
			return got.p
		}
		p := l.compile(doc, "policies."+n.Value, n.Value, kind)
		l.parsed[key] = parsed{p: p, err: p == nil}
		return p
	case yaml.MappingNode:
		key := inlineKey{n, kind}
		if p, done := l.inline[key]; done {
			return p
		}
		p := l.compile(n, field, label, kind)
		l.inline[key] = p
		return p
	}
	l.errorf(n, field, "must be a policy name or an inline document, got %s", kindName(n))
	return nil
}

// suggest names the library's policies, so a typo is a one-look fix.
func (l *loader) suggest(name string) string {
	if len(l.named) == 0 {
		return " (the file has no `policies:` library)"
	}
	names := make([]string, 0, len(l.named))
	for n := range l.named {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

// compile converts a YAML document to JSON and hands it to the evaluator,
// mapping its JSON positions back to YAML positions.
func (l *loader) compile(n *yaml.Node, field, name string, kind evaluator.Kind) *evaluator.Policy {
	doc, err := toJSON(n)
	if err != nil {
		var ne *nodeError
		if errors.As(err, &ne) {
			l.errorf(ne.node, field, "%s", ne.msg)
		} else {
			l.errorf(n, field, "%v", err)
		}
		return nil
	}
	p, err := evaluator.Parse(name, kind, doc.data)
	var issues []evaluator.Issue
	if err == nil {
		if p == nil {
			l.errorf(n, field, "internal error: the evaluator returned no policy and no error (please report)")
			return nil
		}
		issues = p.Warnings()
	} else {
		var ve *evaluator.ValidationError
		if !errors.As(err, &ve) || len(ve.Issues) == 0 {
			l.errorf(n, field, "%v", err)
			return nil
		}
		issues = ve.Issues
	}
	for _, is := range issues {
		at := doc.nodeAt(is.Line, is.Column)
		if at == nil {
			at = nodeAtPath(n, is.Path)
		}
		f := field
		if p := strings.TrimPrefix(strings.TrimPrefix(is.Path, "$"), "."); p != "" {
			if strings.HasPrefix(p, "[") {
				f += p
			} else {
				f += "." + p
			}
		}
		msg := is.Message
		if is.Warning {
			line, col := 1, 1
			if at != nil && at.Line > 0 {
				line, col = at.Line, at.Column
			}
			l.warns = append(l.warns, &Error{File: l.file, Line: line, Column: col, Field: f, Reason: msg, Warning: true})
			continue
		}
		if is.Code != "" && !strings.Contains(msg, is.Code) {
			msg += " (" + is.Code + ")"
		}
		l.errorf(at, f, "%s", msg)
	}
	if err != nil {
		return nil
	}
	return p
}

func (l *loader) str(n *yaml.Node, field string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		l.errorf(n, field, "must be a string, got %s", kindName(n))
		return "", false
	}
	if n.ShortTag() != "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		switch n.ShortTag() {
		case "!!bool", "!!int", "!!float":
			// A bare `yes`-like or numeric value where a string belongs is
			// almost always a mistake worth telling.
			l.errorf(n, field, "must be a string, got %s %s (quote it if you mean the text)", kindName(n), n.Value)
			return "", false
		}
	}
	return n.Value, true
}

func (l *loader) boolean(n *yaml.Node, field string) (bool, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		l.errorf(n, field, "must be true or false, got %s", kindName(n))
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil {
		l.errorf(n, field, "must be true or false, got %q", n.Value)
		return false, false
	}
	return b, true
}

// resolve follows YAML aliases (`*name`) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
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
		case "!!bool":
			return "a bool"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		case "!!timestamp":
			return "a timestamp"
		}
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}
