package evaluator

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The two policy language versions AWS accepts. Under 2008-10-17 (also the
// default when Version is absent) policy variables are literal text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Parse parses, validates and compiles a policy document of the given kind.
// On failure it returns a *ValidationError listing every issue found, each
// with the JSON path, line and column, and no policy: never a half-built one.
func Parse(name string, kind Kind, document []byte) (*Policy, error) {
	v := &validator{doc: name, kind: kind}
	if MaxSize(kind) == 0 {
		return nil, &ValidationError{Document: name, Issues: []Issue{{Path: "$", Line: 1, Column: 1, Code: CodeMalformed, Message: fmt.Sprintf("unknown policy kind %d", uint8(kind))}}}
	}
	if len(document) > maxDocumentBytes {
		return nil, &ValidationError{Document: name, Issues: []Issue{{Path: "$", Line: 1, Column: 1, Code: CodeLimitExceeded,
			Message: fmt.Sprintf("the document has %d bytes; a %s policy may have at most %d %s", len(document), kind, MaxSize(kind), SizeUnit(kind))}}}
	}
	root, dups, err := parseJSON(document)
	if err != nil {
		var se *syntaxError
		is := Issue{Path: "$", Line: 1, Column: 1, Code: CodeMalformed, Message: "not valid JSON: " + err.Error()}
		if errors.As(err, &se) {
			is.Line, is.Column, is.Message = se.line, se.col, "not valid JSON: "+se.msg
		}
		return nil, &ValidationError{Document: name, Issues: []Issue{is}}
	}
	if size, max := Size(kind, document), MaxSize(kind); size > max {
		v.add(root, "$", CodeLimitExceeded, "a %s policy may have at most %d %s, this one has %d", kind, max, SizeUnit(kind), size)
	}
	for _, d := range dups {
		v.issues = append(v.issues, Issue{Path: "$", Line: d.line, Column: d.col, Code: CodeWarning, Message: d.msg, Warning: true})
	}
	p := v.policy(root)
	for _, is := range v.issues {
		if !is.Warning {
			return nil, &ValidationError{Document: name, Issues: v.issues}
		}
	}
	p.warnings = v.issues
	p.name, p.kind = name, kind
	p.doc = append([]byte(nil), document...)
	p.index()
	for i := range p.stmts {
		p.hasDeny = p.hasDeny || p.stmts[i].deny
	}
	p.public = kind == KindResource && computePublic(p)
	return p, nil
}

// maxDocumentBytes bounds the raw input Parse reads at all (white space
// included), far above every quota, so hostile input cannot cost much.
const maxDocumentBytes = 1 << 20

// validator collects issues while compiling.
type validator struct {
	doc    string
	kind   Kind
	vars   bool // policy variables are active (Version 2012-10-17)
	issues []Issue
}

func (v *validator) add(n *node, path, code, format string, args ...any) {
	v.issues = append(v.issues, Issue{Path: path, Line: n.line, Column: n.col, Code: code, Message: fmt.Sprintf(format, args...)})
}

// badKey reports an issue at the i-th key of object n (unknown names).
func (v *validator) badKey(n *node, i int, path, format string, args ...any) {
	v.issues = append(v.issues, Issue{Path: path, Line: n.keyPos[i].line, Column: n.keyPos[i].col, Code: CodeMalformed, Message: fmt.Sprintf(format, args...)})
}

// warn records something AWS accepts but iamprop models only in part.
func (v *validator) warn(n *node, path, format string, args ...any) {
	v.issues = append(v.issues, Issue{Path: path, Line: n.line, Column: n.col, Code: CodeWarning, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (v *validator) bad(n *node, path, format string, args ...any) {
	v.add(n, path, CodeMalformed, format, args...)
}

func (v *validator) policy(root *node) *Policy {
	p := &Policy{version: Version2008}
	if root.kind != nObject {
		v.bad(root, "$", "a policy document must be a JSON object, not %s", root.kind)
		return p
	}
	var stmtNode *node
	for i, k := range root.keys {
		n := root.kids[i]
		switch k {
		case "Version":
			if n.kind != nString || (n.str != Version2012 && n.str != Version2008) {
				v.bad(n, "Version", "Version must be %q or %q", Version2012, Version2008)
				continue
			}
			p.version = n.str
		case "Id":
			if n.kind != nString {
				v.bad(n, "Id", "Id must be a string")
			}
		case "Statement":
			stmtNode = n
		default:
			v.badKey(root, i, join("", k), "unknown element %q (expected Version, Id or Statement)", k)
		}
	}
	v.vars = p.version == Version2012
	if stmtNode == nil {
		v.bad(root, "$", "the Statement element is required")
		return p
	}
	switch stmtNode.kind {
	case nObject:
		p.stmts = append(p.stmts, v.statement(stmtNode, "Statement"))
	case nArray:
		if len(stmtNode.kids) == 0 {
			v.bad(stmtNode, "Statement", "Statement must hold at least one statement")
		}
		for i, s := range stmtNode.kids {
			p.stmts = append(p.stmts, v.statement(s, fmt.Sprintf("Statement[%d]", i)))
		}
	default:
		v.bad(stmtNode, "Statement", "Statement must be an object or an array of objects, not %s", stmtNode.kind)
	}
	sids := map[string]string{}
	for i := range p.stmts {
		if s := p.stmts[i].sid; s != "" {
			if prev, dup := sids[s]; dup {
				n := stmtNode
				if stmtNode.kind == nArray {
					n = stmtNode.kids[i]
				}
				// IAM documents that Sids must be unique in a policy; S3
				// and Organizations do not, so there it is a warning.
				if v.iamKind() {
					v.bad(n, fmt.Sprintf("Statement[%d].Sid", i), "duplicate Sid %q (also in %s)", s, prev)
				} else {
					v.warn(n, fmt.Sprintf("Statement[%d].Sid", i), "duplicate Sid %q (also in %s); IAM refuses this, %s policies are not documented to", s, prev, v.kind)
				}
			}
			sids[s] = fmt.Sprintf("Statement[%d]", i)
		}
	}
	return p
}

// stringList reads a string or a non-empty array of strings, the form AWS
// allows for Action, Resource, principal values and condition values.
func (v *validator) stringList(n *node, path string) ([]string, []*node) {
	switch n.kind {
	case nString:
		return []string{n.str}, []*node{n}
	case nArray:
		if len(n.kids) == 0 {
			v.bad(n, path, "must not be an empty array")
			return nil, nil
		}
		out := make([]string, 0, len(n.kids))
		nodes := make([]*node, 0, len(n.kids))
		for i, k := range n.kids {
			if k.kind != nString {
				v.bad(k, fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", k.kind)
				continue
			}
			out = append(out, k.str)
			nodes = append(nodes, k)
		}
		return out, nodes
	}
	v.bad(n, path, "must be a string or an array of strings, not %s", n.kind)
	return nil, nil
}

func (v *validator) statement(n *node, path string) statement {
	var s statement
	if n.kind != nObject {
		v.bad(n, path, "a statement must be a JSON object, not %s", n.kind)
		return s
	}
	var effect, principal, action, resource, cond *node
	var principalKey, actionKey, resourceKey string
	for i, k := range n.keys {
		kid := n.kids[i]
		p := join(path, k)
		switch k {
		case "Sid":
			if kid.kind != nString {
				v.bad(kid, p, "Sid must be a string")
				continue
			}
			s.sid = kid.str
			if v.iamKind() && !isAlnum(kid.str) {
				v.bad(kid, p, "Sid %q may contain only ASCII letters and digits in %s policies", kid.str, v.kind)
			}
		case "Effect":
			effect = kid
		case "Principal", "NotPrincipal":
			if principal != nil {
				v.bad(kid, p, "a statement may have Principal or NotPrincipal, not both")
				continue
			}
			principal, principalKey = kid, k
		case "Action", "NotAction":
			if action != nil {
				v.bad(kid, p, "a statement may have Action or NotAction, not both")
				continue
			}
			action, actionKey = kid, k
		case "Resource", "NotResource":
			if resource != nil {
				v.bad(kid, p, "a statement may have Resource or NotResource, not both")
				continue
			}
			resource, resourceKey = kid, k
		case "Condition":
			cond = kid
		default:
			v.badKey(n, i, p, "unknown element %q in a statement (expected Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource or Condition)", k)
		}
	}
	// Effect
	switch {
	case effect == nil:
		v.bad(n, path, "the Effect element is required")
	case effect.kind != nString || (effect.str != "Allow" && effect.str != "Deny"):
		v.bad(effect, path+".Effect", "Effect must be \"Allow\" or \"Deny\" (case-sensitive), not %s", show(effect))
	default:
		s.deny = effect.str == "Deny"
	}
	// Principal
	switch {
	case principal == nil && (v.kind == KindResource || v.kind == KindTrust || v.kind == KindRCP || v.kind == KindEndpoint):
		v.bad(n, path, "a %s policy statement needs a Principal", v.kind)
	case principal != nil && !(v.kind == KindResource || v.kind == KindTrust || v.kind == KindRCP || v.kind == KindEndpoint):
		v.bad(principal, path+"."+principalKey, "%s is not allowed in a %s policy", principalKey, v.kind)
	case principal != nil:
		pp := path + "." + principalKey
		s.notPrincipal = principalKey == "NotPrincipal"
		if s.notPrincipal {
			switch {
			case v.kind != KindResource && v.kind != KindEndpoint:
				v.bad(principal, pp, "NotPrincipal is not allowed in a %s policy", v.kind)
			case effect != nil && !s.deny:
				v.bad(principal, pp, "NotPrincipal may only be used with \"Effect\": \"Deny\"")
			}
		}
		s.principal = v.principals(principal, pp)
		if v.kind == KindRCP && (s.principal == nil || !s.principal.star) {
			v.bad(principal, pp, "the Principal of an RCP statement must be \"*\"")
		}
	}
	// Action
	if action == nil {
		v.bad(n, path, "the Action or NotAction element is required")
	} else {
		s.notAction = actionKey == "NotAction"
		if s.notAction && v.kind == KindRCP {
			v.bad(action, path+".NotAction", "NotAction is not allowed in an RCP")
		}
		vals, nodes := v.stringList(action, path+"."+actionKey)
		for i, a := range vals {
			ap, msg := compileAction(a)
			if msg != "" {
				v.bad(nodes[i], elemPath(path+"."+actionKey, action, i), "%s", msg)
				continue
			}
			s.actions = append(s.actions, ap)
		}
	}
	// Resource
	if resource == nil {
		if v.kind == KindTrust {
			s.noResource = true
		} else {
			v.bad(n, path, "the Resource or NotResource element is required")
		}
	} else {
		// The RCP syntax lists NotResource (a Deny on everything but some
		// resources), so every kind accepts it.
		s.notResource = resourceKey == "NotResource"
		vals, nodes := v.stringList(resource, path+"."+resourceKey)
		for i, r := range vals {
			ap, msg := compileARN(r, v.vars)
			if msg != "" {
				v.bad(nodes[i], elemPath(path+"."+resourceKey, resource, i), "%s", msg)
				continue
			}
			s.resources = append(s.resources, ap)
		}
	}
	if v.kind == KindRCP && !s.deny && effect != nil && !isRCPFullAccess(action, resource, cond) {
		v.bad(effect, path+".Effect", "an RCP Allow statement must allow \"*\" on \"*\" without conditions (RCPFullAWSAccess); restrict with Deny statements")
	}
	if cond != nil {
		s.conds = v.conditions(cond, path+".Condition")
	}
	return s
}

// isUniqueID reports whether s looks like an IAM unique id (AIDA..., AROA...):
// an upper-case four-letter prefix ending in A, then upper-case letters and
// digits, 16 to 128 characters in all.
func isUniqueID(s string) bool {
	if len(s) < 16 || len(s) > 128 || s[3] != 'A' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') || (i < 4 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isRCPFullAccess(action, resource, cond *node) bool {
	return cond == nil && action != nil && resource != nil && action.kind == nString && action.str == "*" && resource.kind == nString && resource.str == "*"
}

// iamKind: IAM itself stores the document (Sid rules are IAM's).
func (v *validator) iamKind() bool {
	return v.kind == KindIdentity || v.kind == KindBoundary || v.kind == KindTrust || v.kind == KindSession
}

func elemPath(path string, n *node, i int) string {
	if n.kind == nArray {
		return fmt.Sprintf("%s[%d]", path, i)
	}
	return path
}

func show(n *node) string {
	if n.kind == nString {
		return strconv.Quote(n.str)
	}
	if n.kind == nObject || n.kind == nArray {
		return "an " + n.kind.String()
	}
	return n.str
}

func isAlnum(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// compileAction compiles "service:ActionName" (wildcards allowed) or "*".
func compileAction(a string) (actionPat, string) {
	if a == "*" {
		return actionPat{all: true}, ""
	}
	c := strings.IndexByte(a, ':')
	if c <= 0 {
		return actionPat{}, fmt.Sprintf("action %q has no service prefix (expected service:Action, like s3:GetObject)", a)
	}
	svc, name := a[:c], a[c+1:]
	if name == "" {
		return actionPat{}, fmt.Sprintf("action %q has no action name after the service prefix", a)
	}
	for i := range len(svc) {
		ch := svc[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '*' || ch == '?') {
			return actionPat{}, fmt.Sprintf("action %q: the service prefix %q may contain only letters, digits and '-'", a, svc)
		}
	}
	for i := range len(name) {
		ch := name[i]
		if ch == ':' || ch == ' ' || ch < 0x20 {
			return actionPat{}, fmt.Sprintf("action %q: the action name may not contain %q", a, ch)
		}
	}
	sp, _ := compilePattern(svc, true, false)
	np, msg := compilePattern(name, true, false)
	if msg != "" {
		return actionPat{}, msg
	}
	return actionPat{svc: sp, lsvc: strings.ToLower(svc), name: np}, ""
}

// principals compiles a Principal/NotPrincipal element: "*", or an object
// with AWS, Service, Federated and CanonicalUser keys, each holding a string
// or an array of strings.
func (v *validator) principals(n *node, path string) *principalSet {
	ps := &principalSet{}
	if n.kind == nString {
		if n.str != "*" {
			v.bad(n, path, "a Principal string must be \"*\"; name principals as {\"AWS\": \"ARN or account id\"}")
			return nil
		}
		ps.star = true
		return ps
	}
	if n.kind != nObject {
		v.bad(n, path, "Principal must be \"*\" or an object, not %s", n.kind)
		return nil
	}
	if len(n.keys) == 0 {
		v.bad(n, path, "Principal must name at least one principal")
	}
	for i, k := range n.keys {
		kp := join(path, k)
		if k != "AWS" && k != "Service" && k != "Federated" && k != "CanonicalUser" {
			v.badKey(n, i, kp, "unknown principal type %q (expected AWS, Service, Federated or CanonicalUser)", k)
			continue
		}
		vals, nodes := v.stringList(n.kids[i], kp)
		for j, val := range vals {
			ep := elemPath(kp, n.kids[i], j)
			switch k {
			case "AWS":
				v.awsPrincipal(ps, val, nodes[j], ep)
			case "Service":
				switch {
				case val == "*":
					v.bad(nodes[j], ep, "a wildcard is not allowed in a Service principal")
				case !strings.Contains(val, ".") || strings.ContainsAny(val, "*? "):
					v.bad(nodes[j], ep, "malformed service principal %q (expected e.g. s3.amazonaws.com)", val)
				default:
					ps.services = append(ps.services, val)
				}
			case "Federated":
				if strings.ContainsAny(val, "*?") {
					v.bad(nodes[j], ep, "a wildcard is not allowed in a Federated principal")
					continue
				}
				ps.federated = append(ps.federated, val)
			case "CanonicalUser":
				if strings.ContainsAny(val, "*?") {
					v.bad(nodes[j], ep, "a wildcard is not allowed in a CanonicalUser principal")
					continue
				}
				ps.canonical = append(ps.canonical, val)
			}
		}
	}
	return ps
}

func (v *validator) awsPrincipal(ps *principalSet, val string, n *node, path string) {
	switch {
	case val == "*":
		ps.star = true
		return
	case isAccountID(val):
		ps.accounts = append(ps.accounts, val)
		return
	case strings.ContainsAny(val, "*?"):
		v.bad(n, path, "a wildcard is not allowed in principal %q (only \"*\" alone; use a condition on aws:PrincipalArn instead)", val)
		return
	case isUniqueID(val):
		// AWS shows (and accepts) a principal's unique id once the
		// principal is deleted; iamprop does not model unique ids.
		v.warn(n, path, "principal %q is an IAM unique id; iamprop does not model unique ids, so it matches no principal", val)
		return
	}
	p, err := ParsePrincipal(val)
	if err != nil || p.Type == PrincipalAnonymous || p.Type == PrincipalService {
		v.bad(n, path, "malformed AWS principal %q (expected an account id or an IAM user, role, root, assumed-role or federated-user ARN)", val)
		return
	}
	if p.Type == PrincipalRoot {
		ps.accounts = append(ps.accounts, p.Account)
		return
	}
	ps.arns = append(ps.arns, val)
}

// conditions compiles {"Operator": {"key": value(s)}}.
func (v *validator) conditions(n *node, path string) []condition {
	if n.kind != nObject {
		v.bad(n, path, "Condition must be an object, not %s", n.kind)
		return nil
	}
	var out []condition
	for i, opName := range n.keys {
		opNode := n.kids[i]
		op := join(path, opName)
		info, set, ifExists, ok := parseOperator(opName)
		if !ok {
			v.badKey(n, i, op, "unknown condition operator %q", opName)
			continue
		}
		if opNode.kind != nObject || len(opNode.keys) == 0 {
			v.bad(opNode, op, "a condition operator must map condition keys to values")
			continue
		}
		for j, key := range opNode.keys {
			kp := join(op, key)
			valNode := opNode.kids[j]
			if key == "" {
				v.bad(valNode, kp, "empty condition key")
				continue
			}
			raws, nodes := v.condValues(valNode, kp)
			c := condition{op: opName, key: key, lkey: strings.ToLower(key), info: info, set: set, ifExists: ifExists}
			okAll := len(raws) > 0
			for k, raw := range raws {
				cv, msg := v.condValue(info.fam, raw)
				if msg != "" && info.fam.typed() {
					// IAM checks a condition's grammar, not whether each
					// value parses for its operator: such a value only
					// fails to compare, so it matches no request value.
					v.warn(nodes[k], elemPath(kp, valNode, k), "%s: %s; AWS accepts the document, and the value matches no request value", opName, msg)
					cv = condVal{raw: raw, bad: true}
				} else if msg != "" {
					v.bad(nodes[k], elemPath(kp, valNode, k), "%s: %s", opName, msg)
					okAll = false
					continue
				}
				c.vals = append(c.vals, cv)
			}
			if info.fam == famNull && len(raws) != 1 {
				v.bad(valNode, kp, "Null takes exactly one value, true or false")
				okAll = false
			}
			if okAll {
				out = append(out, c)
			}
		}
	}
	return out
}

// condValues reads a scalar or an array of scalars; numbers and booleans
// keep their literal text, which is how AWS compares them.
func (v *validator) condValues(n *node, path string) ([]string, []*node) {
	scalar := func(k *node) bool { return k.kind == nString || k.kind == nNumber || k.kind == nBool }
	if scalar(n) {
		return []string{n.str}, []*node{n}
	}
	if n.kind != nArray {
		v.bad(n, path, "a condition value must be a string, number, boolean or an array of them, not %s", n.kind)
		return nil, nil
	}
	if len(n.kids) == 0 {
		v.bad(n, path, "a condition needs at least one value")
		return nil, nil
	}
	var out []string
	var nodes []*node
	for i, k := range n.kids {
		if !scalar(k) {
			v.bad(k, fmt.Sprintf("%s[%d]", path, i), "a condition value must be a string, number or boolean, not %s", k.kind)
			continue
		}
		out = append(out, k.str)
		nodes = append(nodes, k)
	}
	return out, nodes
}

func (v *validator) condValue(fam family, raw string) (condVal, string) {
	cv := condVal{raw: raw}
	switch fam {
	case famString, famStringFold:
		p, msg := compilePattern(raw, false, v.vars)
		cv.pat = p
		return cv, msg
	case famStringLike:
		p, msg := compilePattern(raw, true, v.vars)
		cv.pat = p
		return cv, msg
	case famNumeric:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return cv, fmt.Sprintf("%q is not a number", raw)
		}
		cv.num = f
	case famDate:
		t, ok := parseDate(raw)
		if !ok {
			return cv, fmt.Sprintf("%q is not a date (ISO 8601, like 2026-01-31T12:00:00Z, or epoch seconds)", raw)
		}
		cv.date = t
	case famBool, famNull:
		if fam == famBool && v.vars && strings.Contains(raw, "${") {
			// AWS lists Bool among the operators that take policy
			// variables: the value is resolved per request, then compared.
			p, msg := compilePattern(raw, false, true)
			cv.pat = p
			return cv, msg
		}
		switch strings.ToLower(raw) {
		case "true":
			cv.b = true
		case "false":
		default:
			return cv, fmt.Sprintf("%q is not true or false", raw)
		}
	case famBinary:
		if raw == "" {
			return cv, "a binary value must be base64 text"
		}
	case famIP:
		p, ok := parseCIDR(raw)
		if !ok {
			return cv, fmt.Sprintf("%q is not an IPv4 or IPv6 address or CIDR", raw)
		}
		cv.pfx = p
	case famARN:
		ap, msg := compileARN(raw, v.vars)
		if msg != "" {
			return cv, msg
		}
		cv.arn = ap
	}
	return cv, ""
}

// index builds the per-service statement index.
func (p *Policy) index() {
	m := map[string][]int32{}
	var order []string
	for i := range p.stmts {
		s := &p.stmts[i]
		idx := int32(i)
		if s.notAction {
			p.other = append(p.other, idx)
			continue
		}
		var svcs []string
		wild := false
		for _, a := range s.actions {
			if a.all || a.svc.shape != shapeExact {
				wild = true
				break
			}
			svc := strings.ToLower(a.svc.lit)
			if !slices.Contains(svcs, svc) {
				svcs = append(svcs, svc)
			}
		}
		if wild { // a wildcard service: walked for every request
			p.other = append(p.other, idx)
			continue
		}
		s.oneSvc = len(svcs) == 1
		for _, svc := range svcs {
			if _, ok := m[svc]; !ok {
				order = append(order, svc)
			}
			m[svc] = append(m[svc], idx)
		}
	}
	for _, svc := range order {
		e := svcStmts{hash: svcHash(svc), svc: svc, stmts: m[svc]}
		e.indexResources(p.stmts)
		p.byService = append(p.byService, e)
	}
}

// join appends an object key to a JSON path; keys that would make the path
// ambiguous (empty, or with '.', '[' or space) are bracketed and quoted.
func join(parent, key string) string {
	if key == "" || strings.ContainsAny(key, ".[] \"\t\n") {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}
