package bench

import (
	"fmt"
	"strings"
	"testing"
)

// TestEquivalent: both engines decide every benchmark request of every set
// as AWS would, so the benchmark compares equal work.
func TestEquivalent(t *testing.T) {
	for _, set := range Sets {
		ip, err := set.NewIAMProp()
		if err != nil {
			t.Fatalf("%s: iamprop: %v", set.Name, err)
		}
		ce, err := set.NewCedar()
		if err != nil {
			t.Fatalf("%s: cedar: %v\n%s", set.Name, err, set.cedarPolicySet())
		}
		for i, r := range set.Requests {
			if got := ce.Decide(i); got != r.Want {
				t.Errorf("%s: cedar decides %s as %s, want %s", set.Name, r.Name, got, r.Want)
			}
			if got := ip.Decide(i); got != r.Want {
				t.Errorf("%s: iamprop decides %s as %s, want %s", set.Name, r.Name, got, r.Want)
			}
		}
	}
}

func TestPolicySetShape(t *testing.T) {
	for _, set := range Sets {
		if d := set.Describe(); !strings.Contains(d, ": 100 identity statements in 10 managed policies") {
			t.Errorf("policy set is %s", d)
		}
	}
}

// BenchmarkDecision decides each request of each set with both engines in
// one run:
//
//	cd bench && go test -bench . -benchmem
func BenchmarkDecision(b *testing.B) {
	for _, set := range Sets {
		ip, err := set.NewIAMProp()
		if err != nil {
			b.Fatal(err)
		}
		ce, err := set.NewCedar()
		if err != nil {
			b.Fatal(err)
		}
		// An engine that gets any request wrong gets no figure at all: a
		// stub that always says implicit-deny would otherwise "win" a row.
		ipWrong, ceWrong := "", ""
		for i, r := range set.Requests {
			if got := ip.Decide(i); got != r.Want {
				ipWrong = fmt.Sprintf("iamprop decides %s/%s as %s, want %s: no figures for an engine that answers wrongly", set.Name, r.Name, got, r.Want)
			}
			if got := ce.Decide(i); got != r.Want {
				ceWrong = fmt.Sprintf("cedar decides %s/%s as %s, want %s: no figures for an engine that answers wrongly", set.Name, r.Name, got, r.Want)
			}
		}
		for i, r := range set.Requests {
			b.Run(set.Name+"/"+r.Name+"/iamprop", func(b *testing.B) {
				if ipWrong != "" {
					b.Skip(ipWrong)
				}
				b.ReportAllocs()
				for b.Loop() {
					ip.Decide(i)
				}
			})
			b.Run(set.Name+"/"+r.Name+"/cedar", func(b *testing.B) {
				if ceWrong != "" {
					b.Skip(ceWrong)
				}
				b.ReportAllocs()
				for b.Loop() {
					ce.Decide(i)
				}
			})
		}
	}
}
