package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboard is the part of Grafana's dashboard JSON model the lint checks.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title       string `json:"title"`
		Type        string `json:"type"`
		Description string `json:"description"`
		FieldConfig struct {
			Defaults struct {
				Unit string `json:"unit"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// loadDashboards reads every dashboards/*.json file.
func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 dashboards, got %v (%v)", files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: invalid JSON: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// catalog returns the metric names documented in docs/metrics.md plus the names the
// sim's OpenMetrics report writes (report/openmetrics.go) and the standard process metrics.
func catalog(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`iamprop_[a-z_]+`).FindAllString(string(b), -1) {
		names[m] = true
	}
	om, err := os.ReadFile("../report/openmetrics.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`iamprop_[a-z_]+`).FindAllString(string(om), -1) {
		names[m] = true
	}
	for _, m := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "up"} {
		names[m] = true
	}
	return names
}

var metricRE = regexp.MustCompile(`\b(iamprop_[a-z_]+|process_[a-z_]+)\b`)

// TestLint checks every dashboard's structure, panels, metric names and variables.
func TestLint(t *testing.T) {
	names := catalog(t)
	uids := map[string]string{}
	for file, d := range loadDashboards(t) {
		t.Run(file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("missing uid or title")
			}
			if other, ok := uids[d.UID]; ok {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = file
			if d.SchemaVersion < 36 {
				t.Errorf("schemaVersion %d is older than current Grafana", d.SchemaVersion)
			}
			vars := map[string]bool{"__all": true}
			for _, v := range d.Templating.List {
				vars[v.Name] = true
			}
			for _, want := range []string{"datasource", "scenario", "region", "origin"} {
				if !vars[want] {
					t.Errorf("template variable %q missing", want)
				}
			}
			if len(d.Panels) == 0 {
				t.Fatal("no panels")
			}
			for _, p := range d.Panels {
				if p.Title == "" || p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("panel %q: title, description and unit are required", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q: no query", p.Title)
				}
				for _, tg := range p.Targets {
					for _, m := range metricRE.FindAllString(tg.Expr, -1) {
						base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
						if !names[m] && !names[base] {
							t.Errorf("panel %q: metric %s not in the catalog", p.Title, m)
						}
					}
					for _, v := range regexp.MustCompile(`\$\{?([a-zA-Z_]+)`).FindAllStringSubmatch(tg.Expr, -1) {
						if !vars[v[1]] {
							t.Errorf("panel %q: variable $%s is not defined", p.Title, v[1])
						}
					}
				}
			}
		})
	}
}

// needTool returns the path of an outside program, skipping the test when it is missing
// unless CI=true, where a missing program fails the test.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install prometheus); skipping", name)
	}
	return p
}

// TestPromtoolCheckConfig runs promtool check config on the shipped prometheus.yml.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := needTool(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "check", "config", "--syntax-only", "prometheus.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// freePort returns a free loopback TCP port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestQueriesParse starts a real Prometheus and sends every panel's query (with template
// variables substituted) to /api/v1/query; Prometheus answers 400 for a malformed query.
func TestQueriesParse(t *testing.T) {
	prom := needTool(t, "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	deadline := time.Now().Add(40 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s", addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	subst := strings.NewReplacer("$scenario", ".*", "$region", ".*", "$origin", ".*")
	for file, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(subst.Replace(tg.Expr)))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s panel %q: query rejected: %s", file, p.Title, body)
				}
			}
		}
	}
}

// TestBackfill runs a sim of public-s3-bucket with --openmetrics, backfills it with
// promtool tsdb create-blocks-from openmetrics, and checks the block holds the run's
// exposure windows (one observation per trial for the attacker-read probe).
func TestBackfill(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	om := filepath.Join(dir, "run.om")
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	steps := []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"scenario run", exec.CommandContext(ctx, "go", "run", "../cmd/scenario", "run", "../scenarios/public-s3-bucket.yaml", "--trials", "20", "--openmetrics", om)},
		{"create-blocks", exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", om, data)},
	}
	for _, s := range steps {
		if out, err := s.cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(data, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, promtool, "tsdb", "dump", "--match=iamprop_exposure_window_seconds_count", data).CombinedOutput()
	if err != nil {
		t.Fatalf("tsdb dump: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`probe="attacker-read", region="eu-west-1", scenario="public-s3-bucket"\} 20 `).Match(out) {
		t.Fatalf("backfilled block lacks 20 exposure windows for attacker-read:\n%s", out)
	}
}
