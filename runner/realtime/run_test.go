package realtime

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/runner/runmetrics"
	"github.com/iamprop/iamprop/scenarios"
)

// bucketCase is the public bucket case of package runner's tests, with
// NAME and DELAY to fill in.
const bucketCase = `name: NAME
title: test
description: test
lesson: test
seed: 1
duration: 30s
regions: [us-east-2, eu-west-1, ap-southeast-2]
propagation:
  default: {dist: constant, value: 2s}
  links: [{from: us-east-2, to: eu-west-1, dist: constant, value: DELAY}]
gossip: {interval: 200ms, fanout: 3, retransmit_mult: 4, push_pull_interval: 30s}
policies:
  public-read:
    Version: "2012-10-17"
    Statement: [{Sid: PublicRead, Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::important-financial-documents/*"}]
  private-only:
    Version: "2012-10-17"
    Statement: [{Sid: OwnerOnly, Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:root"}, Action: "s3:*", Resource: ["arn:aws:s3:::important-financial-documents", "arn:aws:s3:::important-financial-documents/*"]}]
state:
  accounts: ["111122223333"]
  buckets: [{name: important-financial-documents, region: eu-west-1, account: "111122223333", policy: public-read}]
steps:
  - {at: 1s, region: us-east-2, call: s3:PutBucketPolicy, with: {bucket: important-financial-documents, policy: private-only}}
  - {at: 2s, region: eu-west-1, call: s3:PutObject, with: {bucket: important-financial-documents, key: q3.pdf}}
probes:
  - {name: attacker-read, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::important-financial-documents/q3.pdf", every: 100ms, from: 0s, until: 30s}
  - {name: attacker-read-home, region: us-east-2, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::important-financial-documents/q3.pdf", every: 100ms, from: 0s, until: 30s}
expect:
  - "exposure(attacker-read).p50 > 0s"
  - "exposure(attacker-read-home).max == 0s"
  - converged
`

// scrape fetches and parses the runner's /metrics into sums keyed by
// name and then the kind and probe labels (in label order).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			key := name
			for _, l := range m.Label {
				if l.GetName() == "probe" || l.GetName() == "kind" {
					key += "/" + l.GetValue()
				}
			}
			switch {
			case m.Counter != nil:
				out[key] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] += m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] += float64(m.Histogram.GetSampleCount())
				out[key+"_sum"] += m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

// A live run with a metrics server serves the in-process nodes' metrics
// while the trial runs and the runner's measurements once it is measured:
// the exposure window of the delayed region and the stale allows it served.
func TestLiveRunServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test; skipped with -short")
	}
	src := strings.NewReplacer("NAME", "live-metrics", "DELAY", "1s", "duration: 30s", "duration: 3s",
		"until: 30s", "until: 3s").Replace(bucketCase)
	sc, err := scenarios.Parse("live-metrics.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := runmetrics.Serve("0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
		t.Errorf("listening on %s, want loopback", srv.Addr)
	}
	done := make(chan error, 1)
	var run *report.Run
	go func() {
		var err error
		run, err = runner.Run(context.Background(), sc, runner.Options{Trials: 1, Live: true, Observer: runmetrics.Observer(srv.Metrics), RealTime: Backends{Registerer: srv.Registerer()}})
		done <- err
	}()
	// During the trial (however long the cluster takes to start on a
	// loaded machine): the nodes' series, the runner's at zero.
	sawNodes := false
	var runErr error
poll:
	for !sawNodes {
		select {
		case runErr = <-done:
			break poll
		case <-time.After(50 * time.Millisecond):
		}
		m := scrape(t, srv.Addr)
		sawNodes = m["iamprop_mutations_committed_total"] > 0 && m["iamprop_run_trials"] == 0
	}
	if !sawNodes {
		t.Error("the in-process nodes' metrics were not served during the trial")
	} else {
		runErr = <-done
	}
	if runErr != nil {
		t.Fatal(runErr)
	}
	m := scrape(t, srv.Addr)
	p := run.Probes[0]
	for _, c := range []struct {
		name string
		want float64
	}{
		{"iamprop_run_trials", 1},
		{"iamprop_run_passed", 1},
		{"iamprop_run_converged", 1},
		{"iamprop_exposure_window_seconds/attacker-read_count", 1},
		{"iamprop_exposure_window_seconds/attacker-read_sum", p.ExposureSeconds.Max},
		{"iamprop_stale_decisions_total/exposure/attacker-read", float64(p.StaleAllows)},
		{"iamprop_probe_requests_total/attacker-read", float64(p.Requests)},
		{"iamprop_stale_decisions_total/exposure/attacker-read-home", 0},
	} {
		got, ok := m[c.name]
		if !ok || got < c.want-1e-6 || got > c.want+1e-6 {
			t.Errorf("%s = %v (present %v), want %v", c.name, got, ok, c.want)
		}
	}
	if p.ExposureSeconds.Max < 1 || p.StaleAllows == 0 {
		t.Errorf("the delayed region showed no exposure: %+v", p)
	}
	if _, ok := m["iamprop_mutations_committed_total"]; ok {
		t.Error("the nodes' metrics outlived their cluster")
	}
}

// TestCompareSmoke runs a handful of live trials of one scaled library
// scenario against the simulator and checks the plumbing only: every row
// has samples on both sides and finite statistics. The full comparison is
// `go run ./sim/cmd/simvslive` (docs/validation.md).
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("live trials take real time")
	}
	sc, err := scenarios.LoadLibrary("revoke-race")
	if err != nil {
		t.Fatal(err)
	}
	c, err := runner.Compare(context.Background(), runner.Scale(sc, 0.05), runner.CompareOptions{LiveTrials: 3, SimTrials: 20, Seed: 1, RealTime: Backends{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.LiveTrials != 3 || c.SimTrials != 20 || len(c.Rows) == 0 {
		t.Fatalf("got %d live and %d sim trials, %d rows; want 3, 20 and some rows", c.LiveTrials, c.SimTrials, len(c.Rows))
	}
	lags := 0
	for _, r := range c.Rows {
		if len(r.Sim) == 0 || len(r.Live) == 0 {
			t.Errorf("%s %s: %d sim and %d live values; want both non-empty", r.Metric, r.Name, len(r.Sim), len(r.Live))
		}
		for _, v := range []float64{r.MedianSim, r.MedianLive, r.KS} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Errorf("%s %s: statistic %v is not a finite non-negative number", r.Metric, r.Name, v)
			}
		}
		if r.Metric == "lag" {
			lags++
		}
	}
	if lags == 0 {
		t.Errorf("no lag row: the live trials applied nothing")
	}
	// Every step's commit instants, one per trial: exactly its `at` in
	// the simulator, never before it live.
	if len(c.Commits) != len(sc.Steps) {
		t.Fatalf("%d commit rows, want one per step (%d)", len(c.Commits), len(sc.Steps))
	}
	for i, r := range c.Commits {
		at := runner.Scale(sc, 0.05).Steps[i].At.Seconds()
		if r.Metric != runner.MetricCommit || len(r.Sim) != 20 || len(r.Live) != 3 {
			t.Errorf("%s: %s with %d sim and %d live instants, want commit, 20 and 3", r.Name, r.Metric, len(r.Sim), len(r.Live))
		}
		for _, v := range r.Sim {
			if v != at {
				t.Errorf("%s: simulated commit at %vs, want its at %vs", r.Name, v, at)
			}
		}
		for _, v := range r.Live {
			if v < at {
				t.Errorf("%s: live commit at %vs, before its at %vs", r.Name, v, at)
			}
		}
	}
}
