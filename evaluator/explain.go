package evaluator

import (
	"fmt"
	"strings"
)

// MatchedStatement names one statement that matched the request. Index is
// the statement's 0-based position in its document.
type MatchedStatement struct {
	Policy string `json:"policy"`
	Kind   string `json:"kind"`
	Sid    string `json:"sid"`
	Index  int    `json:"index"`
	Effect string `json:"effect"`
}

// Explanation renders a decision for people and for JSON output.
type Explanation struct {
	Decision  string             `json:"decision"`
	Matched   []MatchedStatement `json:"matched"`
	BlockedBy string             `json:"blocked_by,omitempty"` // "scp", "rcp", "identity", "boundary", "session", "resource", "block-public-access", "endpoint", "aws-managed", "explicit-deny"
	Summary   string             `json:"summary"`              // one paragraph for a learner
	// NotApplied and MissingKeys are filled by ExplainRequest only: the
	// statements about the requested action that did not apply and why,
	// and the context keys the policies read that the request lacked.
	NotApplied  []NotApplied `json:"not_applied,omitempty"`
	MissingKeys []string     `json:"missing_context_keys,omitempty"`
}

// BlockedBy names the policy type that stopped the request ("" for Allow).
func (d Decision) BlockedBy() string { return blockerNames[d.blocked] }

// Matched lists the statements that matched, in evaluation order (at most
// eight are kept; Deny statements are kept first when there are more).
func (d Decision) Matched() []MatchedStatement {
	out := make([]MatchedStatement, 0, d.n)
	for _, m := range d.matched[:d.n] {
		s := &m.pol.stmts[m.stmt]
		eff := "Allow"
		if s.deny {
			eff = "Deny"
		}
		out = append(out, MatchedStatement{Policy: m.pol.name, Kind: m.pol.kind.String(), Sid: s.sid, Index: int(m.stmt), Effect: eff})
	}
	return out
}

// Explain renders the decision: matched statements, the blocking policy
// type and a paragraph a learner can follow. It allocates; Evaluate does not.
func (d Decision) Explain() Explanation {
	return Explanation{Decision: d.Effect.String(), Matched: d.Matched(), BlockedBy: d.BlockedBy(), Summary: d.summary()}
}

func (d Decision) who() string {
	switch d.ptype {
	case PrincipalAnonymous:
		return "An anonymous caller"
	case PrincipalService:
		return "The service " + d.principal
	case PrincipalRoot:
		return "The root user of account " + strings.TrimSuffix(strings.TrimPrefix(d.principal, "arn:aws:iam::"), ":root")
	}
	return strings.ToUpper(d.ptype.String()[:1]) + d.ptype.String()[1:] + " " + d.principal
}

func (d Decision) summary() string {
	if d.flags&fCallerIdentity != 0 {
		return fmt.Sprintf("%s asked for %s. It needs no permission and works even under an explicit Deny: it only tells callers who they are.", d.who(), d.action)
	}
	if d.Effect != Allow && d.blocked == blockNone {
		// a zero Decision: callers build one when they refuse a request
		// before evaluating it (unknown credentials, bad context)
		return "The request was not evaluated, so it is implicitly denied: nothing allows it."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s asked for %s on %s.", d.who(), d.action, d.resource)
	has := func(f uint32) bool { return d.flags&f != 0 }
	if d.ptype != PrincipalAnonymous && d.ptype != PrincipalService {
		if has(fSameAccount) {
			b.WriteString(" The principal and the resource are in the same account.")
		} else {
			fmt.Fprintf(&b, " The resource belongs to another account (%s), so both the principal's policies and the resource policy must allow.", d.resAcct)
		}
	}
	if has(fSCPExempt) {
		b.WriteString(" SCPs do not apply: the principal is in the organization's management account.")
	}
	denies := 0
	for _, m := range d.matched[:d.n] {
		if m.pol.stmts[m.stmt].deny {
			denies++
		}
	}
	switch d.blocked {
	case blockExplicitDeny:
		for _, m := range d.matched[:d.n] {
			if s := &m.pol.stmts[m.stmt]; s.deny {
				fmt.Fprintf(&b, " Statement %s of the %s policy %q explicitly denies it, and an explicit deny overrides every Allow.", stmtName(s, m.stmt), m.pol.kind, m.pol.name)
				break
			}
		}
		if has(fNotPrincipalQuirk) {
			b.WriteString(" Note: the Deny uses NotPrincipal, and AWS applies such a Deny to every IAM user or role that has a permissions boundary, even one the NotPrincipal lists.")
		}
	case blockRCP:
		fmt.Fprintf(&b, " A resource control policy blocks it: no RCP at organization level %d (0 is the root) allows this action, and every level must allow.", d.level)
	case blockSCP:
		fmt.Fprintf(&b, " A service control policy blocks it: no SCP at organization level %d (0 is the root) allows this action, and every level must allow, even for an administrator.", d.level)
	case blockEndpoint:
		b.WriteString(" The request goes through a VPC endpoint whose policy does not allow it; an endpoint policy grants nothing by itself, but it must allow every request through the endpoint.")
	case blockAWSManaged:
		b.WriteString(" It would change something AWS owns (an AWS managed policy, a role IAM Identity Center keeps under aws-reserved/, or a KMS alias under alias/aws/), which no policy can allow.")
	case blockBPA:
		b.WriteString(" The bucket policy is public and would allow it, but S3 Block Public Access (RestrictPublicBuckets) limits a public policy to principals of the bucket owner's account and AWS services.")
	case blockResource:
		switch {
		case d.ptype == PrincipalAnonymous || d.ptype == PrincipalService:
			b.WriteString(" Such a caller has no identity policies: only a resource policy can grant access, and none allows it.")
		case has(fKMSKey) && !has(fHasResource):
			b.WriteString(" The KMS key has no key policy: IAM policies count for a key only when its key policy allows the account, even in the same account.")
		case has(fKMSKey):
			b.WriteString(" The key policy does not allow this principal or its account, and IAM policies count for a KMS key only when the key policy allows the account, even in the same account.")
		case has(fTrust) && !has(fHasResource):
			b.WriteString(" The role has no trust policy: a role can only be assumed by principals its trust policy allows, even in the same account.")
		case has(fTrust):
			b.WriteString(" The role's trust policy does not allow this principal, and a role can only be assumed by principals its trust policy allows, even in the same account.")
		case !has(fHasResource):
			b.WriteString(" The resource has no resource policy, and a cross-account request needs one that allows it.")
		default:
			b.WriteString(" The resource policy does not allow this principal, and a cross-account request needs it to.")
		}
	case blockIdentity:
		if has(fSameAccount) && d.grant == grantAccount {
			b.WriteString(" The resource policy names only the account, which delegates the decision to the account's identity policies.")
		}
		b.WriteString(" No identity-based policy allows it, so it is implicitly denied (everything is denied unless something allows it).")
	case blockBoundary:
		b.WriteString(" An allow was found, but the permissions boundary does not allow this action; effective permissions are the intersection of the identity policies and the boundary.")
	case blockSession:
		b.WriteString(" An allow was found, but the session policy does not allow this action; a session can never do more than its session policy allows.")
	case blockNone:
		switch {
		case d.ptype == PrincipalAnonymous || d.ptype == PrincipalService:
			b.WriteString(" The resource policy allows it.")
		case has(fSameAccount) && d.ptype == PrincipalRoot:
			b.WriteString(" The root user has every permission in its own account unless something denies it.")
		case has(fSameAccount) && !(has(fIdentityAllows) && has(fBoundaryAllows) && has(fSessionAllows)):
			b.WriteString(" The resource policy allows it by naming the principal, which in the same account is enough on its own.")
		case has(fSameAccount):
			b.WriteString(" An identity-based policy allows it")
			if has(fHasBoundary) {
				b.WriteString(", the permissions boundary allows it too")
			}
			if has(fHasSession) {
				b.WriteString(", and so does the session policy")
			}
			b.WriteString(".")
		default:
			b.WriteString(" The principal's own policies allow it and the resource policy grants it.")
		}
		if has(fSCPsApply) {
			b.WriteString(" Every SCP level allows it.")
		}
		if has(fRCPsApply) {
			b.WriteString(" Every RCP level allows it.")
		}
		if has(fHasEndpoint) {
			b.WriteString(" The VPC endpoint policy allows it too.")
		}
		if denies == 0 {
			b.WriteString(" No Deny statement matched.")
		}
	}
	if d.more > 0 {
		fmt.Fprintf(&b, " (%d more matching statements are not listed.)", d.more)
	}
	return b.String()
}

func stmtName(s *statement, i int32) string {
	if s.sid != "" {
		return fmt.Sprintf("%q", s.sid)
	}
	return fmt.Sprintf("#%d", i)
}
