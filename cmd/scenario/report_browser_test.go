package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iamprop/iamprop/chaos"
	"github.com/iamprop/iamprop/scenarios"
)

// updateScreenshots rewrites docs/img/public-s3-bucket.png, the README's
// picture of the HTML report, from what Chromium drew:
//
//	go test ./cmd/scenario -run TestReportsInChromium -update-screenshots
var updateScreenshots = flag.Bool("update-screenshots", false, "rewrite docs/img/public-s3-bucket.png from the browser test")

// layoutFacts is what the browser measured of one page at one width.
type layoutFacts struct {
	// Overlaps names each pair of SVG text labels of one chart whose
	// bounding boxes intersect.
	Overlaps []string `json:"overlaps"`
	// Clipped names each SVG text label that sticks out of its chart.
	Clipped []string `json:"clipped"`
	// PageOverflow is how many CSS pixels the page is wider than the
	// window (0 when it fits).
	PageOverflow float64 `json:"pageOverflow"`
	// PastEdge names the innermost elements that run past the window.
	PastEdge []string `json:"pastEdge"`
	// WideTables names each table wider than the column it sits in.
	WideTables []string `json:"wideTables"`
	// Charts counts the SVG charts drawn with a size, and compare's bars.
	Charts int `json:"charts"`
}

// layoutJS measures layoutFacts. Legend swatches (tiny SVGs) hold no text.
const layoutJS = `(() => {
  const all = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const shown = el => { const cs = getComputedStyle(el); return cs.visibility !== "hidden" && cs.display !== "none" && el.textContent.trim() !== ""; };
  const res = {overlaps: [], clipped: [], wideTables: [], charts: 0,
    pageOverflow: Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)};
  all("svg").forEach((svg, n) => {
    const sr = svg.getBoundingClientRect();
    if (sr.width < 40 || sr.height < 40) return;
    res.charts++;
    const name = svg.id || svg.getAttribute("aria-label") || ("svg " + n);
    const texts = all("text", svg).filter(shown).map(t => ({s: t.textContent.trim(), r: t.getBoundingClientRect()}));
    for (let i = 0; i < texts.length; i++) {
      const a = texts[i];
      if (a.r.left < sr.left - 1 || a.r.right > sr.right + 1 || a.r.top < sr.top - 1 || a.r.bottom > sr.bottom + 1) {
        res.clipped.push(name + ": " + JSON.stringify(a.s));
      }
      for (let j = i + 1; j < texts.length; j++) {
        const b = texts[j];
        const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
        const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
        if (w > 1 && h > 1) {
          res.overlaps.push(name + ": " + JSON.stringify(a.s) + " and " + JSON.stringify(b.s) + " (" + w.toFixed(1) + "x" + h.toFixed(1) + " px)");
        }
      }
    }
  });
  // The innermost elements that run past the window's right edge.
  const vw = document.documentElement.clientWidth;
  res.pastEdge = all("body *").filter(e => e.getBoundingClientRect().right > vw + 1 &&
    !Array.from(e.children).some(k => k.getBoundingClientRect().right > vw + 1)).slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? "." + e.className : "") + " " + JSON.stringify(e.textContent.trim().slice(0, 40)));
  all("table").forEach((t, n) => {
    const parent = t.parentElement.getBoundingClientRect();
    const r = t.getBoundingClientRect();
    if (r.right > parent.right + 1 || t.scrollWidth > t.clientWidth + 1) {
      res.wideTables.push((t.className || "table " + n) + " (" + r.width.toFixed(0) + " px in " + parent.width.toFixed(0) + " px)");
    }
  });
  // compare draws its bars in HTML.
  res.charts += all("span.bar").filter(b => b.getBoundingClientRect().width > 0).length;
  return res;
})()`

// reportFacts is what the browser found of a run report's content.
type reportFacts struct {
	ExposureCharts []string   `json:"exposureCharts"` // data-probe of each exposure histogram
	DenialCharts   []string   `json:"denialCharts"`   // data-probe of each denial histogram
	SameRow        []string   `json:"sameRow"`        // probes whose two charts sit side by side
	EmptyBars      int        `json:"emptyBars"`      // bars for trials without a window
	Curves         int        `json:"curves"`         // measured t-visibility curves drawn
	ModelCurves    int        `json:"modelCurves"`    // delay-model curves drawn with a length
	ModelOverPlot  bool       `json:"modelOverPlot"`  // every model curve lies within the curves' chart
	Timeline       [2]float64 `json:"timeline"`       // size of the first trial's timeline
	Worst          [2]float64 `json:"worst"`          // size of the worst trial's timeline
	Steps          int        `json:"steps"`
	Probes         int        `json:"probes"`
	Model          string     `json:"model"`
	Sources        int        `json:"sources"`
	Summary        [2]float64 `json:"summary"` // the summary table's width, and its column's
}

const reportJS = `(() => {
  const all = sel => Array.from(document.querySelectorAll(sel));
  const size = el => { if (!el) return [0, 0]; const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const charts = kind => all("svg.histogram." + kind).map(s => s.getAttribute("data-probe"));
  const sameRow = [];
  all("svg.histogram.exposure").forEach(e => {
    const d = all("svg.histogram.denial").find(s => s.getAttribute("data-probe") === e.getAttribute("data-probe"));
    if (!d) return;
    const a = e.getBoundingClientRect(), b = d.getBoundingClientRect();
    if (Math.abs(a.top - b.top) < 2 && b.left >= a.right) sameRow.push(e.getAttribute("data-probe"));
  });
  const vis = document.getElementById("visibility");
  const vr = vis ? vis.getBoundingClientRect() : null;
  const models = all("#visibility polyline.model").filter(p => p.getTotalLength() > 0);
  const table = document.querySelector("#summary table.probes");
  return {
    exposureCharts: charts("exposure"),
    denialCharts: charts("denial"),
    sameRow: sameRow,
    emptyBars: all("svg.histogram rect.bar").filter(b => +b.getAttribute("data-count") === 0 || +b.getAttribute("data-to") <= 0).length,
    curves: all("#visibility polyline.curve").filter(p => p.getTotalLength() > 0).length,
    modelCurves: models.length,
    modelOverPlot: models.every(p => { const r = p.getBoundingClientRect(); return r.left >= vr.left && r.right <= vr.right && r.top >= vr.top && r.bottom <= vr.bottom; }),
    timeline: size(document.getElementById("timeline")),
    worst: size(document.getElementById("timeline-worst")),
    steps: all("#setup table.steps tbody tr").length,
    probes: all("#setup .probe-list li").length,
    model: (document.querySelector("#setup .model code") || {textContent: ""}).textContent,
    sources: all("#setup .sources li").length,
    summary: [size(table)[0], table ? table.parentElement.getBoundingClientRect().width : 0],
  };
})()`

// minuteScale is public-s3-bucket with a 4.5-minute median delay: every
// chart's axis and labels then read minutes.
func minuteScale(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "public-s3-bucket.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer("name: public-s3-bucket", "name: minute-scale",
		"median: 4s, p99: 10s", "median: 270s, p99: 600s", "duration: 30s", "duration: 30m", "until: 30s", "until: 30m").Replace(string(src))
	for _, want := range []string{"name: minute-scale", "median: 270s", "duration: 30m", "until: 30m"} {
		if !strings.Contains(out, want) {
			t.Fatalf("could not make public-s3-bucket minute-scale (%s missing)", want)
		}
	}
	path := filepath.Join(dir, "minute-scale.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// chaosReport is a chaos run as `scenario chaos --html` draws it: the
// faults of two schedules of a real 3-node run (seed 1), with two workers
// per region committing every 25 ms around them.
func chaosReport() *chaos.Report {
	ms := int64(time.Millisecond)
	type fault struct {
		at       int64
		f, value string
	}
	schedules := [][]fault{
		{{34, "latency", "* -> * latency 255ms jitter 62ms loss 0.00"}, {324, "kill9", "eu-west-1"}, {636, "stop-latency", "* -> * latency 255ms jitter 62ms loss 0.00"},
			{895, "latency", "us-east-2 -> * latency 106ms jitter 76ms loss 0.00"}, {941, "restart", "eu-west-1"}, {1480, "kill9", "us-east-2"},
			{1638, "stop-latency", "us-east-2 -> * latency 106ms jitter 76ms loss 0.00"}, {1939, "restart", "us-east-2"},
			{2133, "loss", "ap-southeast-2 -> * latency 0s jitter 0s loss 0.87"}, {2519, "kill9", "ap-southeast-2"}, {3004, "heal", ""}, {3112, "converged", "every region holds the truth"}},
		{{100, "partition", "ap-southeast-2 | eu-west-1,us-east-2"}, {568, "stop-partition", "ap-southeast-2 | eu-west-1,us-east-2"}, {797, "wipe", "us-east-2"},
			{967, "partition-oneway", "eu-west-1 -> us-east-2"}, {1348, "stop-partition-oneway", "eu-west-1 -> us-east-2"}, {1420, "restart", "us-east-2"},
			{1479, "loss", "ap-southeast-2 -> * latency 0s jitter 0s loss 0.80"}, {2071, "stop-loss", "ap-southeast-2 -> * latency 0s jitter 0s loss 0.80"},
			{2252, "sigterm", "ap-southeast-2"}, {2490, "partition-oneway", "us-east-2 -> eu-west-1"}, {3004, "stop-partition-oneway", "us-east-2 -> eu-west-1"},
			{3005, "heal", ""}, {3231, "converged", "every region holds the truth"}},
	}
	rep := &chaos.Report{Nodes: 3, Duration: "3s", Seed: 1, SchedulesRun: len(schedules), SchedulesOK: len(schedules)}
	for i, faults := range schedules {
		var h []chaos.Event
		for _, f := range faults {
			e := chaos.Event{Process: "nemesis", Type: "info", F: f.f, Time: f.at * ms}
			if f.value != "" {
				e.Value = f.value
			}
			h = append(h, e)
		}
		for _, region := range []string{"us-east-2", "eu-west-1", "ap-southeast-2"} {
			for w := range 2 {
				p := fmt.Sprintf("%s/w%d", region, w)
				for at := int64(w * 10); at < 3000; at += 25 {
					h = append(h, chaos.Event{Process: p, Type: "invoke", F: "iam:CreateUser", Time: at * ms},
						chaos.Event{Process: p, Type: "ok", F: "iam:CreateUser", Value: region + "/1", Time: (at + 12) * ms})
				}
			}
		}
		rep.Schedules = append(rep.Schedules, chaos.ScheduleReport{Index: i, Seed: uint64(7 + i), Passed: true, HealSeconds: 3, History: h})
	}
	return rep
}

// TestReportsInChromium opens every HTML page the CLI writes in headless
// Chromium and checks, through the DOM, what a reader sees: for run
// reports of public-s3-bucket, the denial-only new-role-access-denied, the
// exposure-and-denial revoke-race, partitioned-region (faults) and a
// minute-scale case, the denial chart
// beside the exposure chart, no bar for trials without a window, the delay
// model over the t-visibility curves, the worst trial's timeline, the
// scenario's steps, probes, delay model and sources; for those and the
// compare, sweep and chaos pages, that no two text labels of a chart
// overlap or leave it and that the page and its tables fit 1280 px and
// 200% zoom. Pages and screenshots go to the test's temp dir (logged), or
// to REPORT_SCREENSHOTS=DIR to keep them.
func TestReportsInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("drives Chromium over eight pages; skipped with -short")
	}
	chromium := chromiumPath(t)
	dir := os.Getenv("REPORT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	minute := minuteScale(t, dir)
	html := func(name string) string { return filepath.Join(dir, name+".html") }
	cli := func(args ...string) func(t *testing.T) {
		return func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("scenario %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
			}
		}
	}
	pages := []struct {
		name     string
		write    func(t *testing.T)
		scenario string // a run report of this scenario file, checked in full
		exposure bool   // some probe has an exposure chart
		denial   bool   // some probe has a denial chart
		both     bool   // some probe has both
	}{
		{"public-s3-bucket", cli("run", "public-s3-bucket", "--trials", "1000", "--html", html("public-s3-bucket")), "public-s3-bucket.yaml", true, false, false},
		{"new-role-access-denied", cli("run", "new-role-access-denied", "--trials", "200", "--html", html("new-role-access-denied")), "new-role-access-denied.yaml", false, true, false},
		{"revoke-race", cli("run", "revoke-race", "--trials", "200", "--html", html("revoke-race")), "revoke-race.yaml", true, true, true},
		{"partitioned-region", cli("run", "partitioned-region", "--trials", "200", "--html", html("partitioned-region")), "partitioned-region.yaml", true, false, false},
		{"minute-scale", cli("run", minute, "--trials", "100", "--html", html("minute-scale")), minute, true, false, false},
		{"compare", cli("compare", "public-s3-bucket", "public-s3-bucket-block-public-access", "public-s3-bucket-consistency-token", "--trials", "50", "--html", html("compare")), "", false, false, false},
		{"sweep", cli("sweep", "public-s3-bucket", "--set", "propagation.default.median=1s,2s,4s,8s", "--trials", "20", "--html", html("sweep")), "", false, false, false},
		{"chaos", func(t *testing.T) {
			if err := writeChaosHTML(html("chaos"), chaosReport()); err != nil {
				t.Fatal(err)
			}
		}, "", false, false, false},
	}

	ctx0, cancel0 := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel0()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx0,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}

	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			pg.write(t)
			tab, cancelTab := chromedp.NewContext(browser)
			defer cancelTab()
			// 1280 CSS px, then 640 CSS px at twice the pixel density: what
			// a 1280 px window shows at 200% zoom.
			for _, view := range []struct {
				name  string
				width int64
				scale float64
			}{{"1280px", 1280, 1}, {"200%", 640, 2}} {
				if err := chromedp.Do(tab, chromedp.EmulateViewport(view.width, 900, chromedp.EmulateScale(view.scale)),
					chromedp.Navigate("file://"+html(pg.name))); err != nil {
					t.Fatalf("opening %s at %s: %v", pg.name, view.name, err)
				}
				lay, err := chromedp.Run(tab, chromedp.Evaluate[layoutFacts](layoutJS))
				if err != nil {
					t.Fatalf("measuring %s at %s: %v", pg.name, view.name, err)
				}
				shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot: %v", err)
				}
				shotPath := filepath.Join(dir, pg.name+"-"+strings.TrimSuffix(view.name, "%")+".png")
				if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s at %s: %s", pg.name, view.name, shotPath)
				if lay.Charts == 0 {
					t.Errorf("%s: no chart was drawn", view.name)
				}
				for _, o := range lay.Overlaps {
					t.Errorf("%s: labels overlap: %s", view.name, o)
				}
				for _, c := range lay.Clipped {
					t.Errorf("%s: label outside its chart: %s", view.name, c)
				}
				if lay.PageOverflow > 0 {
					t.Errorf("%s: the page is %.0f px wider than the window; past the edge: %s", view.name, lay.PageOverflow, strings.Join(lay.PastEdge, ", "))
				}
				for _, w := range lay.WideTables {
					t.Errorf("%s: table wider than the page: %s", view.name, w)
				}
				if pg.scenario == "" || view.scale != 1 {
					continue
				}
				checkRunReport(t, tab, pg.scenario, pg.exposure, pg.denial, pg.both)
				if pg.name == "public-s3-bucket" && *updateScreenshots {
					updateReadmePicture(t, tab)
				}
			}
		})
	}
}

// checkRunReport checks a run report's content against its scenario.
func checkRunReport(t *testing.T, tab context.Context, file string, exposure, denial, both bool) {
	t.Helper()
	if !filepath.IsAbs(file) && !strings.Contains(file, string(filepath.Separator)) {
		file = filepath.Join("..", "..", "scenarios", file)
	}
	sc, err := scenarios.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(tab, chromedp.Evaluate[reportFacts](reportJS))
	if err != nil {
		t.Fatalf("inspecting the report: %v", err)
	}
	if (len(got.ExposureCharts) > 0) != exposure || (len(got.DenialCharts) > 0) != denial {
		t.Errorf("exposure charts %q, denial charts %q; want exposure %v, denial %v", got.ExposureCharts, got.DenialCharts, exposure, denial)
	}
	if both && len(got.SameRow) == 0 {
		t.Errorf("no probe's denial chart sits beside its exposure chart (exposure %q, denial %q)", got.ExposureCharts, got.DenialCharts)
	}
	if got.EmptyBars > 0 {
		t.Errorf("%d histogram bars stand for trials without a window", got.EmptyBars)
	}
	if got.Curves != len(sc.Regions)-1 && got.Curves != len(sc.Regions) {
		t.Errorf("%d t-visibility curves drawn for %d regions", got.Curves, len(sc.Regions))
	}
	if got.ModelCurves == 0 || !got.ModelOverPlot {
		t.Errorf("delay model curves: %d drawn, within the chart %v", got.ModelCurves, got.ModelOverPlot)
	}
	for name, s := range map[string][2]float64{"first trial's timeline": got.Timeline, "worst trial's timeline": got.Worst} {
		if s[0] < 100 || s[1] < 50 {
			t.Errorf("the %s is %vx%v px", name, s[0], s[1])
		}
	}
	if got.Steps != len(sc.Steps) || got.Probes != len(sc.Probes) || got.Sources != len(sc.Sources) || !strings.Contains(got.Model, "default ") {
		t.Errorf("listed %d steps, %d probes, %d sources, model %q; the scenario has %d, %d, %d",
			got.Steps, got.Probes, got.Sources, got.Model, len(sc.Steps), len(sc.Probes), len(sc.Sources))
	}
	if got.Summary[0] < 1 || got.Summary[0] > got.Summary[1]+1 {
		t.Errorf("the summary table is %.0f px wide in a %.0f px column", got.Summary[0], got.Summary[1])
	}
}

// readmeJS keeps what the README's picture shows: the title, the first
// trial's timeline, the exposure distribution and the t-visibility curves
// (the rest is prose and tables, which the README tells in text).
const readmeJS = `(() => {
  const hide = ".story, #setup, #summary, #worst-section, #distribution-section > .howto, #visibility-section > .howto, table.regions, footer, #timeline-section > .howto";
  document.querySelectorAll(hide).forEach(e => e.style.display = "none");
  return document.documentElement.scrollHeight;
})()`

// updateReadmePicture rewrites docs/img/public-s3-bucket.png, the README's
// picture of the report, from the page open in tab: the charts only, in
// at most 256 colours, so the file stays small.
func updateReadmePicture(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[float64](readmeJS)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, paletted(img)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "img", "public-s3-bucket.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes, %v)", path, buf.Len(), img.Bounds().Size())
}

// paletted maps img onto its 256 most frequent colours (nearest colour,
// no dithering): a screenshot is mostly flat colours, and anti-aliased
// edges lose little.
func paletted(img image.Image) *image.Paletted {
	b := img.Bounds()
	freq := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			freq[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	cols := make([]color.RGBA, 0, len(freq))
	for c := range freq {
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool {
		if freq[cols[i]] != freq[cols[j]] {
			return freq[cols[i]] > freq[cols[j]]
		}
		key := func(c color.RGBA) uint32 { return uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B) }
		return key(cols[i]) < key(cols[j])
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range cols[:min(256, len(cols))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	near := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := near[c]
			if !ok {
				i = uint8(pal.Index(c))
				near[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}
