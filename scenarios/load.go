package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/delay"
)

// readFunc reads a file named relative to the scenario (a policy's
// {file: path}) and returns its content and the path to show in errors.
type readFunc func(rel string) (data []byte, shown string, err error)

// dirReader resolves relative paths against dir on the local file system.
func dirReader(dir string) readFunc {
	return func(rel string) ([]byte, string, error) {
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, rel)
		}
		b, err := os.ReadFile(p)
		return b, p, err
	}
}

// Load reads, decodes and validates the scenario file at path. On any
// problem it returns a nil scenario and an error; problems in the file's
// content are an *Error listing every issue as file:line:col: field: reason.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return parse(path, data, dirReader(filepath.Dir(path)))
}

// Parse decodes and validates a scenario held in memory. file names it in
// errors, must end in the scenario's name + ".yaml" (the name check is
// skipped when file is ""), and anchors policy {file: path} references.
func Parse(file string, data []byte) (*Scenario, error) {
	return parse(file, data, dirReader(filepath.Dir(file)))
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads exactly one YAML document. yaml.v3 is third-party code
// fed with user input, so a panic in it is turned into an error.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty; expected a scenario (a mapping with name, title, duration, regions, ...)")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("yaml: line %d: a second YAML document (after ---); a scenario file holds exactly one", max(extra.Line, 1))
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null" && doc.Content[0].Value == "") {
		return nil, errors.New("the file is empty; expected a scenario (a mapping with name, title, duration, regions, ...)")
	}
	return doc.Content[0], nil
}

// parserError tells yaml.v3's parser errors (0-based lines) from its
// scanner errors (1-based lines) by their message.
func parserError(msg string) bool {
	for _, p := range []string{
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"did not find expected node content",
		"did not find expected <document start>",
		"did not find expected '-' indicator",
	} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func parse(file string, data []byte, read readFunc) (*Scenario, error) {
	shown := file
	if shown == "" {
		shown = "<input>"
	}
	d := &decoder{file: shown, budget: jsonNodeBudget}
	root, err := parseYAML(data)
	if err != nil {
		line, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
			if parserError(msg) {
				// yaml.v3 reports parser (not scanner) errors with a 0-based
				// line: the line where the unfinished construct started.
				line++
			}
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return nil, &Error{File: shown, Issues: []Issue{{File: shown, Line: line, Column: 1, Reason: "invalid YAML: " + msg}}}
	}
	l := newLoader(d, file, read)
	l.scenario(root)
	if len(d.issues) > 0 {
		issues := sortIssues(d.issues)
		if d.dropped > 0 {
			last := issues[len(issues)-1]
			issues = append(issues, Issue{File: shown, Line: last.Line, Column: last.Column,
				Reason: fmt.Sprintf("... and %d more issues not shown; fix these first", d.dropped)})
		}
		return nil, &Error{File: shown, Issues: issues}
	}
	return l.sc, nil
}

// loader holds what later sections are checked against: the regions,
// policies, accounts and labels declared earlier in the file.
type loader struct {
	*decoder
	sc       *Scenario
	read     readFunc
	regions  map[string]bool
	policies map[string]*policyDef
	accounts map[string]bool
	labels   map[string]int // step label -> 1-based step number
	// totalSteps counts the steps written, valid or not.
	totalSteps int
	probes     map[string]bool
	ous        map[string]bool
	orgPolicy  map[string]string // org policy name -> "scp" | "rcp", for UpdatePolicy
	// anyRegion accepts any well-formed region name: a propagation block
	// read on its own (LoadPropagation) has no regions to check against.
	anyRegion bool
}

func newLoader(d *decoder, file string, read readFunc) *loader {
	return &loader{
		decoder:   d,
		sc:        &Scenario{File: file, Policies: map[string]json.RawMessage{}},
		read:      read,
		regions:   map[string]bool{},
		policies:  map[string]*policyDef{},
		accounts:  map[string]bool{},
		labels:    map[string]int{},
		probes:    map[string]bool{},
		ous:       map[string]bool{},
		orgPolicy: map[string]string{},
	}
}

var topKeys = []string{"name", "title", "description", "lesson", "sources", "seed", "duration", "regions",
	"propagation", "network", "gossip", "policies", "state", "steps", "probes", "faults", "expect"}

var (
	regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	probeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	iamName    = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
)

func (l *loader) scenario(root *yaml.Node) {
	top := l.object(root, "", topKeys...)
	if top.n == nil || top.n.Kind != yaml.MappingNode {
		return
	}
	sc := l.sc
	if n := l.require(top, "name", "the scenario's name, equal to the file name without .yaml"); n != nil {
		if s, ok := l.nonEmpty(n, "name"); ok {
			sc.Name = s
			if l.sc.File != "" {
				want := strings.TrimSuffix(filepath.Base(l.sc.File), filepath.Ext(l.sc.File))
				if s != want {
					l.errorf(n, "name", "must equal the file name without .yaml (%q), got %q", want, s)
				}
			}
		}
	}
	if n := l.require(top, "title", "one line shown by `scenario list`"); n != nil {
		sc.Title, _ = l.nonEmpty(n, "title")
	}
	if n := top.get("description"); n != nil {
		sc.Description, _ = l.str(n, "description")
	}
	if n := top.get("lesson"); n != nil {
		sc.Lesson, _ = l.str(n, "lesson")
	}
	if n := top.get("sources"); n != nil {
		sc.Sources, _ = l.strList(n, "sources", "citations (URLs or references)")
	}
	sc.Seed = 1
	if n := top.get("seed"); n != nil {
		if v, ok := l.integer(n, "seed"); ok {
			if v < 0 {
				l.errorf(n, "seed", "must not be negative, got %d", v)
			} else {
				sc.Seed = uint64(v)
			}
		}
	}
	durOK := false
	if n := l.require(top, "duration", "the simulated span, e.g. 30s"); n != nil {
		if v, ok := l.duration(n, "duration"); ok {
			if v == 0 {
				l.errorf(n, "duration", "must be longer than 0s")
			} else {
				sc.Duration, durOK = v, true
			}
		}
	}
	if !durOK {
		// Later checks compare instants with the duration; without one they
		// would pile up confusing follow-on errors.
		sc.Duration = time.Duration(1<<63 - 1)
	}
	if n := l.require(top, "regions", "the list of region names, e.g. [us-east-2, eu-west-1]"); n != nil {
		l.regionList(n)
	}
	if n := l.require(top, "propagation", "the commit -> apply delay model, e.g. {default: {dist: lognormal, median: 4s, p99: 12s}}"); n != nil {
		l.propagation(n)
	}
	if n := top.get("network"); n != nil {
		l.network(n)
	}
	if n := top.get("gossip"); n != nil {
		l.gossip(n)
	}
	if n := top.get("policies"); n != nil {
		l.policyDefs(n)
	}
	if n := top.get("state"); n != nil {
		l.state(n)
	}
	if n := top.get("steps"); n != nil {
		l.steps(n)
	}
	if n := top.get("probes"); n != nil {
		l.probeList(n)
	}
	if n := top.get("faults"); n != nil {
		l.faults(n)
	}
	if n := top.get("expect"); n != nil {
		l.expectations(n)
	}
	l.checkPolicies()
}

func (l *loader) regionList(n *yaml.Node) {
	items := l.list(n, "regions", "region names")
	if items == nil && deref(n).Kind == yaml.SequenceNode {
		l.errorf(n, "regions", "must list at least one region")
	}
	for i, it := range items {
		f := index("regions", i)
		s, ok := l.nonEmpty(it, f)
		if !ok {
			continue
		}
		switch {
		case !regionName.MatchString(s):
			l.errorf(it, f, "region names are lower-case letters, digits and '-', like eu-west-1; got %q", s)
		case l.regions[s]:
			l.errorf(it, f, "region %q is listed twice", s)
		default:
			l.regions[s] = true
			l.sc.Regions = append(l.sc.Regions, s)
		}
	}
}

// region checks a reference to a region declared in `regions`.
func (l *loader) region(n *yaml.Node, field string) (string, bool) {
	if l.anyRegion {
		return l.anyRegionName(n, field)
	}
	s, ok := l.nonEmpty(n, field)
	if !ok {
		return "", false
	}
	if len(l.regions) == 0 {
		return "", false // `regions` itself is reported; naming each use adds nothing
	}
	if !l.regions[s] {
		l.errorf(n, field, "unknown region %q; expected one of the scenario's regions: %s%s", s, oneOf(l.sc.Regions), suggest(s, l.sc.Regions))
		return "", false
	}
	return s, true
}

// instant checks a time within the scenario: not negative, not after duration.
func (l *loader) instant(n *yaml.Node, field string) (time.Duration, bool) {
	v, ok := l.duration(n, field)
	if !ok {
		return 0, false
	}
	if v > l.sc.Duration {
		l.errorf(n, field, "%s is after the scenario's duration (%s); expected at most %s", n.Value, l.sc.Duration, l.sc.Duration)
		return 0, false
	}
	return v, true
}

var distKeys = []string{"dist", "value", "min", "max", "mean", "stddev", "median", "p99", "scale", "shape", "points"}

// distribution decodes a delay distribution; extra are further keys the
// same mapping may hold (a link's from and to), returned in the object.
func (l *loader) distribution(n *yaml.Node, path string, extra ...string) (Distribution, *object, bool) {
	o := l.object(n, path, append(append([]string{}, extra...), distKeys...)...)
	var dist Distribution
	if o.n == nil || o.n.Kind != yaml.MappingNode {
		return dist, o, false
	}
	dn := l.require(o, "dist", "one of "+strings.Join(delay.Names, ", "))
	if dn == nil {
		return dist, o, false
	}
	name, ok := l.nonEmpty(dn, join(path, "dist"))
	if !ok {
		return dist, o, false
	}
	params, known := delay.Params[name]
	if !known {
		l.errorf(dn, join(path, "dist"), "unknown distribution %q; expected one of: %s%s", name, strings.Join(delay.Names, ", "), suggest(name, delay.Names))
		return dist, o, false
	}
	dist.Dist = name
	valid := true
	for _, k := range distKeys[1:] {
		if o.has(k) && !contains(params, k) {
			l.errorf(o.keys[k], join(path, k), "%s does not take %q; it takes: %s", name, k, strings.Join(params, ", "))
			valid = false
		}
	}
	for _, k := range params {
		if l.require(o, k, name+" takes "+strings.Join(params, ", ")) == nil {
			valid = false
		}
	}
	if !valid {
		return dist, o, false
	}
	dur := func(k string) time.Duration {
		v, ok := l.duration(o.get(k), join(path, k))
		valid = valid && ok
		return v
	}
	switch name {
	case "constant":
		dist.Value = dur("value")
	case "uniform":
		dist.Min, dist.Max = dur("min"), dur("max")
		if valid && dist.Max < dist.Min {
			l.errorf(o.get("max"), join(path, "max"), "must be at least min (%s), got %s", dist.Min, dist.Max)
			valid = false
		}
	case "normal":
		dist.Mean, dist.Stddev = dur("mean"), dur("stddev")
	case "lognormal":
		dist.Median, dist.P99 = dur("median"), dur("p99")
		if valid && dist.Median == 0 {
			l.errorf(o.get("median"), join(path, "median"), "must be longer than 0s (a lognormal is positive)")
			valid = false
		}
		if valid && dist.P99 <= dist.Median {
			l.errorf(o.get("p99"), join(path, "p99"), "must be greater than median (%s), got %s; for a fixed delay use dist: constant", dist.Median, dist.P99)
			valid = false
		}
	case "exponential":
		dist.Mean = dur("mean")
		if valid && dist.Mean == 0 {
			l.errorf(o.get("mean"), join(path, "mean"), "must be longer than 0s")
			valid = false
		}
	case "pareto":
		dist.Scale = dur("scale")
		shape, ok := l.number(o.get("shape"), join(path, "shape"))
		valid = valid && ok
		if valid && dist.Scale == 0 {
			l.errorf(o.get("scale"), join(path, "scale"), "must be longer than 0s")
			valid = false
		}
		if ok && shape <= 0 {
			l.errorf(o.get("shape"), join(path, "shape"), "must be greater than 0, got %v", shape)
			valid = false
		}
		dist.Shape = shape
	case "empirical":
		dist.Points, ok = l.points(o.get("points"), join(path, "points"))
		valid = valid && ok
	}
	return dist, o, valid
}

// points decodes an empirical CDF: [[seconds, cumulative probability], ...]
// with both coordinates non-decreasing and the last probability 1.
func (l *loader) points(n *yaml.Node, field string) ([][2]float64, bool) {
	items := l.list(n, field, "[seconds, cumulative_probability] pairs")
	if items == nil {
		if deref(n).Kind == yaml.SequenceNode {
			l.errorf(n, field, "must list at least one [seconds, cumulative_probability] pair")
		}
		return nil, false
	}
	var pts [][2]float64
	ok := true
	for i, it := range items {
		f := index(field, i)
		pair := l.list(it, f, "two numbers")
		if pair == nil {
			ok = false
			continue
		}
		if len(pair) != 2 {
			l.errorf(it, f, "must be [seconds, cumulative_probability], got %d values", len(pair))
			ok = false
			continue
		}
		s, ok1 := l.number(pair[0], index(f, 0))
		p, ok2 := l.number(pair[1], index(f, 1))
		if !ok1 || !ok2 {
			ok = false
			continue
		}
		switch {
		case s < 0:
			l.errorf(pair[0], index(f, 0), "seconds must not be negative, got %v", s)
			ok = false
		case p < 0 || p > 1:
			l.errorf(pair[1], index(f, 1), "cumulative probability must be between 0 and 1, got %v", p)
			ok = false
		case len(pts) > 0 && s < pts[len(pts)-1][0]:
			l.errorf(pair[0], index(f, 0), "seconds must not decrease (previous point is at %v)", pts[len(pts)-1][0])
			ok = false
		case len(pts) > 0 && p < pts[len(pts)-1][1]:
			l.errorf(pair[1], index(f, 1), "cumulative probability must not decrease (previous point has %v)", pts[len(pts)-1][1])
			ok = false
		}
		pts = append(pts, [2]float64{s, p})
	}
	if ok && pts[len(pts)-1][1] != 1 {
		l.errorf(items[len(items)-1], index(field, len(items)-1), "the last point's cumulative probability must be 1, got %v", pts[len(pts)-1][1])
		ok = false
	}
	return pts, ok
}

func (l *loader) propagation(n *yaml.Node) {
	o := l.object(n, "propagation", "default", "links", "revoke")
	if dn := l.require(o, "default", "the delay of every origin -> destination pair without a link, e.g. {dist: lognormal, median: 4s, p99: 12s}"); dn != nil {
		l.sc.Propagation.Default, _, _ = l.distribution(dn, "propagation.default")
	}
	if rn := o.get("revoke"); rn != nil {
		if d, _, ok := l.distribution(rn, "propagation.revoke"); ok {
			l.sc.Propagation.Revoke = &d
		}
	}
	seen := map[[2]string]bool{}
	for i, it := range l.list(o.get("links"), "propagation.links", "{from, to, dist, ...} links") {
		f := index("propagation.links", i)
		dist, lo, ok := l.distribution(it, f, "from", "to")
		if lo.n == nil || lo.n.Kind != yaml.MappingNode {
			continue
		}
		var from, to string
		okF, okT := false, false
		if fn := l.require(lo, "from", "the origin region"); fn != nil {
			from, okF = l.region(fn, join(f, "from"))
		}
		if tn := l.require(lo, "to", "the destination region"); tn != nil {
			to, okT = l.region(tn, join(f, "to"))
		}
		if okF && okT && from == to {
			l.errorf(lo.get("to"), join(f, "to"), "a link joins two different regions; %s -> %s is the local apply", from, to)
			continue
		}
		if okF && okT && seen[[2]string{from, to}] {
			l.errorf(lo.n, f, "a second link %s -> %s; each pair takes one distribution", from, to)
			continue
		}
		if ok && okF && okT {
			seen[[2]string{from, to}] = true
			l.sc.Propagation.Links = append(l.sc.Propagation.Links, Link{From: from, To: to, Distribution: dist})
		}
	}
}

func (l *loader) network(n *yaml.Node) {
	o := l.object(n, "network", "latency", "loss")
	if ln := o.get("latency"); ln != nil {
		if d, _, ok := l.distribution(ln, "network.latency"); ok {
			l.sc.Network.Latency = &d
		}
	}
	if ln := o.get("loss"); ln != nil {
		l.sc.Network.Loss, _ = l.probability(ln, "network.loss")
	}
}

// probability decodes a loss rate: at least 0, below 1 (a loss of 1 is a
// partition; say so with a fault).
func (l *loader) probability(n *yaml.Node, field string) (float64, bool) {
	v, ok := l.number(n, field)
	if ok && (v < 0 || v >= 1) {
		l.errorf(n, field, "must be a probability from 0 up to (not including) 1, got %v; to cut regions off use a partition fault", v)
		return 0, false
	}
	return v, ok
}

func (l *loader) gossip(n *yaml.Node) {
	o := l.object(n, "gossip", "interval", "fanout", "retransmit_mult", "push_pull_interval")
	g := &l.sc.Gossip
	positiveDur := func(k string) time.Duration {
		v, ok := l.duration(o.get(k), join("gossip", k))
		if ok && v == 0 {
			l.errorf(o.get(k), join("gossip", k), "must be longer than 0s (leave the key out for memberlist's default)")
		}
		return v
	}
	positiveInt := func(k string) int {
		v, ok := l.integer(o.get(k), join("gossip", k))
		if ok && (v < 1 || v > 1000) {
			l.errorf(o.get(k), join("gossip", k), "must be between 1 and 1000, got %d", v)
			return 0
		}
		return int(v)
	}
	if o.has("interval") {
		g.Interval = positiveDur("interval")
	}
	if o.has("push_pull_interval") {
		g.PushPullInterval = positiveDur("push_pull_interval")
	}
	if o.has("fanout") {
		g.Fanout = positiveInt("fanout")
	}
	if o.has("retransmit_mult") {
		g.RetransmitMult = positiveInt("retransmit_mult")
	}
}

// sortedKeys returns a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
