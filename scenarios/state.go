package scenarios

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/evaluator"
)

// state decodes the initial state. Entity names are checked for uniqueness
// and references between them (a user's groups, a bucket's region, an
// attachment's target) here, so a typo fails at load, not half-way into a
// run as an AWS error.
func (l *loader) state(n *yaml.Node) {
	o := l.object(n, "state", "accounts", "users", "groups", "roles", "buckets", "org")
	st := &l.sc.State
	accts, nodes := l.strList(o.get("accounts"), "state.accounts", "12-digit account ids")
	for i, a := range accts {
		f := index("state.accounts", i)
		switch {
		case !accountID.MatchString(a):
			l.errorf(nodes[i], f, "must be a 12-digit AWS account id (quote it: \"111122223333\"), got %q", a)
		case l.accounts[a]:
			l.errorf(nodes[i], f, "account %q is listed twice", a)
		default:
			l.accounts[a] = true
			st.Accounts = append(st.Accounts, a)
		}
	}
	hasEntities := o.has("users") || o.has("groups") || o.has("roles") || o.has("buckets") || o.has("org")
	switch {
	case hasEntities && !o.has("accounts") && o.n != nil && o.n.Kind == yaml.MappingNode:
		l.errorf(o.n, "state.accounts", "missing required key \"accounts\" (the accounts that own the users, groups, roles and buckets, first = default)")
	case hasEntities && o.has("accounts") && deref(o.get("accounts")).Kind == yaml.SequenceNode && len(deref(o.get("accounts")).Content) == 0:
		l.errorf(o.get("accounts"), "state.accounts", "must list at least one account (the first is the default and management account)")
	}

	groups := map[string]bool{} // account/name
	for i, it := range l.list(o.get("groups"), "state.groups", "groups") {
		f := index("state.groups", i)
		g := l.object(it, f, "name", "account", "policies", "inline")
		var grp Group
		grp.Name, _ = l.entityName(g, f, "group")
		grp.Account = l.accountRef(g, f)
		grp.Policies = l.policyRefs(g.get("policies"), join(f, "policies"), evaluator.KindIdentity)
		grp.Inline = l.policyRefs(g.get("inline"), join(f, "inline"), evaluator.KindIdentity)
		key := l.acctOrDefault(grp.Account) + "/" + strings.ToLower(grp.Name)
		if grp.Name != "" && groups[key] {
			l.errorf(g.get("name"), join(f, "name"), "group %q is defined twice in its account", grp.Name)
		}
		groups[key] = true
		st.Groups = append(st.Groups, grp)
	}

	users := map[string]bool{}
	keys := map[string]bool{}
	for i, it := range l.list(o.get("users"), "state.users", "users") {
		f := index("state.users", i)
		u := l.object(it, f, "name", "account", "policies", "inline", "groups", "access_keys", "boundary")
		var usr User
		usr.Name, _ = l.entityName(u, f, "user")
		usr.Account = l.accountRef(u, f)
		usr.Policies = l.policyRefs(u.get("policies"), join(f, "policies"), evaluator.KindIdentity)
		usr.Inline = l.policyRefs(u.get("inline"), join(f, "inline"), evaluator.KindIdentity)
		if bn := u.get("boundary"); bn != nil {
			usr.Boundary, _ = l.policyRef(bn, join(f, "boundary"), evaluator.KindBoundary)
		}
		gs, gnodes := l.strList(u.get("groups"), join(f, "groups"), "group names")
		for j, g := range gs {
			if !groups[l.acctOrDefault(usr.Account)+"/"+strings.ToLower(g)] {
				l.errorf(gnodes[j], index(join(f, "groups"), j), "unknown group %q; define it under state.groups (in the user's account)", g)
				continue
			}
			usr.Groups = append(usr.Groups, g)
		}
		ks, knodes := l.strList(u.get("access_keys"), join(f, "access_keys"), "access key ids")
		for j, k := range ks {
			if keys[k] {
				l.errorf(knodes[j], index(join(f, "access_keys"), j), "access key id %q is used twice; AWS never reuses a key id", k)
				continue
			}
			keys[k] = true
			usr.AccessKeys = append(usr.AccessKeys, k)
		}
		key := l.acctOrDefault(usr.Account) + "/" + strings.ToLower(usr.Name)
		if usr.Name != "" && users[key] {
			l.errorf(u.get("name"), join(f, "name"), "user %q is defined twice in its account", usr.Name)
		}
		users[key] = true
		st.Users = append(st.Users, usr)
	}

	roles := map[string]bool{}
	for i, it := range l.list(o.get("roles"), "state.roles", "roles") {
		f := index("state.roles", i)
		r := l.object(it, f, "name", "account", "trust", "policies", "inline", "boundary")
		var role Role
		role.Name, _ = l.entityName(r, f, "role")
		role.Account = l.accountRef(r, f)
		if tn := l.require(r, "trust", "the name of the role's trust policy (who may sts:AssumeRole it)"); tn != nil {
			role.Trust, _ = l.policyRef(tn, join(f, "trust"), evaluator.KindTrust)
		}
		role.Policies = l.policyRefs(r.get("policies"), join(f, "policies"), evaluator.KindIdentity)
		role.Inline = l.policyRefs(r.get("inline"), join(f, "inline"), evaluator.KindIdentity)
		if bn := r.get("boundary"); bn != nil {
			role.Boundary, _ = l.policyRef(bn, join(f, "boundary"), evaluator.KindBoundary)
		}
		key := l.acctOrDefault(role.Account) + "/" + strings.ToLower(role.Name)
		if role.Name != "" && roles[key] {
			l.errorf(r.get("name"), join(f, "name"), "role %q is defined twice in its account", role.Name)
		}
		roles[key] = true
		st.Roles = append(st.Roles, role)
	}

	buckets := map[string]bool{}
	for i, it := range l.list(o.get("buckets"), "state.buckets", "buckets") {
		f := index("state.buckets", i)
		b := l.object(it, f, "name", "region", "account", "policy", "block_public_access", "objects")
		var bkt Bucket
		if nn := l.require(b, "name", "the bucket name"); nn != nil {
			if s, ok := l.nonEmpty(nn, join(f, "name")); ok {
				if buckets[s] {
					l.errorf(nn, join(f, "name"), "bucket %q is defined twice; bucket names are global", s)
				}
				buckets[s] = true
				bkt.Name = s
			}
		}
		if rn := l.require(b, "region", "the bucket's home region, one of `regions`"); rn != nil {
			bkt.Region, _ = l.region(rn, join(f, "region"))
		}
		bkt.Account = l.accountRef(b, f)
		if pn := b.get("policy"); pn != nil {
			bkt.Policy, _ = l.policyRef(pn, join(f, "policy"), evaluator.KindResource)
		}
		if bn := b.get("block_public_access"); bn != nil {
			bkt.BlockPublicAccess = l.bpa(bn, join(f, "block_public_access"))
		}
		objs, onodes := l.strList(b.get("objects"), join(f, "objects"), "object keys")
		seen := map[string]bool{}
		for j, k := range objs {
			if seen[k] {
				l.errorf(onodes[j], index(join(f, "objects"), j), "object %q is listed twice", k)
			}
			seen[k] = true
		}
		bkt.Objects = objs
		st.Buckets = append(st.Buckets, bkt)
	}

	if on := o.get("org"); on != nil {
		st.Org = l.org(on)
	}
}

// entityName decodes an IAM entity's required name.
func (l *loader) entityName(o *object, path, what string) (string, bool) {
	n := l.require(o, "name", "the "+what+"'s name")
	if n == nil {
		return "", false
	}
	s, ok := l.nonEmpty(n, join(path, "name"))
	if ok && !iamName.MatchString(s) {
		l.errorf(n, join(path, "name"), "%s names are 1 to 128 letters, digits and +=,.@_-, got %q", what, s)
		return "", false
	}
	return s, ok
}

// accountRef decodes an optional `account`, which must be one of
// state.accounts; "" means the default (first) account.
func (l *loader) accountRef(o *object, path string) string {
	n := o.get("account")
	if n == nil {
		return ""
	}
	s, ok := l.nonEmpty(n, join(path, "account"))
	if !ok {
		return ""
	}
	if !l.accounts[s] {
		l.errorf(n, join(path, "account"), "unknown account %q; expected one of state.accounts: %s", s, oneOf(l.sc.State.Accounts))
		return ""
	}
	return s
}

func (l *loader) acctOrDefault(a string) string {
	if a == "" && len(l.sc.State.Accounts) > 0 {
		return l.sc.State.Accounts[0]
	}
	return a
}

// policyRefs decodes a list of policy names.
func (l *loader) policyRefs(n *yaml.Node, field string, kind evaluator.Kind) []string {
	var out []string
	for i, it := range l.list(n, field, "policy names") {
		if name, ok := l.policyRef(it, index(field, i), kind); ok {
			out = append(out, name)
		}
	}
	return out
}

var bpaKeys = []string{"block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"}

// bpa decodes Block Public Access: `true` turns all four settings on (what
// the console's "Block all public access" does), a mapping sets them one by
// one (left out = false, as in AWS).
func (l *loader) bpa(n *yaml.Node, field string) *BPA {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		on, _ := l.boolean(n, field)
		return &BPA{BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}
	}
	o := l.object(n, field, bpaKeys...)
	var c BPA
	flag := func(k string, dst *bool) {
		if v := o.get(k); v != nil {
			*dst, _ = l.boolean(v, join(field, k))
		}
	}
	flag("block_public_acls", &c.BlockPublicAcls)
	flag("ignore_public_acls", &c.IgnorePublicAcls)
	flag("block_public_policy", &c.BlockPublicPolicy)
	flag("restrict_public_buckets", &c.RestrictPublicBuckets)
	return &c
}

// org decodes the organization: OUs, then SCP and RCP attachments whose
// targets are root, ou:NAME or an account of state.accounts.
func (l *loader) org(n *yaml.Node) *Organization {
	o := l.object(n, "state.org", "ous", "scps", "rcps")
	org := &Organization{}
	placed := map[string]string{} // account -> OU field that placed it
	for i, it := range l.list(o.get("ous"), "state.org.ous", "organizational units") {
		f := index("state.org.ous", i)
		u := l.object(it, f, "name", "parent", "accounts")
		var ou OU
		if nn := l.require(u, "name", "the OU's name"); nn != nil {
			if s, ok := l.nonEmpty(nn, join(f, "name")); ok {
				if l.ous[s] {
					l.errorf(nn, join(f, "name"), "OU %q is defined twice", s)
				}
				ou.Name = s
			}
		}
		ou.Parent = "root"
		if pn := u.get("parent"); pn != nil {
			if s, ok := l.nonEmpty(pn, join(f, "parent")); ok {
				if s != "root" && !(strings.HasPrefix(s, "ou:") && l.ous[s[3:]]) {
					l.errorf(pn, join(f, "parent"), "must be root or ou:NAME of an OU listed before this one, got %q", s)
				} else {
					ou.Parent = s
				}
			}
		}
		accts, nodes := l.strList(u.get("accounts"), join(f, "accounts"), "account ids")
		for j, a := range accts {
			af := index(join(f, "accounts"), j)
			switch {
			case !l.accounts[a]:
				l.errorf(nodes[j], af, "unknown account %q; expected one of state.accounts: %s", a, oneOf(l.sc.State.Accounts))
			case len(l.sc.State.Accounts) > 0 && a == l.sc.State.Accounts[0]:
				l.errorf(nodes[j], af, "account %q is the management account (the first of state.accounts); it stays under the root", a)
			case placed[a] != "":
				l.errorf(nodes[j], af, "account %q is already placed in %s; an account has one parent", a, placed[a])
			default:
				placed[a] = f
				ou.Accounts = append(ou.Accounts, a)
			}
		}
		if ou.Name != "" {
			l.ous[ou.Name] = true
		}
		org.OUs = append(org.OUs, ou)
	}
	org.SCPs = l.attachments(o.get("scps"), "state.org.scps", evaluator.KindSCP, "scp")
	org.RCPs = l.attachments(o.get("rcps"), "state.org.rcps", evaluator.KindRCP, "rcp")
	return org
}

func (l *loader) attachments(n *yaml.Node, field string, kind evaluator.Kind, tag string) []OrgAttachment {
	var out []OrgAttachment
	for i, it := range l.list(n, field, "{policy, target} attachments") {
		f := index(field, i)
		a := l.object(it, f, "policy", "target")
		var at OrgAttachment
		okP, okT := false, false
		if pn := l.require(a, "policy", "the name of a document in `policies`"); pn != nil {
			at.Policy, okP = l.policyRef(pn, join(f, "policy"), kind)
		}
		if tn := l.require(a, "target", "root, ou:NAME or an account id"); tn != nil {
			if s, ok := l.nonEmpty(tn, join(f, "target")); ok {
				switch {
				case s == "root", l.accounts[s], strings.HasPrefix(s, "ou:") && l.ous[s[3:]]:
					at.Target, okT = s, true
				default:
					l.errorf(tn, join(f, "target"), "unknown target %q; expected root, ou:NAME of an OU in state.org.ous, or an account of state.accounts", s)
				}
			}
		}
		if okP {
			if prev, ok := l.orgPolicy[at.Policy]; ok && prev != tag {
				l.errorf(a.get("policy"), join(f, "policy"), "policy %q is attached both as an SCP and as an RCP; use two documents", at.Policy)
			}
			l.orgPolicy[at.Policy] = tag
		}
		if okP && okT {
			out = append(out, at)
		}
	}
	return out
}
