package evaluator

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// PrincipalType classifies who makes a request.
type PrincipalType uint8

// The principal types the evaluator distinguishes.
const (
	PrincipalAnonymous   PrincipalType = iota // no credentials
	PrincipalUser                             // an IAM user
	PrincipalRole                             // a role itself (rare; requests are made by its sessions)
	PrincipalAssumedRole                      // an assumed-role session
	PrincipalRoot                             // the account root user
	PrincipalService                          // an AWS service principal (s3.amazonaws.com)
	PrincipalFederated                        // a federated user session
)

// String returns the value AWS puts in aws:PrincipalType.
func (t PrincipalType) String() string {
	switch t {
	case PrincipalUser:
		return "User"
	case PrincipalRole:
		return "Role"
	case PrincipalAssumedRole:
		return "AssumedRole"
	case PrincipalRoot:
		return "Account"
	case PrincipalService:
		return "AWSService"
	case PrincipalFederated:
		return "FederatedUser"
	default:
		return "Anonymous"
	}
}

// Principal is who makes a request. For an assumed-role session, Name is the
// role name and Session the session name; for a service, Name is the
// service principal (s3.amazonaws.com). Path is the IAM path of a user or
// role ("/team/"; "" means "/"), and for a session the path of its role,
// which the session ARN does not show: callers that know the role set it.
type Principal struct {
	Type                        PrincipalType
	ARN, Account, Name, Session string
	Path                        string
}

// roleARN is the ARN of the role behind a session or of the role itself,
// path included (AWS's aws:PrincipalArn for assumed roles).
func (p *Principal) roleARN() string {
	if p.Type == PrincipalAssumedRole || p.Type == PrincipalRole {
		path := p.Path
		if path == "" {
			path = "/"
		}
		return "arn:" + partitionOf(p.ARN) + ":iam::" + p.Account + ":role" + path + p.Name
	}
	return ""
}

// iamARNEqual compares a principal ARN from a policy with a requester's.
// IAM user and role names are not distinguished by case (AWS documents that
// "MyResource" and "myresource" cannot both exist), so the name part of a
// user, role or assumed-role ARN compares case-insensitively; everything
// else (partition, account, path, session name) exactly.
func iamARNEqual(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) != len(b) || !strings.EqualFold(a, b) {
		return false
	}
	pa, oka := arnParts(a)
	pb, okb := arnParts(b)
	if !oka || !okb || pa[0] != pb[0] || pa[1] != pb[1] || pa[2] != pb[2] || pa[3] != pb[3] || pa[4] != pb[4] {
		return false
	}
	ra, rb := pa[5], pb[5]
	i, j := strings.LastIndexByte(ra, '/'), strings.LastIndexByte(rb, '/')
	if i != j || i < 0 {
		return false
	}
	switch {
	case pa[2] == "iam" && (strings.HasPrefix(ra, "user/") || strings.HasPrefix(ra, "role/")):
		return ra[:i] == rb[:j] // type and path exact; the names differ only in case
	case pa[2] == "sts" && strings.HasPrefix(ra, "assumed-role/") && strings.HasPrefix(rb, "assumed-role/"):
		return ra[i:] == rb[j:] // the session name exact; the role name differs only in case
	}
	return false
}

func partitionOf(arn string) string {
	if parts, ok := arnParts(arn); ok && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}

// ParsePrincipal parses "anonymous", a 12-digit account id (its root user),
// a service principal name (s3.amazonaws.com), or an ARN:
// arn:aws:iam::ACCT:user/NAME, arn:aws:iam::ACCT:role/NAME,
// arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, arn:aws:sts::ACCT:federated-user/NAME,
// arn:aws:iam::ACCT:root.
func ParsePrincipal(s string) (Principal, error) {
	switch {
	case s == "anonymous" || s == "*":
		return Principal{Type: PrincipalAnonymous}, nil
	case isAccountID(s):
		return Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::" + s + ":root", Account: s}, nil
	case strings.HasSuffix(s, ".amazonaws.com") && !strings.HasPrefix(s, "arn:"):
		return Principal{Type: PrincipalService, Name: s}, nil
	}
	parts, ok := arnParts(s)
	if !ok || parts[0] != "arn" {
		return Principal{}, fmt.Errorf("principal %q: expected \"anonymous\", an account id, a service name or an ARN", s)
	}
	acct, res := parts[4], parts[5]
	if !isAccountID(acct) {
		return Principal{}, fmt.Errorf("principal %q: %q is not a 12-digit account id", s, acct)
	}
	p := Principal{ARN: s, Account: acct}
	name := func(prefix string) string { return lastPathElem(strings.TrimPrefix(res, prefix)) }
	switch svc := parts[2]; {
	case svc == "iam" && res == "root":
		p.Type = PrincipalRoot
	case svc == "iam" && strings.HasPrefix(res, "user/") && len(res) > 5:
		p.Type, p.Name, p.Path = PrincipalUser, name("user/"), pathOf(res[4:])
	case svc == "iam" && strings.HasPrefix(res, "role/") && len(res) > 5:
		p.Type, p.Name, p.Path = PrincipalRole, name("role/"), pathOf(res[4:])
	case svc == "sts" && strings.HasPrefix(res, "assumed-role/"):
		rest := strings.Split(strings.TrimPrefix(res, "assumed-role/"), "/")
		if len(rest) != 2 || rest[0] == "" || rest[1] == "" {
			return Principal{}, fmt.Errorf("principal %q: expected assumed-role/ROLE/SESSION", s)
		}
		p.Type, p.Name, p.Session = PrincipalAssumedRole, rest[0], rest[1]
	case svc == "sts" && strings.HasPrefix(res, "federated-user/") && len(res) > 15:
		p.Type, p.Name = PrincipalFederated, strings.TrimPrefix(res, "federated-user/")
	default:
		return Principal{}, fmt.Errorf("principal %q: not a user, role, assumed-role session, federated user or root ARN", s)
	}
	return p, nil
}

// pathOf returns the path of "/path/name" ("/" when there is none).
func pathOf(s string) string {
	return s[:strings.LastIndexByte(s, '/')+1]
}

func lastPathElem(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Context holds a request's context keys. Keys compare case-insensitively,
// as AWS compares condition key names; values keep their case. Immutable.
type Context struct {
	m map[string]ctxValue // lower-cased key -> value
}

// ctxValue is one context value: a single string or a list. Numbers and
// booleans are kept in their string form, which is how AWS compares them.
type ctxValue struct {
	list   []string
	one    string
	isList bool
	// single values pre-parsed once in NewContext so conditions compare
	// without re-parsing per statement
	ip    netip.Addr
	num   float64
	hasIP bool
	isNum bool
}

func (v ctxValue) n() int {
	if v.isList {
		return len(v.list)
	}
	return 1
}

func (v ctxValue) at(i int) string {
	if v.isList {
		return v.list[i]
	}
	return v.one
}

// NewContext builds a request context from values of type string, bool,
// float64, int, int64 or a list ([]any or []string) of those. Keys are
// case-insensitive; two keys that differ only in case are an error.
func NewContext(values map[string]any) (*Context, error) {
	c := &Context{m: make(map[string]ctxValue, len(values))}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error messages
	for _, k := range keys {
		lk := strings.ToLower(k)
		if _, dup := c.m[lk]; dup {
			return nil, fmt.Errorf("context key %q is given twice (keys are case-insensitive)", k)
		}
		v, err := toCtxValue(values[k])
		if err != nil {
			return nil, fmt.Errorf("context key %q: %w", k, err)
		}
		c.m[lk] = v
	}
	return c, nil
}

func toCtxValue(x any) (ctxValue, error) {
	switch v := x.(type) {
	case []any:
		out := ctxValue{isList: true, list: make([]string, 0, len(v))}
		for i, e := range v {
			s, err := scalarString(e)
			if err != nil {
				return ctxValue{}, fmt.Errorf("element %d: %w", i, err)
			}
			out.list = append(out.list, s)
		}
		return out, nil
	case []string:
		return ctxValue{isList: true, list: append([]string(nil), v...)}, nil
	default:
		s, err := scalarString(x)
		if err != nil {
			return ctxValue{}, err
		}
		out := ctxValue{one: s}
		if a, perr := netip.ParseAddr(s); perr == nil {
			out.ip, out.hasIP = a.Unmap(), true
		}
		if f, perr := strconv.ParseFloat(s, 64); perr == nil {
			out.num, out.isNum = f, true
		}
		return out, nil
	}
}

func scalarString(x any) (string, error) {
	switch v := x.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	default:
		return "", fmt.Errorf("unsupported value type %T (want string, number, bool or a list of them)", x)
	}
}

// Request is one authorization request. ResourceAccount is the account that
// owns the resource; empty means the principal's own account.
type Request struct {
	Principal        Principal
	Action, Resource string
	ResourceAccount  string
	Context          *Context
}

// reqCtx is the per-request scratch state Evaluate keeps on its stack: the
// request split once so that statements can be matched without allocating.
type reqCtx struct {
	req       *Request
	svc, name string // action split at ':'
	svcUpper  bool   // svc has upper-case letters: compare services case-insensitively
	svcHash   uint32
	head      string // the ARN up to and including its fifth colon
	arn       [6]string
	arnOK     bool
	resAcct   string
	roleARN   string
	// a few resolved policy variables: statements of one request tend to
	// use the same ones (${aws:username}), and a lookup costs a map probe
	nvars   int
	varKeys [4]string
	varVals [4]string
	varOK   [4]bool
	// the resource's keys for the resource index, computed on first use
	levels     [maxResLevels + 1]uint32
	nlevels    int
	levelsDone bool
}

func newReqCtx(req *Request, rc *reqCtx) {
	rc.req = req
	if i := strings.IndexByte(req.Action, ':'); i >= 0 {
		rc.svc, rc.name = req.Action[:i], req.Action[i+1:]
	} else {
		rc.svc, rc.name = "", req.Action
	}
	rc.svcUpper = false
	for i := range len(rc.svc) {
		if c := rc.svc[i]; 'A' <= c && c <= 'Z' {
			rc.svcUpper = true
			break
		}
	}
	rc.svcHash = svcHash(rc.svc)
	rc.arn, rc.arnOK = arnParts(req.Resource)
	if rc.arnOK {
		rc.head = req.Resource[:len(req.Resource)-len(rc.arn[5])]
	}
	rc.resAcct = req.ResourceAccount
	if rc.resAcct == "" {
		rc.resAcct = req.Principal.Account
	}
	rc.roleARN = req.Principal.roleARN()
}

// lookup returns the value of a lower-cased key: from the request context,
// else derived from the request the way AWS fills in global keys.
func (rc *reqCtx) lookup(lk string) (ctxValue, bool) {
	if rc == nil {
		return ctxValue{}, false
	}
	if c := rc.req.Context; c != nil {
		if v, ok := c.m[lk]; ok {
			return v, true
		}
	}
	s, ok := rc.derived(lk)
	return ctxValue{one: s}, ok
}

// single returns a single-valued key's value; multi-valued keys cannot be
// policy variables, so they do not resolve.
func (rc *reqCtx) single(lk string) (string, bool) {
	if rc == nil {
		return "", false
	}
	for i := range rc.nvars {
		if rc.varKeys[i] == lk {
			return rc.varVals[i], rc.varOK[i]
		}
	}
	v, ok := rc.lookup(lk)
	ok = ok && !v.isList
	if rc.nvars < len(rc.varKeys) {
		rc.varKeys[rc.nvars], rc.varVals[rc.nvars], rc.varOK[rc.nvars] = lk, v.one, ok
		rc.nvars++
	}
	if !ok {
		return "", false
	}
	return v.one, true
}

func (rc *reqCtx) derived(lk string) (string, bool) {
	p := &rc.req.Principal
	anon := p.Type == PrincipalAnonymous
	switch lk {
	case "aws:principalarn":
		switch {
		case anon || p.Type == PrincipalService:
			return "", false
		case rc.roleARN != "":
			return rc.roleARN, true
		}
		return p.ARN, p.ARN != ""
	case "aws:principalaccount":
		return p.Account, !anon && p.Account != ""
	case "aws:username":
		return p.Name, p.Type == PrincipalUser
	case "aws:principaltype":
		return p.Type.String(), true
	case "aws:userid":
		switch p.Type {
		case PrincipalUser:
			return p.Name, true // IAM unique ids are not modeled; the name stands in
		case PrincipalAssumedRole:
			return "", false // would need ROLEID:SESSION; see docs/policy-language.md
		case PrincipalRoot:
			return p.Account, true
		case PrincipalAnonymous:
			return "anonymous", true
		}
		return "", false
	case "aws:resourceaccount":
		return rc.resAcct, rc.resAcct != ""
	case "aws:principalisawsservice":
		if p.Type == PrincipalService {
			return "true", true
		}
		return "false", true
	case "aws:principalservicename":
		return p.Name, p.Type == PrincipalService
	case "aws:rolesessionname", "sts:rolesessionname":
		return p.Session, p.Type == PrincipalAssumedRole
	}
	return "", false
}
