package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/iamprop/iamprop/internal/playground/sitebuild"
	"github.com/iamprop/iamprop/scenarios"
)

// chromiumPath finds Chromium, or skips (fails with CI=true) without it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "chromium is not installed (Debian: apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true requires it")
	}
	t.Skip(msg + "; skipping (set CI=true to make this a failure)")
	return ""
}

// playgroundBrowser builds the site, serves it on loopback and opens a
// headless Chromium tab; it returns the tab, the site's URL and its
// directory.
func playgroundBrowser(tb testing.TB) (context.Context, string, string) {
	tb.Helper()
	chromium := chromiumPath(tb)
	dir := tb.TempDir()
	ctx0, cancel0 := context.WithTimeout(context.Background(), 20*time.Minute)
	tb.Cleanup(cancel0)
	if _, err := sitebuild.Write(ctx0, dir, ""); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	tb.Cleanup(srv.Close)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx0,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()), chromedp.WindowSize(1400, 1000))
	tb.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(alloc)
	tb.Cleanup(cancelTab)
	return ctx, srv.URL, dir
}

// TestPlaygroundInChromium builds the site, serves it on loopback and
// drives headless Chromium the way a learner does: load, pick a scenario
// (from the keyboard), edit the delay, run, read the result, follow the
// share link; then, for every library scenario, the URL-driven run's
// report-json must be byte for byte the CLI's --json document. The console
// must stay clean and no request may leave the loopback server.
// PLAYGROUND_SCREENSHOTS=DIR keeps the screenshots (docs/img/playground.png
// comes from there).
func TestPlaygroundInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly module and drives Chromium; skipped with -short")
	}
	ctx, base, dir := playgroundBrowser(t)
	disk := "file://" + filepath.ToSlash(dir) + "/"
	shots := os.Getenv("PLAYGROUND_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	var mu sync.Mutex
	var problems, foreign []string
	ended := make(chan struct{}) // closed when the console's last message is in
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeInfo && len(e.Args) == 1 && string(e.Args[0].Value) == `"playground-test-end"` {
				close(ended)
			}
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			problems = append(problems, "exception: "+text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s: %s", e.Entry.Level, e.Entry.Text))
			}
		case *network.EventRequestWillBeSent:
			u := e.Request.URL
			if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, disk) && !strings.HasPrefix(u, "blob:") &&
				!strings.HasPrefix(u, "data:") && u != "about:srcdoc" {
				foreign = append(foreign, u)
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		var v string
		err := retryLostContext(ctx, func() error {
			var err error
			v, err = chromedp.Run(ctx, chromedp.Evaluate[string](js))
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	// waitReport waits for a run to end and returns report-json.
	waitReport := func(timeout time.Duration) string {
		t.Helper()
		if err := pollPage(ctx, `document.getElementById("report-json").textContent.length > 0 || document.getElementById("issues").children.length > 0`, timeout); err != nil {
			t.Fatalf("waiting for the run: %v (status %q)", err, eval(`document.getElementById("status").textContent`))
		}
		if issues := eval(`document.getElementById("issues").textContent`); issues != "" {
			t.Fatalf("the page reported problems: %s", issues)
		}
		return eval(`document.getElementById("report-json").textContent`)
	}
	cli := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(append([]string{"run"}, append(args, "--json")...)...)
		if code > 1 {
			t.Fatalf("scenario run %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	// Load, pick a scenario from the keyboard, edit the delay, run.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#library button[data-name="revoke-race"]`),
		chromedp.Focus(`#library button[data-name="public-s3-bucket"]`),
		chromedp.KeyEvent("\r"),
	); err != nil {
		t.Fatal(err)
	}
	if err := pollPage(ctx, `document.getElementById("median").value === "4s" && document.getElementById("case-h").textContent.includes("public bucket")`, 20*time.Second); err != nil {
		t.Fatalf("picking public-s3-bucket with Enter did not load it: %v", err)
	}
	lesson := eval(`document.getElementById("about").textContent`)
	if !strings.Contains(lesson, "Lesson") || !strings.Contains(lesson, "in force") {
		t.Errorf("the description and lesson are not shown: %q", lesson)
	}
	// A knob edited while the worker still reads the knobs of the case
	// just picked: the late read must not put the old value back.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		document.querySelector('#library button[data-name="public-s3-bucket"]').click();
		const m = document.getElementById("median");
		m.value = "2s";
		m.dispatchEvent(new Event("change"));
	})()`)); err != nil {
		t.Fatal(err)
	}
	if err := pollPage(ctx, `document.getElementById("yaml").value.includes("median: 2s,")`, 10*time.Second); err != nil {
		t.Fatalf("the delay knob edited during a pick did not edit the YAML: %v", err)
	}
	if m := eval(`document.getElementById("median").value`); m != "2s" {
		t.Errorf("a late knob read overwrote the edited median: the knob shows %q, the YAML says 2s", m)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#median`, "1s"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("median").dispatchEvent(new Event("change"))`),
	); err != nil {
		t.Fatal(err)
	}
	if err := pollPage(ctx, `document.getElementById("yaml").value.includes("median: 1s, p99: 10s")`, 10*time.Second); err != nil {
		t.Fatalf("the delay knob did not edit the YAML: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(`#trials`, "50"), chromedp.SetValue(`#seed`, "7"), chromedp.Click(`#run`)); err != nil {
		t.Fatal(err)
	}
	edited := waitReport(2 * time.Minute)
	yaml := eval(`document.getElementById("yaml").value`)
	tmp := filepath.Join(t.TempDir(), "public-s3-bucket.yaml")
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if want := cli(tmp, "--seed", "7", "--trials", "50"); edited != want {
		t.Errorf("the edited run's report differs from the CLI's on the same YAML")
	}
	if got, base := edited, cli("public-s3-bucket", "--seed", "7", "--trials", "50"); got == base {
		t.Error("editing the delay changed nothing in the report")
	}
	summary := eval(`document.getElementById("summary").textContent`)
	if !strings.Contains(summary, "attacker-read") || !strings.Contains(summary, "exposure p99") {
		t.Errorf("no summary table after the run: %q", summary)
	}
	if n := eval(`String(document.getElementById("report").srcdoc.split("<svg").length - 1)`); n == "0" {
		t.Error("the report frame has no charts")
	}
	shot("playground")

	// At 200% zoom (half the CSS width) the page reflows: nothing overflows sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(700, 1000)); err != nil {
		t.Fatal(err)
	}
	if w := eval(`String(document.documentElement.scrollWidth - document.documentElement.clientWidth)`); w != "0" {
		t.Errorf("at 200%% zoom the page is %s px wider than the window", w)
	}
	shot("playground-zoom200")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Fatal(err)
	}

	// Follow the share link: a fresh page runs the edited case again.
	link := eval(`document.getElementById("share-link").href`)
	if !strings.Contains(link, "scenario=public-s3-bucket") || !strings.Contains(link, "yaml=") {
		t.Fatalf("share link %q lacks the scenario or the edited YAML", link)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	if shared := waitReport(2 * time.Minute); shared != edited {
		t.Error("the share link's run differs from the run it was copied from")
	}

	// Compare the edited case with its mitigations, side by side: the
	// comparison is the CLI's `scenario compare --json` on the same files.
	waitCompare := func() string {
		t.Helper()
		if err := pollPage(ctx, `document.getElementById("compare-json").textContent.length > 0 || document.getElementById("issues").children.length > 0`, 3*time.Minute); err != nil {
			t.Fatalf("waiting for the comparison: %v (status %q)", err, eval(`document.getElementById("status").textContent`))
		}
		if issues := eval(`document.getElementById("issues").textContent`); issues != "" {
			t.Fatalf("the page reported problems: %s", issues)
		}
		return eval(`document.getElementById("compare-json").textContent`)
	}
	mitigations := []string{"public-s3-bucket-block-public-access", "public-s3-bucket-consistency-token",
		"public-s3-bucket-policy-first", "public-s3-bucket-same-region"}
	cliCompare := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(append([]string{"compare"}, append(args, "--json")...)...)
		if code > 1 {
			t.Fatalf("scenario compare %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	if err := chromedp.Do(ctx, chromedp.Focus(`#compare`), chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	compared := waitCompare()
	if want := cliCompare(append([]string{tmp}, append(mitigations, "--seed", "7", "--trials", "50")...)...); compared != want {
		t.Errorf("the page's comparison differs from `scenario compare --json`:\n%s\nwant:\n%s", compared, want)
	}
	head := eval(`[...document.querySelectorAll("#compare-table tr:first-of-type th")].map(th => th.textContent).join(",")`)
	if want := "probe,figure,public-s3-bucket," + strings.Join(mitigations, ","); head != want {
		t.Errorf("the side-by-side table's columns are %q, want %q", head, want)
	}
	if rows := eval(`document.getElementById("compare-table").textContent`); !strings.Contains(rows, "attacker-read") || !strings.Contains(rows, "exposure p99") {
		t.Errorf("the side-by-side table lacks the probe's figures: %q", rows)
	}
	if !strings.Contains(eval(`document.getElementById("report").srcdoc`), "Exposure side by side") {
		t.Error("the report frame does not show the comparison's bars")
	}
	shot("playground-compare")
	// Driven by its URL, the unedited case's comparison too.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"),
		chromedp.Navigate(base+"/#compare=public-s3-bucket&seed=3&trials=40")); err != nil {
		t.Fatal(err)
	}
	if got, want := waitCompare(), cliCompare(append([]string{"public-s3-bucket"}, append(mitigations, "--seed", "3", "--trials", "40")...)...); got != want {
		t.Errorf("#compare=public-s3-bucket differs from `scenario compare --json`")
	}

	// A problem in the YAML is marked on its line in the editor's gutter.
	src := eval(`document.getElementById("yaml").value`)
	at := strings.Index(src, "p99: 10s")
	if at < 0 {
		t.Fatalf("public-s3-bucket's YAML has no %q", "p99: 10s")
	}
	badLine := strings.Count(src[:at], "\n") + 1
	if err := chromedp.Do(ctx, chromedp.SetValue(`#yaml`, strings.Replace(src, "p99: 10s", "p99: soon", 1)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("yaml").dispatchEvent(new Event("input"))`),
		chromedp.Click(`#run`)); err != nil {
		t.Fatal(err)
	}
	if err := pollPage(ctx, `document.getElementById("issues").children.length > 0`, time.Minute); err != nil {
		t.Fatalf("a bad delay gave no problem: %v", err)
	}
	if issues := eval(`document.getElementById("issues").textContent`); !strings.Contains(issues, fmt.Sprintf("line %d:", badLine)) {
		t.Errorf("the problem %q does not name line %d", issues, badLine)
	}
	if marked := eval(`[...document.querySelectorAll("#yaml-gutter .bad")].map(e => e.textContent).join(",")`); marked != fmt.Sprintf("\u25cf %d", badLine) {
		t.Errorf("the gutter marks %q, want line %d alone", marked, badLine)
	}
	if lines, want := eval(`String(document.getElementById("yaml-gutter").textContent.split("\n").length)`), fmt.Sprint(strings.Count(src, "\n")+1); lines != want {
		t.Errorf("the gutter numbers %s lines, the YAML has %s", lines, want)
	}
	shot("playground-problem")

	// Every library scenario, driven by the URL, equals the CLI byte for byte.
	names, err := scenarios.LibraryNames()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 13 {
		t.Errorf("the library has %d scenarios, want 13", len(names))
	}
	many := map[string]int{"public-s3-bucket": 2000, "revoke-race": 500, "scp-deny": 300}
	for i, name := range names {
		trials := 20
		if n, ok := many[name]; ok {
			trials = n
		}
		seed := fmt.Sprint(i * 3) // 0 is the scenario's own seed
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"),
			chromedp.Navigate(fmt.Sprintf("%s/#scenario=%s&seed=%s&trials=%d", base, name, seed, trials))); err != nil {
			t.Fatal(err)
		}
		got := waitReport(5 * time.Minute)
		if want := cli(name, "--seed", seed, "--trials", fmt.Sprint(trials)); got != want {
			t.Errorf("%s (seed %s, %d trials): report-json differs from `scenario run --json`", name, seed, trials)
		}
		if i == 0 {
			// The run was split over every worker, one per core.
			if w, cores := eval(`String(document.getElementById("status").dataset.workers)`), eval(`String(Math.min(8, navigator.hardwareConcurrency))`); w != cores {
				t.Errorf("the run used %s workers, want %s (one per core)", w, cores)
			}
		}
	}

	// A machine with one core runs in one worker; one with three splits
	// 301 trials unevenly: the same report either way.
	for _, cores := range []int{1, 3} {
		script, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: fmt.Sprintf(`Object.defineProperty(navigator, "hardwareConcurrency", {get: () => %d})`, cores)})
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/#scenario=revoke-race&seed=4&trials=301")); err != nil {
			t.Fatal(err)
		}
		got := waitReport(5 * time.Minute)
		if want := cli("revoke-race", "--seed", "4", "--trials", "301"); got != want {
			t.Errorf("%d core(s): report-json differs from `scenario run --json`", cores)
		}
		if w := eval(`String(document.getElementById("status").dataset.workers)`); w != fmt.Sprint(cores) {
			t.Errorf("%d core(s): the run used %s workers", cores, w)
		}
		if _, err := chromedp.Call(ctx, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: script.Identifier}); err != nil {
			t.Fatal(err)
		}
	}

	// Opened from disk, as a teacher might: no server, the workers from
	// blobs and the module from playground-disk.js; the same reports.
	for _, tc := range []struct {
		name   string
		seed   string
		trials int
	}{
		{"public-s3-bucket", "11", 1000},
		{"revoke-race", "0", 40},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"),
			chromedp.Navigate(fmt.Sprintf("%sindex.html#scenario=%s&seed=%s&trials=%d", disk, tc.name, tc.seed, tc.trials))); err != nil {
			t.Fatal(err)
		}
		got := waitReport(5 * time.Minute)
		if want := cli(tc.name, "--seed", tc.seed, "--trials", fmt.Sprint(tc.trials)); got != want {
			t.Errorf("from disk, %s (seed %s, %d trials): report-json differs from `scenario run --json`", tc.name, tc.seed, tc.trials)
		}
	}
	shot("playground-from-disk")

	// The console's messages arrive in order: once a last one of ours is
	// in, every earlier one is.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`console.info("playground-test-end")`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(time.Minute):
		t.Error("the console's last message never arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the console was not clean:\n%s", strings.Join(problems, "\n"))
	}
	if len(foreign) > 0 {
		t.Errorf("requests left the loopback server: %v", foreign)
	}
}

// BenchmarkPlaygroundPublicBucket10k times 10,000 trials of the public
// bucket case in the browser (one Web Worker per core), from the URL to
// report-json, against the same run of the CLI (all cores, then one). On a
// shared machine wall clocks follow the other work, so it also reports CPU
// seconds: Chromium's processes' (Linux /proc, page load and module compile
// included) and the CLI's (getrusage). Each round opens the page twice
// in the same browser: "browser" is the first visit (the first of a fresh
// profile with -benchtime 1x), "again" the second, which Chromium may
// serve the module's compiled code from its cache for. The figures are
// in docs/benchmarks.md:
//
//	go test ./cmd/scenario -run '^$' -bench PlaygroundPublicBucket10k -benchtime 1x
func BenchmarkPlaygroundPublicBucket10k(b *testing.B) {
	const url = "/#scenario=public-s3-bucket&seed=1&trials=10000"
	ctx, base, _ := playgroundBrowser(b)
	var browser, browserRun, cliTime, cli1Time, browserCPU, cliCPU, cli1CPU time.Duration
	workers := 0
	cli := func(wall, cpu *time.Duration) {
		b.Helper()
		start, c0 := time.Now(), selfCPU(b)
		code, _, errOut := runCLI("run", "public-s3-bucket", "--seed", "1", "--trials", "10000", "--json")
		*wall += time.Since(start)
		*cpu += selfCPU(b) - c0
		if code > 1 {
			b.Fatal(errOut)
		}
	}
	// visit opens the page on the run and waits for its report: the wall
	// and CPU time from the URL to report-json, the run alone as the page
	// timed it (no page load, no compile) and the workers it used.
	visit := func() (wall, cpu, run time.Duration, workers int) {
		b.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		c0 := chromiumCPU()
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+url)); err != nil {
			b.Fatal(err)
		}
		if err := pollPage(ctx, `document.getElementById("report-json").textContent.length > 0`, 10*time.Minute); err != nil {
			b.Fatal(err)
		}
		wall, cpu = time.Since(start), cpuSince(c0, chromiumCPU())
		secs, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").dataset.seconds + "s," + (document.getElementById("status").dataset.workers || "1")`))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fmt.Sscanf(secs[strings.Index(secs, ",")+1:], "%d", &workers); err != nil {
			b.Fatalf("status %q: %v", secs, err)
		}
		run, err = time.ParseDuration(secs[:strings.Index(secs, ",")])
		if err != nil {
			b.Fatalf("status seconds %q: %v", secs, err)
		}
		return wall, cpu, run, workers
	}
	var again, againCPU time.Duration
	for i := 0; i < b.N; i++ {
		wall, cpu, run, w := visit()
		browser += wall
		browserCPU += cpu
		browserRun += run
		workers = w
		// The same page again in the same browser: Chromium may have kept
		// the module's compiled code (its code cache), as it would for a
		// learner's second visit.
		wall, cpu, _, _ = visit()
		again += wall
		againCPU += cpu
		cli(&cliTime, &cliCPU)
		// The CLI on one thread.
		prev := goruntime.GOMAXPROCS(1)
		cli(&cli1Time, &cli1CPU)
		goruntime.GOMAXPROCS(prev)
	}
	n := float64(b.N)
	b.ReportMetric(float64(workers), "workers")
	b.ReportMetric(browser.Seconds()/n, "browser-s/op")
	b.ReportMetric(browserRun.Seconds()/n, "browser-run-s/op")
	b.ReportMetric(cliTime.Seconds()/n, "cli-s/op")
	b.ReportMetric(cli1Time.Seconds()/n, "cli-1thread-s/op")
	b.ReportMetric(browser.Seconds()/cliTime.Seconds(), "browser/cli")
	b.ReportMetric(browser.Seconds()/cli1Time.Seconds(), "browser/cli-1thread")
	b.ReportMetric(again.Seconds()/n, "again-s/op")
	if browserCPU > 0 {
		b.ReportMetric(againCPU.Seconds()/n, "again-cpu-s/op")
		b.ReportMetric(browserCPU.Seconds()/n, "browser-cpu-s/op")
		b.ReportMetric(cliCPU.Seconds()/n, "cli-cpu-s/op")
		b.ReportMetric(browserCPU.Seconds()/cliCPU.Seconds(), "browser/cli-cpu")
	}
}

// selfCPU is this process's user and system CPU time.
func selfCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// chromiumCPU is the CPU time of each process descending from this one
// (Chromium's), by pid, from Linux's /proc; empty elsewhere.
func chromiumCPU() map[int]time.Duration {
	entries, _ := os.ReadDir("/proc")
	parent, cpu := map[int]int{}, map[int]time.Duration{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command's closing parenthesis: state, ppid, ... utime
		// and stime are the 12th and 13th fields, in clock ticks (100 a second).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], cpu[pid] = ppid, time.Duration(ut+st)*10*time.Millisecond
	}
	out := map[int]time.Duration{}
	for pid, c := range cpu {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == os.Getpid() {
				out[pid] = c
				break
			}
		}
	}
	return out
}

// cpuSince is the CPU the processes of after spent since before: the
// whole of those started since, none of those that ended.
func cpuSince(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, c := range after {
		d += c - before[pid]
	}
	return d
}

// playground needs somewhere to put the site: --out or --serve.
func TestPlaygroundFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"neither out nor serve", []string{"playground"}, "give --out DIR to write the site, or --serve"},
		{"an argument", []string{"playground", "site"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRun(t, tc.args, 2, nil, []string{tc.wantErr})
		})
	}
}

// retryLostContext runs do again, up to three more times, when it failed
// because the page's document was replaced under it (a navigation, or
// the page reloading itself): Chromium then drops the execution context
// the call was evaluated in. Only for calls that read the page.
func retryLostContext(ctx context.Context, do func() error) error {
	for try := 0; ; try++ {
		err := do()
		if err == nil || try == 3 || !strings.Contains(err.Error(), "Cannot find context") {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.WaitReady(`body`)); err != nil {
			return err
		}
	}
}

// pollPage waits until js is true in the page, as chromedp.Poll does,
// polling anew in the new document when a navigation drops the old one's
// context.
func pollPage(ctx context.Context, js string, timeout time.Duration) error {
	return retryLostContext(ctx, func() error {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
		return err
	})
}
