package controlplane

import (
	"fmt"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

// Probe is a data-plane request against a view.
type Probe struct {
	// Principal is "anonymous", "user:NAME", "key:ACCESS_KEY_ID",
	// "role:ROLE/SESSION" or an ARN (arn:aws:iam::ACCT:user/NAME,
	// arn:aws:iam::ACCT:role/NAME, arn:aws:sts::ACCT:assumed-role/ROLE/SESSION,
	// arn:aws:iam::ACCT:root). A user or role name is looked up in the
	// default account first; "user:ACCT/NAME" and "role:ACCT/ROLE/SESSION"
	// name the account.
	Principal string
	Action    string         // "s3:GetObject"
	Resource  string         // "arn:aws:s3:::bucket/key"
	Context   map[string]any // request context keys (aws:SourceIp, ...); may be nil
	// Prepared, when set, is evaluator.NewContext(Context), built by a
	// caller that answers the same context many times: Authorize uses it
	// instead of building it again. It is read only.
	Prepared *evaluator.Context
	// Endpoint, when set, is the policy of the VPC endpoint the request
	// goes through (evaluator.KindEndpoint): it must allow the request too.
	// It is the probe's network path, not control-plane state, so every
	// view decides with the same one.
	Endpoint *evaluator.Policy
}

// Resolution is what Authorize found out about a probe: who the principal
// is in this view and every policy that applies, i.e. exactly what was
// handed to evaluator.Evaluate.
type Resolution struct {
	// Authenticated is false for anonymous requests and for credentials the
	// view does not accept (a deleted or inactive key, a deleted user or
	// role); the latter are denied without evaluation.
	Authenticated bool
	// Reason says, for a learner, how the principal and the resource were
	// resolved (or why the credentials were refused).
	Reason  string
	Request evaluator.Request
	Input   evaluator.Input
}

// allowAllDoc is the implicit identity of an account's root user and of
// principals of accounts outside the view: their own account grants them
// everything, so only resource policies, SCPs and RCPs can stop them.
const allowAllDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// resolved is the principal side of a request.
type resolved struct {
	principal evaluator.Principal
	account   string // "" for anonymous
	identity  []*evaluator.Policy
	boundary  *evaluator.Policy
	inView    bool // the principal's account is in this view (SCPs may apply)
	what      string
}

// Authorize resolves p against this view and evaluates it. It never fails:
// a principal the view does not know (a deleted key, an unknown user) gets
// an ImplicitDeny with Authenticated false and a Reason.
func (s *State) Authorize(p Probe) (evaluator.Decision, Resolution) {
	return s.authorize(p, true)
}

// Decide is Authorize without the Resolution's Reason text, for hot loops
// (the simulator decides every probe at every apply instant): same
// decision, fewer allocations.
func (s *State) Decide(p Probe) evaluator.Decision {
	d, _ := s.authorize(p, false)
	return d
}

// PreparedProbe is a probe whose request context is built once (Prepare),
// for deciding it against many views: the context depends on the probe
// alone, and building it was a fifth of a simulated trial's allocations.
// It is read-only, so trials running in parallel may share one.
type PreparedProbe struct {
	probe Probe
	ctx   *evaluator.Context
	err   error // the context is invalid: every view denies
}

// Prepare builds p's request context once.
func Prepare(p Probe) *PreparedProbe {
	ctx, err := evaluator.NewContext(p.Context)
	return &PreparedProbe{probe: p, ctx: ctx, err: err}
}

// DecidePrepared is Decide for a prepared probe: the same decision.
func (s *State) DecidePrepared(p *PreparedProbe) evaluator.Decision {
	d, _ := s.authorizeIn(&p.probe, p.ctx, p.err, false)
	return d
}

func (s *State) authorize(p Probe, why bool) (evaluator.Decision, Resolution) {
	if p.Prepared != nil {
		return s.authorizeIn(&p, p.Prepared, nil, why)
	}
	ctx, err := evaluator.NewContext(p.Context)
	return s.authorizeIn(&p, ctx, err, why)
}

// authorizeIn is authorize with p's context already built (ctx, or the
// error building it).
func (s *State) authorizeIn(p *Probe, ctx *evaluator.Context, ctxErr error, why bool) (evaluator.Decision, Resolution) {
	var res Resolution
	res.Request.Action = p.Action
	res.Request.Resource = p.Resource
	if ctxErr != nil {
		res.Reason = "the request context is invalid: " + ctxErr.Error()
		return evaluator.Decision{Effect: evaluator.ImplicitDeny}, res
	}
	res.Request.Context = ctx

	// Authorize (why) resolves from the view's cache; Decide is the
	// simulator's, whose views change between most of its calls.
	var c *authCache
	if why {
		c = s.authCache()
	}
	var who *resolved
	var whyNot string
	if c != nil {
		who, whyNot = s.principalCached(c, p.Principal)
	} else {
		who, whyNot = s.resolvePrincipal(p.Principal, why)
	}
	if who == nil {
		res.Reason = whyNot
		return evaluator.Decision{Effect: evaluator.ImplicitDeny}, res
	}
	res.Authenticated = who.principal.Type != evaluator.PrincipalAnonymous
	res.Request.Principal = who.principal
	res.Input.Identity = who.identity
	res.Input.Boundary = who.boundary
	res.Input.Endpoint = p.Endpoint

	var resourceAccount, resWhat string
	if c != nil {
		resourceAccount, resWhat = s.resourceCached(c, p, &res.Input)
	} else {
		resourceAccount, resWhat = s.resolveResource(p, &res.Input, why)
	}
	if resourceAccount == "" {
		resourceAccount = who.account
	}
	res.Request.ResourceAccount = resourceAccount

	mgmt := s.first
	if res.Authenticated && who.inView && who.account != mgmt {
		res.Input.SCPs = s.orgLevelsCached(c, who.account, TypeSCP)
	}
	if _, ok := s.accounts.get(resourceAccount); ok && resourceAccount != mgmt {
		res.Input.RCPs = s.orgLevelsCached(c, resourceAccount, TypeRCP)
	}
	if why {
		parts := []string{who.what, resWhat}
		if n := len(res.Input.SCPs); n > 0 {
			parts = append(parts, fmt.Sprintf("SCPs of account %s at %s", who.account, plural(n, "level", "levels")))
		} else if res.Authenticated && who.inView && who.account == mgmt && s.typeEnabled(TypeSCP) {
			parts = append(parts, "no SCPs: "+mgmt+" is the management account")
		}
		if n := len(res.Input.RCPs); n > 0 {
			parts = append(parts, fmt.Sprintf("RCPs of account %s at %s", resourceAccount, plural(n, "level", "levels")))
		}
		res.Reason = strings.Join(parts, "; ")
	}
	d := evaluator.Evaluate(&res.Request, &res.Input)
	return d, res
}

func (s *State) typeEnabled(typ string) bool {
	_, ok := s.enabled.get(typ)
	return ok
}

// orgLevels lists the policies of one type attached at each level above
// and at an account: root first, then each OU down to the account.
func (s *State) orgLevels(acct, typ string) [][]*evaluator.Policy {
	if !s.typeEnabled(typ) {
		return nil
	}
	a, ok := s.accounts.get(acct)
	if !ok {
		return nil
	}
	chain := []string{acct}
	for parent, hops := a.Parent, 0; parent != "" && hops < 16; hops++ {
		chain = append(chain, parent)
		if parent == rootID {
			break
		}
		ou, ok := s.ous.get(parent)
		if !ok {
			break
		}
		parent = ou.Parent
	}
	levels := make([][]*evaluator.Policy, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		var level []*evaluator.Policy
		for _, id := range s.attachments.at(chain[i]) {
			if p, ok := s.orgPolicies.get(id); ok && p.Type == typ && p.Policy != nil {
				level = append(level, p.Policy)
			}
		}
		levels = append(levels, level)
	}
	return levels
}

// allowAll returns the parsed implicit full-access identity policy.
func allowAll(name string) []*evaluator.Policy {
	p, err := parsePolicy(name, evaluator.KindIdentity, []byte(allowAllDoc))
	if err != nil {
		return nil
	}
	return []*evaluator.Policy{p}
}

// findEntity looks a user or role up by name, in the default account
// first, then in the other accounts in id order. "ACCOUNT/NAME" names the
// account (IAM names cannot contain a slash, so this is unambiguous).
func (s *State) findEntity(kind, name string) (string, bool) {
	if acct, n, ok := strings.Cut(name, "/"); ok && accountIDRE.MatchString(acct) {
		key := entityKey(acct, n)
		_, found := s.getCommon(kind, key)
		return key, found
	}
	if key := entityKey(s.first, name); s.first != "" {
		if _, ok := s.getCommon(kind, key); ok {
			return key, true
		}
	}
	for _, a := range s.accounts.keys() {
		key := entityKey(a, name)
		if _, ok := s.getCommon(kind, key); ok {
			return key, true
		}
	}
	return "", false
}

func (s *State) resolvePrincipal(p string, why bool) (*resolved, string) {
	switch {
	case p == "anonymous" || p == "*":
		return &resolved{principal: evaluator.Principal{Type: evaluator.PrincipalAnonymous}, what: "anonymous request (no credentials): only a resource policy that grants Principal \"*\" can allow it"}, ""
	case strings.HasPrefix(p, "user:"):
		name := strings.TrimPrefix(p, "user:")
		key, ok := s.findEntity(kindUser, name)
		if !ok {
			return nil, s.missing(kindUser, name)
		}
		return s.resolveUser(key, "user "+s.users.at(key).Name, why), ""
	case strings.HasPrefix(p, "key:"):
		id := strings.TrimPrefix(p, "key:")
		k, ok := s.keys.get(id)
		if !ok {
			if s.tombstoned("key", id) {
				return nil, "access key " + id + " was deleted in this view: the request is not authenticated (S3 answers InvalidAccessKeyId)"
			}
			return nil, "access key " + id + " does not exist in this view (not created yet, or never): the request is not authenticated"
		}
		if k.Status != KeyActive {
			return nil, "access key " + id + " is Inactive in this view: the request is not authenticated (S3 answers InvalidAccessKeyId)"
		}
		ukey := entityKey(k.Account, k.User)
		if _, ok := s.users.get(ukey); !ok {
			return nil, "access key " + id + " belongs to user " + k.User + ", who does not exist in this view: the request is not authenticated"
		}
		return s.resolveUser(ukey, "access key "+id+" of user "+k.User, why), ""
	case strings.HasPrefix(p, "role:"):
		rest, prefix := strings.TrimPrefix(p, "role:"), ""
		if acct, r, ok := strings.Cut(rest, "/"); ok && accountIDRE.MatchString(acct) {
			rest, prefix = r, acct+"/" // role:ACCOUNT/ROLE/SESSION
		}
		name, session, _ := strings.Cut(rest, "/")
		if session == "" {
			session = "session"
		}
		key, ok := s.findEntity(kindRole, prefix+name)
		if !ok {
			return nil, s.missing(kindRole, name)
		}
		return s.resolveRole(key, session, why), ""
	case strings.HasPrefix(p, "arn:"):
		return s.resolveARN(p, why)
	}
	return nil, fmt.Sprintf("principal %q is not understood: use anonymous, user:NAME, key:ACCESS_KEY_ID, role:ROLE/SESSION or an ARN", p)
}

func (s *State) missing(kind, name string) string {
	if acct, n, ok := strings.Cut(name, "/"); ok && accountIDRE.MatchString(acct) {
		if s.tombstoned(kind, entityKey(acct, n)) {
			return fmt.Sprintf("%s %s of account %s was deleted in this view: its credentials no longer authenticate", kind, n, acct)
		}
		return fmt.Sprintf("%s %s does not exist in account %s in this view: the request is not authenticated", kind, n, acct)
	}
	for _, a := range s.accounts.keys() {
		if s.tombstoned(kind, entityKey(a, name)) {
			return fmt.Sprintf("%s %s was deleted in this view: its credentials no longer authenticate", kind, name)
		}
	}
	return fmt.Sprintf("%s %s does not exist in this view (not created yet): the request is not authenticated", kind, name)
}

// resolveARN handles principals given as ARNs.
func (s *State) resolveARN(arn string, why bool) (*resolved, string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || (parts[2] != "iam" && parts[2] != "sts") || !accountIDRE.MatchString(parts[4]) {
		return nil, fmt.Sprintf("principal ARN %q is not an IAM user, role, assumed-role session or root ARN", arn)
	}
	acct, res := parts[4], parts[5]
	_, inView := s.accounts.get(acct)
	typ, rest, _ := strings.Cut(res, "/")
	name := rest
	if i := strings.LastIndex(rest, "/"); i >= 0 && typ != "assumed-role" {
		name = rest[i+1:]
	}
	if !inView {
		// The view does not model that account's IAM: assume it grants its
		// own principal everything, so only this view's resource policies
		// (and RCPs) decide. That is the cross-account question.
		pr := evaluator.Principal{ARN: arn, Account: acct, Name: name}
		switch typ {
		case "user":
			pr.Type = evaluator.PrincipalUser
		case "role":
			pr.Type = evaluator.PrincipalRole
		case "assumed-role":
			r, sess, _ := strings.Cut(rest, "/")
			pr.Type, pr.Name, pr.Session = evaluator.PrincipalAssumedRole, r, sess
		default:
			pr.Type = evaluator.PrincipalRoot
		}
		return &resolved{principal: pr, account: acct, identity: allowAll("external account " + acct + " (not modelled)"),
			what: "principal " + arn + " belongs to account " + acct + ", which this view does not model: its own identity policies are assumed to allow everything"}, ""
	}
	switch {
	case parts[2] == "iam" && res == "root":
		return &resolved{principal: evaluator.Principal{Type: evaluator.PrincipalRoot, ARN: arn, Account: acct}, account: acct, inView: true,
			identity: allowAll("root user of " + acct + " (implicit full access)"),
			what:     "root user of account " + acct + ": full access within its account, subject to SCPs unless it is the management account"}, ""
	case parts[2] == "iam" && typ == "user":
		key := entityKey(acct, name)
		if _, ok := s.users.get(key); !ok {
			return nil, s.missing(kindUser, name)
		}
		return s.resolveUser(key, "user "+name, why), ""
	case parts[2] == "iam" && typ == "role":
		key := entityKey(acct, name)
		if _, ok := s.roles.get(key); !ok {
			return nil, s.missing(kindRole, name)
		}
		return s.resolveRole(key, "", why), ""
	case parts[2] == "sts" && typ == "assumed-role":
		roleName, session, _ := strings.Cut(rest, "/")
		key := entityKey(acct, roleName)
		if _, ok := s.roles.get(key); !ok {
			return nil, s.missing(kindRole, roleName)
		}
		return s.resolveRole(key, session, why), ""
	}
	return nil, fmt.Sprintf("principal ARN %q is not an IAM user, role, assumed-role session or root ARN", arn)
}

// managedDefault is the default version of a managed policy, or nil.
func (s *State) managedDefault(arn string) *evaluator.Policy {
	acct, _, name, ok := parsePolicyARN(arn)
	if !ok {
		return nil
	}
	p, ok := s.policies.get(entityKey(acct, name))
	if !ok {
		return nil
	}
	for _, v := range p.Versions {
		if v.ID == p.Default {
			return v.Policy
		}
	}
	return nil
}

func (s *State) appendIdentity(out []*evaluator.Policy, pc *principalCommon) []*evaluator.Policy {
	for _, in := range pc.Inline {
		out = append(out, in.Policy)
	}
	for _, arn := range pc.Attached {
		if p := s.managedDefault(arn); p != nil {
			out = append(out, p)
		}
	}
	return out
}

func (s *State) resolveUser(key, via string, why bool) *resolved {
	u := s.users.at(key)
	r := &resolved{account: u.Account, inView: true}
	r.principal = evaluator.Principal{Type: evaluator.PrincipalUser, ARN: iamARN(u.Account, "user", u.Path, u.Name), Account: u.Account, Name: u.Name}
	r.identity = s.appendIdentity(nil, &u.principalCommon)
	own := len(r.identity)
	for _, g := range u.Groups {
		if grp, ok := s.groups.get(u.Account + "/" + g); ok {
			r.identity = s.appendIdentity(r.identity, &grp.principalCommon)
		}
	}
	if u.Boundary != "" {
		r.boundary = s.managedDefault(u.Boundary)
	}
	if why {
		r.what = fmt.Sprintf("%s (%s): %s of its own and %d from %s", via, r.principal.ARN, plural(own, "identity policy", "identity policies"), len(r.identity)-own, plural(len(u.Groups), "group", "groups"))
		if r.boundary != nil {
			r.what += ", bounded by " + u.Boundary
		}
	}
	return r
}

// resolveRole resolves a role; session "" means the role ARN itself.
func (s *State) resolveRole(key, session string, why bool) *resolved {
	ro := s.roles.at(key)
	r := &resolved{account: ro.Account, inView: true}
	if session == "" {
		r.principal = evaluator.Principal{Type: evaluator.PrincipalRole, ARN: iamARN(ro.Account, "role", ro.Path, ro.Name), Account: ro.Account, Name: ro.Name, Path: ro.Path}
	} else {
		// A session ARN does not show the role's path, but AWS matches a
		// Principal naming the role ARN, path included: the path comes
		// from the role.
		r.principal = evaluator.Principal{Type: evaluator.PrincipalAssumedRole,
			ARN: "arn:aws:sts::" + ro.Account + ":assumed-role/" + ro.Name + "/" + session, Account: ro.Account, Name: ro.Name, Session: session, Path: ro.Path}
	}
	r.identity = s.appendIdentity(nil, &ro.principalCommon)
	if ro.Boundary != "" {
		r.boundary = s.managedDefault(ro.Boundary)
	}
	if why {
		r.what = fmt.Sprintf("role %s (%s): %s", ro.Name, r.principal.ARN, plural(len(r.identity), "identity policy", "identity policies"))
		if r.boundary != nil {
			r.what += ", bounded by " + ro.Boundary
		}
	}
	return r
}

// resolveResource fills the resource policy and Block Public Access of in
// and returns the resource's account ("" = unknown: the principal's).
func (s *State) resolveResource(p *Probe, in *evaluator.Input, why bool) (string, string) {
	if rest, ok := strings.CutPrefix(p.Resource, "arn:aws:s3:::"); ok {
		name, _, _ := strings.Cut(rest, "/")
		b, ok := s.buckets.get(name)
		if !ok {
			return "", "bucket " + name + " does not exist in this view"
		}
		in.ResourcePolicy = b.Policy
		in.BlockPublicAccess = s.effectiveBPA(b)
		if !why {
			return b.Account, ""
		}
		what := "bucket " + name + " of account " + b.Account
		if b.Policy != nil {
			what += " with a bucket policy"
		} else {
			what += " without a bucket policy"
		}
		if anyTrue(&in.BlockPublicAccess) {
			what += " and Block Public Access on"
		}
		return b.Account, what
	}
	parts := strings.SplitN(p.Resource, ":", 6)
	if len(parts) == 6 && parts[2] == "iam" && strings.HasPrefix(parts[5], "role/") && strings.EqualFold(p.Action, "sts:AssumeRole") {
		acct := parts[4]
		name := parts[5][strings.LastIndex(parts[5], "/")+1:]
		r, ok := s.roles.get(entityKey(acct, name))
		if !ok {
			return acct, "role " + name + " does not exist in this view"
		}
		in.ResourcePolicy = r.Trust
		return acct, "role " + name + " of account " + acct + " (its trust policy is the resource policy)"
	}
	if len(parts) == 6 && accountIDRE.MatchString(parts[4]) {
		return parts[4], "resource " + p.Resource
	}
	return "", "resource " + p.Resource
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
