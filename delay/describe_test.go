package delay

import (
	"strings"
	"testing"
	"time"
)

func TestModelString(t *testing.T) {
	c := func(d time.Duration) Distribution { v, _ := Constant(d); return v }
	ln, _ := LogNormal(4*time.Second, 12*time.Second)
	e1, _ := Empirical([][2]float64{{1, 0.5}, {2, 1}})
	e2, _ := Empirical([][2]float64{{1, 0.5}, {3, 1}})
	flag, err := ParseModel("2s,us-east-2>eu-west-1=6s,ap-southeast-2/eu-west-1=1s..3s", nil)
	if err != nil {
		t.Fatal(err)
	}
	built := NewModel(c(2 * time.Second))
	u, _ := Uniform(time.Second, 3*time.Second)
	built.SetLink("ap-southeast-2", "eu-west-1", u)
	built.SetLink("us-east-2", "eu-west-1", c(6*time.Second))
	withRevoke := NewModel(ln)
	withRevoke.SetRevoke(c(time.Second))
	tests := []struct {
		name string
		m    *Model
		want string
	}{
		{"nil applies at once", nil, "default constant(0s)"},
		{"flag and code alike, links sorted", flag, "default constant(2s); link ap-southeast-2>eu-west-1 uniform(1s, 3s); link us-east-2>eu-west-1 constant(6s)"},
		{"built in another order", built, "default constant(2s); link ap-southeast-2>eu-west-1 uniform(1s, 3s); link us-east-2>eu-west-1 constant(6s)"},
		{"revoke", withRevoke, "default lognormal(median 4s, p99 12s); revoke constant(1s)"},
		{"empirical points", NewModel(e1), "default empirical(1s:0.5 2s:1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	if a, b := NewModel(e1).String(), NewModel(e2).String(); a == b || !strings.Contains(b, "3s:1") {
		t.Errorf("two empirical models describe alike: %q", a)
	}
}
