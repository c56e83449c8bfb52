package runmetrics

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
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

// A run with the observer publishes its measurements on the server's
// /metrics: trials, passed, and the probe's exposure histogram and stale
// allows equal the report's.
func TestSimulatedRunIsServed(t *testing.T) {
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Serve("0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	run, err := runner.Run(context.Background(), sc, runner.Options{Seed: 1, Trials: 3, Observer: Observer(srv.Metrics)})
	if err != nil {
		t.Fatal(err)
	}
	m := scrape(t, srv.Addr)
	passed := 0.0
	if run.Passed {
		passed = 1
	}
	var allows float64
	for _, p := range run.Probes {
		allows += float64(p.StaleAllows)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"iamprop_run_trials", 3},
		{"iamprop_run_passed", passed},
		{"iamprop_run_converged", 1},
		{"iamprop_exposure_window_seconds/" + run.Probes[0].Name + "_count", 3},
	} {
		if got, ok := m[c.name]; !ok || got != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.name, got, ok, c.want)
		}
	}
	var served float64
	for _, p := range run.Probes {
		served += m["iamprop_stale_decisions_total/exposure/"+p.Name]
	}
	if served != allows {
		t.Errorf("served %v stale allows, the report counts %v", served, allows)
	}
}
