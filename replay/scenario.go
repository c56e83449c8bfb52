package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// policyNameRE is IAM's rule for policy names, which scenario policies follow.
var policyNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)

// docNames gives each snapshot document a name in the scenario's policies.
type docNames struct {
	docs  map[string]json.RawMessage
	order []string
}

// add names doc, preferring want (the AWS name, so later calls that name it
// still match); a clash with a different document takes a suffix.
func (d *docNames) add(want string, doc json.RawMessage) string {
	if !policyNameRE.MatchString(want) {
		want = "policy"
	}
	name := want
	for i := 2; ; i++ {
		old, ok := d.docs[name]
		if !ok {
			break
		}
		if bytes.Equal(old, doc) {
			return name
		}
		name = fmt.Sprintf("%s-%d", want, i)
	}
	d.docs[name] = doc
	d.order = append(d.order, name)
	return name
}

func list(items []string) string {
	var q []string
	for _, s := range items {
		q = append(q, yamlString(s))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func dur(d time.Duration) string { return d.String() }

// compact renders JSON on one line, for flow YAML (JSON is YAML).
func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// scenarioYAML writes the replay as a scenario file.
func (a *Analysis) scenarioYAML(o Options) ([]byte, error) {
	p := a.Plan
	name := o.Name
	if name == "" {
		name = "replay"
	}
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	prop, sources := o.Propagation, o.Sources
	if prop == "" {
		prop, sources = DefaultPropagation, DefaultSources
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\n", yamlString(name))
	fmt.Fprintf(&b, "title: %s\n", yamlString(fmt.Sprintf("CloudTrail replay: %d changes from %s to %s", len(p.Changes), p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))))
	fmt.Fprintf(&b, "description: %s\n", yamlString(fmt.Sprintf("Written by scenario replay from %d CloudTrail records. Scenario time %s is %s; each step is a change of the trail at its eventTime, each probe a window the replay measured.", p.Records, dur(Lead), p.Start.Format(time.RFC3339))))
	if len(sources) > 0 {
		fmt.Fprintf(&b, "sources: %s\n", list(sources))
	}
	fmt.Fprintf(&b, "seed: %d\nduration: %s\nregions: %s\n", seed, dur(a.Duration), list(a.Regions))
	b.WriteString("propagation:\n")
	for _, l := range strings.Split(strings.TrimRight(prop, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	st := p.stateYAML()
	b.WriteString(st)
	if len(p.Changes) > 0 {
		b.WriteString("steps:\n")
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  - {at: %s, region: %s, call: %s, with: %s, label: %s", dur(p.at(c.Time)), c.Region, c.Call.Action, compact(c.Call.Args), yamlString(c.EventID))
		if c.Call.Account != "" {
			fmt.Fprintf(&b, ", account: %s", yamlString(c.Call.Account))
		}
		b.WriteString("}\n")
	}
	if len(a.Windows) > 0 {
		b.WriteString("probes:\n")
	}
	for i := range a.Windows {
		w := &a.Windows[i]
		w.probe = fmt.Sprintf("w%d-%s", i+1, w.Region)
		fmt.Fprintf(&b, "  - {name: %s, region: %s, principal: %s, action: %s, resource: %s, from: %s, until: %s}\n",
			w.probe, w.Region, yamlString(w.Principal), w.Action, yamlString(w.Resource), dur(w.From), dur(w.Until))
	}
	return []byte(b.String()), nil
}

// stateYAML writes the snapshot (and the buckets the trail uses but does
// not create) as the scenario's policies and state.
func (p *Plan) stateYAML() string {
	names := &docNames{docs: map[string]json.RawMessage{}}
	byARN := map[string]string{}
	var state strings.Builder
	if s := p.Snapshot; s != nil {
		for _, pol := range s.Policies {
			if doc := pol.Default(); doc != nil {
				byARN[p.localPolicyARN(pol.ARN)] = names.add(pol.Name, doc)
			}
		}
		managed := func(arns []string) []string {
			var out []string
			for _, a := range arns {
				if n, ok := byARN[p.localPolicyARN(a)]; ok {
					out = append(out, n)
				}
			}
			return out
		}
		if len(s.Groups) > 0 {
			state.WriteString("  groups:\n")
		}
		for _, g := range s.Groups {
			var inline []string
			for _, in := range g.Inline {
				inline = append(inline, names.add(in.Name, in.Document))
			}
			fmt.Fprintf(&state, "    - {name: %s, policies: %s, inline: %s}\n", yamlString(g.Name), list(managed(g.Attached)), list(inline))
		}
		if len(s.Users) > 0 {
			state.WriteString("  users:\n")
		}
		for _, u := range s.Users {
			var inline []string
			for _, in := range u.Inline {
				inline = append(inline, names.add(in.Name, in.Document))
			}
			fmt.Fprintf(&state, "    - {name: %s, policies: %s, inline: %s, groups: %s", yamlString(u.Name), list(managed(u.Attached)), list(inline), list(u.Groups))
			if bn := managed([]string{u.Boundary}); u.Boundary != "" && len(bn) == 1 {
				fmt.Fprintf(&state, ", boundary: %s", yamlString(bn[0]))
			}
			state.WriteString("}\n")
		}
		if len(s.Roles) > 0 {
			state.WriteString("  roles:\n")
		}
		for _, r := range s.Roles {
			trust := names.add("trust-"+r.Name, r.Trust)
			var inline []string
			for _, in := range r.Inline {
				inline = append(inline, names.add(in.Name, in.Document))
			}
			fmt.Fprintf(&state, "    - {name: %s, trust: %s, policies: %s, inline: %s", yamlString(r.Name), yamlString(trust), list(managed(r.Attached)), list(inline))
			if bn := managed([]string{r.Boundary}); r.Boundary != "" && len(bn) == 1 {
				fmt.Fprintf(&state, ", boundary: %s", yamlString(bn[0]))
			}
			state.WriteString("}\n")
		}
	}
	var buckets []string
	for bkt := range p.Buckets {
		if !p.created[bkt] {
			buckets = append(buckets, bkt)
		}
	}
	sort.Strings(buckets)
	if len(buckets) > 0 {
		state.WriteString("  buckets:\n")
	}
	for _, bkt := range buckets {
		fmt.Fprintf(&state, "    - {name: %s, region: %s}\n", yamlString(bkt), p.Buckets[bkt])
	}
	var b strings.Builder
	if len(names.order) > 0 {
		b.WriteString("policies:\n")
	}
	for _, n := range names.order {
		fmt.Fprintf(&b, "  %s: %s\n", yamlString(n), compact(names.docs[n]))
	}
	acct := p.Account
	if acct == "" {
		acct = "111122223333" // a trail that names no account: any id will do
	}
	fmt.Fprintf(&b, "state:\n  accounts: [%s]\n", yamlString(acct))
	b.WriteString(state.String())
	return b.String()
}
