package delay

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// must panics on a constructor error: the parameters below are valid by construction.
func must(d Distribution, err error) Distribution {
	if err != nil {
		panic(err)
	}
	return d
}

// TestSamplesMatchCDF draws seeded samples from each distribution and checks
// the Kolmogorov-Smirnov distance between the sample and the CDF.
func TestSamplesMatchCDF(t *testing.T) {
	const seed, n = 42, 20000
	cases := []struct {
		name string
		d    Distribution
		err  error
	}{}
	add := func(name string, d Distribution, err error) {
		cases = append(cases, struct {
			name string
			d    Distribution
			err  error
		}{name, d, err})
	}
	d, err := Uniform(20*time.Millisecond, 120*time.Millisecond)
	add("uniform", d, err)
	d, err = Normal(time.Second, 400*time.Millisecond)
	add("normal", d, err)
	d, err = LogNormal(4*time.Second, 12*time.Second)
	add("lognormal", d, err)
	d, err = Exponential(2 * time.Second)
	add("exponential", d, err)
	d, err = Pareto(time.Second, 2.5)
	add("pareto", d, err)
	d, err = Empirical([][2]float64{{0.5, 0}, {1, 0.5}, {3, 0.9}, {10, 1}})
	add("empirical", d, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Fatal(c.err)
			}
			dist := c.d
			r := rand.New(rand.NewPCG(seed, 0))
			xs := make([]time.Duration, n)
			for i := range xs {
				xs[i] = dist.Sample(r)
			}
			slices.Sort(xs)
			ks := 0.0
			for i, x := range xs {
				f := dist.CDF(x)
				ks = math.Max(ks, math.Max(math.Abs(f-float64(i+1)/n), math.Abs(f-float64(i)/n)))
			}
			if ks > 0.02 {
				t.Errorf("seed %d: KS distance %.4f > 0.02", seed, ks)
			}
			for _, p := range []float64{0.1, 0.5, 0.9} {
				if got := dist.CDF(dist.Quantile(p)); math.Abs(got-p) > 1e-3 {
					t.Errorf("CDF(Quantile(%v)) = %v", p, got)
				}
			}
		})
	}
}

func TestLogNormalQuantiles(t *testing.T) {
	d := must(LogNormal(4*time.Second, 12*time.Second))
	if q := d.Quantile(0.5); (q - 4*time.Second).Abs() > time.Millisecond {
		t.Errorf("median = %s", q)
	}
	if q := d.Quantile(0.99); (q - 12*time.Second).Abs() > 10*time.Millisecond {
		t.Errorf("p99 = %s", q)
	}
}

func TestParameterErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{}
	add := func(name string, _ Distribution, err error) {
		cases = append(cases, struct {
			name string
			err  error
		}{name, err})
	}
	_, err := Constant(-time.Second)
	add("negative constant", nil, err)
	_, err = Uniform(2*time.Second, time.Second)
	add("uniform min > max", nil, err)
	_, err = Normal(time.Second, -time.Second)
	add("negative stddev", nil, err)
	_, err = LogNormal(4*time.Second, 2*time.Second)
	add("lognormal p99 < median", nil, err)
	_, err = Exponential(0)
	add("zero mean", nil, err)
	_, err = Pareto(time.Second, 0)
	add("zero shape", nil, err)
	_, err = Empirical([][2]float64{{1, 0.5}, {0.5, 1}})
	add("empirical decreasing", nil, err)
	_, err = Empirical([][2]float64{{1, 0.5}, {2, 0.9}})
	add("empirical not ending at 1", nil, err)
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: want an error", c.name)
		}
	}
}

func TestModelDeterministicAndOverrides(t *testing.T) {
	def := must(LogNormal(4*time.Second, 12*time.Second))
	link := must(Constant(6 * time.Second))
	rev := must(Constant(time.Second))
	m := NewModel(def)
	m.SetLink("us-east-2", "eu-west-1", link)
	if got := m.Sample("us-east-2", "eu-west-1", false, rand.New(rand.NewPCG(1, 2))); got != 6*time.Second {
		t.Errorf("link override: %s", got)
	}
	m.SetRevoke(rev)
	if got := m.Sample("us-east-2", "eu-west-1", true, rand.New(rand.NewPCG(1, 2))); got != time.Second {
		t.Errorf("revoke: %s", got)
	}
	a := m.Sample("a", "b", false, rand.New(rand.NewPCG(7, 7)))
	b := m.Sample("a", "b", false, rand.New(rand.NewPCG(7, 7)))
	if a != b {
		t.Errorf("same seed, different samples: %s vs %s", a, b)
	}
}
