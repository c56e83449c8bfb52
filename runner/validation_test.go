package runner

import (
	"encoding/json"
	"flag"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/iamprop/iamprop/scenarios"
)

var validateTrials = flag.Int("validate.trials", 10000, "trials per distribution family in TestVisibilityMatchesDelayModel")

// The simulator checked against its own model: with two regions, one link,
// no network faults, the t-visibility curve of the far region (the CDF of
// the lag) must be the propagation distribution's CDF. A Kolmogorov-Smirnov
// test at the 1% level over 10,000 trials per family. The lag can
// only exceed the modelled delay when the mutation has not been received
// yet by commit+delay (gossip takes a few hundred milliseconds), so the
// families are chosen with their mass above that.
//
// Reproduce the table in docs/validation.md:
//
//	go test ./runner -run TestVisibilityMatchesDelayModel -v
func TestVisibilityMatchesDelayModel(t *testing.T) {
	n := *validateTrials
	if testing.Short() {
		n = 1000
	}
	critical := 1.628 / math.Sqrt(float64(n)) // KS, alpha = 0.01
	for _, tc := range []struct {
		name string
		dist scenarios.Distribution
	}{
		{"constant 4s", scenarios.Distribution{Dist: "constant", Value: 4 * time.Second}},
		{"uniform 2s..8s", scenarios.Distribution{Dist: "uniform", Min: 2 * time.Second, Max: 8 * time.Second}},
		{"normal 6s±1s", scenarios.Distribution{Dist: "normal", Mean: 6 * time.Second, Stddev: time.Second}},
		{"lognormal median 4s p99 12s", scenarios.Distribution{Dist: "lognormal", Median: 4 * time.Second, P99: 12 * time.Second}},
		{"exponential mean 4s", scenarios.Distribution{Dist: "exponential", Mean: 4 * time.Second}},
		{"pareto scale 2s shape 2.5", scenarios.Distribution{Dist: "pareto", Scale: 2 * time.Second, Shape: 2.5}},
		{"empirical", scenarios.Distribution{Dist: "empirical", Points: [][2]float64{{1, 0}, {3, 0.5}, {6, 0.9}, {12, 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := twoRegionCase(tc.dist)
			p, err := newPlan(sc)
			if err != nil {
				t.Fatal(err)
			}
			model, err := toDistribution(tc.dist)
			if err != nil {
				t.Fatal(err)
			}
			var lags []float64
			for i := 0; i < n; i++ {
				r := runTrial(p, i, uint64(1+i), false)
				if r.err != nil {
					t.Fatalf("seed %d: %v", 1+i, r.err)
				}
				lags = append(lags, r.lags[1]...)
			}
			// A heavy tail can outlast the scenario: a mutation not applied
			// by the end is a lag beyond it (censored), counted at +Inf.
			if missing := n - len(lags); missing > n/100 {
				t.Fatalf("%d of %d trials never applied the mutation", missing, n)
			}
			for len(lags) < n {
				lags = append(lags, math.Inf(1))
			}
			d := ksDistance(lags, func(x float64) (at, before float64) {
				if math.IsInf(x, 1) {
					return 1, 1
				}
				dx := time.Duration(math.Round(x * float64(time.Second)))
				return model.CDF(dx), model.CDF(dx - 1)
			})
			t.Logf("%-32s n=%d  KS D=%.4f  critical(1%%)=%.4f  median lag %.3fs", tc.name, n, d, critical, lags[n/2])
			if d > critical {
				t.Errorf("KS D = %.4f > %.4f: the simulated t-visibility curve is not the model's CDF (seeds 1..%d)", d, critical, n)
			}
		})
	}
}

func twoRegionCase(d scenarios.Distribution) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "two-regions", Seed: 1, Duration: 60 * time.Second,
		Regions:     []string{"a-region-1", "b-region-1"},
		Propagation: scenarios.Propagation{Default: d},
		State:       scenarios.InitialState{Accounts: []string{"111122223333"}},
		Steps: []scenarios.Step{{At: time.Second, Region: "a-region-1", Call: "iam:CreateUser",
			With: json.RawMessage(`{"user_name": "alice"}`)}},
	}
}

// ksDistance is the Kolmogorov-Smirnov distance between the samples'
// empirical CDF and a model CDF given at x and just below x (so a model with
// atoms, like a constant, is compared fairly).
func ksDistance(samples []float64, cdf func(x float64) (at, before float64)) float64 {
	slices.Sort(samples)
	n := float64(len(samples))
	d := 0.0
	for i := 0; i < len(samples); {
		j := i
		for j < len(samples) && samples[j] == samples[i] {
			j++
		}
		at, before := cdf(samples[i])
		d = max(d, math.Abs(float64(j)/n-at), math.Abs(float64(i)/n-before))
		i = j
	}
	return d
}
