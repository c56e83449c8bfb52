package delay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDistribution parses one delay distribution: the compact "2s"
// (Constant) or "1s..3s" (Uniform), bounds 0 to an hour, or any
// distribution a scenario's propagation block takes, written as a call
// the way Model.String describes it:
//
//	constant(2s)                    uniform(1s, 3s)
//	normal(mean 4s, stddev 1s)      lognormal(median 4s, p99 10s)
//	exponential(mean 3s)            pareto(scale 1s, shape 2.5)
//	empirical(0.5s:0 2s:0.5 10s:1)  (seconds:cumulative probability)
//
// Arguments are positional, in the order shown, or named as the scenario
// format names them ("median 4s", "median=4s" or "median: 4s").
func ParseDistribution(s string) (Distribution, error) {
	s = strings.TrimSpace(s)
	if name, args, ok := strings.Cut(s, "("); ok {
		return parseCall(s, strings.ToLower(strings.TrimSpace(name)), args)
	}
	lo, hi, isRange := strings.Cut(s, "..")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return nil, fmt.Errorf("delay %q: want a duration like 2s, a range like 1s..3s or a distribution like lognormal(median 4s, p99 10s): %v", s, err)
	}
	b := a
	if isRange {
		if b, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return nil, fmt.Errorf("delay %q: upper bound: %v", s, err)
		}
	}
	if a < 0 || b < a {
		return nil, fmt.Errorf("delay %q: want 0 <= min <= max", s)
	}
	if b > time.Hour {
		return nil, fmt.Errorf("delay %q: more than an hour", s)
	}
	if a == b {
		return Constant(a)
	}
	return Uniform(a, b)
}

// Params are each distribution's parameters, in positional order: the
// field names of a scenario's propagation block (docs/scenario-format.md)
// and of a --delay call's arguments. The one list both syntaxes read.
var Params = map[string][]string{
	"constant":    {"value"},
	"uniform":     {"min", "max"},
	"normal":      {"mean", "stddev"},
	"lognormal":   {"median", "p99"},
	"exponential": {"mean"},
	"pareto":      {"scale", "shape"},
	"empirical":   {"points"},
}

// Names are the distributions' names, in the order the docs list them.
var Names = []string{"constant", "uniform", "normal", "lognormal", "exponential", "pareto", "empirical"}

// parseCall parses the arguments of NAME(ARGS), args being what follows
// the parenthesis.
func parseCall(s, name, args string) (Distribution, error) {
	body, ok := strings.CutSuffix(strings.TrimSpace(args), ")")
	if !ok || strings.ContainsAny(body, "()") {
		return nil, fmt.Errorf("delay %q: want NAME(ARGUMENTS) with one closing parenthesis at the end", s)
	}
	if name == "empirical" {
		return parseEmpirical(s, body)
	}
	params, known := Params[name]
	if !known {
		return nil, fmt.Errorf("delay %q: unknown distribution %q; expected one of: %s", s, name, strings.Join(Names, ", "))
	}
	values := map[string]string{}
	parts := strings.Split(body, ",")
	if strings.TrimSpace(body) == "" {
		parts = nil
	}
	if len(parts) != len(params) {
		return nil, fmt.Errorf("delay %q: %s takes %s", s, name, strings.Join(params, ", "))
	}
	for i, part := range parts {
		key, v := params[i], strings.TrimSpace(part)
		if k, rest, named := cutName(v); named {
			key, v = k, rest
		}
		if !contains(params, key) {
			return nil, fmt.Errorf("delay %q: %s does not take %q; it takes: %s", s, name, key, strings.Join(params, ", "))
		}
		if _, dup := values[key]; dup {
			return nil, fmt.Errorf("delay %q: %s given twice", s, key)
		}
		values[key] = v
	}
	var err error
	dur := func(k string) time.Duration {
		d, e := time.ParseDuration(values[k])
		if e != nil && err == nil {
			err = fmt.Errorf("delay %q: %s: %v", s, k, e)
		}
		return d
	}
	var d Distribution
	var cerr error
	switch name {
	case "constant":
		d, cerr = Constant(dur("value"))
	case "uniform":
		d, cerr = Uniform(dur("min"), dur("max"))
	case "normal":
		d, cerr = Normal(dur("mean"), dur("stddev"))
	case "lognormal":
		d, cerr = LogNormal(dur("median"), dur("p99"))
	case "exponential":
		d, cerr = Exponential(dur("mean"))
	case "pareto":
		shape, e := strconv.ParseFloat(values["shape"], 64)
		if e != nil && err == nil {
			err = fmt.Errorf("delay %q: shape: want a number, got %q", s, values["shape"])
		}
		d, cerr = Pareto(dur("scale"), shape)
	}
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("delay %q: %w", s, cerr)
	}
	return d, nil
}

// cutName splits "median 4s", "median=4s" or "median: 4s" into the name
// and the value; a bare value ("4s") has no name.
func cutName(arg string) (name, value string, ok bool) {
	i := strings.IndexAny(arg, " =:")
	if i <= 0 {
		return "", arg, false
	}
	name = strings.ToLower(arg[:i])
	for j, r := range name {
		if !(r >= 'a' && r <= 'z' || j > 0 && r >= '0' && r <= '9') {
			return "", arg, false
		}
	}
	return name, strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(arg[i:]), "=:")), true
}

// parseEmpirical parses "0.5s:0 2s:0.5 10s:1" (spaces or commas between
// points).
func parseEmpirical(s, body string) (Distribution, error) {
	var points [][2]float64
	for _, tok := range strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		at, prob, ok := strings.Cut(tok, ":")
		if !ok {
			return nil, fmt.Errorf("delay %q: empirical point %q: want DURATION:PROBABILITY, e.g. 2s:0.5", s, tok)
		}
		d, err := time.ParseDuration(at)
		if err != nil {
			// Model.String writes seconds as Go floats: "1e-05s".
			secs, ferr := strconv.ParseFloat(strings.TrimSuffix(at, "s"), 64)
			if ferr != nil || !strings.HasSuffix(at, "s") {
				return nil, fmt.Errorf("delay %q: empirical point %q: %v", s, tok, err)
			}
			d = time.Duration(secs * float64(time.Second))
		}
		p, err := strconv.ParseFloat(prob, 64)
		if err != nil {
			return nil, fmt.Errorf("delay %q: empirical point %q: probability: want a number", s, tok)
		}
		points = append(points, [2]float64{d.Seconds(), p})
	}
	d, err := Empirical(points)
	if err != nil {
		return nil, fmt.Errorf("delay %q: %w", s, err)
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseModel parses a delay model, the syntax of a region server's --delay:
// "DIST[,origin>destination=DIST...][,revoke=DIST]", DIST being
// ParseDistribution's syntax (any distribution of a scenario's
// propagation block). The element without '=' is the default distribution
// (zero when absent); each origin>destination=DIST (or
// origin/destination=DIST, as '>' is a shell redirect) overrides one link;
// revoke=DIST is the distribution of changes that narrow access. Model's
// own description ("default DIST; link a>b DIST; revoke DIST") parses too,
// so a model printed by one program is read back by another. validRegion,
// if not nil, vets each region name of a link.
func ParseModel(s string, validRegion func(string) error) (*Model, error) {
	zero, _ := Constant(0)
	m := NewModel(zero)
	if strings.Contains(s, ";") || strings.HasPrefix(strings.TrimSpace(s), "default ") {
		return parseDescription(m, s, validRegion)
	}
	parts, err := splitTop(s)
	if err != nil {
		return nil, err
	}
	haveDefault := false
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		// A '=' inside a call's parentheses names an argument, not a link.
		link, dist, ok := strings.Cut(part, "=")
		if i := strings.Index(part, "("); i >= 0 && i < strings.Index(part, "=") {
			ok = false
		}
		if !ok {
			if haveDefault {
				return nil, fmt.Errorf("delay %q: a second default distribution; links are origin>destination=DIST", part)
			}
			d, err := ParseDistribution(part)
			if err != nil {
				return nil, err
			}
			m.def, haveDefault = d, true
			continue
		}
		if strings.TrimSpace(link) == "revoke" {
			d, err := ParseDistribution(dist)
			if err != nil {
				return nil, fmt.Errorf("revoke: %w", err)
			}
			m.SetRevoke(d)
			continue
		}
		if err := setLink(m, part, link, dist, validRegion); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// setLink parses origin>destination (or origin/destination) and DIST into
// a link of m; part is the whole element, for errors.
func setLink(m *Model, part, link, dist string, validRegion func(string) error) error {
	link = strings.TrimSpace(link)
	from, to, ok := strings.Cut(link, ">")
	if !ok {
		from, to, ok = strings.Cut(link, "/")
	}
	// Whatever the caller's rule, a name holding the syntax's own
	// characters would not read back from the model's description.
	ok = ok && !strings.ContainsAny(from, " \t\n\r;,=()>/") && !strings.ContainsAny(to, " \t\n\r;,=()>/")
	if ok && from != "" && to != "" && validRegion != nil {
		ok = validRegion(from) == nil && validRegion(to) == nil
	}
	if !ok || from == "" || to == "" {
		return fmt.Errorf("delay link %q: want origin>destination=DIST (or origin/destination=DIST)", part)
	}
	d, err := ParseDistribution(dist)
	if err != nil {
		return err
	}
	m.SetLink(from, to, d)
	return nil
}

// parseDescription parses Model.String's form into m.
func parseDescription(m *Model, s string, validRegion func(string) error) (*Model, error) {
	haveDefault := false
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		kind, rest, _ := strings.Cut(part, " ")
		rest = strings.TrimSpace(rest)
		switch kind {
		case "default", "revoke":
			if rest == "" {
				return nil, fmt.Errorf("delay %q: want %s DIST", part, kind)
			}
			d, err := ParseDistribution(rest)
			if err != nil {
				return nil, err
			}
			if kind == "revoke" {
				m.SetRevoke(d)
			} else {
				m.def, haveDefault = d, true
			}
		case "link":
			link, dist, ok := strings.Cut(rest, " ")
			if !ok {
				return nil, fmt.Errorf("delay %q: want link origin>destination DIST", part)
			}
			if err := setLink(m, part, link, dist, validRegion); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("delay %q: want default DIST, link origin>destination DIST or revoke DIST, separated by ';'", part)
		}
	}
	if !haveDefault {
		return nil, errors.New("delay: a model description starts with default DIST")
	}
	return m, nil
}

// splitTop splits s at the commas outside parentheses.
func splitTop(s string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("delay %q: a ')' without its '('", s)
			}
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("delay %q: a '(' without its ')'", s)
	}
	return append(parts, s[start:]), nil
}
