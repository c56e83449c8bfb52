// Package evaluator is the IAM policy language: it parses, validates and
// compiles policy documents, and decides requests the way AWS documents its
// evaluation logic, with an explanation a learner can read. It is pure: no IO,
// no clock, no global randomness.
package evaluator

// This file is the package's contract with the rest of iamprop (controlplane,
// replication, runner, cmd). Implementations may grow; these names and
// signatures stay.

// Kind says what role a policy document plays. Validation rules (Principal
// required or forbidden, size limits) depend on it.
type Kind uint8

// The policy kinds AWS evaluates.
const (
	KindIdentity Kind = iota + 1 // identity-based: user, group or role; inline or managed
	KindResource                 // resource-based, e.g. an S3 bucket policy
	KindTrust                    // a role trust policy (resource policy of sts:AssumeRole)
	KindSCP                      // service control policy (organizations)
	KindRCP                      // resource control policy (organizations)
	KindBoundary                 // permissions boundary
	KindSession                  // session policy passed to sts:AssumeRole
)

// Effect is the outcome of an evaluation. The zero value is ImplicitDeny.
type Effect uint8

// The three outcomes AWS distinguishes.
const (
	ImplicitDeny Effect = iota
	ExplicitDeny
	Allow
)

// String returns "ImplicitDeny", "ExplicitDeny" or "Allow".
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	default:
		return "ImplicitDeny"
	}
}

// BlockPublicAccess holds the effective S3 Block Public Access settings for
// the resource of a request (bucket-level OR account-level, already merged by
// the caller).
type BlockPublicAccess struct {
	BlockPublicAcls       bool `json:"block_public_acls"`
	IgnorePublicAcls      bool `json:"ignore_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

// Input is every policy that applies to one request. Nil or empty fields mean
// "no such policy" (for SCPs and RCPs: no organization / none attached).
type Input struct {
	Identity          []*Policy   // identity-based policies of the principal (user + its groups, or role)
	ResourcePolicy    *Policy     // bucket policy, or the role's trust policy for sts:AssumeRole
	Boundary          *Policy     // permissions boundary of the principal
	Session           *Policy     // session policy of an assumed-role session
	SCPs              [][]*Policy // one slice per organization level, root first; every level must allow
	RCPs              [][]*Policy // same shape, for the resource's account
	BlockPublicAccess BlockPublicAccess
	// ManagementAccount is the organization's management account, if any.
	// SCPs never apply to its principals and RCPs never to its resources, as
	// AWS documents; callers may instead leave SCPs/RCPs empty for it.
	ManagementAccount string
}

// The declarations below are the rest of the contract. The evaluator helper
// replaces their stub bodies (in other files) but keeps these signatures:
//
//   func Parse(name string, kind Kind, document []byte) (*Policy, error)
//       Parses, validates and compiles. On failure returns *ValidationError
//       (never a half-built policy, never a panic).
//   type ValidationError struct { Document string; Issues []Issue }   // Error() "DOC:LINE:COL: PATH: MESSAGE; ..."
//   type Issue struct { Path string; Line, Column int; Code, Message string }
//   func (p *Policy) Name() string
//   func (p *Policy) Kind() Kind
//   func (p *Policy) Document() []byte      // the source bytes as given
//   func (p *Policy) IsPublic() bool        // AWS's definition of a "public" bucket policy (for BPA)
//
//   func ParsePrincipal(s string) (Principal, error)   // "anonymous" or an ARN (user, role, assumed-role session, root, account id)
//   type Principal struct { Type PrincipalType; ARN, Account, Name, Session string }
//   func NewContext(values map[string]any) (*Context, error)   // string, float64/int, bool, []any; keys case-insensitive
//   type Request struct { Principal Principal; Action, Resource, ResourceAccount string; Context *Context }
//
//   func Evaluate(req *Request, in *Input) Decision   // zero allocations in steady state
//   type Decision struct { Effect Effect; ... }        // small value type, no heap
//   func (d Decision) Explain() Explanation            // renders (may allocate)
//   type Explanation struct {
//       Decision  string             `json:"decision"`
//       Matched   []MatchedStatement `json:"matched"`
//       BlockedBy string             `json:"blocked_by,omitempty"` // policy type that blocked: "scp", "rcp", "identity", "boundary", "session", "resource", "block-public-access", "explicit-deny"
//       Summary   string             `json:"summary"`              // one paragraph for a learner
//   }
//   type MatchedStatement struct { Policy, Kind, Sid string; Index int; Effect string }   // JSON: policy, kind, sid, index, effect
//
// Additions (implemented in policy.go, match.go, explain.go): Kind.String;
// Policy.Version, Policy.Statements; Size(kind, doc), MaxSize(kind) and the
// Max*Size quota constants; CodeMalformed, CodeLimitExceeded;
// PrincipalType and its constants; Decision.BlockedBy, Decision.Matched;
// MatchWildcard, MatchARN; Input.ManagementAccount (above).
