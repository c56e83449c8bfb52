package evaluator

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
	KindEndpoint                 // VPC endpoint policy: requests through the endpoint must be allowed by it
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
	Endpoint          *Policy     // VPC endpoint policy, when the request goes through an endpoint
	SCPs              [][]*Policy // one slice per organization level, root first; every level must allow
	RCPs              [][]*Policy // same shape, for the resource's account
	BlockPublicAccess BlockPublicAccess
	// ManagementAccount is the organization's management account, if any.
	// SCPs never apply to its principals and RCPs never to its resources, as
	// AWS documents; callers may instead leave SCPs/RCPs empty for it.
	ManagementAccount string
}
