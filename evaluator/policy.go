package evaluator

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy is a parsed, validated and compiled policy document. It is
// immutable and safe to share between goroutines and regions.
type Policy struct {
	name    string
	kind    Kind
	doc     []byte
	version string
	stmts   []statement
	// byService indexes statements by the lower-cased literal service prefix
	// of their actions so a request only walks statements that can match;
	// other holds statements with a wildcard service or NotAction.
	byService []svcStmts
	other     []int32
	public    bool
	hasDeny   bool
	warnings  []Issue
}

// Warnings lists what AWS accepts in the document but iamprop models only in
// part, each with its path, line and column: a typed condition value iamprop
// cannot read (it then matches no request value, the way AWS's comparison
// fails), a duplicate Sid outside IAM, a principal given as an IAM unique id
// (unique ids are not modelled, so it matches nobody). Validation refuses
// only what AWS documents as invalid.
func (p *Policy) Warnings() []Issue { return p.warnings }

// Name is the document's name, used in explanations.
func (p *Policy) Name() string { return p.name }

// Kind is the document's kind.
func (p *Policy) Kind() Kind { return p.kind }

// Document is the source as given to Parse.
func (p *Policy) Document() []byte { return p.doc }

// Version is the document's Version element ("2012-10-17" or "2008-10-17";
// "2008-10-17" when absent, as AWS defaults).
func (p *Policy) Version() string { return p.version }

// Statements is the number of statements in the document.
func (p *Policy) Statements() int { return len(p.stmts) }

// String returns the kind's lower-case name as used in explanations
// ("identity", "resource", "trust", "scp", "rcp", "boundary", "session").
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
	case KindEndpoint:
		return "endpoint"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// svcStmts lists the statements whose actions name one literal service.
// A slice, not a map: policies name few services, and comparing a handful
// of short strings beats hashing on the hot path.
type svcStmts struct {
	hash  uint32 // svcHash(svc): most entries are rejected on this alone
	svc   string // lower-cased
	stmts []int32
	// keyed and unkeyed split stmts by resource key when there are many
	// (see reskey.go); keyed is nil for short lists, which are scanned.
	keyed   []keyedStmt
	unkeyed []int32
	mask    uint64 // bit hash%64 set for every key: most request keys are absent, and this says so without a search
}

// svcHash is FNV-1a over the lower-cased service name.
func svcHash(svc string) uint32 {
	h := uint32(2166136261)
	for i := range len(svc) {
		h ^= uint32(lowerASCII(svc[i]))
		h *= 16777619
	}
	return h
}

// forService returns the index entry of the request's service, or nil.
func (p *Policy) forService(rc *reqCtx) *svcStmts {
	for i := range p.byService {
		e := &p.byService[i]
		if e.hash == rc.svcHash && (e.svc == rc.svc || strings.EqualFold(e.svc, rc.svc)) {
			return e
		}
	}
	return nil
}

// statement is one compiled Statement.
type statement struct {
	sid          string
	deny         bool
	principal    *principalSet // nil: no Principal/NotPrincipal element
	notPrincipal bool
	actions      []actionPat
	notAction    bool
	oneSvc       bool // every action names the same literal service: once the index picked the statement, only names need comparing
	resources    []arnPattern
	notResource  bool
	noResource   bool // trust policies may omit Resource
	conds        []condition
}

// actionPat is "service:name" compiled; all is "*".
type actionPat struct {
	all  bool
	svc  pattern
	lsvc string // lower-cased service when svc has no wildcard
	name pattern
}

func (a *actionPat) match(rc *reqCtx) bool {
	if a.all {
		return true
	}
	if a.svc.shape == shapeExact && !rc.svcUpper {
		if a.lsvc != rc.svc {
			return false
		}
	} else if !a.svc.matches(rc.svc, true) {
		return false
	}
	return a.name.matches(rc.name, true)
}

// principalSet is a compiled Principal or NotPrincipal element.
type principalSet struct {
	star      bool     // "*" or {"AWS": "*"}: everyone, anonymous included
	accounts  []string // account ids (from "123456789012" or arn:aws:iam::123456789012:root)
	arns      []string // user, role, session and federated-user ARNs
	services  []string
	federated []string
	canonical []string // accepted, never matched: canonical ids are not modeled
}

// grant says how a Principal element named the requester; it decides which
// other policies still limit a same-account resource-policy grant.
type grant uint8

const (
	grantNone    grant = iota
	grantAccount       // the requester's account (delegation: identity must allow, except for root)
	grantStar          // "*": everyone
	grantRole          // the role ARN (for the role or its sessions): boundary and session policy still limit
	grantDirect        // the exact user, session, federated or service principal, or root
)

func (ps *principalSet) match(p *Principal, rc *reqCtx) grant {
	best := grantNone
	if ps.star {
		best = grantStar
	}
	if p.Type == PrincipalAnonymous {
		return best
	}
	if p.Type == PrincipalService {
		for _, s := range ps.services {
			if s == p.Name {
				return grantDirect
			}
		}
		return best
	}
	for _, a := range ps.arns {
		if iamARNEqual(a, p.ARN) && p.Type != PrincipalRole {
			return grantDirect
		}
		// a grant to a role ARN is limited by the boundary, whether the
		// role's session or the role itself asks
		if iamARNEqual(a, p.ARN) || (rc.roleARN != "" && iamARNEqual(a, rc.roleARN)) {
			best = grantRole
		}
	}
	if p.Type == PrincipalFederated {
		for _, f := range ps.federated {
			if f == p.ARN {
				return grantDirect
			}
		}
	}
	for _, a := range ps.accounts {
		if a == p.Account {
			if p.Type == PrincipalRoot {
				return grantDirect
			}
			if best < grantAccount {
				best = grantAccount
			}
		}
	}
	return best
}

// excludes reports whether a NotPrincipal element exempts p. AWS checks
// each level of the principal's identity (account, then role, then
// session), so every level must be listed: naming a user without its
// account does not exempt the user.
func (ps *principalSet) excludes(p *Principal, rc *reqCtx) bool {
	if ps.star {
		return true
	}
	switch p.Type {
	case PrincipalAnonymous:
		return false
	case PrincipalService:
		for _, s := range ps.services {
			if s == p.Name {
				return true
			}
		}
		return false
	}
	acct := false
	for _, a := range ps.accounts {
		acct = acct || a == p.Account
	}
	if !acct {
		return false
	}
	if p.Type == PrincipalRoot {
		return true
	}
	self, role := false, rc.roleARN == ""
	for _, a := range ps.arns {
		self = self || iamARNEqual(a, p.ARN)
		role = role || iamARNEqual(a, rc.roleARN)
	}
	for _, f := range ps.federated {
		self = self || f == p.ARN
	}
	return self && role
}

// Issue is one validation problem: where it is (JSON path, line, column, all
// 1-based but array indexes, which are 0-based) and what is wrong.
type Issue struct {
	Path         string // e.g. Statement[1].Condition.StringEquals
	Line, Column int
	Code         string // AWS-style: MalformedPolicyDocument or LimitExceeded; CodeWarning for a warning
	Message      string
	// Warning marks a document AWS accepts but iamprop models only in part
	// (see Policy.Warnings); it never makes Parse fail.
	Warning bool
}

// Issue codes, named as the IAM API names its errors.
const (
	CodeMalformed     = "MalformedPolicyDocument"
	CodeLimitExceeded = "LimitExceeded"
	CodeWarning       = "Warning" // AWS accepts the document; iamprop models this part only in part
)

// ValidationError lists every problem found in one document.
type ValidationError struct {
	Document string
	Issues   []Issue
}

// Error renders "DOC:LINE:COL: PATH: MESSAGE; ..." for every issue.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		w := ""
		if is.Warning {
			w = "warning: "
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s%s", e.Document, is.Line, is.Column, is.Path, w, is.Message)
	}
	return b.String()
}

// Size limits AWS documents. These constants, MaxSize and Size are the one
// definition of every policy-size quota in iamprop: the control plane checks
// its per-entity quotas with them and Parse checks the per-kind maximum, so a
// document gets one verdict whichever path it takes. How each is counted is
// Size's rule (IAM: characters other than white space; Organizations and S3:
// every byte).
const (
	MaxUserInlineSize   = 2048  // all inline policies of one user, together
	MaxGroupInlineSize  = 5120  // all inline policies of one group, together
	MaxRoleInlineSize   = 10240 // all inline policies of one role, together
	MaxManagedSize      = 6144  // one managed policy version (also a permissions boundary)
	MaxTrustSize        = 2048  // a role trust policy (default quota)
	MaxSessionSize      = 2048  // a session policy passed to AssumeRole (plain text)
	MaxSCPSize          = 5120  // a service control policy
	MaxRCPSize          = 5120  // a resource control policy
	MaxBucketPolicySize = 20480 // an S3 bucket policy (20 KB)
	MaxEndpointSize     = 20480 // a VPC endpoint policy (characters, white space included)
)

// MaxSize is the largest document Parse accepts for kind, measured by Size.
// For identity policies it is the largest any entity allows (a role's inline
// policies); the caller enforces the tighter per-entity quotas (user inline
// 2048, group inline 5120, managed 6144) with the constants above.
func MaxSize(kind Kind) int {
	switch kind {
	case KindIdentity:
		return MaxRoleInlineSize
	case KindBoundary:
		return MaxManagedSize
	case KindTrust:
		return MaxTrustSize
	case KindSession:
		return MaxSessionSize
	case KindSCP:
		return MaxSCPSize
	case KindRCP:
		return MaxRCPSize
	case KindResource:
		return MaxBucketPolicySize
	case KindEndpoint:
		return MaxEndpointSize
	}
	return 0
}

// Size measures doc the way AWS's quota for kind counts it. IAM does not
// count white space (space, tab, line feed, carriage return, wherever they
// are) against its quotas, so IAM kinds count the other characters.
// Organizations stores an SCP or RCP exactly as an API or CLI caller sent it
// and counts its bytes, white space included (only the console strips white
// space before saving); S3 counts a bucket policy's bytes. So SCP, RCP and
// resource policies count every byte.
func Size(kind Kind, doc []byte) int {
	switch kind {
	case KindSCP, KindRCP, KindResource:
		return len(doc)
	case KindEndpoint:
		return utf8.RuneCount(doc) // characters, white space included
	}
	n := 0
	for _, r := range string(doc) {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

// SizeUnit says, for messages, what Size counts for kind: "characters, white
// space excluded" or "bytes, white space included".
func SizeUnit(kind Kind) string {
	switch kind {
	case KindSCP, KindRCP, KindResource:
		return "bytes, white space included"
	case KindEndpoint:
		return "characters, white space included"
	}
	return "characters, white space excluded"
}
