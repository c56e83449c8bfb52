package report

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// backfillAt is a fixed instant for OpenMetrics timestamps in tests.
var backfillAt = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// renderers lists every text renderer with its golden file, so the golden
// and determinism tests cover them all.
var renderers = []struct {
	name   string
	golden string
	render func(io.Writer, *Run) error
}{
	{"terminal", "terminal.golden", func(w io.Writer, r *Run) error { return Terminal(w, r, TerminalOptions{}) }},
	{"terminal-ascii", "terminal_ascii.golden", func(w io.Writer, r *Run) error { return Terminal(w, r, TerminalOptions{ASCII: true}) }},
	{"json", "run.json.golden", JSON},
	{"narrate", "narrate.golden", Narrate},
	{"openmetrics", "openmetrics.golden", func(w io.Writer, r *Run) error { return OpenMetrics(w, r, backfillAt) }},
	{"html", "report.html.golden", HTML},
}

func render(t *testing.T, f func(io.Writer, *Run) error, r *Run) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range renderers {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.golden, render(t, tc.render, fixture()))
		})
	}
}

// TestDeterministic renders each output twice from separately built Runs:
// the same Run must give byte-identical output, or diffs and goldens break.
func TestDeterministic(t *testing.T) {
	for _, tc := range renderers {
		t.Run(tc.name, func(t *testing.T) {
			a, b := render(t, tc.render, fixture()), render(t, tc.render, fixture())
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: two renders of the same run differ", tc.name)
			}
			if len(a) == 0 {
				t.Fatalf("%s: empty output", tc.name)
			}
		})
	}
}

func TestFormatSeconds(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0s"},
		{0.0000004, "1µs"},
		{0.00085, "850µs"},
		{0.0085, "8.5ms"},
		{0.0099996, "10ms"},
		{0.85, "850ms"},
		{0.9996, "1.0s"},
		{4.2, "4.2s"},
		{4.26, "4.3s"},
		{12.34, "12.3s"},
		{59.96, "1m00s"},
		{125, "2m05s"},
		{3725, "1h02m"},
		{-1.5, "-1.5s"},
		{math.Inf(1), "+Inf"},
	}
	for _, tc := range tests {
		if got := FormatSeconds(tc.in); got != tc.want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := formatSeconds(0.00085, true); got != "850us" {
		t.Errorf("ASCII micro: got %q, want 850us", got)
	}
}

func TestTerminalFitsAndMarks(t *testing.T) {
	long := fixture()
	long.Title = strings.Repeat("a very long title ", 10)
	long.Probes[0].Name = "an-extraordinarily-long-probe-name-that-never-ends"
	long.Probes[0].Region = "region-with-a-long-name-9"
	long.Expectations = append(long.Expectations, Expectation{
		Expr: "exposure(attacker-read).max < 5s", Passed: false, Detail: "max = " + strings.Repeat("9.4s ", 40),
	})
	long.Passed = false
	tests := []struct {
		name       string
		run        *Run
		opts       TerminalOptions
		width      int
		want       []string
		wantAbsent []string
	}{
		{"fixture unicode", fixture(), TerminalOptions{}, 100,
			[]string{"✓ converged", "5.4s", "9.4s", "207", "expectations 3/3 passed", "mode sim · seed 1 · 20 trials"}, []string{"✗"}},
		{"fixture ascii", fixture(), TerminalOptions{ASCII: true}, 100,
			[]string{"PASS converged", "mode sim | seed 1 | 20 trials"}, []string{"✓", "·"}},
		{"long names and a failure", long, TerminalOptions{}, 100,
			[]string{"✗ exposure(attacker-read).max < 5s", "expectations 3/4 passed", "…"}, nil},
		{"narrow ascii", long, TerminalOptions{ASCII: true, Width: 72}, 72,
			[]string{"FAIL exposure(attacker-read).max < 5s", "..."}, []string{"…"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(render(t, func(w io.Writer, r *Run) error { return Terminal(w, r, tc.opts) }, tc.run))
			for i, line := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(line); n > tc.width {
					t.Errorf("line %d has %d columns, more than %d: %q", i+1, n, tc.width, line)
				}
				if tc.opts.ASCII {
					for _, r := range line {
						if r > 127 {
							t.Errorf("line %d has non-ASCII %q in ASCII mode: %q", i+1, r, line)
							break
						}
					}
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.wantAbsent {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestJSONShape checks the docs/design.md field names and that the report reads
// back into the same Run (so the JSON is a faithful, lossless format).
func TestJSONShape(t *testing.T) {
	out := render(t, JSON, fixture())
	var generic map[string]any
	if err := json.Unmarshal(out, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "mode", "seed", "trials", "converged", "passed", "probes", "regions", "expectations", "description", "lesson", "timeline", "visibility"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("run report lacks %q", k)
		}
	}
	probe := generic["probes"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "region", "requests", "stale_allows", "stale_denies", "stale_allows_per_trial", "stale_denies_per_trial", "exposure_seconds", "denial_seconds"} {
		if _, ok := probe[k]; !ok {
			t.Errorf("probe lacks %q", k)
		}
	}
	stats := probe["exposure_seconds"].(map[string]any)
	for _, k := range []string{"min", "p50", "p90", "p99", "max", "mean"} {
		if _, ok := stats[k]; !ok {
			t.Errorf("exposure_seconds lacks %q", k)
		}
	}
	region := generic["regions"].([]any)[0].(map[string]any)
	for _, k := range []string{"region", "lag_seconds", "converged_at_seconds"} {
		if _, ok := region[k]; !ok {
			t.Errorf("region lacks %q", k)
		}
	}
	var back Run
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	// The per-trial figures are derived by JSON, not held by the fixture.
	want := fixture()
	for i := range want.Probes {
		p := &want.Probes[i]
		p.StaleAllowsPerTrial = float64(p.StaleAllows) / float64(want.Trials)
		p.StaleDeniesPerTrial = float64(p.StaleDenies) / float64(want.Trials)
	}
	if !reflect.DeepEqual(&back, want) {
		t.Error("the JSON report does not read back into the same Run")
	}
	if got := back.Probes[0].StaleAllowsPerTrial; got != 207.0/20 {
		t.Errorf("stale_allows_per_trial = %v, want 207 over 20 trials = 10.35", got)
	}
	if again := render(t, JSON, &back); !bytes.Equal(again, out) {
		t.Error("re-encoding the decoded report changes its bytes")
	}
	if !bytes.HasPrefix(out, []byte("{\n  \"scenario\": \"public-s3-bucket\",\n")) || !bytes.HasSuffix(out, []byte("}\n")) {
		t.Errorf("unexpected framing or indentation: %.60q", out)
	}
}

func TestJSONRejectsNaN(t *testing.T) {
	r := fixture()
	r.Probes[0].ExposureSeconds.Mean = math.NaN()
	var buf bytes.Buffer
	if err := JSON(&buf, r); err == nil {
		t.Fatal("JSON accepted a NaN statistic")
	}
	if buf.Len() != 0 {
		t.Fatalf("JSON wrote %d bytes before failing", buf.Len())
	}
}

func TestNarrateStory(t *testing.T) {
	out := string(render(t, Narrate, fixture()))
	// Sentences that must appear, in this order.
	want := []string{
		"The probe attacker-read asks eu-west-1: anonymous s3:GetObject arn:aws:s3:::important-financial-documents/q3.pdf.",
		"t=0.000s to 0.500s eu-west-1, attacker-read: anonymous s3:GetObject q3.pdf, 2 requests -> all ALLOWED, as the truth answers (not stale).",
		"t=1.000s us-east-2 commits s3:PutBucketPolicy (private-only) and applies it at once.",
		"t=1.000s attacker-read in eu-west-1 turns stale: the truth already denies, eu-west-1 still allows (exposure window opens).",
		"t=1.000s to 7.000s eu-west-1, attacker-read: anonymous s3:GetObject q3.pdf, 13 requests -> all ALLOWED, stale: eu-west-1 has not applied s3:PutBucketPolicy (private-only) yet (exposure).",
		"t=2.000s eu-west-1 writes s3:PutObject (upload q3.pdf) in the bucket's region: a data-plane write, readable there at once (S3 read-after-write), which no IAM propagation delay holds back.",
		"t=7.021s eu-west-1 applies s3:PutBucketPolicy (private-only) (lag 6.021s); from now on it denies like the truth: the exposure window of attacker-read closes after 6.021s.",
		"t=7.500s to 11.500s eu-west-1, attacker-read: anonymous s3:GetObject q3.pdf, 9 requests -> all DENIED, as the truth answers (not stale).",
		"t=8.000s ap-southeast-2 crashes; it answers nothing until it restarts.",
		"t=10.000s ap-southeast-2 restarts",
		"In the first trial attacker-read in eu-west-1 was exposed for 6.021s; its 24 requests got 13 stale allows.",
		"Over 20 trials attacker-read: its exposure window was p50 5.4s, p99 9.4s, max 9.4s (10.3 stale allows served per trial, 207 over 20 trials).",
		"Lesson: A policy change is not in force everywhere",
	}
	pos := 0
	for _, s := range want {
		i := strings.Index(out[pos:], s)
		if i < 0 {
			t.Fatalf("narration lacks, or has out of order, %q:\n%s", s, out)
		}
		pos += i + len(s)
	}
	// The window closing is told once, inside the apply sentence.
	if n := strings.Count(out, "closes after"); n != 1 {
		t.Errorf("the window's end is told %d times, want 1", n)
	}
}

func TestNarrateEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Run)
		want []string
	}{
		{"no timeline", func(r *Run) { r.Timeline = nil }, []string{"No timeline was recorded for this run."}},
		{"window open at the end", func(r *Run) {
			r.Timeline.Windows[0].To = 12
			r.Timeline.Events = r.Timeline.Events[:7] // eu-west-1 never applies the policy
		}, []string{"t=12.000s the run ends with attacker-read in eu-west-1 still stale; its exposure window lasted at least 11.000s."}},
		{"denial and a rejected step", func(r *Run) {
			r.Timeline.Windows[0].Kind = "denial"
			for i := range r.Timeline.Samples {
				if s := &r.Timeline.Samples[i]; s.Truth == "Deny" && s.Decision == "Allow" {
					s.Decision, s.Truth = "Deny", "Allow"
				}
			}
			r.Timeline.Events = append(r.Timeline.Events, TimelineEvent{At: 11, Region: "us-east-2", Kind: "rejected", Call: "iam:DeleteAccessKey", Label: "NoSuchEntity: no such key"})
		}, []string{
			"from now on it allows like the truth: the denial window of attacker-read closes after 6.021s",
			"-> all DENIED, stale: eu-west-1 has not applied s3:PutBucketPolicy (private-only) yet (denial)",
			"t=11.000s us-east-2 rejects iam:DeleteAccessKey: NoSuchEntity: no such key; nothing is committed or replicated.",
		}},
		{"one trial, no probe details", func(r *Run) {
			r.Trials = 1
			r.Probes[0].Principal, r.Probes[0].Action, r.Probes[0].Resource = "", "", ""
			r.Timeline.Samples = r.Timeline.Samples[3:4]
		}, []string{"The probe attacker-read asks eu-west-1.\n", "t=1.500s eu-west-1, attacker-read -> ALLOWED, stale:", "In this trial attacker-read"}},
		{"cluster-wide fault", func(r *Run) {
			r.Timeline.Events = append(r.Timeline.Events,
				TimelineEvent{At: 9, Kind: "fault", Label: "partition [[us-east-2] [eu-west-1 ap-southeast-2]]"},
				TimelineEvent{At: 11, Kind: "heal", Label: "partition healed"})
		}, []string{"t=9.000s fault: partition [[us-east-2] [eu-west-1 ap-southeast-2]].", "t=11.000s partition healed."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture()
			tc.edit(r)
			out := string(render(t, Narrate, r))
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("narration lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestBins(t *testing.T) {
	tests := []struct {
		name      string
		values    []float64
		wantBins  int
		wantWidth float64
	}{
		{"empty", nil, 0, 0},
		{"all zero", []float64{0, 0, 0}, 1, 0},
		{"fixture", fixture().Probes[0].Histogram, 5, 2},
		{"one value", []float64{4.2}, 5, 1},
		{"max on an edge", []float64{0, 2, 4, 8}, 9, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := bins(tc.values)
			if len(bs) != tc.wantBins {
				t.Fatalf("got %d bins %v, want %d", len(bs), bs, tc.wantBins)
			}
			total := 0
			for _, b := range bs {
				total += b.count
				if w := b.to - b.from; math.Abs(w-tc.wantWidth) > 1e-9 {
					t.Fatalf("bin %v has width %v, want %v", b, w, tc.wantWidth)
				}
			}
			if total != len(tc.values) {
				t.Fatalf("bins hold %d values, want %d", total, len(tc.values))
			}
		})
	}
}

// TestSparseRuns feeds every renderer runs with parts missing, as a runner
// in progress or a scenario without probes produces them: no renderer may
// fail or panic, and each still says something.
func TestSparseRuns(t *testing.T) {
	runs := map[string]*Run{
		"zero":           {},
		"empty timeline": {Scenario: "s", Mode: "sim", Trials: 1, Timeline: &Timeline{}},
		"probe without samples": {Scenario: "s", Mode: "live", Trials: 3,
			Probes:     []Probe{{Name: "p", Region: "r"}},
			Timeline:   &Timeline{Duration: 5, Regions: []string{"r"}, Windows: []Window{{Probe: "p", Region: "r", Kind: "denial", From: 0, To: 5}}},
			Visibility: []VisibilityCurve{{Region: "r"}}},
		"events past the duration": {Scenario: "s", Mode: "cluster", Trials: 1,
			Timeline: &Timeline{Duration: 1, Regions: []string{"a", "b"}, Events: []TimelineEvent{
				{At: 3, Region: "a", Kind: "commit", Mutation: "a/1", Call: "iam:DeleteAccessKey"},
				{At: 4, Region: "b", Kind: "apply", Mutation: "a/1", Call: "iam:DeleteAccessKey", Lag: 1},
				{At: 4.5, Region: "b", Kind: "fault", Label: "one-way partition b -> a"}}}},
	}
	for name, r := range runs {
		for _, tc := range renderers {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				if out := render(t, tc.render, r); len(bytes.TrimSpace(out)) == 0 {
					t.Fatal("empty output")
				}
			})
		}
	}
}

// TestJSONLayout checks the re-indenter: whatever the content, the output
// compacts back to exactly what encoding/json produced, and flat arrays
// stay on one line.
func TestJSONLayout(t *testing.T) {
	tricky := fixture()
	tricky.Title = `brackets [in] {a} "string", a backslash \ and ünïcode ✓`
	tricky.Expectations[0].Detail = `]},[{`
	tests := []struct {
		name string
		run  *Run
		want []string
	}{
		{"fixture", fixture(), []string{
			`"exposure_histogram": [6.021, 4.87, 7.9, 0, 5.4, 3.2, 6.8, 9.41, 5.02, 4.1, 6.3, 2.75, 5.9, 7.1, 0, 4.66, 8.2, 5.55, 3.9, 6.6],`,
			"\"points\": [\n        [0, 1],\n        [0.941, 1],",
			"\"regions\": [\"us-east-2\", \"eu-west-1\", \"ap-southeast-2\"],",
		}},
		{"tricky strings", tricky, []string{`"detail": "]},[{"`, `"expr": "exposure(attacker-read).p50 > 0s"`}},
		{"empty", &Run{}, []string{`"probes": null,`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, JSON, tc.run)
			var enc bytes.Buffer
			e := json.NewEncoder(&enc)
			e.SetEscapeHTML(false)
			if err := e.Encode(withPerTrial(tc.run)); err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(enc.Bytes(), []byte("\n"))
			var got bytes.Buffer
			if err := json.Compact(&got, out); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("output differs from encoding/json once compacted:\n got %s\nwant %s", got.Bytes(), want)
			}
			for _, s := range tc.want {
				if !strings.Contains(string(out), s) {
					t.Errorf("output lacks %q", s)
				}
			}
		})
	}
}

// A probe with a consistency option shows what the freshness cost.
func TestTerminalShowsConsistencyWait(t *testing.T) {
	r := &Run{Scenario: "s", Mode: "sim", Trials: 1, Probes: []Probe{{
		Name: "reader", Region: "eu-west-1",
		LatencySeconds: &Stats{P50: 2.1, P99: 7.2, Max: 9.1},
	}}}
	var b strings.Builder
	if err := Terminal(&b, r, TerminalOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "reader: requests that waited for fresh data waited p50 2.1s, p99 7.2s, max 9.1s") {
		t.Errorf("terminal output lacks the wait line:\n%s", b.String())
	}
}
