package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/loopback"
)

// legitimatelyEmpty lists the queries (panel titles, "annotation NAME") that
// have no data in this setup, and why. Keep it short: every other query must
// return data.
// None at present: the one that needs a stopped node (annotation "Region
// node down") runs after the test stops one (see afterNodeDown).
var legitimatelyEmpty = map[string]string{}

// afterNodeDown lists the queries that have data only once a region node is
// down; the test stops one after every other query has run.
var afterNodeDown = map[string]bool{"annotation Region node down": true}

// eventuallyTrue polls cond every 200ms until it holds or d passes.
func eventuallyTrue(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cond()
}

// promAPI queries a Prometheus over its HTTP API.
type promAPI struct{ base string }

// result is the data of a query, query_range or label values answer.
type result struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   json.RawMessage
}

func (p promAPI) get(path string, params url.Values) (result, error) {
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return result{}, fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return r, fmt.Errorf("status %d: %s", resp.StatusCode, r.Error)
	}
	return r, nil
}

// finite counts the finite sample values of a query or query_range answer:
// a series of NaN (a quantile of nothing) is no data.
func finite(data json.RawMessage) (series, values int) {
	var d struct {
		Result []struct {
			Value  []any   `json:"value"`
			Values [][]any `json:"values"`
		} `json:"result"`
	}
	if json.Unmarshal(data, &d) != nil {
		return 0, 0
	}
	for _, s := range d.Result {
		pts := s.Values
		if s.Value != nil {
			pts = append(pts, s.Value)
		}
		n := 0
		for _, pt := range pts {
			if len(pt) != 2 {
				continue
			}
			str, _ := pt[1].(string)
			if v, err := strconv.ParseFloat(str, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				n++
			}
		}
		if n > 0 {
			series++
			values += n
		}
	}
	return series, values
}

// instant runs an instant query now and returns its series with data.
func (p promAPI) instant(q string) (int, error) {
	r, err := p.get("/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return 0, err
	}
	s, _ := finite(r.Data)
	return s, nil
}

// rangeQuery runs q over [from, now] at 1s steps.
func (p promAPI) rangeQuery(q string, from time.Time) (int, error) {
	now := time.Now()
	r, err := p.get("/api/v1/query_range", url.Values{"query": {q}, "start": {unix(from)}, "end": {unix(now)}, "step": {"1"}})
	if err != nil {
		return 0, err
	}
	s, _ := finite(r.Data)
	return s, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// startProcess starts a command whose output goes to a file under dir, for
// the failure message, and stops it when the test ends.
func startProcess(t *testing.T, ctx context.Context, dir, name string, env []string, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		logf.Close()
	})
	return cmd, logPath
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// memberlistFindings are the promtool check metrics findings tolerated, by
// exact metric name: memberlist's own metrics as it names them (v0.7.0's
// IncrCounter and MeasureSince calls), bridged from go-metrics: counters
// without the _total suffix, and two camelCase timings. Every other finding
// fails the test.
var memberlistFindings = map[string]bool{
	"memberlist_degraded_probe": true, "memberlist_degraded_timeout": true,
	"memberlist_msg_alive": true, "memberlist_msg_dead": true, "memberlist_msg_suspect": true,
	"memberlist_tcp_accept": true, "memberlist_tcp_connect": true, "memberlist_tcp_sent": true,
	"memberlist_udp_received": true, "memberlist_udp_sent": true,
	"memberlist_probeNode": true, "memberlist_pushPullNode": true,
}

// checkMetrics runs promtool check metrics on a scrape. Exit status 3 means
// lint findings only; those on memberlistFindings are tolerated, ours must
// be clean.
func checkMetrics(t *testing.T, promtool, what, scrapeURL string) {
	t.Helper()
	resp, err := http.Get(scrapeURL)
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c := exec.Command(promtool, "check", "metrics")
	c.Stdin = bytes.NewReader(scrape)
	out, err := c.CombinedOutput()
	if err == nil {
		return
	}
	if c.ProcessState.ExitCode() != 3 {
		t.Errorf("promtool check metrics on %s: %v\n%s", what, err, out)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if !memberlistFindings[name] {
			t.Errorf("promtool check metrics on %s: %s", what, line)
		}
	}
}

// TestIntegration starts three regionnode processes, a real Prometheus with
// the shipped scrape config pointed at them and at the scenario runner, and a
// cluster run of public-s3-bucket serving its own /metrics; then it resolves
// every template variable and runs every panel's and annotation's query
// through Prometheus's HTTP API, and asserts each returns data.
func TestIntegration(t *testing.T) {
	prom := needTool(t, "prometheus")
	promtool := needTool(t, "promtool")
	if testing.Short() {
		t.Skip("starts region nodes, a scenario run and Prometheus; skipped with -short")
	}
	dir := t.TempDir()
	bins := map[string]string{}
	for _, c := range []string{"regionnode", "scenario"} {
		bins[c] = filepath.Join(dir, c)
		if out, err := exec.Command("go", "build", "-o", bins[c], "../cmd/"+c).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", c, err, out)
		}
	}
	const token = "dashboards-test-token-0123456789"
	const adminToken = "dashboards-test-admin-0123456789"
	env := []string{"IAMPROP_API_TOKEN=" + token, "IAMPROP_ADMIN_TOKEN=" + adminToken, "IAMPROP_ENABLE_FAULT_API=true"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()

	// Three region nodes; the privacy write reaches eu-west-1 after 3 s.
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	var gossips, apis, logs []string
	var nodes []*exec.Cmd
	for i, r := range regions {
		g := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
		h := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
		args := []string{"--region", r, "--gossip", g, "--http", h, "--data-dir", filepath.Join(dir, r),
			"--gossip-preset", "local", "--gossip-interval", "20ms", "--push-pull-interval", "1s",
			"--delay", "500ms,us-east-2>eu-west-1=3s"}
		if i > 0 {
			args = append(args, "--join", strings.Join(gossips, ","))
		}
		node, logPath := startProcess(t, ctx, dir, r, env, bins["regionnode"], args...)
		nodes = append(nodes, node)
		gossips, apis = append(gossips, g), append(apis, h)
		logs = append(logs, logPath)
		// Serving first: the first region is not ready (it refuses writes
		// with its empty log) until another has joined it.
		if !eventuallyTrue(20*time.Second, func() bool { return get("http://"+h+"/healthz") == 200 }) {
			t.Fatalf("%s not serving:\n%s", r, tail(logPath))
		}
	}
	for i, h := range apis {
		if !eventuallyTrue(20*time.Second, func() bool { return get("http://"+h+"/readyz") == 200 }) {
			t.Fatalf("%s not ready:\n%s", regions[i], tail(logs[i]))
		}
	}
	runnerAddr := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))

	// Prometheus, with the shipped config pointed at the nodes and the runner.
	shipped, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		`["us-east-2:8080", "eu-west-1:8080", "ap-southeast-2:8080"]`, `["`+strings.Join(apis, `", "`)+`"]`,
		`["scenario:9464"]`, `["`+runnerAddr+`"]`,
		"scrape_interval: 5s", "scrape_interval: 1s",
		"evaluation_interval: 5s", "evaluation_interval: 1s",
		// The test's nodes serve plain HTTP on loopback.
		"scheme: https", "scheme: http",
		"tls_config: {ca_file: /etc/prometheus/certs/ca.pem}", "",
	).Replace(string(shipped))
	for _, want := range append(apis, runnerAddr, "scrape_interval: 1s", "scheme: http\n") {
		if !strings.Contains(cfg, want) || strings.Contains(cfg, "ca_file") {
			t.Fatalf("could not point the shipped prometheus.yml at the test processes (%s missing):\n%s", want, cfg)
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config on the test's config: %v\n%s", err, out)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
	_, promLog := startProcess(t, ctx, dir, "prometheus", nil, prom, "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	api := promAPI{base: "http://" + promAddr}
	if !eventuallyTrue(40*time.Second, func() bool { n, _ := api.instant(`up{job="iamprop-regionnode"} == 1`); return n == 3 }) {
		t.Fatalf("prometheus does not scrape the 3 nodes:\n%s", tail(promLog))
	}

	// A cluster run of public-s3-bucket, shortened to 8 s (the story is
	// over by 4 s: commits at 1-3 s, 3 s of delay) so the test stays short.
	src, err := os.ReadFile("../scenarios/public-s3-bucket.yaml")
	if err != nil {
		t.Fatal(err)
	}
	short := strings.NewReplacer("duration: 30s", "duration: 8s", "until: 30s", "until: 8s").Replace(string(src))
	if short == string(src) {
		t.Fatal("could not shorten public-s3-bucket")
	}
	scFile := filepath.Join(dir, "public-s3-bucket.yaml")
	if err := os.WriteFile(scFile, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, len(apis))
	for i, a := range apis {
		urls[i] = "http://" + a
	}
	_, runLog := startProcess(t, ctx, dir, "scenario", env, bins["scenario"], "run", scFile,
		"--cluster", strings.Join(urls, ","), "--metrics-addr", runnerAddr, "--metrics-linger", "10m",
		"--accept-node-model") // the nodes' own --delay, not the scenario's model
	if !eventuallyTrue(20*time.Second, func() bool { return get("http://"+runnerAddr+"/metrics") == 200 }) {
		t.Fatalf("the runner does not serve /metrics:\n%s", tail(runLog))
	}
	checkMetrics(t, promtool, "a region node", "http://"+apis[0]+"/metrics")
	checkMetrics(t, promtool, "the scenario runner", "http://"+runnerAddr+"/metrics")
	// The run is over once its verdict has been scraped.
	if !eventuallyTrue(90*time.Second, func() bool { n, _ := api.instant(`iamprop_run_passed`); return n == 1 }) {
		t.Fatalf("the run's verdict never reached Prometheus:\n%s", tail(runLog))
	}
	if n, _ := api.instant(`iamprop_run_passed{scenario="public-s3-bucket",mode="cluster"} == 1`); n != 1 {
		t.Errorf("the cluster run of public-s3-bucket did not pass:\n%s", tail(runLog))
	}
	// After the run: a lossy link in force, so the fault panel (rules,
	// drops) and annotation have data, and an authorize that fails closed
	// (a consistency token no region will reach), so the refusals do.
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/v1/faults", `{"links": [{"from": "*", "to": "*", "loss": 0.5}]}`, 200},
		{"/v1/authorize", `{"principal": "anonymous", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
			"consistency": {"mode": "at_least", "token": "us-east-2/999999", "timeout": "50ms"}}`, 503},
	} {
		req, _ := http.NewRequest("POST", "http://"+apis[1]+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+adminToken) // the admin token opens reads too
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("POST %s: status %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}
	if !eventuallyTrue(15*time.Second, func() bool {
		n, _ := api.instant(`iamprop_faults_active > 0 and on (region) iamprop_transport_dropped_total > 0`)
		return n == 1
	}) {
		t.Fatal("the lossy link never showed in iamprop_faults_active and iamprop_transport_dropped_total")
	}
	// A few more scrapes, so rate() windows hold two samples after the run.
	time.Sleep(3 * time.Second)

	type query struct {
		file, what, expr string
		instant          bool
	}
	var later []query
	check := func(q query) {
		run := func() (int, error) {
			if q.instant {
				return api.instant(q.expr)
			}
			return api.rangeQuery(q.expr, start)
		}
		n, err := run()
		why, mayBeEmpty := legitimatelyEmpty[q.what]
		if err == nil && n == 0 && !mayBeEmpty {
			eventuallyTrue(10*time.Second, func() bool { n, err = run(); return err != nil || n > 0 })
		}
		switch {
		case err != nil:
			t.Errorf("%s %q: %v\n  %s", q.file, q.what, err, q.expr)
		case mayBeEmpty:
			t.Logf("%s %q: %d series (may be empty: %s)", q.file, q.what, n, why)
		case n == 0:
			t.Errorf("%s %q: no data for %s", q.file, q.what, q.expr)
		}
	}
	dashboards := loadDashboards(t)
	for _, file := range slices.Sorted(maps.Keys(dashboards)) {
		d := dashboards[file]
		// Template variables resolve to values, which the queries then use
		// as Grafana would (a regex alternation of the selected values).
		values := map[string]string{}
		for _, v := range d.Templating.List {
			if v.Type == "datasource" {
				continue
			}
			sel, label, err := variableQuery(v)
			if err != nil {
				t.Errorf("%s variable %s: %v", file, v.Name, err)
				continue
			}
			params := url.Values{"start": {unix(start)}}
			if sel != "" {
				params.Set("match[]", sel)
			}
			r, err := api.get("/api/v1/label/"+label+"/values", params)
			var got []string
			if err == nil {
				err = json.Unmarshal(r.Data, &got)
			}
			if err != nil || len(got) == 0 {
				t.Errorf("%s variable %s resolves to no value (%v)", file, v.Name, err)
				continue
			}
			for i := range got {
				got[i] = regexp.QuoteMeta(got[i])
			}
			values[v.Name] = "(" + strings.Join(got, "|") + ")"
		}
		builtins := []string{"$__rate_interval", "5s", "$__interval", "1s",
			"$__range", fmt.Sprintf("%ds", int(time.Since(start).Seconds())+1)}
		var queries []query
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				queries = append(queries, query{file, "annotation " + a.Name, a.Expr, false})
			}
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				queries = append(queries, query{file, p.Title, tg.Expr, tg.Instant})
			}
		}
		for _, q := range queries {
			q.expr = varRE.ReplaceAllStringFunc(strings.NewReplacer(builtins...).Replace(q.expr), func(m string) string {
				if v, ok := values[strings.TrimLeft(m, "${")]; ok {
					return v
				}
				return m
			})
			if afterNodeDown[q.what] {
				later = append(later, q)
				continue
			}
			check(q)
		}
	}
	// docs/metrics.md's example queries are accepted by this Prometheus.
	for _, q := range docQueries(t) {
		if _, err := api.instant(q); err != nil {
			t.Errorf("docs/metrics.md query %s: %v", q, err)
		}
	}
	// Last, a region node goes away (as a crash would), for the queries
	// that show a node down.
	if err := nodes[2].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if !eventuallyTrue(15*time.Second, func() bool { n, _ := api.instant(`up{job="iamprop-regionnode"} == 0`); return n == 1 }) {
		t.Error("Prometheus never saw the stopped node down")
	}
	for _, q := range later {
		check(q)
	}
	if t.Failed() {
		t.Logf("scenario run output:\n%s", tail(runLog))
	}
}

// get returns the status code of a GET, or 0 on error.
func get(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
