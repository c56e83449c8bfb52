package main

import (
	"math"
	"testing"
)

// TestSerfConvergenceMatchesPublishedFigures checks the transcription of
// Serf's formula against the figures its simulator page shows for fanout 3,
// interval 200 ms, no loss (the ones docs/validation.md quotes).
func TestSerfConvergenceMatchesPublishedFigures(t *testing.T) {
	for _, tc := range []struct {
		nodes int
		want  float64
	}{{5, 1.6}, {30, 1.8}, {1000, 2.2}, {10000, 2.6}} {
		if got := serfConvergence(tc.nodes, 3, 0.2, 0, 0, 0.9999); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("serfConvergence(%d nodes) = %.2f s, want %.1f s", tc.nodes, got, tc.want)
		}
	}
}

// TestSerfConvergenceSlowsWithLoss: loss lowers the contact rate, so the
// model must take longer, never shorter.
func TestSerfConvergenceSlowsWithLoss(t *testing.T) {
	base := serfConvergence(1000, 3, 0.2, 0, 0, 0.9999)
	lossy := serfConvergence(1000, 3, 0.2, 0.5, 0, 0.9999)
	if lossy <= base {
		t.Errorf("50%% loss: %.2f s, want more than the lossless %.2f s", lossy, base)
	}
}

// TestDemersResidue checks the fixed point of s = e^-c(1-s) at known values.
func TestDemersResidue(t *testing.T) {
	for _, tc := range []struct{ c, want float64 }{{4, 0.0198}, {2, 0.2032}} {
		s := demers(tc.c)
		if math.Abs(s-tc.want) > 5e-4 {
			t.Errorf("demers(%v) = %.4f, want %.4f", tc.c, s, tc.want)
		}
		if math.Abs(s-math.Exp(-tc.c*(1-s))) > 1e-12 {
			t.Errorf("demers(%v) = %v is not a fixed point", tc.c, s)
		}
	}
}
