// Package delay provides the propagation-delay distributions of the scenario
// format and per-link delay models. It is pure: randomness is passed in.
package delay

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Distribution is a non-negative delay distribution.
type Distribution interface {
	// Sample draws one delay from r.
	Sample(r *rand.Rand) time.Duration
	// CDF is P(delay <= d).
	CDF(d time.Duration) float64
	// Quantile is the smallest d with CDF(d) >= p, for p in [0, 1].
	Quantile(p float64) time.Duration
	// String names the distribution and its parameters.
	String() string
}

func seconds(d time.Duration) float64 { return d.Seconds() }
func dur(s float64) time.Duration {
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	if s > math.MaxInt64/1e9 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * 1e9))
}

type constant struct{ v time.Duration }

// Constant is always v.
func Constant(v time.Duration) (Distribution, error) {
	if v < 0 {
		return nil, fmt.Errorf("constant: value must not be negative, got %s", v)
	}
	return constant{v}, nil
}

func (c constant) Sample(*rand.Rand) time.Duration { return c.v }
func (c constant) CDF(d time.Duration) float64 {
	if d >= c.v {
		return 1
	}
	return 0
}
func (c constant) Quantile(float64) time.Duration { return c.v }
func (c constant) String() string                 { return fmt.Sprintf("constant(%s)", c.v) }

type uniform struct{ min, max time.Duration }

// Uniform is uniform on [min, max].
func Uniform(min, max time.Duration) (Distribution, error) {
	if min < 0 || max < min {
		return nil, fmt.Errorf("uniform: need 0 <= min <= max, got min %s, max %s", min, max)
	}
	return uniform{min, max}, nil
}

func (u uniform) Sample(r *rand.Rand) time.Duration {
	if u.max == u.min {
		return u.min
	}
	return u.min + time.Duration(r.Int64N(int64(u.max-u.min)+1))
}
func (u uniform) CDF(d time.Duration) float64 {
	switch {
	case d < u.min:
		return 0
	case d >= u.max:
		return 1
	}
	return float64(d-u.min) / float64(u.max-u.min)
}
func (u uniform) Quantile(p float64) time.Duration {
	return u.min + time.Duration(p*float64(u.max-u.min))
}
func (u uniform) String() string { return fmt.Sprintf("uniform(%s, %s)", u.min, u.max) }

type normal struct{ mean, stddev float64 }

// Normal is a normal distribution truncated at 0 (redrawn below 0).
func Normal(mean, stddev time.Duration) (Distribution, error) {
	if mean < 0 || stddev < 0 {
		return nil, fmt.Errorf("normal: mean and stddev must not be negative, got %s, %s", mean, stddev)
	}
	return normal{seconds(mean), seconds(stddev)}, nil
}

func (n normal) Sample(r *rand.Rand) time.Duration {
	if n.stddev == 0 {
		return dur(n.mean)
	}
	for i := 0; i < 64; i++ {
		if x := n.mean + n.stddev*r.NormFloat64(); x >= 0 {
			return dur(x)
		}
	}
	return 0
}

func phi(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func (n normal) CDF(d time.Duration) float64 {
	x := seconds(d)
	if x < 0 {
		return 0
	}
	if n.stddev == 0 {
		if x >= n.mean {
			return 1
		}
		return 0
	}
	p0 := phi(-n.mean / n.stddev)
	return (phi((x-n.mean)/n.stddev) - p0) / (1 - p0)
}
func (n normal) Quantile(p float64) time.Duration {
	if n.stddev == 0 {
		return dur(n.mean)
	}
	p0 := phi(-n.mean / n.stddev)
	q := p0 + p*(1-p0)
	return dur(n.mean + n.stddev*math.Sqrt2*math.Erfinv(2*q-1))
}
func (n normal) String() string { return fmt.Sprintf("normal(%s, %s)", dur(n.mean), dur(n.stddev)) }

// z99 is the standard normal 0.99 quantile.
var z99 = math.Sqrt2 * math.Erfinv(2*0.99-1)

type logNormal struct{ mu, sigma float64 }

// LogNormal is the lognormal distribution with the given median and 99th percentile.
func LogNormal(median, p99 time.Duration) (Distribution, error) {
	if median <= 0 || p99 < median {
		return nil, fmt.Errorf("lognormal: need 0 < median <= p99, got median %s, p99 %s", median, p99)
	}
	return logNormal{math.Log(seconds(median)), math.Log(seconds(p99)/seconds(median)) / z99}, nil
}

func (l logNormal) Sample(r *rand.Rand) time.Duration {
	return dur(math.Exp(l.mu + l.sigma*r.NormFloat64()))
}
func (l logNormal) CDF(d time.Duration) float64 {
	x := seconds(d)
	if x <= 0 {
		return 0
	}
	if l.sigma == 0 {
		if math.Log(x) >= l.mu {
			return 1
		}
		return 0
	}
	return phi((math.Log(x) - l.mu) / l.sigma)
}
func (l logNormal) Quantile(p float64) time.Duration {
	return dur(math.Exp(l.mu + l.sigma*math.Sqrt2*math.Erfinv(2*p-1)))
}
func (l logNormal) String() string {
	return fmt.Sprintf("lognormal(median %s, p99 %s)", dur(math.Exp(l.mu)), dur(math.Exp(l.mu+l.sigma*z99)))
}

type exponential struct{ mean float64 }

// Exponential has the given mean.
func Exponential(mean time.Duration) (Distribution, error) {
	if mean <= 0 {
		return nil, fmt.Errorf("exponential: mean must be positive, got %s", mean)
	}
	return exponential{seconds(mean)}, nil
}

func (e exponential) Sample(r *rand.Rand) time.Duration { return dur(r.ExpFloat64() * e.mean) }
func (e exponential) CDF(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return 1 - math.Exp(-seconds(d)/e.mean)
}
func (e exponential) Quantile(p float64) time.Duration { return dur(-e.mean * math.Log(1-p)) }
func (e exponential) String() string                   { return fmt.Sprintf("exponential(mean %s)", dur(e.mean)) }

type pareto struct{ scale, shape float64 }

// Pareto is the Pareto (type I) distribution: P(X > x) = (scale/x)^shape for x >= scale.
func Pareto(scale time.Duration, shape float64) (Distribution, error) {
	if scale <= 0 || !(shape > 0) {
		return nil, fmt.Errorf("pareto: need scale > 0 and shape > 0, got scale %s, shape %v", scale, shape)
	}
	return pareto{seconds(scale), shape}, nil
}

func (p pareto) Sample(r *rand.Rand) time.Duration {
	u := 1 - r.Float64() // (0, 1]
	return dur(p.scale / math.Pow(u, 1/p.shape))
}
func (p pareto) CDF(d time.Duration) float64 {
	x := seconds(d)
	if x < p.scale {
		return 0
	}
	return 1 - math.Pow(p.scale/x, p.shape)
}
func (p pareto) Quantile(q float64) time.Duration {
	if q >= 1 {
		return time.Duration(math.MaxInt64)
	}
	return dur(p.scale / math.Pow(1-q, 1/p.shape))
}
func (p pareto) String() string {
	return fmt.Sprintf("pareto(scale %s, shape %v)", dur(p.scale), p.shape)
}

type empirical struct{ x, p []float64 }

// Empirical interpolates linearly between the points of a cumulative
// distribution: [seconds, cumulative probability], both non-decreasing, the
// last probability 1.
func Empirical(points [][2]float64) (Distribution, error) {
	if len(points) == 0 {
		return nil, errors.New("empirical: need at least one point")
	}
	e := empirical{}
	for i, pt := range points {
		x, p := pt[0], pt[1]
		if x < 0 || p < 0 || p > 1 || math.IsNaN(x) || math.IsNaN(p) {
			return nil, fmt.Errorf("empirical: point %d [%v, %v]: seconds must be >= 0 and probability in [0, 1]", i, x, p)
		}
		if i > 0 && (x < e.x[i-1] || p < e.p[i-1]) {
			return nil, fmt.Errorf("empirical: point %d [%v, %v]: seconds and probabilities must not decrease", i, x, p)
		}
		e.x = append(e.x, x)
		e.p = append(e.p, p)
	}
	if e.p[len(e.p)-1] != 1 {
		return nil, fmt.Errorf("empirical: the last cumulative probability must be 1, got %v", e.p[len(e.p)-1])
	}
	return e, nil
}

func (e empirical) Sample(r *rand.Rand) time.Duration { return e.Quantile(r.Float64()) }
func (e empirical) CDF(d time.Duration) float64 {
	x := seconds(d)
	if x < e.x[0] {
		return 0
	}
	i := sort.SearchFloat64s(e.x, x)
	if i >= len(e.x) {
		return 1
	}
	if e.x[i] == x {
		for i+1 < len(e.x) && e.x[i+1] == x {
			i++
		}
		return e.p[i]
	}
	// e.x[i-1] < x < e.x[i]
	f := (x - e.x[i-1]) / (e.x[i] - e.x[i-1])
	return e.p[i-1] + f*(e.p[i]-e.p[i-1])
}
func (e empirical) Quantile(q float64) time.Duration {
	if q <= e.p[0] {
		return dur(e.x[0])
	}
	i := sort.SearchFloat64s(e.p, q)
	if i >= len(e.p) {
		return dur(e.x[len(e.x)-1])
	}
	if e.p[i] == e.p[i-1] {
		return dur(e.x[i])
	}
	f := (q - e.p[i-1]) / (e.p[i] - e.p[i-1])
	return dur(e.x[i-1] + f*(e.x[i]-e.x[i-1]))
}
func (e empirical) String() string { return fmt.Sprintf("empirical(%d points)", len(e.x)) }

// Model is a propagation delay model: a default distribution, per-link
// overrides, and optionally a separate distribution for revoking changes.
// It implements replication.DelayModel.
type Model struct {
	def    Distribution
	links  map[[2]string]Distribution
	revoke Distribution
}

// NewModel returns a model that uses def on every link.
func NewModel(def Distribution) *Model { return &Model{def: def, links: map[[2]string]Distribution{}} }

// SetLink overrides the distribution from origin to dest.
func (m *Model) SetLink(origin, dest string, d Distribution) { m.links[[2]string{origin, dest}] = d }

// SetRevoke sets the distribution used for changes that narrow access.
func (m *Model) SetRevoke(d Distribution) { m.revoke = d }

// Distribution returns the distribution that applies to one mutation on one link.
func (m *Model) Distribution(origin, dest string, revoke bool) Distribution {
	if revoke && m.revoke != nil {
		return m.revoke
	}
	if d, ok := m.links[[2]string{origin, dest}]; ok {
		return d
	}
	return m.def
}

// Sample draws the commit-to-apply delay of one mutation on one link.
func (m *Model) Sample(origin, dest string, revoke bool, r *rand.Rand) time.Duration {
	return m.Distribution(origin, dest, revoke).Sample(r)
}
