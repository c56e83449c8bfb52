package scenarios

import (
	"strings"

	"gopkg.in/yaml.v3"
)

var faultKinds = []string{"partition", "partition_oneway", "crash", "loss", "latency"}

func (l *loader) faults(n *yaml.Node) {
	for i, it := range l.list(n, "faults", "faults {at, for, partition | partition_oneway | crash | loss | latency}") {
		l.fault(it, index("faults", i))
	}
}

func (l *loader) fault(n *yaml.Node, f string) {
	o := l.object(n, f, append([]string{"at", "for", "lose_state"}, faultKinds...)...)
	if o.n == nil || o.n.Kind != yaml.MappingNode {
		return
	}
	before := len(l.issues)
	ft := Fault{}
	if an := l.require(o, "at", "when the fault starts, e.g. 5s"); an != nil {
		ft.At, _ = l.instant(an, join(f, "at"))
	}
	if fn := o.get("for"); fn != nil {
		if v, ok := l.duration(fn, join(f, "for")); ok {
			if v == 0 {
				l.errorf(fn, join(f, "for"), "must be longer than 0s (leave it out to last until the end)")
			}
			ft.For = v
		}
	}
	var kinds []string
	for _, k := range faultKinds {
		if o.has(k) {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		l.errorf(o.n, f, "a fault needs exactly one of: %s", strings.Join(faultKinds, ", "))
		return
	case 1:
	default:
		l.errorf(o.keys[kinds[1]], join(f, kinds[1]), "a fault has exactly one kind; this one already is a %s (write a second fault)", kinds[0])
		return
	}
	ft.Kind = kinds[0]
	v, vf := o.get(ft.Kind), join(f, ft.Kind)
	if ln := o.get("lose_state"); ln != nil {
		if ft.Kind != "crash" {
			l.errorf(o.keys["lose_state"], join(f, "lose_state"), "only applies to a crash fault")
		} else {
			ft.LoseState, _ = l.boolean(ln, join(f, "lose_state"))
		}
	}
	switch ft.Kind {
	case "partition":
		ft.Groups = l.partition(v, vf)
	case "partition_oneway":
		po := l.object(v, vf, "from", "to")
		if fn := l.require(po, "from", "the region whose messages are dropped"); fn != nil {
			ft.From, _ = l.region(fn, join(vf, "from"))
		}
		if tn := l.require(po, "to", "the region that stops hearing from `from`"); tn != nil {
			ft.To, _ = l.region(tn, join(vf, "to"))
		}
		if ft.From != "" && ft.From == ft.To {
			l.errorf(po.get("to"), join(vf, "to"), "must differ from from (%s)", ft.From)
		}
	case "crash":
		ft.Region, _ = l.region(v, vf)
	case "loss":
		ft.Loss, _ = l.probability(v, vf)
	case "latency":
		if d, _, ok := l.distribution(v, vf); ok {
			ft.Latency = &d
		}
	}
	if len(l.issues) == before {
		l.sc.Faults = append(l.sc.Faults, ft)
	}
}

// partition decodes groups of regions that can talk only within their group.
func (l *loader) partition(n *yaml.Node, f string) [][]string {
	groups := l.list(n, f, "groups of regions, e.g. [[us-east-2], [eu-west-1, ap-southeast-2]]")
	if groups == nil && deref(n).Kind != yaml.SequenceNode {
		return nil // reported by list
	}
	if len(groups) < 2 {
		l.errorf(n, f, "a partition needs at least two groups of regions, e.g. [[us-east-2], [eu-west-1, ap-southeast-2]]")
		return nil
	}
	seen := map[string]string{}
	var out [][]string
	for i, g := range groups {
		gf := index(f, i)
		items := l.list(g, gf, "region names")
		if items == nil && g.Kind == yaml.SequenceNode {
			l.errorf(g, gf, "a group lists at least one region")
		}
		var grp []string
		for j, it := range items {
			rf := index(gf, j)
			r, ok := l.region(it, rf)
			if !ok {
				continue
			}
			if prev, dup := seen[r]; dup {
				l.errorf(it, rf, "region %q is already in %s; a region is in one group", r, prev)
				continue
			}
			seen[r] = gf
			grp = append(grp, r)
		}
		out = append(out, grp)
	}
	return out
}
