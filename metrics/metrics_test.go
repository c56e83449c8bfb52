package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegistryLintsClean(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, region := range []string{"us-east-2", "eu-west-1"} {
		m, err := New(reg, region)
		if err != nil {
			t.Fatal(err)
		}
		// Touch every vector so the linter sees real series.
		m.MutationsCommitted.Inc()
		m.MutationsRejected.WithLabelValues("NoSuchEntity").Inc()
		m.MutationsApplied.WithLabelValues("us-east-2").Inc()
		m.ReplicationLag.WithLabelValues("us-east-2").Observe(0.2)
		m.AuthorizeDecisions.WithLabelValues("Allow", "false").Inc()
		m.AuthorizeRefused.WithLabelValues("at_least").Inc()
		m.GossipMessages.WithLabelValues(DirectionOut, "gossip").Inc()
		m.GossipBytes.WithLabelValues(DirectionIn).Add(10)
		m.ClusterMembers.WithLabelValues("alive").Set(3)
		m.TransportDropped.WithLabelValues("loss").Inc()
		m.GossipDropped.WithLabelValues(DroppedUnknownPeer).Inc()
		m.HTTPRequests.WithLabelValues("POST /v1/authorize", "200").Inc()
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	checkLabels(t, reg)
	n, err := testutil.GatherAndCount(reg, "iamprop_mutations_committed_total")
	if err != nil || n != 2 {
		t.Errorf("committed series = %d (%v), want one per region", n, err)
	}
}

func TestNamesAndRegionLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	m.MutationsCommitted.Add(2)
	want := `
# HELP iamprop_mutations_committed_total Mutations committed at this region (validated, ordered, durable).
# TYPE iamprop_mutations_committed_total counter
iamprop_mutations_committed_total{region="eu-west-1"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "iamprop_mutations_committed_total"); err != nil {
		t.Error(err)
	}
	// The same region twice on one registry is a clear error, not a panic.
	if _, err := New(reg, "eu-west-1"); err == nil {
		t.Error("registering a region twice succeeded")
	}
}

// TestRunnerBesideRegions checks the runner's metrics lint clean and share
// one registry with in-process regions (what --live --metrics-addr does).
func TestRunnerBesideRegions(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, err := NewRunner(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"us-east-2", "eu-west-1"} {
		m, err := New(r.Registerer(), region)
		if err != nil {
			t.Fatalf("region %s beside the runner: %v", region, err)
		}
		m.ReplicationLag.WithLabelValues("us-east-2").Observe(1)
	}
	r.ExposureWindow.WithLabelValues("public-s3-bucket", "attacker-read", "eu-west-1").Observe(4)
	r.StaleDecisions.WithLabelValues("public-s3-bucket", "attacker-read", "eu-west-1", KindExposure).Add(3)
	r.ProbeRequests.WithLabelValues("public-s3-bucket", "attacker-read", "eu-west-1").Add(300)
	r.Trials.WithLabelValues("public-s3-bucket", "live").Set(1)
	r.Converged.WithLabelValues("public-s3-bucket", "live").Set(1)
	r.Passed.WithLabelValues("public-s3-bucket", "live").Set(1)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, tc := range []struct {
		name string
		want int
	}{
		{"iamprop_exposure_window_seconds", 1},
		{"iamprop_stale_decisions_total", 1},
		{"iamprop_replication_lag_seconds", 2},
	} {
		if n, err := testutil.GatherAndCount(reg, tc.name); err != nil || n != tc.want {
			t.Errorf("%s: %d series (%v), want %d", tc.name, n, err, tc.want)
		}
	}
	if _, err := NewRunner(reg); err == nil {
		t.Error("a second runner on the same registry registered")
	}
	checkLabels(t, reg)
}

// allowedLabels are the only label names a metric may carry: bounded,
// non-sensitive dimensions. None holds a policy, principal, bucket or
// object name (unbounded, and possibly secret).
var allowedLabels = map[string]bool{"region": true, "origin": true, "code": true, "decision": true, "stale": true,
	"mode": true, "direction": true, "kind": true, "state": true, "reason": true, "route": true,
	"scenario": true, "probe": true}

func checkLabels(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if !allowedLabels[l.GetName()] {
					t.Errorf("%s has label %q, outside the allowed set", f.GetName(), l.GetName())
				}
			}
		}
	}
}
