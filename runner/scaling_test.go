package runner

import (
	"context"
	"testing"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

// ackTraffic runs one trial of public-s3-bucket with n regions in the
// simulator, as the runner configures it, and returns the ack entries and
// the ack messages (KindAck) all regions sent.
func ackTraffic(t *testing.T, n int, seed uint64) (acks, messages uint64) {
	t.Helper()
	sc, err := withRegions("public-s3-bucket", n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlan(sc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(simConfig(p, seed))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc.Steps {
		s.Schedule(sc.Steps[i].At, func() { _, _ = s.Commit(p.stepRegion[i], p.stepCalls[i]) })
	}
	s.RunUntil(sc.Duration)
	for _, r := range sc.Regions {
		st := s.NodeStats(r)
		acks += st.AcksSent
		messages += st.Sent[replication.KindAck]
	}
	return acks, messages
}

// Ack traffic grows about linearly in the number of regions, not with its
// square: per region, a trial of public-s3-bucket at 35 regions sends at
// most 6 times the acks and 3 times the ack messages of the same trial at
// 3 regions (a region's own ack goes to a retransmit limit of peers, which
// doubles from 3 to 35 regions, and push/pull exchanges the acks held).
// When every region relayed every other region's ack for a retransmit
// limit's worth of rounds, it sent 23 times the acks and 3.7-3.9 times the
// ack messages per region (docs/benchmarks.md, "Scenario runner"). Counts,
// not times: a regression fails on any machine.
func TestAckTrafficLinearInRegions(t *testing.T) {
	const small, large = 3, 35
	for _, seed := range []uint64{1, 2, 3} {
		a3, m3 := ackTraffic(t, small, seed)
		a35, m35 := ackTraffic(t, large, seed)
		if a3 == 0 || m3 == 0 {
			t.Fatalf("seed %d: %d acks and %d ack messages at %d regions: the case proves nothing", seed, a3, m3, small)
		}
		perRegion := func(x uint64, n int) float64 { return float64(x) / float64(n) }
		if r := perRegion(a35, large) / perRegion(a3, small); r > 6 {
			t.Errorf("seed %d: %d acks at %d regions, %d at %d: %.1f-fold per region, more than 6", seed, a35, large, a3, small, r)
		}
		if r := perRegion(m35, large) / perRegion(m3, small); r > 3 {
			t.Errorf("seed %d: %d ack messages at %d regions, %d at %d: %.1f-fold per region, more than 3", seed, m35, large, m3, small, r)
		}
	}
}

// Without relays every region's ack still reaches the origin (straight to
// it), and truthfully: at 35 regions, every step of every trial is known
// complete at its origin, never before it is complete, and within a
// second of it (a few gossip rounds).
func TestKnownCompleteAt35Regions(t *testing.T) {
	sc, err := withRegions("public-s3-bucket", 35)
	if err != nil {
		t.Fatal(err)
	}
	var samples []TrialSample
	if _, err := Run(context.Background(), sc, Options{Trials: 20, Workers: 1, OnTrial: func(s TrialSample) { samples = append(samples, s) }}); err != nil {
		t.Fatal(err)
	}
	if len(samples) != 20 {
		t.Fatalf("%d samples, want 20", len(samples))
	}
	for _, s := range samples {
		for i := range s.CompleteAt {
			complete, known := s.CompleteAt[i], s.KnownCompleteAt[i]
			switch {
			case complete < 0 || known < 0:
				t.Errorf("trial %d step %d: complete at %v, known at %v: want both reached", s.Index, i+1, complete, known)
			case known < complete:
				t.Errorf("trial %d step %d: known complete at %v, before it was complete at %v", s.Index, i+1, known, complete)
			case known > complete+1:
				t.Errorf("trial %d step %d: known complete at %v, more than a second after %v", s.Index, i+1, known, complete)
			}
		}
	}
}
