package delay

import (
	"fmt"
	"strings"
	"time"
)

// ParseDistribution parses the compact syntax of a region server's --delay
// flag: "2s" is Constant(2s), "1s..3s" is Uniform(1s, 3s). Bounds are 0 to
// an hour. (Scenario files name any distribution in YAML instead.)
func ParseDistribution(s string) (Distribution, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "..")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return nil, fmt.Errorf("delay %q: want a duration like 2s or a range like 1s..3s: %v", s, err)
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

// ParseModel parses "DIST[,origin>destination=DIST...]": the element
// without '=' is the default distribution (zero when absent), each
// origin>destination=DIST (or origin/destination=DIST, as '>' is a shell
// redirect) overrides one link; DIST is ParseDistribution's syntax.
// validRegion, if not nil, vets each region name of a link.
func ParseModel(s string, validRegion func(string) error) (*Model, error) {
	zero, _ := Constant(0)
	m := NewModel(zero)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		link, dist, ok := strings.Cut(part, "=")
		if !ok {
			d, err := ParseDistribution(part)
			if err != nil {
				return nil, err
			}
			m.def = d
			continue
		}
		from, to, ok := strings.Cut(link, ">")
		if !ok {
			from, to, ok = strings.Cut(link, "/")
		}
		if ok && from != "" && to != "" && validRegion != nil {
			ok = validRegion(from) == nil && validRegion(to) == nil
		}
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("delay link %q: want origin>destination=DIST (or origin/destination=DIST)", part)
		}
		d, err := ParseDistribution(dist)
		if err != nil {
			return nil, err
		}
		m.SetLink(from, to, d)
	}
	return m, nil
}
