package scenarios

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/evaluator"
)

// DefaultProbeEvery is a probe's period when `every` is left out: ten
// requests a second resolves windows of a few seconds well enough to count
// what a reader actually fetched.
const DefaultProbeEvery = 100 * time.Millisecond

var probeKeys = []string{"name", "region", "principal", "action", "resource", "context", "endpoint", "every", "from", "until", "consistency", "intended"}

func (l *loader) probeList(n *yaml.Node) {
	for i, it := range l.list(n, "probes", "data-plane requests {name, region, principal, action, resource, ...}") {
		l.probe(it, index("probes", i))
	}
}

func (l *loader) probe(n *yaml.Node, f string) {
	o := l.object(n, f, probeKeys...)
	if o.n == nil || o.n.Kind != yaml.MappingNode {
		return
	}
	p := Probe{Line: o.n.Line, Column: o.n.Column, Every: DefaultProbeEvery, Until: l.sc.Duration, Consistency: "local"}
	before := len(l.issues)
	if nn := l.require(o, "name", "a name for expectations, e.g. attacker-read"); nn != nil {
		if s, ok := l.nonEmpty(nn, join(f, "name")); ok {
			switch {
			case !probeName.MatchString(s):
				l.errorf(nn, join(f, "name"), "probe names are letters, digits, '.', '_' and '-' (they appear in expectations such as exposure(NAME)), got %q", s)
			case l.probes[s]:
				l.errorf(nn, join(f, "name"), "probe %q is defined twice", s)
			default:
				l.probes[s] = true
				p.Name = s
			}
		}
	}
	if rn := l.require(o, "region", "the region whose view answers the request"); rn != nil {
		p.Region, _ = l.region(rn, join(f, "region"))
	}
	if pn := l.require(o, "principal", "anonymous, user:NAME, key:ACCESS_KEY_ID, role:ROLE/SESSION or an ARN"); pn != nil {
		if s, ok := l.nonEmpty(pn, join(f, "principal")); ok {
			if reason := checkPrincipal(s); reason != "" {
				l.errorf(pn, join(f, "principal"), "%s; expected anonymous, user:NAME, key:ACCESS_KEY_ID, role:ROLE/SESSION or an ARN, got %q", reason, s)
			}
			p.Principal = s
		}
	}
	if an := l.require(o, "action", "the API action requested, e.g. s3:GetObject"); an != nil {
		if s, ok := l.nonEmpty(an, join(f, "action")); ok {
			if svc, act, found := strings.Cut(s, ":"); !found || svc == "" || act == "" || strings.ContainsAny(s, " *?") {
				l.errorf(an, join(f, "action"), "must be one action as service:Action, e.g. s3:GetObject (no wildcards), got %q", s)
			}
			p.Action = s
		}
	}
	if rn := l.require(o, "resource", "the ARN requested, e.g. arn:aws:s3:::bucket/key"); rn != nil {
		if s, ok := l.nonEmpty(rn, join(f, "resource")); ok {
			if s != "*" && !strings.HasPrefix(s, "arn:") {
				l.errorf(rn, join(f, "resource"), "must be an ARN such as arn:aws:s3:::bucket/key, got %q", s)
			}
			p.Resource = s
		}
	}
	if cn := o.get("context"); cn != nil {
		p.Context = l.context(cn, join(f, "context"))
	}
	if en := o.get("endpoint"); en != nil {
		p.Endpoint, _ = l.policyRef(en, join(f, "endpoint"), evaluator.KindEndpoint)
	}
	if en := o.get("every"); en != nil {
		if v, ok := l.duration(en, join(f, "every")); ok {
			if v == 0 {
				l.errorf(en, join(f, "every"), "must be longer than 0s")
			} else {
				p.Every = v
			}
		}
	}
	if fn := o.get("from"); fn != nil {
		p.From, _ = l.instant(fn, join(f, "from"))
	}
	if un := o.get("until"); un != nil {
		if v, ok := l.instant(un, join(f, "until")); ok {
			p.Until = v
		}
	}
	if p.Until <= p.From && len(l.issues) == before {
		at, field := o.get("until"), join(f, "until")
		if at == nil {
			at, field = o.get("from"), join(f, "from")
		}
		l.errorf(at, field, "the probe never runs: from (%s) must be before until (%s)", p.From, p.Until)
	}
	if cn := o.get("consistency"); cn != nil {
		l.consistency(cn, join(f, "consistency"), &p)
	}
	if in := o.get("intended"); in != nil {
		if v, ok := l.nonEmpty(in, join(f, "intended")); ok {
			if v != "allow" && v != "deny" {
				l.errorf(in, join(f, "intended"), "want allow or deny (the access the request should have), got %q", v)
			} else {
				p.Intended = v
			}
		}
	}
	if len(l.issues) == before {
		l.sc.Probes = append(l.sc.Probes, p)
	}
}

// checkPrincipal returns why s is not a principal the control plane can
// resolve, or "".
func checkPrincipal(s string) string {
	switch {
	case s == "anonymous", strings.HasPrefix(s, "arn:"):
		return ""
	case strings.HasPrefix(s, "user:"), strings.HasPrefix(s, "key:"):
		if len(s) == strings.Index(s, ":")+1 {
			return "the name after ':' is missing"
		}
		return ""
	case strings.HasPrefix(s, "role:"):
		role, session, ok := strings.Cut(s[len("role:"):], "/")
		if !ok || role == "" || session == "" {
			return "a role principal is role:ROLE/SESSION"
		}
		return ""
	}
	return "unknown principal form"
}

// context decodes request context values: strings, numbers, booleans, or
// lists of them (multi-valued keys such as aws:PrincipalOrgPaths).
func (l *loader) context(n *yaml.Node, f string) map[string]any {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.errorf(n, f, "must be a mapping of condition keys to values, e.g. {\"aws:SourceIp\": 203.0.113.5}, got %s", describe(n))
		return nil
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			l.errorf(k, f, "condition keys must be strings, got %s", describe(k))
			continue
		}
		kf := join(f, k.Value)
		if _, dup := out[strings.ToLower(k.Value)]; dup {
			l.errorf(k, kf, "condition key %q is given twice (keys are case-insensitive)", k.Value)
			continue
		}
		if v.Kind == yaml.SequenceNode {
			var list []any
			for j, it := range v.Content {
				if x, ok := l.contextScalar(deref(it), index(kf, j)); ok {
					list = append(list, x)
				}
			}
			out[strings.ToLower(k.Value)] = list
			continue
		}
		if x, ok := l.contextScalar(v, kf); ok {
			out[strings.ToLower(k.Value)] = x
		}
	}
	// Keys keep the author's spelling; the lower-cased index above only
	// detects duplicates.
	res := make(map[string]any, len(out))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if v, ok := out[strings.ToLower(k.Value)]; ok {
			if _, seen := res[k.Value]; !seen {
				res[k.Value] = v
			}
		}
	}
	return res
}

func (l *loader) contextScalar(v *yaml.Node, f string) (any, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		l.errorf(v, f, "must be a string, number or boolean (or a list of them), got %s", describe(v))
		return nil, false
	}
	switch v.ShortTag() {
	case "!!bool":
		var b bool
		if v.Decode(&b) == nil {
			return b, true
		}
	case "!!int", "!!float":
		if x, err := strconv.ParseFloat(v.Value, 64); err == nil {
			return x, true
		}
		var x float64
		if v.Decode(&x) == nil {
			return x, true
		}
	}
	return v.Value, true
}

var consistencyModes = []string{"local", "at_least", "max_lag"}

// consistency decodes a probe's read rule: local (default), at_least a
// step's token (the step by number, 1-based, or by label), or max_lag.
func (l *loader) consistency(n *yaml.Node, f string, p *Probe) {
	o := l.object(n, f, "mode", "step", "timeout", "max_lag")
	mn := l.require(o, "mode", "local, at_least or max_lag")
	if mn == nil {
		return
	}
	mode, ok := l.nonEmpty(mn, join(f, "mode"))
	if !ok {
		return
	}
	if !contains(consistencyModes, mode) {
		l.errorf(mn, join(f, "mode"), "unknown mode %q; expected one of: %s%s", mode, strings.Join(consistencyModes, ", "), suggest(mode, consistencyModes))
		return
	}
	p.Consistency = mode
	only := map[string]string{"step": "at_least", "timeout": "at_least", "max_lag": "max_lag"}
	for k, m := range only {
		if o.has(k) && mode != m {
			l.errorf(o.keys[k], join(f, k), "only applies to mode %s, not %s", m, mode)
		}
	}
	switch mode {
	case "at_least":
		if sn := l.require(o, "step", "the step whose token the read waits for: its number (1 = first) or its label"); sn != nil {
			p.AtLeastStep = l.stepRef(sn, join(f, "step"))
		}
		if tn := o.get("timeout"); tn != nil {
			if v, ok := l.duration(tn, join(f, "timeout")); ok {
				if v == 0 {
					l.errorf(tn, join(f, "timeout"), "must be longer than 0s (leave it out to wait as long as it takes)")
				}
				p.Timeout = v
			}
		}
	case "max_lag":
		if ln := l.require(o, "max_lag", "the largest view lag the read accepts, e.g. 1s"); ln != nil {
			p.MaxLag, _ = l.duration(ln, join(f, "max_lag"))
		}
	}
}

// stepRef resolves a step by number (1-based) or label.
func (l *loader) stepRef(n *yaml.Node, f string) int {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, ok := l.integer(n, f)
		if !ok {
			return 0
		}
		total := l.stepCount()
		if v < 1 || v > int64(total) {
			l.errorf(n, f, "step %d does not exist; the scenario has %d steps (numbered from 1)", v, total)
			return 0
		}
		return int(v)
	}
	s, ok := l.nonEmpty(n, f)
	if !ok {
		return 0
	}
	i, ok := l.labels[s]
	switch {
	case !ok && len(l.labels) == 0:
		l.errorf(n, f, "no step is labelled %q; expected a step number (1 = first), or give the step a label", s)
		return 0
	case !ok:
		labels := sortedKeys(l.labels)
		l.errorf(n, f, "no step is labelled %q; expected a step number or one of the labels: %s%s", s, oneOf(labels), suggest(s, labels))
		return 0
	}
	return i
}

// stepCount is the number of steps written (valid or not), so step numbers
// count as the author counts.
func (l *loader) stepCount() int { return l.totalSteps }
