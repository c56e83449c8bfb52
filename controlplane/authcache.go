package controlplane

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/iamprop/iamprop/evaluator"
)

// authCache holds what Authorize resolved in one view, by principal and by
// resource: a region node answers the same few principals and buckets tens
// of thousands of times between two changes of its view, and resolving
// them (lookups, ARNs, the Reason's text, the identity list) was half the
// allocations of an answer. It belongs to one view's content: TryApply
// drops it (viewCache.auth), so an answer after a change reflects the
// change. Entries are immutable once stored; readers share them.
type authCache struct {
	principals sync.Map     // principal string -> *principalEntry
	buckets    sync.Map     // bucket name -> *resourceEntry
	roles      sync.Map     // role ARN (of sts:AssumeRole) -> *resourceEntry
	orgs       sync.Map     // type + "\x00" + account -> [][]*evaluator.Policy
	explained  sync.Map     // evaluator.Decision -> *explained
	n          atomic.Int32 // entries of the resolution maps
	// nExplained counts explained's entries apart: requests for ever new
	// objects each add an explanation (the decision names the resource),
	// and they must not crowd out the few principals and buckets.
	nExplained atomic.Int32
}

// maxAuthCache bounds the entries of one view's cache, resolutions and
// explanations each: requests naming ever new principals, buckets or
// objects must not grow memory without bound; past the bound they are
// resolved without caching, as before.
const maxAuthCache = 4096

type principalEntry struct {
	who    *resolved // nil: refused, whyNot says why
	whyNot string
}

type resourceEntry struct {
	account string // "" = unknown: the principal's
	what    string
	policy  *evaluator.Policy
	bpa     evaluator.BlockPublicAccess
}

// store adds v under k unless the cache is full; a concurrent reader may
// have stored the same key first, with an equal value.
func (c *authCache) store(m *sync.Map, k string, v any) {
	if c.n.Load() >= maxAuthCache {
		return
	}
	if _, loaded := m.LoadOrStore(strings.Clone(k), v); !loaded {
		c.n.Add(1)
	}
}

// authCache returns this view's cache, creating it on first use (readers
// race to create it; one wins, the others use the winner's). Nil when the
// state has no per-view cache (a zero State before its first change).
func (s *State) authCache() *authCache {
	if s.digest == nil {
		return nil
	}
	if c := s.digest.auth.Load(); c != nil {
		return c
	}
	c := &authCache{}
	if s.digest.auth.CompareAndSwap(nil, c) {
		return c
	}
	return s.digest.auth.Load()
}

// principalCached is resolvePrincipal with the Reason text, from the
// view's cache.
func (s *State) principalCached(c *authCache, p string) (*resolved, string) {
	if e, ok := c.principals.Load(p); ok {
		pe := e.(*principalEntry)
		return pe.who, pe.whyNot
	}
	who, whyNot := s.resolvePrincipal(p, true)
	if who != nil {
		// Readers share the list: an append by one must not write into
		// the spare capacity another sees.
		who.identity = slices.Clip(who.identity)
	}
	c.store(&c.principals, p, &principalEntry{who: who, whyNot: whyNot})
	return who, whyNot
}

// resourceKey names what resolveResource looks up for p, in which map of
// c, and whether the lookup is worth caching: a bucket (its policy, Block
// Public Access and owner) or a role's trust policy. Other resources
// resolve from the ARN's text alone.
func (c *authCache) resourceKey(p *Probe) (*sync.Map, string, bool) {
	if rest, ok := strings.CutPrefix(p.Resource, "arn:aws:s3:::"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return &c.buckets, name, true
	}
	if strings.HasPrefix(p.Resource, "arn:aws:iam::") && strings.EqualFold(p.Action, "sts:AssumeRole") {
		return &c.roles, p.Resource, true
	}
	return nil, "", false
}

// resourceCached is resolveResource with the Reason text, from the view's
// cache.
func (s *State) resourceCached(c *authCache, p *Probe, in *evaluator.Input) (string, string) {
	m, key, ok := c.resourceKey(p)
	if !ok {
		return s.resolveResource(p, in, true)
	}
	if e, ok := m.Load(key); ok {
		re := e.(*resourceEntry)
		in.ResourcePolicy, in.BlockPublicAccess = re.policy, re.bpa
		return re.account, re.what
	}
	var got evaluator.Input
	acct, what := s.resolveResource(p, &got, true)
	c.store(m, key, &resourceEntry{account: acct, what: what, policy: got.ResourcePolicy, bpa: got.BlockPublicAccess})
	in.ResourcePolicy, in.BlockPublicAccess = got.ResourcePolicy, got.BlockPublicAccess
	return acct, what
}

// orgLevelsCached is orgLevels from the view's cache (c may be nil).
func (s *State) orgLevelsCached(c *authCache, acct, typ string) [][]*evaluator.Policy {
	if c == nil {
		return s.orgLevels(acct, typ)
	}
	key := typ + "\x00" + acct
	if e, ok := c.orgs.Load(key); ok {
		return e.([][]*evaluator.Policy)
	}
	levels := slices.Clip(s.orgLevels(acct, typ))
	c.store(&c.orgs, key, levels)
	return levels
}

// explained is an explanation and its JSON text.
type explained struct {
	exp  evaluator.Explanation
	json []byte
}

// ExplainJSON returns d.Explain() and its encoding/json text (HTML
// escaped, no newline), from this view's cache: an explanation is a pure
// function of the decision (its policies are immutable), and writing its
// summary and encoding it by reflection were a fifth of an answer's
// allocations on a region node that answers the same request many times
// between two changes of its view. Both results are shared between
// callers: read only.
func (s *State) ExplainJSON(d evaluator.Decision) (evaluator.Explanation, []byte) {
	c := s.authCache()
	if c != nil {
		if e, ok := c.explained.Load(d); ok {
			x := e.(*explained)
			return x.exp, x.json
		}
	}
	x := &explained{exp: d.Explain()}
	var err error
	if x.json, err = json.Marshal(x.exp); err != nil {
		x.json = nil // not expected: the caller encodes exp itself
	}
	if c != nil && c.nExplained.Load() < maxAuthCache {
		if _, loaded := c.explained.LoadOrStore(d, x); !loaded {
			c.nExplained.Add(1)
		}
	}
	return x.exp, x.json
}
