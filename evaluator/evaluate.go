package evaluator

import "strings"

// blocker names the policy type that stopped a request.
type blocker uint8

const (
	blockNone blocker = iota
	blockExplicitDeny
	blockRCP
	blockSCP
	blockResource
	blockIdentity
	blockBoundary
	blockSession
	blockBPA
	blockEndpoint
	blockAWSManaged
)

var blockerNames = [...]string{"", "explicit-deny", "rcp", "scp", "resource", "identity", "boundary", "session", "block-public-access", "endpoint", "aws-managed"}

// maxMatched bounds the statements a Decision records; more are counted.
const maxMatched = 8

// matchRef points at one statement of a compiled policy: a Decision stays a
// small value and Evaluate never renders text.
type matchRef struct {
	pol  *Policy
	stmt int32
}

// decision facts Explain needs, as bits.
const (
	fAnonymous uint32 = 1 << iota
	fSameAccount
	fIdentityAllows
	fBoundaryAllows
	fSessionAllows
	fHasBoundary
	fHasSession
	fHasResource
	fSCPsApply
	fRCPsApply
	fBPARestricted
	fNotPrincipalQuirk
	fService
	fSCPExempt
	fTrust
	fCallerIdentity // sts:GetCallerIdentity: no permission needed
	fKMSKey         // the resource is a KMS key: its key policy must allow
	fHasEndpoint
)

// Decision is the outcome of Evaluate: the Effect plus what Explain needs to
// say why. It is a plain value with no heap memory of its own.
type Decision struct {
	Effect Effect

	blocked                              blocker
	grant                                grant
	n                                    uint8
	more                                 uint16 // matched statements beyond maxMatched
	flags                                uint32
	level                                int8 // failed SCP/RCP level, root = 0
	matched                              [maxMatched]matchRef
	principal, action, resource, resAcct string
	ptype                                PrincipalType
}

// Evaluate decides req against every policy in in, following AWS's
// documented evaluation logic (see docs/policy-language.md):
//  1. an explicit Deny in any applicable policy wins;
//  2. RCPs: every level must allow (resources outside the management account);
//  3. SCPs: every level must allow (principals outside the management account);
//  4. a same-account resource policy that names the user or session grants on
//     its own; one that names the role or "*" is still limited by the
//     permissions boundary and session policy;
//     5-7. identity policies, intersected with the boundary and session policy.
//
// Cross-account requests need both sides; anonymous requests only the
// resource policy. Evaluate never fails and does not allocate.
func Evaluate(req *Request, in *Input) Decision {
	var d Decision
	if req == nil {
		d.blocked = blockIdentity
		return d
	}
	if in == nil {
		in = &Input{}
	}
	var rc reqCtx
	newReqCtx(req, &rc)
	p := &req.Principal
	d.principal, d.action, d.resource, d.resAcct, d.ptype = p.ARN, req.Action, req.Resource, rc.resAcct, p.Type
	if p.Type == PrincipalService {
		d.principal = p.Name
	}
	anon := p.Type == PrincipalAnonymous
	service := p.Type == PrincipalService
	same := !anon && !service && p.Account != "" && p.Account == rc.resAcct
	if anon {
		d.flags |= fAnonymous
	}
	if service {
		d.flags |= fService
	}
	if same {
		d.flags |= fSameAccount
	}
	w := walker{rc: &rc, d: &d, in: in}
	deny := false
	d.level = -1
	if !anon && !service && isAction(req.Action, "sts", "getcalleridentity") {
		// AWS documents that GetCallerIdentity needs no permission and
		// works under an explicit Deny: it tells callers who they are.
		d.Effect, d.flags = Allow, d.flags|fCallerIdentity
		return d
	}

	// RCPs restrict resources of member accounts, whoever asks; AWS service
	// principals are exempt.
	rcpOK := true
	if len(in.RCPs) > 0 && !service && !(in.ManagementAccount != "" && rc.resAcct == in.ManagementAccount) {
		d.flags |= fRCPsApply
		for li, level := range in.RCPs {
			levelOK := false
			for _, pol := range level {
				r := w.walk(pol, !levelOK, false)
				deny = deny || r.deny
				levelOK = levelOK || r.allow
			}
			if !levelOK && rcpOK {
				rcpOK, d.level = false, int8(li)
			}
		}
	}
	// SCPs restrict principals of member accounts, not anonymous callers, not
	// services, and never the management account.
	scpOK := true
	personal := !anon && !service
	if len(in.SCPs) > 0 && personal {
		if in.ManagementAccount != "" && p.Account == in.ManagementAccount {
			d.flags |= fSCPExempt
		} else {
			d.flags |= fSCPsApply
			for li, level := range in.SCPs {
				levelOK := false
				for _, pol := range level {
					r := w.walk(pol, !levelOK, false)
					deny = deny || r.deny
					levelOK = levelOK || r.allow
				}
				if !levelOK && scpOK {
					scpOK = false
					if rcpOK {
						d.level = int8(li)
					}
				}
			}
		}
	}
	// A VPC endpoint policy must allow a request through the endpoint; it
	// grants nothing by itself.
	endpointOK := true
	if in.Endpoint != nil {
		d.flags |= fHasEndpoint
		r := w.walk(in.Endpoint, true, false)
		deny = deny || r.deny
		endpointOK = r.allow
	}
	resGrant := grantNone
	if rp := in.ResourcePolicy; rp != nil {
		d.flags |= fHasResource
		r := w.walk(rp, true, true)
		deny = deny || r.deny
		resGrant = r.grant
		if resGrant != grantNone && rp.kind == KindResource && in.BlockPublicAccess.RestrictPublicBuckets && rp.public &&
			!service && (anon || p.Account != rc.resAcct) {
			// RestrictPublicBuckets: a public policy grants only to the
			// bucket owner's account and AWS services.
			resGrant = grantNone
			d.flags |= fBPARestricted
		}
	}
	idAllow, bAllow, sAllow := false, true, true
	if personal {
		for _, pol := range in.Identity {
			r := w.walk(pol, !idAllow, false)
			deny = deny || r.deny
			idAllow = idAllow || r.allow
		}
		if in.Boundary != nil {
			d.flags |= fHasBoundary
			r := w.walk(in.Boundary, true, false)
			deny = deny || r.deny
			bAllow = r.allow
		}
		if in.Session != nil {
			d.flags |= fHasSession
			r := w.walk(in.Session, true, false)
			deny = deny || r.deny
			sAllow = r.allow
		}
	}
	if p.Type == PrincipalRoot {
		// the root user has every permission in its own account without
		// policies; only Deny statements, SCPs, RCPs and (cross-account) the
		// resource side limit it
		idAllow = true
	}
	if idAllow {
		d.flags |= fIdentityAllows
	}
	if bAllow {
		d.flags |= fBoundaryAllows
	}
	if sAllow {
		d.flags |= fSessionAllows
	}
	d.grant = resGrant

	switch {
	case deny:
		d.Effect, d.blocked = ExplicitDeny, blockExplicitDeny
		return d
	case !rcpOK:
		d.blocked = blockRCP
		return d
	case !scpOK:
		d.blocked = blockSCP
		return d
	case !endpointOK:
		d.blocked = blockEndpoint
		return d
	case isAWSManaged(&rc):
		d.blocked = blockAWSManaged
		return d
	}
	kmsKey := rc.arnOK && rc.arn[2] == "kms" && strings.HasPrefix(rc.arn[5], "key/")
	if kmsKey {
		d.flags |= fKMSKey
	}
	trust := isAssumeRole(req.Action) || (in.ResourcePolicy != nil && in.ResourcePolicy.kind == KindTrust)
	if trust {
		d.flags |= fTrust
	}
	resBlock := blockResource
	if d.flags&fBPARestricted != 0 {
		resBlock = blockBPA
	}
	switch {
	case anon || service:
		if resGrant != grantNone {
			d.Effect = Allow
		} else {
			d.blocked = resBlock
		}
	case same && trust && resGrant == grantNone:
		// a role can only be assumed if its trust policy allows it
		d.blocked = blockResource
	case same && kmsKey && resGrant == grantNone:
		// IAM policies count for a KMS key only when its key policy allows
		// the account (or names the principal), even in the same account
		d.blocked = blockResource
	case same:
		viaIdentity := idAllow && bAllow && sAllow
		viaResource := false
		switch resGrant {
		case grantDirect:
			viaResource = true
		case grantRole, grantStar:
			viaResource = bAllow && sAllow
		}
		switch {
		case viaIdentity || viaResource:
			d.Effect = Allow
		case (idAllow || resGrant >= grantStar) && !bAllow:
			d.blocked = blockBoundary
		case (idAllow || resGrant >= grantStar) && !sAllow:
			d.blocked = blockSession
		default:
			d.blocked = blockIdentity
		}
	default: // cross-account: both sides must allow
		switch {
		case resGrant == grantNone:
			d.blocked = resBlock
		case !idAllow:
			d.blocked = blockIdentity
		case !bAllow:
			d.blocked = blockBoundary
		case !sAllow:
			d.blocked = blockSession
		default:
			d.Effect = Allow
		}
	}
	return d
}

// walker evaluates policies for one request and records matches.
type walker struct {
	rc                   *reqCtx
	d                    *Decision
	in                   *Input
	needAllow, wantGrant bool
}

type walkResult struct {
	allow, deny bool
	grant       grant
}

// walk evaluates the statements of pol that can match the action. Once the
// caller knows the answer is Allow (needAllow false), or this policy has
// allowed and the best grant does not matter, only Deny statements can still
// change the decision, so Allow statements are skipped: the explanation
// lists the Allow that decided, not every redundant one.
func (w *walker) walk(pol *Policy, needAllow, wantGrant bool) walkResult {
	r := walkResult{}
	if pol == nil || (!needAllow && !pol.hasDeny) {
		return r
	}
	w.needAllow, w.wantGrant = needAllow, wantGrant
	if e := pol.forService(w.rc); e != nil {
		if e.keyed == nil {
			for _, i := range e.stmts {
				w.stmt(pol, i, &r, true)
			}
		} else {
			for _, h := range w.rc.resLevels() {
				if e.mask&(1<<(h&63)) == 0 {
					continue
				}
				for j := e.search(h); j < len(e.keyed) && e.keyed[j].hash == h; j++ {
					w.stmt(pol, e.keyed[j].stmt, &r, true)
				}
			}
			for _, i := range e.unkeyed {
				w.stmt(pol, i, &r, true)
			}
		}
	}
	for _, i := range pol.other {
		w.stmt(pol, i, &r, false)
	}
	return r
}

// indexed is set when the service index selected the statement.
func (w *walker) stmt(pol *Policy, i int32, r *walkResult, indexed bool) {
	s := &pol.stmts[i]
	if !s.deny && (!w.needAllow || (r.allow && !w.wantGrant)) {
		return
	}
	ok, g := w.matches(s, indexed && s.oneSvc)
	if !ok {
		return
	}
	if s.deny {
		r.deny = true
	} else {
		r.allow = true
		if g > r.grant {
			r.grant = g
		}
	}
	w.record(pol, i, s.deny)
}

func (w *walker) record(pol *Policy, i int32, deny bool) {
	d := w.d
	if int(d.n) < maxMatched {
		d.matched[d.n] = matchRef{pol: pol, stmt: i}
		d.n++
		return
	}
	d.more++
	if deny { // keep denies visible: replace the last recorded Allow
		for j := maxMatched - 1; j >= 0; j-- {
			m := d.matched[j]
			if !m.pol.stmts[m.stmt].deny {
				d.matched[j] = matchRef{pol: pol, stmt: i}
				return
			}
		}
	}
}

// svcKnown: the request's service is already known to match every action.
func (w *walker) matches(s *statement, svcKnown bool) (bool, grant) {
	rc := w.rc
	hit := false
	for k := range s.actions {
		a := &s.actions[k]
		if svcKnown {
			if a.name.matches(rc.name, true) {
				hit = true
				break
			}
		} else if a.match(rc) {
			hit = true
			break
		}
	}
	if hit == s.notAction {
		return false, grantNone
	}
	if !s.noResource {
		hit = false
		for k := range s.resources {
			m, ok := s.resources[k].match(rc)
			if !ok {
				return false, grantNone // unresolvable variable: no match
			}
			if m {
				hit = true
				break
			}
		}
		if hit == s.notResource {
			return false, grantNone
		}
	}
	g := grantDirect
	if s.principal != nil {
		p := &rc.req.Principal
		if s.notPrincipal {
			excluded := s.principal.excludes(p, rc)
			if excluded && w.in.Boundary != nil && isIAMEntity(p) {
				// AWS documents that NotPrincipal with Deny denies every IAM
				// principal with a permissions boundary, whatever it lists.
				excluded = false
				w.d.flags |= fNotPrincipalQuirk
			}
			if excluded {
				return false, grantNone
			}
		} else if g = s.principal.match(p, rc); g == grantNone {
			return false, grantNone
		}
	}
	for k := range s.conds {
		res, ok := s.conds[k].eval(rc)
		if !ok || !res {
			return false, grantNone
		}
	}
	return true, g
}

func isIAMEntity(p *Principal) bool {
	return p.Type == PrincipalUser || p.Type == PrincipalRole || p.Type == PrincipalAssumedRole
}

// isAction reports whether action is svc:name, names compared
// case-insensitively (lname lower-case).
func isAction(action, svc, lname string) bool {
	return len(action) == len(svc)+1+len(lname) && strings.EqualFold(action[:len(svc)], svc) && action[len(svc)] == ':' && strings.EqualFold(action[len(svc)+1:], lname)
}

// isAWSManaged reports whether the request changes something AWS owns,
// which no policy can allow: an AWS managed policy
// (arn:aws:iam::aws:policy/...), a role IAM Identity Center keeps under
// the aws-reserved/ path (AWSReservedSSO_*: "this role is only modifiable
// by AWS", except by Identity Center's own service-linked role), or a KMS
// alias under alias/aws/.
func isAWSManaged(rc *reqCtx) bool {
	if !rc.arnOK {
		return false
	}
	switch {
	case strings.EqualFold(rc.svc, "iam") && rc.arn[2] == "iam" && rc.arn[4] == "aws" && strings.HasPrefix(rc.arn[5], "policy/"):
		return isIAMWrite(rc.name, false)
	case strings.EqualFold(rc.svc, "iam") && rc.arn[2] == "iam" && strings.HasPrefix(rc.arn[5], "role/aws-reserved/"):
		return isIAMWrite(rc.name, true) && !isIdentityCenter(&rc.req.Principal)
	case strings.EqualFold(rc.svc, "kms") && rc.arn[2] == "kms" && strings.HasPrefix(rc.arn[5], "alias/aws/"):
		return strings.EqualFold(rc.name, "createalias") || strings.EqualFold(rc.name, "updatealias") || strings.EqualFold(rc.name, "deletealias")
	}
	return false
}

// isIAMWrite reports whether the IAM action name changes its resource;
// withAttach counts attaching and detaching policies (a change of a role,
// not of the policy attached).
func isIAMWrite(name string, withAttach bool) bool {
	for _, verb := range [...]string{"create", "delete", "set", "tag", "untag", "update", "put", "attach", "detach"} {
		if !withAttach && (verb == "attach" || verb == "detach") {
			continue
		}
		if len(name) > len(verb) && strings.EqualFold(name[:len(verb)], verb) {
			return true
		}
	}
	return false
}

// isIdentityCenter reports whether p is IAM Identity Center acting on its
// own roles: its service principal, or its service-linked role
// AWSServiceRoleForSSO (path /aws-service-role/sso.amazonaws.com/ when
// known).
func isIdentityCenter(p *Principal) bool {
	switch p.Type {
	case PrincipalService:
		return p.Name == "sso.amazonaws.com"
	case PrincipalRole, PrincipalAssumedRole:
		return strings.EqualFold(p.Name, "AWSServiceRoleForSSO") && (p.Path == "" || p.Path == "/aws-service-role/sso.amazonaws.com/")
	}
	return false
}

// isAssumeRole reports whether action is one of the sts:AssumeRole family,
// which the role's trust policy must always allow.
func isAssumeRole(action string) bool {
	const prefix = "sts:assumerole"
	return len(action) >= len(prefix) && strings.EqualFold(action[:len(prefix)], prefix)
}
