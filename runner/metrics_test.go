package runner

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/report"
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
