package delay_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
)

// mustDist panics on a constructor error: the parameters in these tests are valid by construction.
func mustDist(d delay.Distribution, err error) delay.Distribution {
	if err != nil {
		panic(err)
	}
	return d
}

// TestQuantileCDFRoundTrip checks that Quantile inverts CDF for every family:
// CDF(Quantile(p)) == p for continuous families (up to the nanosecond rounding
// of durations), and Quantile(CDF(x)) == x inside the support.
func TestQuantileCDFRoundTrip(t *testing.T) {
	emp, err := delay.Empirical([][2]float64{{0.5, 0}, {1, 0.3}, {2, 0.9}, {10, 1}})
	cases := []struct {
		name string
		d    delay.Distribution
		err  error
	}{
		{"uniform", nil, nil},
		{"normal", nil, nil},
		{"normal-truncated", nil, nil},
		{"lognormal", nil, nil},
		{"exponential", nil, nil},
		{"pareto", nil, nil},
		{"empirical", emp, err},
	}
	cases[0].d, cases[0].err = delay.Uniform(20*time.Millisecond, 120*time.Millisecond)
	cases[1].d, cases[1].err = delay.Normal(4*time.Second, time.Second)
	cases[2].d, cases[2].err = delay.Normal(100*time.Millisecond, 200*time.Millisecond)
	cases[3].d, cases[3].err = delay.LogNormal(4*time.Second, 12*time.Second)
	cases[4].d, cases[4].err = delay.Exponential(3 * time.Second)
	cases[5].d, cases[5].err = delay.Pareto(time.Second, 2.5)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustDist(c.d, c.err)
			for i := 1; i < 100; i++ {
				p := float64(i) / 100
				q := d.Quantile(p)
				if got := d.CDF(q); math.Abs(got-p) > 1e-6 {
					t.Errorf("%s: CDF(Quantile(%v)) = CDF(%s) = %v", d, p, q, got)
				}
				if back := d.Quantile(d.CDF(q)); (back - q).Abs() > time.Microsecond {
					t.Errorf("%s: Quantile(CDF(%s)) = %s", d, q, back)
				}
			}
			if q0, q1 := d.Quantile(0.25), d.Quantile(0.75); q0 > q1 {
				t.Errorf("%s: quantiles decrease: q(0.25) %s > q(0.75) %s", d, q0, q1)
			}
		})
	}
}

// TestConstantIsAStep checks the one discrete family, which a KS check cannot.
func TestConstantIsAStep(t *testing.T) {
	d := mustDist(delay.Constant(6 * time.Second))
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {6*time.Second - 1, 0}, {6 * time.Second, 1}, {time.Hour, 1}}
	for _, tt := range tests {
		if got := d.CDF(tt.at); got != tt.want {
			t.Errorf("CDF(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
	for i := 0; i < 100; i++ {
		if s := d.Sample(r); s != 6*time.Second {
			t.Fatalf("sample %d = %s", i, s)
		}
	}
	if q := d.Quantile(0.5); q != 6*time.Second {
		t.Errorf("Quantile(0.5) = %s", q)
	}
}

// TestSamplesDeterministic: the same seed gives the same sample sequence, a
// different seed a different one (for every non-constant family).
func TestSamplesDeterministic(t *testing.T) {
	const seed = 7
	dists := []delay.Distribution{
		mustDist(delay.Uniform(0, time.Second)),
		mustDist(delay.Normal(time.Second, 300*time.Millisecond)),
		mustDist(delay.LogNormal(time.Second, 5*time.Second)),
		mustDist(delay.Exponential(time.Second)),
		mustDist(delay.Pareto(time.Second, 1.5)),
		mustDist(delay.Empirical([][2]float64{{0, 0}, {1, 1}})),
	}
	for _, d := range dists {
		draw := func(s uint64) []time.Duration {
			r := rand.New(rand.NewPCG(s, s))
			out := make([]time.Duration, 50)
			for i := range out {
				out[i] = d.Sample(r)
			}
			return out
		}
		a, b, c := draw(seed), draw(seed), draw(seed+1)
		same := true
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: seed %d: sample %d differs between runs: %s vs %s", d, seed, i, a[i], b[i])
			}
			same = same && a[i] == c[i]
		}
		if same {
			t.Errorf("%s: seeds %d and %d drew identical sequences", d, seed, seed+1)
		}
	}
}

// TestModelSelection: a revoke distribution wins over a link override, a link
// override over the default, and links are directed.
func TestModelSelection(t *testing.T) {
	def := mustDist(delay.Constant(time.Second))
	link := mustDist(delay.Constant(6 * time.Second))
	rev := mustDist(delay.Constant(30 * time.Second))
	m := delay.NewModel(def)
	m.SetLink("us-east-2", "eu-west-1", link)
	r := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		name           string
		from, to       string
		revoke, hasRev bool
		want           time.Duration
	}{
		{"default", "eu-west-1", "ap-southeast-2", false, false, time.Second},
		{"link", "us-east-2", "eu-west-1", false, false, 6 * time.Second},
		{"link is directed", "eu-west-1", "us-east-2", false, false, time.Second},
		{"revoke without revoke dist uses link", "us-east-2", "eu-west-1", true, false, 6 * time.Second},
		{"revoke wins over link", "us-east-2", "eu-west-1", true, true, 30 * time.Second},
		{"revoke wins over default", "eu-west-1", "ap-southeast-2", true, true, 30 * time.Second},
		{"grant ignores revoke dist", "us-east-2", "eu-west-1", false, true, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hasRev {
				m.SetRevoke(rev)
			} else {
				m.SetRevoke(nil)
			}
			if got := m.Sample(tt.from, tt.to, tt.revoke, r); got != tt.want {
				t.Errorf("Sample(%s -> %s, revoke %v) = %s, want %s", tt.from, tt.to, tt.revoke, got, tt.want)
			}
		})
	}
}

// FuzzEmpirical: whatever points are given, Empirical either refuses them or
// yields a distribution whose CDF is in [0, 1] and non-decreasing, whose
// quantiles stay inside [first, last] point, and whose samples are never negative.
func FuzzEmpirical(f *testing.F) {
	f.Add(0.0, 0.0, 1.0, 0.5, 2.0, 1.0, 0.7)
	f.Add(1.0, 0.2, 1.0, 0.2, 1.0, 1.0, 0.2)
	f.Fuzz(func(t *testing.T, x0, p0, x1, p1, x2, p2, q float64) {
		pts := [][2]float64{{x0, p0}, {x1, p1}, {x2, p2}}
		d, err := delay.Empirical(pts)
		if err != nil {
			return
		}
		lo, hi := time.Duration(math.Round(x0*1e9)), time.Duration(math.Round(x2*1e9))
		if x2 > 1e9 { // beyond int64 nanoseconds durations saturate
			return
		}
		if q >= 0 && q <= 1 {
			v := d.Quantile(q)
			if v < lo-1 || v > hi+1 {
				t.Fatalf("points %v: Quantile(%v) = %s outside [%s, %s]", pts, q, v, lo, hi)
			}
		}
		prev := -1.0
		for _, x := range []float64{0, x0, (x0 + x1) / 2, x1, (x1 + x2) / 2, x2, x2 + 1} {
			c := d.CDF(time.Duration(math.Round(x * 1e9)))
			if c < 0 || c > 1 || math.IsNaN(c) {
				t.Fatalf("points %v: CDF(%v s) = %v", pts, x, c)
			}
			if c < prev-1e-9 {
				t.Fatalf("points %v: CDF decreases at %v s: %v < %v", pts, x, c, prev)
			}
			prev = c
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 10; i++ {
			if s := d.Sample(r); s < 0 {
				t.Fatalf("points %v: negative sample %s", pts, s)
			}
		}
	})
}
