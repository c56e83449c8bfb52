package delay

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseModel(t *testing.T) {
	noSpace := func(r string) error {
		if strings.ContainsAny(r, " !") {
			return errors.New("bad region")
		}
		return nil
	}
	cases := []struct {
		in   string
		ok   bool
		from string // link looked up (to eu-west-1)
		want string // its distribution
	}{
		{"2s", true, "x", "constant(2s)"},
		{"1s..3s", true, "x", "uniform(1s, 3s)"},
		{" 1s .. 3s ", true, "x", "uniform(1s, 3s)"},
		{"2s..2s", true, "x", "constant(2s)"},
		{"", true, "x", "constant(0s)"},
		{"1s,us-east-2>eu-west-1=6s", true, "us-east-2", "constant(6s)"},
		{"1s,us-east-2>eu-west-1=6s", true, "ap-south-1", "constant(1s)"},
		{"1s,us-east-2/eu-west-1=2s..4s", true, "us-east-2", "uniform(2s, 4s)"},
		{"3s..1s", false, "", ""},
		{"-1s", false, "", ""},
		{"soon", false, "", ""},
		{"1s..later", false, "", ""},
		{"a>b", false, "", ""},
		{"2h", false, "", ""},
		{">eu-west-1=1s", false, "", ""},
		{"us east>eu-west-1=1s", false, "", ""},
		{"us-east-2>eu-west-1=soon", false, "", ""},
	}
	for _, tc := range cases {
		m, err := ParseModel(tc.in, noSpace)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if got := m.Distribution(tc.from, "eu-west-1", false).String(); got != tc.want {
			t.Errorf("%q: %s>eu-west-1 is %s, want %s", tc.in, tc.from, got, tc.want)
		}
	}
}

// TestParsedDrawsAreStable pins the draws of a parsed model to the formula
// the region server has always used (min + Int64N(max-min+1), no draw for
// a constant), so a seeded live cluster keeps its apply instants.
func TestParsedDrawsAreStable(t *testing.T) {
	m, err := ParseModel("250ms,a>b=1s..3s", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := rand.New(rand.NewPCG(7, 9)), rand.New(rand.NewPCG(7, 9))
	for i := range 1000 {
		if d := m.Sample("x", "y", i%2 == 0, got); d != 250*time.Millisecond {
			t.Fatalf("default draw %d = %s, want 250ms", i, d)
		}
		lo, hi := time.Second, 3*time.Second
		if d, w := m.Sample("a", "b", false, got), lo+time.Duration(want.Int64N(int64(hi-lo)+1)); d != w {
			t.Fatalf("link draw %d = %s, want %s", i, d, w)
		}
	}
}

// Every distribution a scenario's propagation block takes is also written
// as a call, the way Model.String describes it, positionally or by name.
func TestParseDistributionCalls(t *testing.T) {
	cases := []struct {
		in   string
		want string // the distribution's description, or "" for an error
	}{
		{"constant(2s)", "constant(2s)"},
		{"constant(value 2s)", "constant(2s)"},
		{"uniform(1s, 3s)", "uniform(1s, 3s)"},
		{"uniform(min=1s, max=3s)", "uniform(1s, 3s)"},
		{"normal(4s, 1s)", "normal(4s, 1s)"},
		{"normal(mean: 4s, stddev: 1s)", "normal(4s, 1s)"},
		{"lognormal(median 4s, p99 10s)", "lognormal(median 4s, p99 10s)"},
		{" LogNormal( p99=10s , median=4s ) ", "lognormal(median 4s, p99 10s)"},
		{"lognormal(4m30s, 10m)", "lognormal(median 4m30s, p99 10m0s)"},
		{"exponential(mean 3s)", "exponential(mean 3s)"},
		{"exponential(3s)", "exponential(mean 3s)"},
		{"pareto(scale 1s, shape 2.5)", "pareto(scale 1s, shape 2.5)"},
		{"pareto(1s, 2.5)", "pareto(scale 1s, shape 2.5)"},
		{"empirical(0.5s:0 1s:0.3 2s:0.9 10s:1)", "empirical(4 points)"},
		{"empirical(500ms:0, 1s:0.3, 2s:0.9, 10s:1)", "empirical(4 points)"},
		{"empirical(1e-05s:0 1s:1)", "empirical(2 points)"},
		{"gamma(2s)", ""},
		{"lognormal(median 4s)", ""},
		{"lognormal(median 10s, p99 4s)", ""},
		{"lognormal(4s, 10s, 20s)", ""},
		{"lognormal(median 4s, mean 10s)", ""},
		{"lognormal(median 4s, median 5s)", ""},
		{"lognormal(median 4s, p99 10s", ""},
		{"lognormal(median 4s, p99 10s)x", ""},
		{"pareto(scale 1s, shape many)", ""},
		{"uniform(3s, 1s)", ""},
		{"exponential(mean soon)", ""},
		{"empirical(1s:0.5 2s:0.9)", ""},
		{"empirical(1s 0.5)", ""},
		{"constant()", ""},
	}
	for _, tc := range cases {
		d, err := ParseDistribution(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: got %s, want an error", tc.in, d)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.want != "" && d.String() != tc.want:
			t.Errorf("%q: got %s, want %s", tc.in, d, tc.want)
		}
	}
}

// A model's description parses back to the same model, and the compact
// form takes calls, per-link calls and a revoke distribution: one syntax
// for a region server's --delay and a scenario's propagation block.
func TestParseModelTakesEveryDistribution(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"lognormal(median 4s, p99 10s)", "default lognormal(median 4s, p99 10s)"},
		{"lognormal(median 4s, p99 10s),us-east-2>eu-west-1=pareto(scale 1s, shape 2.5),revoke=exponential(mean 3s)",
			"default lognormal(median 4s, p99 10s); link us-east-2>eu-west-1 pareto(scale 1s, shape 2.5); revoke exponential(mean 3s)"},
		{"1s..3s, us-east-2/eu-west-1=normal(mean=4s, stddev=1s)", "default uniform(1s, 3s); link us-east-2>eu-west-1 normal(4s, 1s)"},
		{"default constant(2s); link a>b empirical(0s:0 1s:0.5 2s:1); revoke uniform(1s, 2s)",
			"default constant(2s); link a>b empirical(0s:0 1s:0.5 2s:1); revoke uniform(1s, 2s)"},
	}
	for _, tc := range cases {
		m, err := ParseModel(tc.in, nil)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := m.String(); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
		back, err := ParseModel(m.String(), nil)
		if err != nil || back.String() != m.String() {
			t.Errorf("%q: its description %q parses back to %v (%v)", tc.in, m.String(), back, err)
		}
	}
	for _, bad := range []string{"revoke=", "revoke=gamma(1s)", "lognormal(median 4s, p99 10s", "default", "link a>b", "link a 2s", "a>b=lognormal(4s)", "2s,3s"} {
		if m, err := ParseModel(bad, nil); err == nil {
			t.Errorf("%q: got %s, want an error", bad, m)
		}
	}
}

// Whatever ParseModel accepts describes itself in a form it reads back.
func FuzzParseModel(f *testing.F) {
	for _, s := range []string{"2s", "1s..3s,a>b=4s", "lognormal(median 4s, p99 10s),revoke=exponential(3s)",
		"default constant(2s); link a>b empirical(0s:0 1s:0.5 2s:1)", "pareto(scale=1s, shape=2.5),a/b=normal(4s,1s)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseModel(s, nil)
		if err != nil {
			return
		}
		back, err := ParseModel(m.String(), nil)
		if err != nil {
			t.Fatalf("%q parses, its description %q does not: %v", s, m.String(), err)
		}
		if back.String() != m.String() {
			t.Fatalf("%q: %q reads back as %q", s, m.String(), back.String())
		}
	})
}
