package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// updateDocs rewrites docs/img/report.png, the README's picture of the HTML
// report, from the test fixture:
//
//	go test ./report/ -run Chromium -update-docs
var updateDocs = flag.Bool("update-docs", false, "rewrite docs/img/report.png from the fixture")

func TestHTMLSelfContained(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Run)
		want []string
	}{
		{"fixture", func(*Run) {}, []string{`id="timeline"`, `id="histogram-attacker-read"`, `id="visibility"`, "The lesson", "What happens"}},
		{"no timeline, curves or histogram", func(r *Run) {
			r.Timeline, r.Visibility, r.Probes[0].Histogram = nil, nil, nil
		}, []string{"No timeline was recorded", "No mutation was applied", "No per-trial exposure values"}},
		{"markup in names is escaped", func(r *Run) {
			r.Title = `<script>alert("x")</script>`
			r.Probes[0].Name = `p<b>`
			r.Timeline.Windows[0].Probe = `p<b>`
		}, []string{`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, `id="histogram-p-b-"`}},
		// A probe never stale draws no bar: a red bar at 0 reads as
		// exposure.
		{"all-zero exposure", func(r *Run) {
			for i := range r.Probes[0].Histogram {
				r.Probes[0].Histogram[i] = 0
			}
			r.Probes[0].ExposureSeconds = Stats{}
		}, []string{"attacker-read</b> in eu-west-1 was never stale over 20 trials"}},
		// The scenario's steps, probes, delay model and sources are listed;
		// the model is drawn dashed under the measured curves.
		{"scenario listed", func(r *Run) {
			r.Steps = []StepInfo{{At: 1, Region: "us-east-2", Call: "s3:PutBucketPolicy", Label: "private-only"}}
			r.Propagation = "default lognormal(median 4s, p99 10s)"
			r.Sources = []string{"https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html", "<b>a book</b>"}
			r.ModelVisibility = []VisibilityCurve{{Region: "eu-west-1", Points: [][2]float64{{0, 0}, {4, 0.5}, {9.41, 0.99}}}}
		}, []string{`<section id="setup">`, "<code>s3:PutBucketPolicy</code>", "private-only", "<b>attacker-read</b> asks eu-west-1: <code>anonymous s3:GetObject arn:aws:s3:::important-financial-documents/q3.pdf</code>",
			"<code>default lognormal(median 4s, p99 10s)</code>", "<li>https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html</li>", "&lt;b&gt;a book&lt;/b&gt;",
			`<polyline class="model" data-region="eu-west-1"`, "delay model</text>"}},
		// The worst trial's timeline follows the first's, with its own ids.
		{"worst trial", func(r *Run) {
			r.Worst = &WorstTrial{Index: 6, Seed: 7, ExposureSeconds: 9.41, Timeline: r.Timeline}
		}, []string{`id="timeline-worst"`, "Timeline of the worst trial", "Trial 7 of 20 (seed 7, replay it with <code>--seed 7 --trials 1</code>)", "9.4s summed over the probes"}},
		// Without exposure the worst trial is the longest denial.
		{"worst trial by denial", func(r *Run) {
			r.Worst = &WorstTrial{Index: 6, Seed: 7, DenialSeconds: 7.2, Timeline: r.Timeline}
		}, []string{`id="timeline-worst"`, "had the longest denial: 7.2s summed over the probes"}},
		// A denial-only probe gets a denial chart, and no exposure bars.
		{"denial only", func(r *Run) {
			pr := &r.Probes[0]
			pr.DenialHistogram = make([]float64, len(pr.Histogram))
			for i := range pr.Histogram {
				pr.DenialHistogram[i], pr.Histogram[i] = pr.Histogram[i], 0
			}
			pr.DenialSeconds, pr.ExposureSeconds = pr.ExposureSeconds, Stats{}
		}, []string{`id="denial-histogram-attacker-read"`, "Denial window of attacker-read in eu-west-1 over 20 trials", `fill="` + colDenial + `"`, "denial window per trial (seconds)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture()
			tc.edit(r)
			out := string(render(t, HTML, r))
			// Nothing may be fetched: no URL, no src/href, no CSS import;
			// url() only for the in-document hatch pattern. Sources are
			// listed as plain text, which fetches nothing.
			fetchable := out
			if i, j := strings.Index(out, `<ul class="sources">`), strings.Index(out, "</ul>\n</section>"); i >= 0 && j > i {
				fetchable = out[:i] + out[j:]
			}
			for _, bad := range []string{"http:", "https:", "//cdn", "src=", "href=", "@import", "<link"} {
				if strings.Contains(fetchable, bad) {
					t.Errorf("HTML contains %q: the report must load nothing", bad)
				}
			}
			if n, m := strings.Count(out, "url("), strings.Count(out, "url(#hatch)"); n != m {
				t.Errorf("HTML has %d url() references, only %d are the in-document hatch", n, m)
			}
			if strings.Contains(out, "<script>alert") {
				t.Error("a title was not escaped")
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("HTML lacks %q", s)
				}
			}
			for _, id := range []string{`id="hatch"`, `id="timeline"`, `id="timeline-title"`} {
				if n := strings.Count(out, id); n > 1 {
					t.Errorf("%s appears %d times: ids must be unique", id, n)
				}
			}
			// No histogram bar stands for "no window": every bar counts
			// trials with a window above zero.
			if strings.Contains(out, `data-from="0" data-to="0"`) {
				t.Error("a bar is drawn for trials without a window")
			}
		})
	}
}

// pageFacts is what the browser reports about the rendered page.
type pageFacts struct {
	Title       string   `json:"title"`
	Lanes       int      `json:"lanes"`
	LaneRegions []string `json:"laneRegions"`
	Timeline    box      `json:"timeline"`
	Histogram   box      `json:"histogram"`
	Visibility  box      `json:"visibility"`
	Exposure    box      `json:"exposure"`
	Curves      int      `json:"curves"`
	MinCurveLen float64  `json:"minCurveLen"`
	BarTrials   int      `json:"barTrials"`
	Commits     int      `json:"commits"`
	Applies     int      `json:"applies"`
	Writes      int      `json:"writes"`
	Faults      int      `json:"faults"`
	Ticks       int      `json:"ticks"`
	StaleTicks  int      `json:"staleTicks"`
}

type box struct {
	W float64 `json:"w"`
	H float64 `json:"h"`
}

const factsJS = `(() => {
  const size = el => { if (!el) return {w: 0, h: 0}; const r = el.getBoundingClientRect(); return {w: r.width, h: r.height}; };
  const all = sel => Array.from(document.querySelectorAll(sel));
  const sum = (els, f) => els.reduce((a, e) => a + f(e), 0);
  const svg = document.getElementById("timeline");
  const curves = all("#visibility polyline.curve");
  return {
    title: document.title,
    lanes: all("#timeline g.lane").length,
    laneRegions: all("#timeline g.lane").map(g => g.getAttribute("data-region")),
    timeline: size(svg),
    histogram: size(document.getElementById("histogram-attacker-read")),
    visibility: size(document.getElementById("visibility")),
    exposure: size(document.querySelector("#timeline rect.window.exposure")),
    curves: curves.length,
    minCurveLen: curves.length ? Math.min(...curves.map(p => p.getTotalLength())) : 0,
    barTrials: sum(all("#histogram-attacker-read rect.bar"), e => +e.getAttribute("data-count")),
    commits: all("#timeline path.commit").length,
    applies: all("#timeline circle.apply").length,
    writes: all("#timeline rect.write").length,
    faults: all("#timeline rect.fault").length,
    ticks: sum(all("#timeline path.ticks"), e => +e.getAttribute("data-count")),
    staleTicks: sum(all("#timeline path.ticks.exposure"), e => +e.getAttribute("data-count")),
  };
})()`

// hoverJS moves the mouse to the middle of the timeline, the way a reader
// does, and returns what the page's time cursor then says.
const hoverJS = `(() => {
  const svg = document.getElementById("timeline");
  const r = svg.getBoundingClientRect();
  svg.dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true}));
  return svg.querySelector(".cursor-label").textContent;
})()`

// browsed is what a real Chromium saw of one page.
type browsed struct {
	facts    pageFacts
	cursor   string   // the time cursor's text after a hover in the middle
	problems []string // console errors and warnings, exceptions, error log entries
	fetched  []string // every URL the page requested, itself included
	shot     []byte   // full-page PNG, taken before the hover
}

// browse opens a page in headless Chromium and reports what it saw. page
// must be an absolute file path.
func browse(t *testing.T, page string) browsed {
	t.Helper()
	chromium := needTool(t, "chromium", "Debian: apt-get install chromium", "chromium-browser", "google-chrome")
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine has no network: without these Chromium logs errors
		// about its own background fetches, which would drown the page's.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var (
		mu  sync.Mutex
		res browsed
	)
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				res.problems = append(res.problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			res.problems = append(res.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, text))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				res.problems = append(res.problems, fmt.Sprintf("log %s (%s): %s", e.Entry.Level, e.Entry.Source, e.Entry.Text))
			}
		case *network.EventRequestWillBeSent:
			res.fetched = append(res.fetched, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatalf("inspecting the page: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	cursor, err := chromedp.Run(ctx, chromedp.Evaluate[string](hoverJS))
	if err != nil {
		t.Fatalf("hovering the timeline: %v", err)
	}
	// Late messages (a failed lazy fetch, a timer's exception) arrive after load.
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	res.facts, res.shot, res.cursor = facts, shot, cursor
	return res
}

// TestChromiumCatchesBrokenPages proves the browser checks can fail: a page
// that logs an error, throws and fetches from the network is caught.
func TestChromiumCatchesBrokenPages(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "broken.html")
	broken := `<!DOCTYPE html><html><head><title>broken</title></head><body>` +
		`<svg id="timeline"><text class="cursor-label"></text></svg>` +
		`<img src="http://192.0.2.1/pixel.png">` +
		`<script>console.error("drawing failed"); setTimeout(function () { null.x; }, 0);</script></body></html>`
	if err := os.WriteFile(page, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	got := browse(t, page)
	joined := strings.Join(got.problems, "\n")
	for _, want := range []string{"console.error", "drawing failed", "exception"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q lack %q", got.problems, want)
		}
	}
	external := false
	for _, u := range got.fetched {
		external = external || strings.HasPrefix(u, "http://192.0.2.1/")
	}
	if !external {
		t.Errorf("the external fetch went unseen; fetched %q", got.fetched)
	}
}

// TestHTMLInChromium opens the report in a real headless Chromium, checks
// that every chart rendered with a size, that the page logged no error and
// fetched nothing, and saves a screenshot.
func TestHTMLInChromium(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	run := fixture()
	if err := os.WriteFile(page, render(t, HTML, run), 0o644); err != nil {
		t.Fatal(err)
	}
	got := browse(t, page)
	facts, shot, problems, fetched := got.facts, got.shot, got.problems, got.fetched

	shotPath := filepath.Join(dir, "report.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shotPath)
	if *updateDocs {
		docs := filepath.Join("..", "docs", "img", "report.png")
		if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docs, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if len(problems) > 0 {
		t.Errorf("the page logged %d problems:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	for _, u := range fetched {
		if u != "file://"+page {
			t.Errorf("the page fetched %s; it must be self-contained", u)
		}
	}
	if !strings.Contains(facts.Title, "public-s3-bucket") {
		t.Errorf("page title %q lacks the scenario", facts.Title)
	}
	wantRegions := run.Timeline.Regions
	if facts.Lanes != len(wantRegions) || strings.Join(facts.LaneRegions, ",") != strings.Join(wantRegions, ",") {
		t.Errorf("timeline lanes %v, want one per region %v", facts.LaneRegions, wantRegions)
	}
	for name, b := range map[string]box{"#timeline": facts.Timeline, "#histogram-attacker-read": facts.Histogram, "#visibility": facts.Visibility, "exposure window": facts.Exposure} {
		if b.W < 1 || b.H < 1 {
			t.Errorf("%s rendered with size %vx%v", name, b.W, b.H)
		}
	}
	// The exposure window spans 1.000s to 7.021s of 12s: about half the plot.
	if ratio := facts.Exposure.W / facts.Timeline.W; ratio < 0.35 || ratio > 0.5 {
		t.Errorf("exposure window is %.2f of the timeline's width, want about 0.42", ratio)
	}
	if facts.Curves != len(run.Visibility) || facts.MinCurveLen <= 0 {
		t.Errorf("visibility: %d curves (shortest %.1f), want %d drawn curves", facts.Curves, facts.MinCurveLen, len(run.Visibility))
	}
	exposed := 0 // trials without exposure get no bar
	for _, v := range run.Probes[0].Histogram {
		if v > 0 {
			exposed++
		}
	}
	if facts.BarTrials != exposed {
		t.Errorf("histogram bars count %d trials, want the %d with exposure", facts.BarTrials, exposed)
	}
	if facts.Commits != 1 || facts.Applies != 3 || facts.Writes != 1 || facts.Faults != 1 {
		t.Errorf("timeline marks: %d commits, %d applies, %d writes, %d faults; want 1, 3, 1, 1", facts.Commits, facts.Applies, facts.Writes, facts.Faults)
	}
	if facts.Ticks != len(run.Timeline.Samples) || facts.StaleTicks != 13 {
		t.Errorf("probe ticks: %d (%d stale), want %d (13 stale)", facts.Ticks, facts.StaleTicks, len(run.Timeline.Samples))
	}
	// The script's cursor: the middle of the chart is about t = 5.06 s.
	var cursorT float64
	if _, err := fmt.Sscanf(got.cursor, "t = %f s", &cursorT); err != nil || cursorT < 4.5 || cursorT > 5.6 {
		t.Errorf("time cursor reads %q, want about t = 5.06 s", got.cursor)
	}

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 1000 || bounds.Dy() < 900 {
		t.Errorf("screenshot is %v, want at least 1000x900", bounds)
	}
	// A blank or unstyled page has few colours; the charts bring many.
	colours := map[uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 3 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|b>>11] = true
		}
	}
	if len(colours) < 40 {
		t.Errorf("screenshot has only %d distinct colours: the charts did not render", len(colours))
	}
}

func TestHTMLUniqueIDs(t *testing.T) {
	r := fixture()
	twin := r.Probes[0]
	twin.Name = "attacker read" // same slug as attacker-read
	r.Probes = append(r.Probes, twin)
	out := string(render(t, HTML, r))
	for _, id := range []string{`id="histogram-attacker-read"`, `id="histogram-attacker-read-2"`} {
		if n := strings.Count(out, id); n != 1 {
			t.Errorf("%s appears %d times, want once", id, n)
		}
	}
}
