package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/internal/loopback"
	"github.com/iamprop/iamprop/metrics"
)

// panelExpr returns the query of the panel of file whose query holds every
// one of parts, with the dashboard's variables expanded to values.
func panelExpr(t *testing.T, file string, values map[string]string, parts ...string) string {
	t.Helper()
	d, ok := loadDashboards(t)[file]
	if !ok {
		t.Fatalf("no dashboard %s", file)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			found := true
			for _, part := range parts {
				found = found && strings.Contains(tg.Expr, part)
			}
			if found {
				return varRE.ReplaceAllStringFunc(strings.NewReplacer("$__rate_interval", "5s").Replace(tg.Expr), func(m string) string {
					if v, ok := values[strings.TrimLeft(m, "${")]; ok {
						return v
					}
					return m
				})
			}
		}
	}
	t.Fatalf("%s has no panel querying %q", file, parts)
	return ""
}

// seriesAt runs an instant query at at and returns each series' value by
// the value of its label key.
func (p promAPI) seriesAt(q string, at time.Time, key string) (map[string]float64, error) {
	r, err := p.get("/api/v1/query", url.Values{"query": {q}, "time": {unix(at)}})
	if err != nil {
		return nil, err
	}
	var d struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range d.Result {
		if len(s.Value) == 2 {
			str, _ := s.Value[1].(string)
			v, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, err
			}
			out[s.Metric[key]] = v
		}
	}
	return out, nil
}

// TestMinuteScaleQuantiles runs the dashboards' quantile panels through a
// real Prometheus over minute-scale windows: the simulated run of a
// scenario whose delay has a 4.5-minute median (backfilled from
// --openmetrics, as docs/report.md says) and a region node's lag histogram
// fed lags of that size (scraped). histogram_quantile must read them in
// minutes, near the run's own p50 and p99, not at the last finite bucket
// (120 s with the old bounds), and a probe never exposed must read 0.
func TestMinuteScaleQuantiles(t *testing.T) {
	prom := needTool(t, "prometheus")
	promtool := needTool(t, "promtool")
	if testing.Short() {
		t.Skip("runs scenarios, promtool and Prometheus; skipped with -short")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "scenario")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/scenario").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../scenarios/public-s3-bucket.yaml")
	if err != nil {
		t.Fatal(err)
	}
	minute := strings.NewReplacer("name: public-s3-bucket", "name: minute-scale", "median: 4s, p99: 10s", "median: 270s, p99: 600s",
		"duration: 30s", "duration: 30m", "until: 30s", "until: 30m").Replace(string(src))
	if !strings.Contains(minute, "median: 270s") || !strings.Contains(minute, "duration: 30m") {
		t.Fatal("could not make public-s3-bucket minute-scale")
	}
	scFile := filepath.Join(dir, "minute-scale.yaml")
	if err := os.WriteFile(scFile, []byte(minute), 0o644); err != nil {
		t.Fatal(err)
	}
	// The backfilled samples sit ten minutes back: inside the retention,
	// before anything Prometheus scrapes.
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	data := filepath.Join(dir, "data")
	var run struct {
		Probes []struct {
			Name            string
			ExposureSeconds struct{ P50, P99 float64 } `json:"exposure_seconds"`
		}
	}
	for _, sc := range []string{scFile, "../scenarios/new-role-access-denied.yaml"} {
		om := filepath.Join(dir, filepath.Base(sc)+".om")
		out, err := exec.CommandContext(ctx, bin, "run", sc, "--trials", "400", "--json", "--openmetrics", om, "--openmetrics-at", at.Format(time.RFC3339)).Output()
		if err != nil {
			t.Fatalf("scenario run %s: %v\n%s", sc, err, out)
		}
		if sc == scFile {
			if err := json.Unmarshal(out, &run); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput(); err != nil {
			t.Fatalf("promtool create-blocks-from %s: %v\n%s", om, err, out)
		}
	}

	// A region node's metrics, fed the lags such a delay gives: what
	// eu-west-1 would serve with --delay 'lognormal(median 270s, p99 600s)'.
	reg := prometheus.NewRegistry()
	node, err := metrics.New(reg, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	dist, err := delay.LogNormal(270*time.Second, 600*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lags := node.ReplicationLag.WithLabelValues("us-east-2")
	feed := func() {
		for range 50 {
			lags.Observe(dist.Sample(rng).Seconds())
		}
	}
	feed()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	stopFeed := make(chan struct{})
	defer close(stopFeed)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopFeed:
				return
			case <-tick.C:
				feed()
			}
		}
	}()

	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: iamprop-regionnode\n    static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(srv.URL, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
	_, promLog := startProcess(t, ctx, dir, "prometheus", nil, prom, "--config.file="+cfgPath,
		"--storage.tsdb.path="+data, "--web.listen-address="+promAddr)
	api := promAPI{base: "http://" + promAddr}
	if !eventuallyTrue(40*time.Second, func() bool { n, _ := api.instant(`up{job="iamprop-regionnode"} == 1`); return n == 1 }) {
		t.Fatalf("prometheus does not scrape the lag source:\n%s", tail(promLog))
	}

	near := func(what string, got, want, tolerance float64) {
		t.Helper()
		t.Logf("%s: %.1f s (the run: %.1f s)", what, got, want)
		if math.Abs(got-want) > tolerance*want {
			t.Errorf("%s reads %.1f s, want %.1f s within %.0f%%", what, got, want, tolerance*100)
		}
	}
	want := map[string][2]float64{}
	for _, p := range run.Probes {
		want[p.Name] = [2]float64{p.ExposureSeconds.P50, p.ExposureSeconds.P99}
	}
	if want["attacker-read"][0] < 240 || want["attacker-read"][0] > 300 {
		t.Fatalf("the minute-scale run's exposure p50 is %.1f s, want about 270 s", want["attacker-read"][0])
	}
	for i, q := range []string{"0.5", "0.99"} {
		name := []string{"p50", "p99"}[i]
		for _, sc := range []string{"minute-scale", "new-role-access-denied"} {
			expr := panelExpr(t, "exposure-windows.json", map[string]string{"scenario": sc, "region": ".*"}, "histogram_quantile("+q+",", "iamprop_exposure_window_seconds_bucket")
			var got map[string]float64
			if !eventuallyTrue(20*time.Second, func() bool {
				got, err = api.seriesAt(expr, at.Add(time.Second), "probe")
				return err == nil && len(got) > 0
			}) {
				t.Fatalf("%s: no data at %s (%v):\n%s", expr, at, err, tail(promLog))
			}
			if sc == "new-role-access-denied" {
				if v := got["app-read-config"]; v != 0 {
					t.Errorf("exposure %s of a probe never exposed reads %v s, want 0", name, v)
				}
				continue
			}
			for probe, w := range want {
				// One bucket holds the p50 (180-300 s): linear interpolation
				// reads it within 10%; the p99 within 25% (300-600 s).
				near(fmt.Sprintf("exposure %s of %s", name, probe), got[probe], w[i], []float64{0.1, 0.25}[i])
			}
		}
	}

	// The replication panel reads the scraped lag histogram in minutes too.
	expr := panelExpr(t, "replication.json", map[string]string{"region": "eu-west-1", "origin": "us-east-2"}, "histogram_quantile(0.5,", "iamprop_replication_lag_seconds_bucket")
	var got map[string]float64
	if !eventuallyTrue(30*time.Second, func() bool {
		got, err = api.seriesAt(expr, time.Now(), "region")
		return err == nil && got["eu-west-1"] > 0
	}) {
		t.Fatalf("%s: no data (%v):\n%s", expr, err, tail(promLog))
	}
	near("replication lag p50 of eu-west-1", got["eu-west-1"], 270, 0.1)
}
