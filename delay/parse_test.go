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
