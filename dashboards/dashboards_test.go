package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/iamprop/iamprop/metrics"
)

// target is one query of a panel or an annotation.
type target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	Format       string `json:"format"`
	Instant      bool   `json:"instant"`
	LegendFormat string `json:"legendFormat"`
	Datasource   struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

// panel is the part of a Grafana panel the lint checks.
type panel struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Datasource  struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Options struct {
		YAxis struct {
			Unit string `json:"unit"`
		} `json:"yAxis"`
	} `json:"options"`
	Targets []target `json:"targets"`
}

// variable is a template variable.
type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Definition string `json:"definition"`
}

// annotation is a dashboard annotation; Prometheus ones carry an expr.
type annotation struct {
	Name    string `json:"name"`
	BuiltIn int    `json:"builtIn"`
	Expr    string `json:"expr"`
	Step    string `json:"step"`
}

// dashboard is the part of Grafana's dashboard JSON model the lint checks.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
	Panels []panel `json:"panels"`
}

// loadDashboards reads every dashboards/*.json file, rejecting unknown
// top-level shapes (a panel that is not an object, a string schemaVersion).
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
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: not Grafana's dashboard model: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// grafanaVars are Grafana's built-in interval variables, with the values the
// lint parses them as (any valid duration would do).
var grafanaVars = []string{"$__rate_interval", "1m", "$__interval", "15s", "$__range", "1h"}

var varRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// expand replaces Grafana's variables in a query: the built-in intervals by
// durations, template variables by values.
func expand(expr string, values map[string]string) string {
	out := strings.NewReplacer(grafanaVars...).Replace(expr)
	return varRE.ReplaceAllStringFunc(out, func(m string) string {
		name := strings.TrimLeft(m, "${")
		if v, ok := values[name]; ok {
			return v
		}
		return m
	})
}

// recorder is a prometheus.Registerer that only records the metric names
// of what is registered on it: the metrics package's own catalog.
type recorder struct{ names map[string]bool }

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return true }

// catalog is the project's metrics: what package metrics registers for a
// region node and for the scenario runner, what the sim's OpenMetrics
// backfill writes (report/openmetrics.go), and the standard series a
// scrape adds. documented is what docs/metrics.md names.
type catalog struct {
	known, documented map[string]bool
}

func loadCatalog(t *testing.T) catalog {
	t.Helper()
	rec := &recorder{names: map[string]bool{}}
	if _, err := metrics.New(rec, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.NewRunner(rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.names) < 20 {
		t.Fatalf("only %d names recorded from package metrics", len(rec.names))
	}
	known := map[string]bool{}
	for n := range rec.names {
		known[n] = true
	}
	om, err := os.ReadFile("../report/openmetrics.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(iamprop_[a-z_]+)"`).FindAllStringSubmatch(string(om), -1) {
		known[m[1]] = true
	}
	for _, m := range []string{"up", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		known[m] = true
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(iamprop_[a-z_]+)").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	// Every metric the package defines is documented.
	for n := range rec.names {
		if !documented[n] {
			t.Errorf("docs/metrics.md does not document %s (package metrics registers it)", n)
		}
	}
	return catalog{known: known, documented: documented}
}

// base strips a histogram's or summary's series suffix.
func base(name string, known map[string]bool) string {
	for _, s := range []string{"_bucket", "_count", "_sum"} {
		if b, ok := strings.CutSuffix(name, s); ok && known[b] {
			return b
		}
	}
	return name
}

// checkExpr parses a PromQL expression (variables expanded) and checks that
// every metric it selects is in the catalog. It returns the metric names.
func checkExpr(expr string, cat catalog) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expand(expr, map[string]string{"scenario": "s", "region": "r", "origin": "o"}))
	if err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	var names []string
	var errs []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName {
				name = m.Value
			}
		}
		if name == "" {
			errs = append(errs, "a selector without a metric name")
			return nil
		}
		names = append(names, name)
		b := base(name, cat.known)
		switch {
		case !cat.known[b]:
			errs = append(errs, fmt.Sprintf("metric %s is not in the metrics catalog (package metrics, report/openmetrics.go)", name))
		case strings.HasPrefix(b, "iamprop_") && !cat.documented[b]:
			errs = append(errs, fmt.Sprintf("metric %s is not documented in docs/metrics.md", b))
		}
		return nil
	})
	if len(errs) > 0 {
		return names, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return names, nil
}

var labelValuesRE = regexp.MustCompile(`^label_values\(\s*(?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// variableQuery returns the metric selector (possibly empty) and label of a
// label_values() variable query.
func variableQuery(v variable) (selector, label string, err error) {
	q := v.Definition
	if m, ok := v.Query.(map[string]any); ok {
		if s, ok := m["query"].(string); ok {
			q = s
		}
	}
	m := labelValuesRE.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return "", "", fmt.Errorf("query %q is not label_values([SELECTOR,] LABEL)", q)
	}
	return m[1], m[2], nil
}

// TestLint checks every dashboard's structure, panels, queries, metric names,
// annotations and variables.
func TestLint(t *testing.T) {
	cat := loadCatalog(t)
	uids := map[string]string{}
	for file, d := range loadDashboards(t) {
		t.Run(file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("missing uid or title")
			}
			if !regexp.MustCompile(`^iamprop-[a-z-]+$`).MatchString(d.UID) {
				t.Errorf("uid %q: want a stable, readable iamprop-NAME uid", d.UID)
			}
			if other, ok := uids[d.UID]; ok {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = file
			// Grafana 11 writes 39-40, Grafana 12 writes 41.
			if d.SchemaVersion < 39 {
				t.Errorf("schemaVersion %d is older than a current Grafana's (39+)", d.SchemaVersion)
			}
			vars := map[string]bool{}
			for _, v := range d.Templating.List {
				vars[v.Name] = true
				if v.Type == "datasource" {
					continue
				}
				sel, label, err := variableQuery(v)
				if err != nil {
					t.Errorf("variable %s: %v", v.Name, err)
					continue
				}
				if sel != "" {
					if _, err := checkExpr(sel, cat); err != nil {
						t.Errorf("variable %s: %v", v.Name, err)
					}
				}
				if label != v.Name {
					t.Errorf("variable %s lists values of label %s", v.Name, label)
				}
			}
			for _, want := range []string{"datasource", "scenario", "region", "origin"} {
				if !vars[want] {
					t.Errorf("template variable %q missing", want)
				}
			}
			useVars := func(where, expr string) {
				for _, v := range varRE.FindAllStringSubmatch(expr, -1) {
					if !vars[v[1]] && !strings.HasPrefix(v[1], "__") {
						t.Errorf("%s: variable $%s is not defined", where, v[1])
					}
				}
				for _, v := range regexp.MustCompile(`\$__[a-z_]+`).FindAllString(expr, -1) {
					if !strings.Contains(strings.Join(grafanaVars, " "), v) {
						t.Errorf("%s: Grafana variable %s is not one the lint knows", where, v)
					}
				}
			}
			prom := 0
			for _, a := range d.Annotations.List {
				if a.BuiltIn == 1 {
					continue
				}
				prom++
				where := fmt.Sprintf("annotation %q", a.Name)
				if a.Expr == "" || a.Step == "" {
					t.Errorf("%s: want a Prometheus expr and a step", where)
					continue
				}
				if _, err := checkExpr(a.Expr, cat); err != nil {
					t.Errorf("%s: %v", where, err)
				}
				useVars(where, a.Expr)
			}
			if prom < 2 {
				t.Errorf("want annotations for faults and mutations, got %d", prom)
			}
			if len(d.Panels) == 0 {
				t.Fatal("no panels")
			}
			ids := map[int]bool{}
			for _, p := range d.Panels {
				where := fmt.Sprintf("panel %q", p.Title)
				if p.Title == "" || p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("%s: title, description and unit are required", where)
				}
				if len(p.Description) < 60 {
					t.Errorf("%s: the description must say how to read the panel, got %q", where, p.Description)
				}
				if p.ID < 1 || ids[p.ID] {
					t.Errorf("%s: id %d is not a unique positive integer", where, p.ID)
				}
				ids[p.ID] = true
				if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
					t.Errorf("%s: no gridPos", where)
				}
				if p.Datasource.UID != "${datasource}" {
					t.Errorf("%s: datasource %q, want the ${datasource} variable", where, p.Datasource.UID)
				}
				if p.Type == "heatmap" && p.Options.YAxis.Unit == "" {
					t.Errorf("%s: heatmap without a y axis unit", where)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no query", where)
				}
				for _, tg := range p.Targets {
					tw := fmt.Sprintf("%s query %s", where, tg.RefID)
					if tg.Datasource.UID != "${datasource}" {
						t.Errorf("%s: datasource %q, want ${datasource}", tw, tg.Datasource.UID)
					}
					names, err := checkExpr(tg.Expr, cat)
					if err != nil {
						t.Errorf("%s: %v\n  %s", tw, err, tg.Expr)
					}
					if len(names) == 0 {
						t.Errorf("%s: selects no metric", tw)
					}
					if p.Type == "heatmap" && (tg.Format != "heatmap" || !strings.Contains(tg.Expr, "by (le)")) {
						t.Errorf("%s: a heatmap query must be format heatmap and sum by (le)", tw)
					}
					useVars(tw, tg.Expr)
				}
			}
		})
	}
}

// TestLintCatchesMistakes feeds the expression check what it must refuse.
func TestLintCatchesMistakes(t *testing.T) {
	cat := loadCatalog(t)
	for _, tc := range []struct {
		expr, want string
	}{
		{`sum(rate(iamprop_mutations_committed_total[5m])`, "does not parse"},
		{`rate(iamprop_mutations_comitted_total[5m])`, "not in the metrics catalog"},
		{`histogram_quantile(0.5, sum by (le) (rate(iamprop_replication_lag_seconds_bucket{region=~"$region"}[$__rate_interval])))`, ""},
		{`{__name__="iamprop_no_such_thing"}`, "not in the metrics catalog"},
		{`sum by (le) (iamprop_exposure_window_seconds_bucket)`, ""},
	} {
		_, err := checkExpr(tc.expr, cat)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkExpr(%s) = %v, want %q", tc.expr, err, tc.want)
		}
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
	out, err := exec.CommandContext(ctx, promtool, "check", "config", "prometheus.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
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

// docQueries returns the example queries of docs/metrics.md's promql
// blocks. A line that starts with spaces continues the query above it.
func docQueries(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, b := range regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		for _, line := range strings.Split(b[1], "\n") {
			switch {
			case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, " ") && len(queries) > 0:
				queries[len(queries)-1] += " " + strings.TrimSpace(line)
			default:
				queries = append(queries, line)
			}
		}
	}
	return queries
}

// TestDocQueriesParse checks the example queries of docs/metrics.md the way
// the dashboards' are checked: they parse and name catalog metrics
// (TestIntegration also runs them through Prometheus).
func TestDocQueriesParse(t *testing.T) {
	cat := loadCatalog(t)
	queries := docQueries(t)
	for _, q := range queries {
		if _, err := checkExpr(q, cat); err != nil {
			t.Errorf("docs/metrics.md: %v\n  %s", err, q)
		}
	}
	if len(queries) < 4 {
		t.Errorf("found %d example queries in docs/metrics.md, want at least the 4 it shows", len(queries))
	}
}
