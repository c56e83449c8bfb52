package runner

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

func TestMetricsAddrDefaultsToLoopback(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "9464", want: "127.0.0.1:9464"},
		{in: ":9464", want: "127.0.0.1:9464"},
		{in: "0.0.0.0:9464", want: "0.0.0.0:9464"},
		{in: "[::1]:9464", want: "[::1]:9464"},
		{in: "localhost", bad: true},
		{in: "127.0.0.1:http", bad: true},
		{in: "127.0.0.1:70000", bad: true},
	} {
		got, err := loopbackDefault(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("loopbackDefault(%q) = %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// The scraped exposure histogram and the backfilled one must share bounds,
// or one dashboard could not sum them.
func TestExposureBucketsMatchBackfill(t *testing.T) {
	if !reflect.DeepEqual(metrics.ExposureBuckets, report.ExposureBuckets) {
		t.Errorf("metrics.ExposureBuckets %v != report.ExposureBuckets %v", metrics.ExposureBuckets, report.ExposureBuckets)
	}
}

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
	srv, err := ServeMetrics("0")
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
		run, err = Run(context.Background(), sc, Options{Trials: 1, Live: true, Metrics: srv.Metrics})
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
