package runner

import (
	"context"
	"testing"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

// traffic runs one trial of public-s3-bucket with n regions in the
// simulator, as the runner configures it, and returns what all regions
// sent: ack entries, ack messages (KindAck) and messages of every kind.
func traffic(t *testing.T, n int, seed uint64) (acks, ackMessages, messages uint64) {
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
		ackMessages += st.Sent[replication.KindAck]
		for _, k := range st.Sent {
			messages += k
		}
	}
	return acks, ackMessages, messages
}

// Ack traffic grows about linearly in the number of regions, not with its
// square: per region, a trial of public-s3-bucket at 35 regions sends at
// most 6 times the acks of the same trial at 3 regions (push/pull
// exchanges the acks held, and more regions hold more). When every region
// relayed every other region's ack for a retransmit limit's worth of
// rounds, it sent 23 times the acks per region (docs/benchmarks.md,
// "Scenario runner"). Counts, not times: a regression fails on any
// machine.
func TestAckTrafficLinearInRegions(t *testing.T) {
	const small, large = 3, 35
	for _, seed := range []uint64{1, 2, 3} {
		a3, _, _ := traffic(t, small, seed)
		a35, _, _ := traffic(t, large, seed)
		if a3 == 0 {
			t.Fatalf("seed %d: no acks at %d regions: the case proves nothing", seed, small)
		}
		if r := (float64(a35) / large) / (float64(a3) / small); r > 6 {
			t.Errorf("seed %d: %d acks at %d regions, %d at %d: %.1f-fold per region, more than 6", seed, a35, large, a3, small, r)
		}
	}
}

// Messages per region per trial at 35 regions stay at most 60 (rumors, a
// retransmit limit of lone adverts per received epoch, acks to one
// round's peers or riding on a rumor, pull on sight), and at most 5 times
// the 3-region figure. Before lone adverts were capped at a retransmit
// limit of sends and acks left for one round's peers or rode on rumors, a
// region sent 97 a trial at 35 regions and 24 at 3 (docs/benchmarks.md,
// "Fewer adverts, acks on gossip").
func TestMessagesPerRegion35Regions(t *testing.T) {
	const small, large = 3, 35
	for _, seed := range []uint64{1, 2, 3} {
		_, _, m3 := traffic(t, small, seed)
		_, _, m35 := traffic(t, large, seed)
		per3, per35 := float64(m3)/small, float64(m35)/large
		if m3 == 0 {
			t.Fatalf("seed %d: no messages at %d regions: the case proves nothing", seed, small)
		}
		if per35 > 60 {
			t.Errorf("seed %d: %.1f messages per region at %d regions, more than 60", seed, per35, large)
		}
		if r := per35 / per3; r > 5 {
			t.Errorf("seed %d: %.1f messages per region at %d regions, %.1f at %d: %.1f-fold, more than 5", seed, per35, large, per3, small, r)
		}
		t.Logf("seed %d: %d messages at %d regions (%.1f per region), %d at %d (%.1f per region)", seed, m35, large, per35, m3, small, per3)
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
