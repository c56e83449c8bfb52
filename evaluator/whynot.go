package evaluator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// NotApplied names a statement about the requested action that did not
// apply, the element that failed and why, e.g. element "Condition", reason
// "IpAddress aws:SourceIp 11.0.0.1 not in 10.0.0.0/8".
type NotApplied struct {
	Policy  string `json:"policy"`
	Kind    string `json:"kind"`
	Sid     string `json:"sid"`
	Index   int    `json:"index"`
	Effect  string `json:"effect"`
	Element string `json:"element"` // Resource, NotResource, Principal, NotPrincipal or Condition
	Reason  string `json:"reason"`
}

// maxNotApplied bounds the statements an explanation lists as not applied.
const maxNotApplied = 20

// ExplainRequest decides req against in, as Evaluate does, and explains the
// decision with what Decision.Explain gives plus the statements about the
// requested action that did not apply (which element failed, and for a
// condition the operator, key, request value and policy values) and the
// context keys the policies read that the request did not carry. It walks
// every statement and allocates: for people and tools, not the hot path.
func ExplainRequest(req *Request, in *Input) Explanation {
	d := Evaluate(req, in)
	e := d.Explain()
	if req == nil {
		return e
	}
	if in == nil {
		in = &Input{}
	}
	var rc reqCtx
	newReqCtx(req, &rc)
	x := whyNot{rc: &rc, in: in, seen: map[string]bool{}}
	for _, level := range in.RCPs {
		for _, p := range level {
			x.policy(p)
		}
	}
	for _, level := range in.SCPs {
		for _, p := range level {
			x.policy(p)
		}
	}
	x.policy(in.Endpoint)
	x.policy(in.ResourcePolicy)
	for _, p := range in.Identity {
		x.policy(p)
	}
	x.policy(in.Boundary)
	x.policy(in.Session)
	e.NotApplied, e.MissingKeys = x.out, x.missing
	sort.Strings(e.MissingKeys)
	if x.more > 0 {
		e.Summary += fmt.Sprintf(" (%d more statements about this action did not apply and are not listed.)", x.more)
	}
	return e
}

// whyNot collects the statements that did not apply and the missing keys.
type whyNot struct {
	rc      *reqCtx
	in      *Input
	out     []NotApplied
	more    int
	missing []string
	seen    map[string]bool // lower-cased missing keys already listed
}

func (x *whyNot) policy(p *Policy) {
	if p == nil {
		return
	}
	vars := p.version == Version2012
	for i := range p.stmts {
		s := &p.stmts[i]
		if !x.actionMatches(s) {
			continue
		}
		x.readKeys(s, vars)
		elem, reason := x.firstFailure(s, vars)
		if elem == "" {
			continue // it applied: Explain lists it among the matched
		}
		if len(x.out) >= maxNotApplied {
			x.more++
			continue
		}
		eff := "Allow"
		if s.deny {
			eff = "Deny"
		}
		x.out = append(x.out, NotApplied{Policy: p.name, Kind: p.kind.String(), Sid: s.sid, Index: i, Effect: eff, Element: elem, Reason: reason})
	}
}

func (x *whyNot) actionMatches(s *statement) bool {
	hit := false
	for k := range s.actions {
		if s.actions[k].match(x.rc) {
			hit = true
			break
		}
	}
	return hit != s.notAction
}

// readKeys notes the context keys the statement reads (condition keys and
// policy variables) that the request does not carry.
func (x *whyNot) readKeys(s *statement, vars bool) {
	for k := range s.conds {
		c := &s.conds[k]
		if _, ok := x.rc.lookup(c.lkey); !ok {
			x.note(c.key)
		}
		if vars {
			for _, v := range c.vals {
				x.noteVars(v.raw)
			}
		}
	}
	if vars {
		for k := range s.resources {
			x.noteVars(s.resources[k].text)
		}
	}
}

func (x *whyNot) noteVars(text string) {
	for _, v := range variablesIn(text) {
		if _, ok := x.rc.single(strings.ToLower(v.key)); !ok && !v.hasDef {
			x.note(v.key)
		}
	}
}

func (x *whyNot) note(key string) {
	lk := strings.ToLower(key)
	if !x.seen[lk] {
		x.seen[lk] = true
		x.missing = append(x.missing, key)
	}
}

// firstFailure returns the first element that keeps s from applying, in the
// order Evaluate checks them, or "" when s applies.
func (x *whyNot) firstFailure(s *statement, vars bool) (elem, reason string) {
	rc := x.rc
	if !s.noResource {
		hit, unresolved := false, ""
		for k := range s.resources {
			m, ok := s.resources[k].match(rc)
			if !ok && unresolved == "" {
				unresolved = s.resources[k].text
			}
			if m {
				hit = true
				break
			}
		}
		elem = "Resource"
		if s.notResource {
			elem = "NotResource"
		}
		switch {
		case unresolved != "" && !hit:
			return elem, fmt.Sprintf("%s uses a policy variable the request has no value for (%s), so the element does not match", unresolved, strings.Join(varNames(unresolved), ", "))
		case !hit && !s.notResource:
			return elem, fmt.Sprintf("%s does not match %s", rc.req.Resource, x.resourceList(s))
		case hit && s.notResource:
			return elem, fmt.Sprintf("%s is listed in %s, which excludes it", rc.req.Resource, x.resourceList(s))
		}
	}
	if s.principal != nil {
		p := &rc.req.Principal
		who := p.ARN
		if who == "" {
			who = p.Name
		}
		if who == "" {
			who = "an anonymous caller"
		}
		if s.notPrincipal {
			excluded := s.principal.excludes(p, rc)
			if excluded && !(x.in.Boundary != nil && isIAMEntity(p)) {
				return "NotPrincipal", fmt.Sprintf("%s is listed in NotPrincipal, which exempts it", who)
			}
		} else if s.principal.match(p, rc) == grantNone {
			return "Principal", fmt.Sprintf("%s is not among %s", who, s.principal.describe())
		}
	}
	for k := range s.conds {
		c := &s.conds[k]
		res, ok := c.eval(rc)
		if !ok {
			var names []string
			for _, v := range c.vals {
				names = append(names, varNames(v.raw)...)
			}
			return "Condition", fmt.Sprintf("%s %s: the policy value uses a policy variable the request has no value for (%s)", c.op, c.key, strings.Join(names, ", "))
		}
		if !res {
			return "Condition", c.describeFailure(rc)
		}
	}
	return "", ""
}

func (x *whyNot) resourceList(s *statement) string {
	names := make([]string, 0, len(s.resources))
	for k := range s.resources {
		names = append(names, s.resources[k].text)
	}
	return shortList(names, false)
}

// describe lists the principals the element names, for explanations.
func (ps *principalSet) describe() string {
	if ps.star {
		return `"*"`
	}
	var names []string
	names = append(names, ps.accounts...)
	names = append(names, ps.arns...)
	names = append(names, ps.services...)
	names = append(names, ps.federated...)
	if len(names) == 0 {
		return "no principal iamprop models"
	}
	return "the principals it names: " + shortList(names, false)
}

// describeFailure says why a condition that evaluated false did not hold:
// "IpAddress aws:SourceIp 11.0.0.1 not in 10.0.0.0/8".
func (c *condition) describeFailure(rc *reqCtx) string {
	v, present := rc.lookup(c.lkey)
	if present && v.isList && len(v.list) == 0 {
		present = false
	}
	if c.info.fam == famNull {
		if present {
			return fmt.Sprintf("%s %s true: the request has %s", c.op, c.key, c.key)
		}
		return fmt.Sprintf("%s %s false: the request has no %s", c.op, c.key, c.key)
	}
	if !present {
		return fmt.Sprintf("%s %s: the request has no %s", c.op, c.key, c.key)
	}
	quoted := c.info.fam == famString || c.info.fam == famStringFold || c.info.fam == famStringLike || c.info.fam == famARN
	var reqVals []string
	for i := range v.n() {
		reqVals = append(reqVals, v.at(i))
	}
	req := shortList(reqVals, quoted)
	if v.isList {
		req = "[" + req + "]"
	}
	pol := make([]string, 0, len(c.vals))
	for _, cv := range c.vals {
		pol = append(pol, cv.raw)
	}
	verb := "does not match"
	switch {
	case c.info.negate && c.info.fam == famIP:
		verb = "is in"
	case c.info.negate:
		verb = "matches"
	case c.info.fam == famIP:
		verb = "not in"
	case c.info.fam == famNumeric || c.info.fam == famDate:
		verb = "not " + [...]string{cmpEq: "=", cmpLt: "<", cmpLe: "<=", cmpGt: ">", cmpGe: ">="}[c.info.cmp]
	}
	qual := ""
	switch c.set {
	case setAll:
		qual = " (ForAllValues: every request value must)"
	case setAny:
		qual = " (ForAnyValue: no request value does)"
	}
	return fmt.Sprintf("%s %s %s %s %s%s", c.op, c.key, req, verb, shortList(pol, quoted), qual)
}

// shortList joins at most five values, quoted when quote is set.
func shortList(vals []string, quote bool) string {
	const show = 5
	out := make([]string, 0, show+1)
	for i, v := range vals {
		if i == show {
			out = append(out, fmt.Sprintf("... (%d in all)", len(vals)))
			break
		}
		if quote {
			v = strconv.Quote(v)
		}
		out = append(out, v)
	}
	return strings.Join(out, ", ")
}

// policyVar is one ${key} or ${key, 'default'} as written.
type policyVar struct {
	key    string
	hasDef bool
}

// variablesIn lists the policy variables of text, keys in their written
// case; the escapes ${*}, ${?} and ${$} are not variables.
func variablesIn(text string) []policyVar {
	var out []policyVar
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			return out
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			return out
		}
		body := text[i+2 : i+end]
		text = text[i+end+1:]
		if body == "*" || body == "?" || body == "$" {
			continue
		}
		key, _, hasDef, msg := parseVariable(body)
		if msg == "" {
			out = append(out, policyVar{key: key, hasDef: hasDef})
		}
	}
}

func varNames(text string) []string {
	var out []string
	for _, v := range variablesIn(text) {
		out = append(out, "${"+v.key+"}")
	}
	return out
}
