package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// legitimatelyEmpty lists panels that have no data against a freshly started live
// cluster, and why.
var legitimatelyEmpty = map[string]string{
	"Exposure window p99":    "iamprop_exposure_window_seconds comes from backfilled sim runs (TestBackfill), not from nodes",
	"Stale decisions served": "a node counts stale decisions only while its view lags; with no apply delay there are none",
}

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

// TestIntegration starts three regionnode processes and a real Prometheus scraping them
// with the shipped config, and runs every panel's query through Prometheus's HTTP API.
func TestIntegration(t *testing.T) {
	prom := needTool(t, "prometheus")
	dir := t.TempDir()
	bin := filepath.Join(dir, "regionnode")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/regionnode").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const token = "dashboards-test-token-0123456789"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	var gossips, https []string
	var cmds []*exec.Cmd
	for i, r := range regions {
		g := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		h := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args := []string{"--region", r, "--gossip", g, "--http", h, "--data-dir", filepath.Join(dir, r),
			"--gossip-preset", "local", "--gossip-interval", "20ms", "--push-pull-interval", "1s"}
		if i > 0 {
			args = append(args, "--join", strings.Join(gossips, ","))
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "IAMPROP_API_TOKEN="+token)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		gossips, https = append(gossips, g), append(https, h)
		if !eventuallyTrue(20*time.Second, func() bool { return get("http://"+h+"/readyz") == 200 }) {
			t.Fatalf("%s not ready", r)
		}
	}
	defer func() {
		cancel()
		for _, c := range cmds {
			_ = c.Wait()
		}
	}()
	for i := range 3 {
		body := fmt.Sprintf(`{"call":"iam:CreateUser","with":{"user_name":"u%d"}}`, i)
		req, _ := http.NewRequest("POST", "http://"+https[i]+"/v1/mutations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("commit at %s: %v %v", regions[i], err, resp)
		}
		resp.Body.Close()
		for _, h := range https {
			r, err := http.Post("http://"+h+"/v1/authorize", "application/json",
				strings.NewReader(`{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`))
			if err != nil || r.StatusCode != 200 {
				t.Fatalf("authorize at %s: %v", h, err)
			}
			r.Body.Close()
		}
	}
	// promtool check metrics on a scrape of a node.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		resp, err := http.Get("http://" + https[0] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		scrape, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c := exec.Command(promtool, "check", "metrics")
		c.Stdin = strings.NewReader(string(scrape))
		// Exit status 3 means lint findings only; those in memberlist's own metrics
		// (counters without _total) are not the project's, ours must be clean.
		out, err := c.CombinedOutput()
		if err != nil && (c.ProcessState.ExitCode() != 3 || strings.Contains(string(out), "iamprop_")) {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
	// Prometheus config generated from the shipped one.
	shipped, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(shipped), `["us-east-2:8080", "eu-west-1:8080", "ap-southeast-2:8080"]`, `["`+strings.Join(https, `", "`)+`"]`, 1)
	cfg = strings.Replace(cfg, "scrape_interval: 5s", "scrape_interval: 1s", 1)
	if cfg == string(shipped) {
		t.Fatal("could not point the shipped prometheus.yml at the test nodes")
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pc := exec.CommandContext(ctx, prom, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr)
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	cmds = append(cmds, pc)
	query := func(q string) (int, int) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, 0
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, len(r.Data.Result)
	}
	if !eventuallyTrue(40*time.Second, func() bool { _, n := query(`up == 1`); return n == 3 }) {
		t.Fatal("prometheus targets not up")
	}
	// Enough scrapes for rate() over the panels' windows.
	time.Sleep(4 * time.Second)
	subst := strings.NewReplacer("$scenario", ".*", "$region", ".*", "$origin", ".*")
	for file, d := range loadDashboards(t) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				q := subst.Replace(tg.Expr)
				_, empty := legitimatelyEmpty[p.Title]
				code, n := query(q)
				if !empty {
					eventuallyTrue(15*time.Second, func() bool { code, n = query(q); return n > 0 })
				}
				if code != 200 {
					t.Errorf("%s %q: status %d", file, p.Title, code)
				}
				if why, ok := legitimatelyEmpty[p.Title]; ok {
					t.Logf("%s %q: %d series (may be empty: %s)", file, p.Title, n, why)
					continue
				}
				if n == 0 {
					t.Errorf("%s %q: no data for %s", file, p.Title, q)
				}
			}
		}
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
