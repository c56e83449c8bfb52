package bench

import (
	"fmt"
	"strings"
	"testing"
)

// TestEquivalent: both engines decide every benchmark request as AWS would,
// so the benchmark compares equal work. (Cedar's PolicySet IDs come from the
// @id annotations; the rendering must parse.)
func TestEquivalent(t *testing.T) {
	ip, err := NewIAMProp()
	if err != nil {
		t.Fatal(err)
	}
	ce, err := NewCedar()
	if err != nil {
		t.Fatalf("cedar: %v\n%s", err, cedarPolicySet())
	}
	for i, r := range Requests {
		if got := ce.Decide(i); got != r.Want {
			t.Errorf("cedar decides %s as %s, want %s", r.Name, got, r.Want)
		}
		if got := ip.Decide(i); got != r.Want {
			t.Errorf("iamprop decides %s as %s, want %s", r.Name, got, r.Want)
		}
	}
}

func TestPolicySetShape(t *testing.T) {
	if d := Describe(); !strings.HasPrefix(d, "100 identity statements in 10 managed policies") {
		t.Errorf("policy set is %s", d)
	}
}

// BenchmarkDecision decides each request with both engines in one run:
//
//	cd bench && go test -bench . -benchmem
func BenchmarkDecision(b *testing.B) {
	ip, err := NewIAMProp()
	if err != nil {
		b.Fatal(err)
	}
	ce, err := NewCedar()
	if err != nil {
		b.Fatal(err)
	}
	// An engine that gets any request wrong gets no figure at all: a stub
	// that always says implicit-deny would otherwise "win" that row.
	ipWrong := ""
	for i, r := range Requests {
		if got := ip.Decide(i); got != r.Want {
			ipWrong = fmt.Sprintf("iamprop decides %s as %s, want %s: no figures for an engine that answers wrongly", r.Name, got, r.Want)
		}
	}
	for i, r := range Requests {
		b.Run(r.Name+"/iamprop", func(b *testing.B) {
			if ipWrong != "" {
				b.Skip(ipWrong)
			}
			b.ReportAllocs()
			for b.Loop() {
				ip.Decide(i)
			}
		})
		b.Run(r.Name+"/cedar", func(b *testing.B) {
			if got := ce.Decide(i); got != r.Want {
				b.Skipf("cedar decides %s, want %s: no figure for a wrong answer", got, r.Want)
			}
			b.ReportAllocs()
			for b.Loop() {
				ce.Decide(i)
			}
		})
	}
}
