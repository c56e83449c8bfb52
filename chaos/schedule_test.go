package chaos

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestScheduleReplays(t *testing.T) {
	tests := []struct {
		nodes int
		d     time.Duration
	}{{3, 2 * time.Second}, {5, 4 * time.Second}, {9, 10 * time.Second}}
	for _, tt := range tests {
		for i := 0; i < 20; i++ {
			seed := ScheduleSeed(1, i)
			a, b := NewSchedule(seed, tt.nodes, tt.d), NewSchedule(seed, tt.nodes, tt.d)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d: two draws of the same schedule differ", seed)
			}
			dv := NewDivergenceSchedule(seed, tt.nodes, tt.d)
			if !reflect.DeepEqual(dv, NewDivergenceSchedule(seed, tt.nodes, tt.d)) {
				t.Fatalf("seed %d: two draws of the same divergence schedule differ", seed)
			}
			if !reflect.DeepEqual(dv.Network, a.Network) {
				t.Errorf("seed %d: the divergence schedule's network lane differs from the plain one's", seed)
			}
			if other := NewSchedule(ScheduleSeed(1, i+1), tt.nodes, tt.d); reflect.DeepEqual(a.Network, other.Network) {
				t.Errorf("seed %d: schedules %d and %d are equal", seed, i, i+1)
			}
			for _, lane := range [][]Fault{a.Network, a.Process, dv.Process} {
				var end time.Duration
				for _, f := range lane {
					if f.At < end || f.Hold <= 0 || f.At+f.Hold > tt.d+2*time.Second {
						t.Errorf("seed %d: fault %v overlaps the previous one or leaves the schedule (%v)", seed, f, tt.d)
					}
					end = f.At + f.Hold
					if f.Node < 0 || f.Node >= tt.nodes {
						t.Errorf("seed %d: fault %v on node %d of %d", seed, f, f.Node, tt.nodes)
					}
					if f.Kind == KindPartition || f.Kind == KindOneWay || f.Kind == KindLoss || f.Kind == KindLatency {
						if err := f.Spec.Validate(); err != nil {
							t.Errorf("seed %d: fault %v: the node would refuse it: %v", seed, f, err)
						}
					}
				}
			}
		}
	}
}

// Plain schedules draw every kind but the divergence ones (what CI runs
// must not lose commits on purpose); divergence schedules draw every kind.
func TestSchedulesCoverEveryKind(t *testing.T) {
	for _, divergence := range []bool{false, true} {
		seen := map[Kind]int{}
		recovers := map[bool]int{}
		for i := 0; i < 50; i++ {
			s := NewSchedule(ScheduleSeed(7, i), 5, 4*time.Second)
			if divergence {
				s = NewDivergenceSchedule(ScheduleSeed(7, i), 5, 4*time.Second)
			}
			for _, f := range append(s.Network, s.Process...) {
				seen[f.Kind]++
				switch f.Kind {
				case KindWipeSeed:
					if f.Node != 0 {
						t.Errorf("seed 7: %v: a seed wipe of node %d, want the node started without --join (0)", f, f.Node)
					}
				case KindCorrupt:
					recovers[f.Recover]++
					if len(f.Flips) == 0 {
						t.Errorf("seed 7: %v flips nothing", f)
					}
					for _, x := range f.Flips {
						if x < 0 || x >= 1 {
							t.Errorf("seed 7: %v: flip at %v, want a fraction in [0, 1)", f, x)
						}
					}
				}
			}
		}
		for _, k := range Kinds {
			if want := divergence || !k.IsDivergence(); (seen[k] > 0) != want {
				t.Errorf("seed 7, divergence %v: 50 schedules drew %d %s faults (drawn: %v)", divergence, seen[k], k, seen)
			}
		}
		if divergence && (recovers[true] == 0 || recovers[false] == 0) {
			t.Errorf("seed 7: corrupt faults restart with --recover %d times, without %d: want both", recovers[true], recovers[false])
		}
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		in            []float64
		p50, p99, max float64
	}{
		{[]float64{3, 1, 2}, 2, 3, 3},
		{[]float64{5}, 5, 5, 5},
		{[]float64{1, 2, 3, 4}, 2, 4, 4},
	}
	for _, tt := range tests {
		q := quantiles(tt.in)
		if q.P50 != tt.p50 || q.P99 != tt.p99 || q.Max != tt.max || q.N != len(tt.in) {
			t.Errorf("quantiles(%v) = %+v, want p50 %v p99 %v max %v", tt.in, q, tt.p50, tt.p99, tt.max)
		}
	}
}

// A failing schedule's lines name its findings, its seed and the replay
// command.
func TestPrintScheduleFailure(t *testing.T) {
	sr := ScheduleReport{Index: 3, Seed: 987654321, ConvergeSeconds: -1, Faults: map[string]int{"kill9": 1},
		Result: Result{Acked: 10, Lost: []Finding{{Kind: "lost", Region: "eu-west-1", ID: "us-east-2/7", Detail: "acknowledged iam:CreateUser not applied"}}},
		Replay: "go run ./cmd/scenario chaos --nodes 5 --duration 4s --replay 987654321", Dir: "/tmp/kept"}
	var b strings.Builder
	printSchedule(&b, 10, &sr)
	for _, want := range []string{"schedule 4/10 seed 987654321", "FAIL", "lost at eu-west-1 us-east-2/7", "failing seed 987654321; replay: go run ./cmd/scenario chaos --nodes 5 --duration 4s --replay 987654321", "/tmp/kept"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
