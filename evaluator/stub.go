package evaluator

// This file is the evaluator's first working core, written by the
// coordinator to unblock the rest of the system. The evaluator work replaces
// it (its name is kept as stub.go for that hand-over).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Issue is one validation problem in a policy document.
type Issue struct {
	Path         string
	Line, Column int
	Code         string
	Message      string
}

// ValidationError lists every problem found in one document.
type ValidationError struct {
	Document string
	Issues   []Issue
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s", e.Document, is.Line, is.Column, is.Path, is.Message)
	}
	return b.String()
}

// Policy is a parsed, validated and compiled policy document. Immutable and
// safe for concurrent use.
type Policy struct {
	name       string
	kind       Kind
	doc        []byte
	version    string
	statements []statement
	public     bool
}

// Name is the document's name, used in explanations.
func (p *Policy) Name() string { return p.name }

// Kind is the document's kind.
func (p *Policy) Kind() Kind { return p.kind }

// Document is the source as given.
func (p *Policy) Document() []byte { return p.doc }

// IsPublic reports whether the policy is public in S3's sense: an Allow
// statement grants a wildcard principal without a condition that pins it to
// fixed accounts, source networks or VPCs.
func (p *Policy) IsPublic() bool { return p.public }

type statement struct {
	sid          string
	index        int
	allow        bool
	principal    *principalSet // nil: no Principal element
	notPrincipal bool
	actions      []string
	notAction    bool
	resources    []string
	notResource  bool
	conditions   []condition
}

type principalSet struct {
	wildcard bool     // "*" or {"AWS": "*"}
	aws      []string // ARNs or account ids
	service  []string
	other    []string // Federated, CanonicalUser
}

type condition struct {
	op       string // base operator, lower case, without IfExists / set prefix
	ifExists bool
	forAny   bool
	forAll   bool
	key      string // lower case
	values   []string
	operator string // as written
}

// String renders a kind for explanations.
func (k Kind) String() string {
	switch k {
	case KindIdentity:
		return "identity"
	case KindResource:
		return "resource"
	case KindTrust:
		return "trust"
	case KindSCP:
		return "scp"
	case KindRCP:
		return "rcp"
	case KindBoundary:
		return "boundary"
	case KindSession:
		return "session"
	}
	return "unknown"
}

// MaxSize is the size quota (characters, excluding whitespace) AWS applies
// to a document of this kind.
func MaxSize(k Kind) int {
	switch k {
	case KindIdentity:
		// The largest identity quota (a role's inline policies); the control
		// plane applies each entity's own quota (user inline 2048, group
		// inline 5120, managed 6144).
		return 10240
	case KindBoundary:
		return 6144
	case KindResource:
		return 20480
	case KindTrust, KindSession:
		return 2048
	case KindSCP, KindRCP:
		return 5120
	}
	return 6144
}

// positions maps JSON paths to byte offsets of their values.
func positions(doc []byte) map[string]int {
	pos := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(doc))
	var walk func(path string) bool
	start := func() int {
		off := int(dec.InputOffset())
		for off < len(doc) && (doc[off] == ' ' || doc[off] == '\n' || doc[off] == '\r' || doc[off] == '\t' || doc[off] == ':' || doc[off] == ',') {
			off++
		}
		return off
	}
	walk = func(path string) bool {
		pos[path] = start()
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return true
		}
		switch d {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false
				}
				k, _ := kt.(string)
				p := k
				if path != "$" {
					p = path + "." + k
				}
				if !walk(p) {
					return false
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if !walk(fmt.Sprintf("%s[%d]", path, i)) {
					return false
				}
			}
		}
		_, err = dec.Token()
		return err == nil
	}
	walk("$")
	return pos
}

func lineCol(doc []byte, off int) (int, int) {
	line, col := 1, 1
	for i := 0; i < off && i < len(doc); i++ {
		if doc[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

type parser struct {
	name   string
	kind   Kind
	doc    []byte
	pos    map[string]int
	issues []Issue
}

func (p *parser) fail(path, code, format string, a ...any) {
	off, ok := p.pos[path]
	for !ok && path != "" {
		// fall back to the nearest enclosing element
		if i := strings.LastIndexAny(path, ".["); i > 0 {
			path = path[:i]
		} else {
			path = "$"
		}
		off, ok = p.pos[path]
		if path == "$" {
			break
		}
	}
	line, col := lineCol(p.doc, off)
	p.issues = append(p.issues, Issue{Path: path, Line: line, Column: col, Code: code, Message: fmt.Sprintf(format, a...)})
}

// Parse parses, validates and compiles a policy document. On failure it
// returns *ValidationError listing every problem; never a half-built policy.
func Parse(name string, kind Kind, document []byte) (pol *Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			pol, err = nil, &ValidationError{Document: name, Issues: []Issue{{Path: "$", Line: 1, Column: 1, Code: "MalformedPolicyDocument", Message: fmt.Sprint("internal error: ", r)}}}
		}
	}()
	p := &parser{name: name, kind: kind, doc: document}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(document))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		off := int(dec.InputOffset())
		if se, ok := err.(*json.SyntaxError); ok {
			off = int(se.Offset)
		}
		line, col := lineCol(document, off)
		return nil, &ValidationError{Document: name, Issues: []Issue{{Path: "$", Line: line, Column: col, Code: "MalformedPolicyDocument", Message: "not valid JSON: " + err.Error()}}}
	}
	p.pos = positions(document)
	top, ok := raw.(map[string]any)
	if !ok {
		p.fail("$", "MalformedPolicyDocument", "a policy document must be a JSON object")
		return nil, &ValidationError{Document: name, Issues: p.issues}
	}
	if n := nonSpace(document); n > MaxSize(kind) {
		p.fail("$", "LimitExceeded", "document is %d characters (excluding whitespace), more than the %d allowed for a %s policy", n, MaxSize(kind), kind)
	}
	pol = &Policy{name: name, kind: kind, doc: append([]byte(nil), document...)}
	for k, v := range top {
		switch k {
		case "Version":
			s, _ := v.(string)
			if s != "2012-10-17" && s != "2008-10-17" {
				p.fail("Version", "MalformedPolicyDocument", "Version must be \"2012-10-17\" or \"2008-10-17\", got %v", v)
			}
			pol.version = s
		case "Id":
			if _, ok := v.(string); !ok {
				p.fail("Id", "MalformedPolicyDocument", "Id must be a string")
			}
		case "Statement":
		default:
			p.fail(k, "MalformedPolicyDocument", "unknown element %q (expected Version, Id or Statement)", k)
		}
	}
	if pol.version == "" {
		pol.version = "2008-10-17"
	}
	st, ok := top["Statement"]
	if !ok {
		p.fail("$", "MalformedPolicyDocument", "missing Statement")
	}
	switch s := st.(type) {
	case map[string]any:
		p.statement(pol, "Statement", 0, s)
	case []any:
		if len(s) == 0 {
			p.fail("Statement", "MalformedPolicyDocument", "Statement must not be empty")
		}
		for i, e := range s {
			path := fmt.Sprintf("Statement[%d]", i)
			m, ok := e.(map[string]any)
			if !ok {
				p.fail(path, "MalformedPolicyDocument", "a statement must be a JSON object")
				continue
			}
			p.statement(pol, path, i, m)
		}
	case nil:
	default:
		p.fail("Statement", "MalformedPolicyDocument", "Statement must be an object or an array of objects")
	}
	if len(p.issues) > 0 {
		return nil, &ValidationError{Document: name, Issues: p.issues}
	}
	for i := range pol.statements {
		if pol.statements[i].isPublic() {
			pol.public = true
		}
	}
	return pol, nil
}

func nonSpace(b []byte) int {
	n := 0
	for _, c := range b {
		if c != ' ' && c != '\n' && c != '\t' && c != '\r' {
			n++
		}
	}
	return n
}

func (p *parser) strings(path string, v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				p.fail(fmt.Sprintf("%s[%d]", path, i), "MalformedPolicyDocument", "must be a string")
				return nil, false
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			p.fail(path, "MalformedPolicyDocument", "must not be empty")
			return nil, false
		}
		return out, true
	}
	p.fail(path, "MalformedPolicyDocument", "must be a string or an array of strings")
	return nil, false
}

func (p *parser) statement(pol *Policy, path string, index int, m map[string]any) {
	st := statement{index: index}
	var seenAction, seenResource, seenPrincipal bool
	for k, v := range m {
		kp := path + "." + k
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				p.fail(kp, "MalformedPolicyDocument", "Sid must be a string")
			}
			st.sid = s
		case "Effect":
			switch v {
			case "Allow":
				st.allow = true
			case "Deny":
			default:
				p.fail(kp, "MalformedPolicyDocument", "Effect must be \"Allow\" or \"Deny\", got %v", v)
			}
		case "Action", "NotAction":
			if seenAction {
				p.fail(kp, "MalformedPolicyDocument", "a statement has either Action or NotAction, not both")
			}
			seenAction = true
			st.notAction = k == "NotAction"
			list, ok := p.strings(kp, v)
			if !ok {
				continue
			}
			for i, a := range list {
				if a != "*" && !strings.Contains(a, ":") {
					p.fail(fmt.Sprintf("%s[%d]", kp, i), "MalformedPolicyDocument", "action %q has no service prefix (like \"s3:GetObject\")", a)
				}
				st.actions = append(st.actions, strings.ToLower(a))
			}
		case "Resource", "NotResource":
			if seenResource {
				p.fail(kp, "MalformedPolicyDocument", "a statement has either Resource or NotResource, not both")
			}
			seenResource = true
			st.notResource = k == "NotResource"
			list, ok := p.strings(kp, v)
			if !ok {
				continue
			}
			for i, r := range list {
				if r != "*" && !validARNPattern(r) {
					p.fail(fmt.Sprintf("%s[%d]", kp, i), "MalformedPolicyDocument", "resource %q is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE) or \"*\"", r)
				}
				st.resources = append(st.resources, r)
			}
		case "Principal", "NotPrincipal":
			if seenPrincipal {
				p.fail(kp, "MalformedPolicyDocument", "a statement has either Principal or NotPrincipal, not both")
			}
			seenPrincipal = true
			st.notPrincipal = k == "NotPrincipal"
			st.principal = p.principal(kp, v)
		case "Condition":
			st.conditions = p.conditions(kp, v)
		default:
			p.fail(kp, "MalformedPolicyDocument", "unknown element %q in a statement", k)
		}
	}
	if _, ok := m["Effect"]; !ok {
		p.fail(path, "MalformedPolicyDocument", "statement has no Effect")
	}
	if !seenAction {
		p.fail(path, "MalformedPolicyDocument", "statement has no Action or NotAction")
	}
	if !seenResource && p.kind != KindTrust {
		p.fail(path, "MalformedPolicyDocument", "statement has no Resource or NotResource")
	}
	switch p.kind {
	case KindResource, KindTrust:
		if !seenPrincipal {
			p.fail(path, "MalformedPolicyDocument", "a %s policy statement needs a Principal or NotPrincipal", p.kind)
		}
	case KindRCP:
		if seenPrincipal && (st.principal == nil || !st.principal.wildcard || st.notPrincipal) {
			p.fail(path, "MalformedPolicyDocument", "an RCP statement's Principal must be \"*\"")
		}
	default:
		if seenPrincipal {
			p.fail(path, "MalformedPolicyDocument", "a %s policy must not have a Principal or NotPrincipal", p.kind)
		}
	}
	pol.statements = append(pol.statements, st)
}

func validARNPattern(r string) bool {
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 3 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return false
	}
	// AWS accepts a wildcard that swallows the remaining segments
	// ("arn:aws:sns:*:alerts").
	return len(parts) == 6 || strings.Contains(r, "*")
}

func (p *parser) principal(path string, v any) *principalSet {
	ps := &principalSet{}
	switch t := v.(type) {
	case string:
		if t != "*" {
			p.fail(path, "MalformedPolicyDocument", "a principal string must be \"*\"; name others as {\"AWS\": ...}")
		}
		ps.wildcard = true
	case map[string]any:
		for k, v := range t {
			list, ok := p.strings(path+"."+k, v)
			if !ok {
				continue
			}
			switch k {
			case "AWS":
				for _, a := range list {
					if a == "*" {
						ps.wildcard = true
						continue
					}
					if !isAccountID(a) && !strings.HasPrefix(a, "arn:") {
						p.fail(path+"."+k, "MalformedPolicyDocument", "principal %q is not an account id or an ARN", a)
					}
					ps.aws = append(ps.aws, a)
				}
			case "Service":
				ps.service = append(ps.service, list...)
			case "Federated", "CanonicalUser":
				ps.other = append(ps.other, list...)
			default:
				p.fail(path+"."+k, "MalformedPolicyDocument", "unknown principal type %q (AWS, Service, Federated, CanonicalUser)", k)
			}
		}
	default:
		p.fail(path, "MalformedPolicyDocument", "Principal must be \"*\" or an object")
	}
	return ps
}

var knownOps = map[string]bool{
	"stringequals": true, "stringnotequals": true, "stringequalsignorecase": true, "stringnotequalsignorecase": true,
	"stringlike": true, "stringnotlike": true,
	"numericequals": true, "numericnotequals": true, "numericlessthan": true, "numericlessthanequals": true,
	"numericgreaterthan": true, "numericgreaterthanequals": true,
	"dateequals": true, "datenotequals": true, "datelessthan": true, "datelessthanequals": true,
	"dategreaterthan": true, "dategreaterthanequals": true,
	"bool": true, "binaryequals": true, "ipaddress": true, "notipaddress": true,
	"arnequals": true, "arnnotequals": true, "arnlike": true, "arnnotlike": true, "null": true,
}

func (p *parser) conditions(path string, v any) []condition {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(path, "MalformedPolicyDocument", "Condition must be an object of operators")
		return nil
	}
	var out []condition
	for opName, block := range m {
		op := strings.ToLower(opName)
		c := condition{operator: opName}
		if strings.HasPrefix(op, "foranyvalue:") {
			c.forAny, op = true, op[len("foranyvalue:"):]
		} else if strings.HasPrefix(op, "forallvalues:") {
			c.forAll, op = true, op[len("forallvalues:"):]
		}
		if strings.HasSuffix(op, "ifexists") && op != "null" {
			c.ifExists, op = true, strings.TrimSuffix(op, "ifexists")
		}
		if !knownOps[op] {
			p.fail(path+"."+opName, "MalformedPolicyDocument", "unknown condition operator %q", opName)
			continue
		}
		c.op = op
		keys, ok := block.(map[string]any)
		if !ok {
			p.fail(path+"."+opName, "MalformedPolicyDocument", "an operator takes an object of condition keys")
			continue
		}
		for key, vals := range keys {
			cc := c
			cc.key = strings.ToLower(key)
			switch t := vals.(type) {
			case []any:
				for _, e := range t {
					cc.values = append(cc.values, scalar(e))
				}
			default:
				cc.values = []string{scalar(t)}
			}
			out = append(out, cc)
		}
	}
	return out
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return t.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isPublic follows S3's rule: an Allow with a wildcard principal is public
// unless a condition pins it to known values (source IP, VPC, account, ARN).
func (s *statement) isPublic() bool {
	if !s.allow || s.principal == nil || s.notPrincipal || !s.principal.wildcard {
		return false
	}
	for _, c := range s.conditions {
		switch c.key {
		case "aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
			"aws:principalaccount", "aws:principalorgid", "aws:principalarn", "aws:userid", "aws:sourcearn", "s3:dataaccesspointaccount":
			if c.op == "stringequals" || c.op == "ipaddress" || c.op == "arnequals" || (c.op == "stringlike" && !strings.ContainsAny(strings.Join(c.values, ""), "*?")) {
				return false
			}
		}
	}
	return true
}

// PrincipalType classifies a principal.
type PrincipalType uint8

// Principal types.
const (
	PrincipalAnonymous PrincipalType = iota
	PrincipalUser
	PrincipalRole
	PrincipalAssumedRole
	PrincipalRoot
	PrincipalService
	PrincipalFederated
)

// String is AWS's aws:PrincipalType value.
func (t PrincipalType) String() string {
	switch t {
	case PrincipalUser:
		return "User"
	case PrincipalRole, PrincipalAssumedRole:
		return "AssumedRole"
	case PrincipalRoot:
		return "Account"
	case PrincipalService:
		return "Service"
	case PrincipalFederated:
		return "FederatedUser"
	}
	return "Anonymous"
}

// Principal is who makes a request.
type Principal struct {
	Type                        PrincipalType
	ARN, Account, Name, Session string
}

// RoleARN is the IAM role ARN of an assumed-role session ("" otherwise).
func (p Principal) RoleARN() string {
	if p.Type != PrincipalAssumedRole {
		return ""
	}
	return "arn:aws:iam::" + p.Account + ":role/" + p.Name
}

// ParsePrincipal parses "anonymous", a 12-digit account id (its root), or an ARN.
func ParsePrincipal(s string) (Principal, error) {
	if s == "anonymous" || s == "*" {
		return Principal{Type: PrincipalAnonymous}, nil
	}
	if isAccountID(s) {
		return Principal{Type: PrincipalRoot, Account: s, ARN: "arn:aws:iam::" + s + ":root"}, nil
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return Principal{}, fmt.Errorf("principal %q: want \"anonymous\", an account id or an ARN", s)
	}
	acct, res := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && res == "root":
		return Principal{Type: PrincipalRoot, ARN: s, Account: acct}, nil
	case parts[2] == "iam" && strings.HasPrefix(res, "user/"):
		name := res[strings.LastIndex(res, "/")+1:]
		return Principal{Type: PrincipalUser, ARN: s, Account: acct, Name: name}, nil
	case parts[2] == "iam" && strings.HasPrefix(res, "role/"):
		name := res[strings.LastIndex(res, "/")+1:]
		return Principal{Type: PrincipalRole, ARN: s, Account: acct, Name: name}, nil
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		rest := strings.SplitN(res[len("assumed-role/"):], "/", 2)
		if len(rest) != 2 || rest[0] == "" || rest[1] == "" {
			return Principal{}, fmt.Errorf("principal %q: want arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION", s)
		}
		return Principal{Type: PrincipalAssumedRole, ARN: s, Account: acct, Name: rest[0], Session: rest[1]}, nil
	}
	return Principal{}, fmt.Errorf("principal %q: unsupported ARN (user, role, assumed-role session or root)", s)
}

// Context holds a request's condition keys, case-insensitively.
type Context struct{ values map[string][]string }

// NewContext builds a request context from strings, numbers, booleans and lists of them.
func NewContext(values map[string]any) (*Context, error) {
	c := &Context{values: map[string][]string{}}
	for k, v := range values {
		switch t := v.(type) {
		case []any:
			list := []string{}
			for _, e := range t {
				list = append(list, scalar(e))
			}
			c.values[strings.ToLower(k)] = list
		case []string:
			c.values[strings.ToLower(k)] = append([]string{}, t...)
		case string, bool, json.Number:
			c.values[strings.ToLower(k)] = []string{scalar(t)}
		case int:
			c.values[strings.ToLower(k)] = []string{strconv.Itoa(t)}
		case int64:
			c.values[strings.ToLower(k)] = []string{strconv.FormatInt(t, 10)}
		case float64:
			c.values[strings.ToLower(k)] = []string{strconv.FormatFloat(t, 'f', -1, 64)}
		default:
			return nil, fmt.Errorf("context key %q: unsupported value type %T", k, v)
		}
	}
	return c, nil
}

// Request is one authorization request.
type Request struct {
	Principal                         Principal
	Action, Resource, ResourceAccount string
	Context                           *Context
	// PrincipalIsManagement says the principal's account is the
	// organization's management account, which SCPs do not restrict.
	PrincipalIsManagement bool
}

func (r *Request) lookup(key string) ([]string, bool) {
	if r.Context != nil {
		if v, ok := r.Context.values[key]; ok {
			return v, true
		}
	}
	p := r.Principal
	switch key {
	case "aws:principalarn":
		if p.Type == PrincipalAnonymous {
			return nil, false
		}
		if p.Type == PrincipalAssumedRole {
			return []string{p.RoleARN()}, true
		}
		return []string{p.ARN}, true
	case "aws:principalaccount":
		if p.Account == "" {
			return nil, false
		}
		return []string{p.Account}, true
	case "aws:username":
		if p.Type != PrincipalUser {
			return nil, false
		}
		return []string{p.Name}, true
	case "aws:principaltype":
		return []string{p.Type.String()}, true
	case "aws:userid":
		switch p.Type {
		case PrincipalUser:
			return []string{p.Name}, true
		case PrincipalAssumedRole:
			return []string{p.Name + ":" + p.Session}, true
		case PrincipalRoot:
			return []string{p.Account}, true
		case PrincipalAnonymous:
			return []string{"anonymous"}, true
		}
	case "aws:resourceaccount":
		if acct := r.resourceAccount(); acct != "" {
			return []string{acct}, true
		}
	case "aws:principalisawsservice":
		return []string{strconv.FormatBool(p.Type == PrincipalService)}, true
	}
	return nil, false
}

func (r *Request) resourceAccount() string {
	if r.ResourceAccount != "" {
		return r.ResourceAccount
	}
	return r.Principal.Account
}

// Decision is the outcome of Evaluate: a small value; Explain renders it.
type Decision struct {
	Effect    Effect
	blockedBy string
	matched   [8]matchRef
	nMatched  int
	reason    string
}

type matchRef struct {
	policy *Policy
	stmt   int
}

func (d *Decision) note(p *Policy, i int) {
	if d.nMatched < len(d.matched) {
		d.matched[d.nMatched] = matchRef{p, i}
		d.nMatched++
	}
}

// MatchedStatement names one statement that matched the request.
type MatchedStatement struct {
	Policy string `json:"policy"`
	Kind   string `json:"kind"`
	Sid    string `json:"sid,omitempty"`
	Index  int    `json:"index"`
	Effect string `json:"effect"`
}

// Explanation renders a decision for people.
type Explanation struct {
	Decision  string             `json:"decision"`
	Matched   []MatchedStatement `json:"matched"`
	BlockedBy string             `json:"blocked_by,omitempty"`
	Summary   string             `json:"summary"`
}

// Explain renders the decision.
func (d Decision) Explain() Explanation {
	e := Explanation{Decision: d.Effect.String(), BlockedBy: d.blockedBy, Matched: []MatchedStatement{}}
	var names []string
	for _, m := range d.matched[:d.nMatched] {
		s := m.policy.statements[m.stmt]
		eff := "Deny"
		if s.allow {
			eff = "Allow"
		}
		e.Matched = append(e.Matched, MatchedStatement{Policy: m.policy.name, Kind: m.policy.kind.String(), Sid: s.sid, Index: s.index, Effect: eff})
		label := s.sid
		if label == "" {
			label = fmt.Sprintf("statement %d", s.index)
		}
		names = append(names, fmt.Sprintf("%s %q (%s, %s)", eff, label, m.policy.name, m.policy.kind))
	}
	switch d.Effect {
	case Allow:
		e.Summary = "Allowed: " + strings.Join(names, "; ") + " granted the request, and no explicit Deny applied."
	case ExplicitDeny:
		e.Summary = "Explicitly denied: " + strings.Join(names, "; ") + " matched. An explicit Deny in any policy wins over every Allow."
	default:
		e.Summary = "Implicitly denied: " + d.reason
		if len(names) > 0 {
			e.Summary += " (matched: " + strings.Join(names, "; ") + ")"
		}
	}
	return e
}

// Evaluate decides a request following AWS's policy evaluation logic.
func Evaluate(req *Request, in *Input) Decision {
	var d Decision
	// 1. Explicit deny anywhere wins.
	deny := func(p *Policy) bool {
		if p == nil {
			return false
		}
		for i := range p.statements {
			s := &p.statements[i]
			if s.allow {
				continue
			}
			// AWS's documented quirk: a NotPrincipal Deny always applies to
			// a principal with a permissions boundary, whatever it lists.
			if s.notPrincipal && in.Boundary != nil && s.principal.excludes(req) {
				save := *s
				save.principal = nil
				if save.matches(req, p) {
					d.note(p, i)
					return true
				}
				continue
			}
			if s.matches(req, p) {
				d.note(p, i)
				return true
			}
		}
		return false
	}
	denied := false
	for _, lvl := range in.SCPs {
		if req.PrincipalIsManagement || req.Principal.Type == PrincipalAnonymous {
			break
		}
		for _, p := range lvl {
			denied = deny(p) || denied
		}
	}
	for _, lvl := range in.RCPs {
		for _, p := range lvl {
			denied = deny(p) || denied
		}
	}
	denied = deny(in.ResourcePolicy) || denied
	for _, p := range in.Identity {
		denied = deny(p) || denied
	}
	denied = deny(in.Boundary) || denied
	denied = deny(in.Session) || denied
	if denied {
		d.Effect, d.blockedBy = ExplicitDeny, "explicit-deny"
		return d
	}
	allows := func(p *Policy) bool {
		if p == nil {
			return false
		}
		for i := range p.statements {
			s := &p.statements[i]
			if s.allow && s.matches(req, p) {
				d.note(p, i)
				return true
			}
		}
		return false
	}
	anyAllows := func(ps []*Policy) bool {
		ok := false
		for _, p := range ps {
			if allows(p) {
				ok = true
			}
		}
		return ok
	}
	// 2. RCPs: every level must allow (resource side).
	for _, lvl := range in.RCPs {
		if !anyAllows(lvl) {
			d.blockedBy, d.reason = "rcp", "a resource control policy level does not allow the action."
			return d
		}
	}
	// 3. SCPs: every level must allow (principal side), except for the management account.
	if !req.PrincipalIsManagement && req.Principal.Type != PrincipalAnonymous {
		for _, lvl := range in.SCPs {
			if !anyAllows(lvl) {
				d.blockedBy, d.reason = "scp", "a service control policy level does not allow the action."
				return d
			}
		}
	}
	sameAccount := req.Principal.Account != "" && req.Principal.Account == req.resourceAccount()
	resourceAllows := allows(in.ResourcePolicy)
	grant := matchNone
	if resourceAllows {
		grant = in.ResourcePolicy.grant(req)
	}
	// Block Public Access: a public bucket policy grants only within the owner's account.
	if resourceAllows && in.BlockPublicAccess.RestrictPublicBuckets && in.ResourcePolicy.public && !sameAccount && req.Principal.Type != PrincipalService {
		d = Decision{blockedBy: "block-public-access", reason: "Block Public Access (RestrictPublicBuckets) limits a public bucket policy to principals of the bucket owner's account."}
		return d
	}
	if req.Principal.Type == PrincipalAnonymous {
		if resourceAllows {
			d.Effect = Allow
			return d
		}
		d.blockedBy, d.reason = "resource", "anonymous requests are allowed only by a resource-based policy, and none allows this one."
		return d
	}
	trust := in.ResourcePolicy != nil && in.ResourcePolicy.kind == KindTrust
	if (trust || isAssumeRole(req.Action)) && !resourceAllows {
		d.blockedBy, d.reason = "resource", "the role's trust policy does not allow this principal to assume it."
		return d
	}
	// The account root has every permission its account's identity side can give.
	identityAllows := anyAllows(in.Identity) || req.Principal.Type == PrincipalRoot
	if sameAccount && grant == matchDirect {
		// A same-account resource policy naming the user or the session
		// itself grants even without identity, boundary or session allows.
		d.Effect = Allow
		return d
	}
	if !sameAccount && !resourceAllows {
		d.blockedBy, d.reason = "resource", "cross-account access needs an Allow on both sides; no resource-based policy of the resource's account allows this principal."
		return d
	}
	if !identityAllows && !(sameAccount && grant == matchRole) {
		d.blockedBy, d.reason = "identity", "no identity-based policy allows the action."
		return d
	}
	if in.Boundary != nil && !allows(in.Boundary) {
		d.blockedBy, d.reason = "boundary", "the permissions boundary does not allow the action."
		return d
	}
	if in.Session != nil && !allows(in.Session) {
		d.blockedBy, d.reason = "session", "the session policy does not allow the action."
		return d
	}
	d.Effect = Allow
	return d
}

// grant is the strongest way an Allow statement of a resource policy that
// matches req names its principal.
func (p *Policy) grant(req *Request) principalMatch {
	best := matchNone
	for i := range p.statements {
		s := &p.statements[i]
		if !s.allow || s.principal == nil || !s.matches(req, p) {
			continue
		}
		if s.notPrincipal {
			best = max(best, matchDirect)
			continue
		}
		best = max(best, s.principal.match(req))
	}
	return best
}

func (s *statement) matches(req *Request, p *Policy) bool {
	if s.principal != nil {
		var m bool
		if s.notPrincipal {
			m = !s.principal.excludes(req)
		} else {
			m = s.principal.matches(req)
		}
		if !m {
			return false
		}
	}
	if !matchAny(s.actions, strings.ToLower(req.Action), s.notAction, true, nil, p) {
		return false
	}
	if s.resources != nil && !matchAny(s.resources, req.Resource, s.notResource, false, req, p) {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].holds(req, p) {
			return false
		}
	}
	return true
}

func matchAny(patterns []string, value string, negate, lower bool, req *Request, p *Policy) bool {
	hit := false
	for _, pat := range patterns {
		if req != nil && p.version == "2012-10-17" {
			var ok bool
			pat, ok = substitute(pat, req)
			if !ok {
				continue // an unresolvable variable: this pattern does not match
			}
		}
		if globMatch(pat, value) {
			hit = true
			break
		}
	}
	if negate {
		return !hit
	}
	return hit
}

// substitute expands ${key}, ${key, 'default'} and the escapes ${*} ${?} ${$}.
// Wildcards coming from values are kept literal by escaping them as \x00.
func substitute(pat string, req *Request) (string, bool) {
	if !strings.Contains(pat, "${") {
		return pat, true
	}
	var b strings.Builder
	for {
		i := strings.Index(pat, "${")
		if i < 0 {
			b.WriteString(pat)
			return b.String(), true
		}
		j := strings.IndexByte(pat[i:], '}')
		if j < 0 {
			b.WriteString(pat)
			return b.String(), true
		}
		b.WriteString(pat[:i])
		inner := strings.TrimSpace(pat[i+2 : i+j])
		pat = pat[i+j+1:]
		switch inner {
		case "*", "?", "$":
			b.WriteByte(0)
			b.WriteString(inner)
			continue
		}
		key, def, hasDef := inner, "", false
		if k := strings.IndexByte(inner, ','); k >= 0 {
			key = strings.TrimSpace(inner[:k])
			d := strings.TrimSpace(inner[k+1:])
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				def, hasDef = d[1:len(d)-1], true
			}
		}
		vals, ok := req.lookup(strings.ToLower(key))
		switch {
		case ok && len(vals) == 1:
			for _, c := range []byte(vals[0]) {
				if c == '*' || c == '?' {
					b.WriteByte(0)
				}
				b.WriteByte(c)
			}
		case hasDef:
			b.WriteString(def)
		default:
			return "", false
		}
	}
}

// globMatch matches value against pattern with * (any run, including /) and
// ? (one character); a byte 0 makes the next character literal.
func globMatch(pattern, value string) bool {
	p, v := 0, 0
	star, mark := -1, 0
	for v < len(value) {
		if p < len(pattern) {
			c := pattern[p]
			switch {
			case c == 0 && p+1 < len(pattern):
				if pattern[p+1] == value[v] {
					p += 2
					v++
					continue
				}
			case c == '*':
				star, mark = p, v
				p++
				continue
			case c == '?' || c == value[v]:
				p++
				v++
				continue
			}
		}
		if star >= 0 {
			p = star + 1
			mark++
			v = mark
			continue
		}
		return false
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// How a Principal element names the requester: it decides whether a
// same-account resource policy grants on its own.
type principalMatch uint8

const (
	matchNone    principalMatch = iota
	matchAccount                // the account (id or root ARN): delegates to the account's identity policies
	matchRole                   // the role of an assumed-role session: limited by boundary and session policy
	matchDirect                 // "*", the user ARN or the session ARN: grants on its own
)

func accountOf(a string) string {
	if isAccountID(a) {
		return a
	}
	if strings.HasSuffix(a, ":root") {
		if parts := strings.Split(a, ":"); len(parts) == 6 {
			return parts[4]
		}
	}
	return ""
}

func (ps *principalSet) match(req *Request) principalMatch {
	pr := req.Principal
	if ps.wildcard {
		return matchDirect
	}
	if pr.Type == PrincipalAnonymous {
		return matchNone
	}
	best := matchNone
	for _, a := range ps.aws {
		switch {
		case a == pr.ARN && pr.Type != PrincipalRoot:
			return matchDirect
		case accountOf(a) != "" && accountOf(a) == pr.Account:
			if pr.Type == PrincipalRoot {
				return matchDirect
			}
			best = max(best, matchAccount)
		case pr.Type == PrincipalAssumedRole && a == pr.RoleARN():
			best = max(best, matchRole)
		}
	}
	if pr.Type == PrincipalService {
		for _, s := range ps.service {
			if s == pr.Name || s == pr.ARN {
				return matchDirect
			}
		}
	}
	return best
}

func (ps *principalSet) matches(req *Request) bool { return ps.match(req) != matchNone }

// excludes reports whether NotPrincipal lists every entity the request is
// made by: the account, and the user, or the role and the session. AWS
// denies through NotPrincipal unless all of them are listed.
func (ps *principalSet) excludes(req *Request) bool {
	pr := req.Principal
	if pr.Type == PrincipalAnonymous || ps.wildcard {
		return ps.wildcard
	}
	listed := func(want string) bool {
		for _, a := range ps.aws {
			if a == want {
				return true
			}
		}
		return false
	}
	accountListed := false
	for _, a := range ps.aws {
		if accountOf(a) == pr.Account {
			accountListed = true
		}
	}
	switch pr.Type {
	case PrincipalRoot:
		return accountListed
	case PrincipalUser, PrincipalRole:
		return accountListed && listed(pr.ARN)
	case PrincipalAssumedRole:
		return accountListed && listed(pr.RoleARN()) && listed(pr.ARN)
	case PrincipalService:
		for _, s := range ps.service {
			if s == pr.Name || s == pr.ARN {
				return true
			}
		}
	}
	return false
}

func (c *condition) holds(req *Request, p *Policy) bool {
	vals, present := req.lookup(c.key)
	if c.op == "null" {
		want := len(c.values) > 0 && strings.EqualFold(c.values[0], "true")
		missing := !present || len(vals) == 0
		return missing == want
	}
	negated := strings.Contains(c.op, "not")
	if !present {
		if c.ifExists {
			return true
		}
		if c.forAll {
			return true // ForAllValues over a missing key is vacuously true
		}
		if c.forAny {
			return false
		}
		return negated // negated operators match a missing key
	}
	if c.forAll {
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if !c.one(v, req, p) {
				return false
			}
		}
		return true
	}
	if c.forAny {
		for _, v := range vals {
			if c.one(v, req, p) {
				return true
			}
		}
		return false
	}
	if negated {
		for _, v := range vals {
			if !c.one(v, req, p) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.one(v, req, p) {
			return true
		}
	}
	return false
}

// one tests a single request value against the condition's values (OR).
func (c *condition) one(v string, req *Request, p *Policy) bool {
	op := c.op
	negate := false
	switch op {
	case "stringnotequals", "stringnotequalsignorecase", "stringnotlike", "numericnotequals", "datenotequals",
		"notipaddress", "arnnotequals", "arnnotlike":
		negate = true
		op = strings.Replace(op, "not", "", 1)
	}
	hit := false
	for _, want := range c.values {
		if p.version == "2012-10-17" && strings.Contains(want, "${") {
			var ok bool
			if want, ok = substitute(want, req); !ok {
				continue
			}
			want = strings.ReplaceAll(want, "\x00", "")
		}
		if c.test(op, v, want) {
			hit = true
			break
		}
	}
	if negate {
		return !hit
	}
	return hit
}

func (c *condition) test(op, v, want string) bool {
	switch op {
	case "stringequals":
		return v == want
	case "stringequalsignorecase":
		return strings.EqualFold(v, want)
	case "stringlike":
		return globMatch(want, v)
	case "bool":
		return strings.EqualFold(v, want)
	case "binaryequals":
		return v == want
	case "arnequals", "arnlike":
		return arnMatch(want, v)
	case "ipaddress":
		pfx, err := netip.ParsePrefix(want)
		if err != nil {
			a, err2 := netip.ParseAddr(want)
			if err2 != nil {
				return false
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		a, err := netip.ParseAddr(v)
		return err == nil && pfx.Contains(a)
	}
	if strings.HasPrefix(op, "numeric") {
		x, err1 := strconv.ParseFloat(v, 64)
		y, err2 := strconv.ParseFloat(want, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return cmp(op[len("numeric"):], x, y)
	}
	if strings.HasPrefix(op, "date") {
		x, ok1 := parseDate(v)
		y, ok2 := parseDate(want)
		if !ok1 || !ok2 {
			return false
		}
		return cmp(op[len("date"):], x, y)
	}
	return false
}

func cmp(op string, x, y float64) bool {
	switch op {
	case "equals":
		return x == y
	case "lessthan":
		return x < y
	case "lessthanequals":
		return x <= y
	case "greaterthan":
		return x > y
	case "greaterthanequals":
		return x >= y
	}
	return false
}

func parseDate(s string) (float64, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	return math.NaN(), false
}

// arnMatch compares ARNs segment by segment; wildcards stay within a segment
// except in the last (resource) one.
func arnMatch(pattern, arn string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// isAssumeRole reports whether action is one of sts:AssumeRole*, which a
// role's trust policy must always allow.
func isAssumeRole(action string) bool {
	return len(action) >= len("sts:AssumeRole") && strings.EqualFold(action[:len("sts:AssumeRole")], "sts:AssumeRole")
}
