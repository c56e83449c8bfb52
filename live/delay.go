package live

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Dist is a simple propagation-delay distribution for the live cluster:
// a constant, or uniform between Min and Max. (Scenarios use the richer
// distributions of package delay; a region server on the command line
// needs only these.)
type Dist struct {
	Min, Max time.Duration
}

// ParseDist parses "2s" (constant) or "1s..3s" (uniform).
func ParseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	lo, hi, uniform := strings.Cut(s, "..")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return Dist{}, fmt.Errorf("delay %q: want a duration like 2s or a range like 1s..3s: %v", s, err)
	}
	b := a
	if uniform {
		if b, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return Dist{}, fmt.Errorf("delay %q: upper bound: %v", s, err)
		}
	}
	if a < 0 || b < a {
		return Dist{}, fmt.Errorf("delay %q: want 0 <= min <= max", s)
	}
	if b > time.Hour {
		return Dist{}, fmt.Errorf("delay %q: more than an hour", s)
	}
	return Dist{Min: a, Max: b}, nil
}

func (d Dist) sample(r *rand.Rand) time.Duration {
	if d.Max <= d.Min {
		return d.Min
	}
	return d.Min + time.Duration(r.Int64N(int64(d.Max-d.Min)+1))
}

// String renders the distribution in ParseDist's syntax.
func (d Dist) String() string {
	if d.Max <= d.Min {
		return d.Min.String()
	}
	return d.Min.String() + ".." + d.Max.String()
}

// LinkDelay is a replication.DelayModel: a default distribution and
// optional per-link overrides ("origin>destination").
type LinkDelay struct {
	Default Dist
	Links   map[string]Dist // key "us-east-2>eu-west-1"
}

// ParseLinkDelay parses "2s" or "1s..3s,us-east-2>eu-west-1=6s,...": the
// element without '=' is the default; each origin>dest=DIST (or
// origin/dest=DIST) overrides one link.
func ParseLinkDelay(s string) (*LinkDelay, error) {
	ld := &LinkDelay{Links: map[string]Dist{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		link, dist, ok := strings.Cut(part, "=")
		if !ok {
			d, err := ParseDist(part)
			if err != nil {
				return nil, err
			}
			ld.Default = d
			continue
		}
		// "/" is accepted as well as ">", which a shell takes for a redirect.
		from, to, ok := strings.Cut(link, ">")
		if !ok {
			from, to, ok = strings.Cut(link, "/")
		}
		if !ok || validRegion(from) != nil || validRegion(to) != nil {
			return nil, fmt.Errorf("delay link %q: want origin>destination=DIST (or origin/destination=DIST)", part)
		}
		d, err := ParseDist(dist)
		if err != nil {
			return nil, err
		}
		ld.Links[from+">"+to] = d
	}
	return ld, nil
}

// Sample draws the delay from origin to dest.
func (l *LinkDelay) Sample(origin, dest string, revoke bool, r *rand.Rand) time.Duration {
	if d, ok := l.Links[origin+">"+dest]; ok {
		return d.sample(r)
	}
	return l.Default.sample(r)
}
