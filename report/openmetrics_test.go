package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// omFamily is what checkOpenMetrics learned about one metric family.
type omFamily struct {
	typ, unit, help string
	samples         []omSample
}

type omSample struct {
	name   string
	labels map[string]string
	value  float64
	ts     float64
}

var (
	omMeta     = regexp.MustCompile(`^# (TYPE|UNIT|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$`)
	omSampleRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (\S+)$`)
	omLabel    = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)`)
)

// checkOpenMetrics parses the subset of OpenMetrics the renderer writes and
// enforces the rules promtool relies on: metadata before samples, families
// not interleaved, sample names matching the family's type, a unit that is
// the name's suffix, every sample timestamped, cumulative buckets whose +Inf
// equals _count, and "# EOF" as the last line.
func checkOpenMetrics(t *testing.T, text string) map[string]*omFamily {
	t.Helper()
	if !strings.HasSuffix(text, "# EOF\n") {
		t.Fatalf("does not end with # EOF")
	}
	families := map[string]*omFamily{}
	var cur string
	lines := strings.Split(strings.TrimSuffix(text, "# EOF\n"), "\n")
	for i, line := range lines[:len(lines)-1] {
		n := i + 1
		if m := omMeta.FindStringSubmatch(line); m != nil {
			name := m[2]
			if name != cur {
				if _, seen := families[name]; seen {
					t.Fatalf("line %d: family %s appears twice (interleaved)", n, name)
				}
				families[name] = &omFamily{}
				cur = name
			}
			f := families[name]
			if len(f.samples) > 0 {
				t.Fatalf("line %d: metadata after samples of %s", n, name)
			}
			switch m[1] {
			case "TYPE":
				f.typ = m[3]
			case "UNIT":
				f.unit = m[3]
				if !strings.HasSuffix(name, "_"+m[3]) {
					t.Fatalf("line %d: unit %s is not the suffix of %s", n, m[3], name)
				}
			case "HELP":
				f.help = m[3]
			}
			continue
		}
		m := omSampleRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not a sample or metadata: %q", n, line)
		}
		f := families[cur]
		if f == nil || f.typ == "" {
			t.Fatalf("line %d: sample before any # TYPE", n)
		}
		suffixes := map[string][]string{
			"histogram": {"_bucket", "_count", "_sum", "_created"},
			"counter":   {"_total", "_created"},
			"gauge":     {""},
			"summary":   {"", "_count", "_sum", "_created"},
		}[f.typ]
		ok := false
		for _, s := range suffixes {
			ok = ok || m[1] == cur+s
		}
		if !ok {
			t.Fatalf("line %d: sample %s does not belong to %s family %s", n, m[1], f.typ, cur)
		}
		s := omSample{name: m[1], labels: map[string]string{}}
		rest := strings.TrimSuffix(strings.TrimPrefix(m[2], "{"), "}")
		for rest != "" {
			lm := omLabel.FindStringSubmatch(rest)
			if lm == nil {
				t.Fatalf("line %d: bad label set %q", n, m[2])
			}
			s.labels[lm[1]] = lm[2]
			rest = rest[len(lm[0]):]
		}
		var err error
		if s.value, err = strconv.ParseFloat(m[3], 64); err != nil {
			t.Fatalf("line %d: value %q: %v", n, m[3], err)
		}
		if s.ts, err = strconv.ParseFloat(m[4], 64); err != nil {
			t.Fatalf("line %d: timestamp %q: %v", n, m[4], err)
		}
		f.samples = append(f.samples, s)
	}
	for name, f := range families {
		if f.typ == "" || f.help == "" {
			t.Errorf("family %s lacks # TYPE or # HELP", name)
		}
		if f.typ != "histogram" {
			continue
		}
		// Buckets come in order per series, cumulative, +Inf = _count.
		last, inf := map[string]float64{}, map[string]float64{}
		for _, s := range f.samples {
			key := fmt.Sprint(s.labels["scenario"], "|", s.labels["probe"], "|", s.labels["region"])
			switch s.name {
			case name + "_bucket":
				if s.value < last[key] {
					t.Errorf("%s: bucket le=%s is below the one before", key, s.labels["le"])
				}
				last[key] = s.value
				if s.labels["le"] == "+Inf" {
					inf[key] = s.value
				}
			case name + "_count":
				if v, ok := inf[key]; !ok || v != s.value {
					t.Errorf("%s: _count %v differs from the +Inf bucket %v", key, s.value, v)
				}
			}
		}
	}
	return families
}

func TestOpenMetricsFormat(t *testing.T) {
	noHist := fixture()
	noHist.Probes[0].Histogram = nil
	odd := fixture()
	odd.Scenario = `quote"back\slash` + "\nnewline"
	tests := []struct {
		name string
		run  *Run
		at   time.Time
		want []string
	}{
		{"fixture", fixture(), backfillAt, []string{
			`iamprop_exposure_window_seconds_bucket{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1",le="4.0"} 5.0 1793534400.000`,
			`iamprop_exposure_window_seconds_sum{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1"} 103.681 1793534400.000`,
			`iamprop_stale_decisions_total{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1",kind="exposure"} 207.0 `,
			`iamprop_scenario_lag_seconds{scenario="public-s3-bucket",region="eu-west-1",quantile="0.99"} 9.41 `,
		}},
		{"no per-trial sample", noHist, backfillAt.Add(1500 * time.Millisecond), []string{
			`le="+Inf"} 20.0 1793534401.500`,
			`iamprop_exposure_window_seconds_sum{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1"} 103.681 1793534401.500`,
		}},
		{"escaped labels", odd, backfillAt, []string{`scenario="quote\"back\\slash\nnewline"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(render(t, func(w io.Writer, r *Run) error { return OpenMetrics(w, r, tc.at) }, tc.run))
			fams := checkOpenMetrics(t, out)
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q", s)
				}
			}
			want := float64(tc.at.UnixMilli()) / 1000
			for name, f := range fams {
				for _, s := range f.samples {
					if s.ts != want {
						t.Fatalf("%s: timestamp %v, want %v", name, s.ts, want)
					}
				}
			}
			for _, name := range []string{"iamprop_exposure_window_seconds", "iamprop_stale_decisions", "iamprop_scenario_lag_seconds"} {
				if fams[name] == nil || len(fams[name].samples) == 0 {
					t.Errorf("family %s missing or empty", name)
				}
			}
			if fams["iamprop_exposure_window_seconds"].unit != "seconds" {
				t.Error("exposure histogram lacks # UNIT seconds")
			}
		})
	}
}

// TestOpenMetricsPromtoolBackfill feeds the output to the real promtool,
// the way an operator backfills a simulated run, and reads the block back.
func TestOpenMetricsPromtoolBackfill(t *testing.T) {
	promtool := needTool(t, "promtool", "Debian: apt-get install prometheus")
	dir := t.TempDir()
	in := filepath.Join(dir, "run.om")
	var buf bytes.Buffer
	if err := OpenMetrics(&buf, fixture(), backfillAt); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool rejected the OpenMetrics output: %v\n%s", err, out)
	}
	// dump reads the write-ahead log too; a backfilled store has none.
	if err := os.MkdirAll(filepath.Join(data, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	dump, err := exec.Command(promtool, "tsdb", "dump", data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool tsdb dump: %v\n%s", err, dump)
	}
	text := string(dump)
	for _, want := range []string{
		`{__name__="iamprop_exposure_window_seconds_bucket", le="8.0", probe="attacker-read", region="eu-west-1", scenario="public-s3-bucket"} 18 1793534400000`,
		`{__name__="iamprop_stale_decisions_total", kind="exposure", probe="attacker-read", region="eu-west-1", scenario="public-s3-bucket"} 207 1793534400000`,
		`{__name__="iamprop_scenario_lag_seconds", quantile="0.5", region="eu-west-1", scenario="public-s3-bucket"} 3.1 1793534400000`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("backfilled block lacks %s\n%s", want, text)
		}
	}
	// Per probe: the buckets, +Inf, _count, _sum, two stale kinds, requests;
	// per region: three lag quantiles; per run: three gauges.
	r := fixture()
	want := len(r.Probes)*(len(ExposureBuckets)+3+2+1) + len(r.Regions)*3 + 3
	if n := strings.Count(strings.TrimSpace(text), "\n") + 1; n != want {
		t.Errorf("backfilled %d series, want %d", n, want)
	}
}
