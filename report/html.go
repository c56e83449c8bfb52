package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// HTML writes r as one self-contained HTML page: the scenario's description
// and lesson, the summary, a timeline of the first trial with one lane per
// region, the exposure-window distribution over trials per probe, and the
// t-visibility curves. Styles, charts (inline SVG drawn here) and the small
// script that adds a time cursor are all inline: the file opens without a
// network and loads nothing, and the same Run always gives the same bytes.
//
// Charts carry stable ids and classes: #timeline (with one g.lane per
// region), #histogram-<probe>, #visibility (one polyline.curve per region).
func HTML(w io.Writer, r *Run) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	title := r.Scenario
	if r.Title != "" {
		title += ": " + r.Title
	}
	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	// The policy forbids every fetch, so a stray external reference fails
	// loudly (in the console) instead of leaking a request.
	p("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n")
	p("<title>iamprop · %s</title>\n<style>%s</style>\n</head>\n<body>\n", esc(title), pageCSS)

	p("<header>\n<p class=\"kicker\">iamprop run report · scenario <code>%s</code></p>\n<h1>%s</h1>\n", esc(r.Scenario), esc(orDefault(r.Title, r.Scenario)))
	p("<ul class=\"facts\">")
	verdict, vclass := "all expectations passed", "pass"
	if !r.Passed {
		verdict, vclass = "an expectation failed", "fail"
	}
	conv, cclass := "converged", "pass"
	if !r.Converged {
		conv, cclass = "not converged", "fail"
	}
	p("<li>mode <b>%s</b></li><li>seed <b>%d</b></li><li><b>%s</b></li><li class=\"%s\">%s</li><li class=\"%s\">%s</li>",
		esc(r.Mode), r.Seed, esc(plural(r.Trials, "trial", "trials")), cclass, conv, vclass, verdict)
	p("</ul>\n</header>\n<main>\n")

	if r.Description != "" || r.Lesson != "" {
		p("<section class=\"story\">\n")
		if r.Description != "" {
			p("<div class=\"card\"><h2>What happens</h2>%s</div>\n", paragraphs(r.Description))
		}
		if r.Lesson != "" {
			p("<div class=\"card lesson\"><h2>The lesson</h2>%s</div>\n", paragraphs(r.Lesson))
		}
		p("</section>\n")
	}

	if len(r.Steps) > 0 || r.Propagation != "" || len(r.Sources) > 0 || len(r.Probes) > 0 {
		p("<section id=\"setup\">\n<h2>The scenario</h2>\n")
		if len(r.Steps) > 0 {
			p("<h3>Steps</h3>\n")
			cols := []col{{"at", "at", true}, {"region", "region", false}, {"call", "call", false}, {"label", "label", false}}
			tableStart(p, "steps", cols)
			for _, st := range r.Steps {
				tableRow(p, cols, FormatSeconds(st.At), esc(st.Region), "<code>"+esc(st.Call)+"</code>", esc(st.Label))
			}
			tableEnd(p)
		}
		if len(r.Probes) > 0 {
			p("<h3>Probes</h3>\n<ul class=\"probe-list\">\n")
			for _, pr := range r.Probes {
				req := strings.TrimSpace(strings.Join([]string{pr.Principal, pr.Action, pr.Resource}, " "))
				p("<li><b>%s</b> asks %s: <code>%s</code></li>\n", esc(pr.Name), esc(pr.Region), esc(req))
			}
			p("</ul>\n")
		}
		if r.Propagation != "" {
			p("<h3>Delay model</h3>\n<p class=\"model\"><code>%s</code> (commit at the origin to apply in a region; drawn dashed under the t-visibility curves)</p>\n", esc(r.Propagation))
		}
		if len(r.Sources) > 0 {
			// Plain text, not links: the report fetches and links nothing.
			p("<h3>Sources</h3>\n<ul class=\"sources\">\n")
			for _, src := range r.Sources {
				p("<li>%s</li>\n", esc(src))
			}
			p("</ul>\n")
		}
		p("</section>\n")
	}

	p("<section id=\"summary\">\n<h2>Summary</h2>\n")
	p("<p class=\"howto\">The <b>exposure window</b> is, per trial, the total time a region kept <em>allowing</em> a request the truth (a strongly consistent system) already <em>denied</em>; the <b>denial window</b> is the reverse (denied although already allowed). Statistics are over %s; stale allows and denies are the wrong answers probes were actually served.</p>\n",
		esc(plural(r.Trials, "trial", "trials")))
	perTrial, perTrialLabel := perTrialHead(r.Trials), ""
	if r.Trials > 1 {
		perTrialLabel = " per trial (total)"
	}
	cols := []col{{"probe", "probe", false}, {"region", "region", false},
		{"exposure p50", "exposure p50", true}, {"p90", "exposure p90", true}, {"p99", "exposure p99", true}, {"max", "exposure max", true}, {"mean", "exposure mean", true},
		{"requests" + perTrial, "requests" + perTrialLabel, true}, {"stale allows" + perTrial, "stale allows" + perTrialLabel, true}, {"stale denies" + perTrial, "stale denies" + perTrialLabel, true},
		{"denial p50", "denial p50", true}, {"denial max", "denial max", true}}
	tableStart(p, "probes", cols)
	for _, pr := range r.Probes {
		e, d := pr.ExposureSeconds, pr.DenialSeconds
		tableRow(p, cols, esc(pr.Name), esc(pr.Region), FormatSeconds(e.P50), FormatSeconds(e.P90), FormatSeconds(e.P99), FormatSeconds(e.Max), FormatSeconds(e.Mean),
			htmlPerTrial(pr.Requests, r.Trials), htmlPerTrial(pr.StaleAllows, r.Trials), htmlPerTrial(pr.StaleDenies, r.Trials), FormatSeconds(d.P50), FormatSeconds(d.Max))
	}
	if len(r.Probes) == 0 {
		p("<tr><td colspan=\"12\">no probes</td></tr>\n")
	}
	tableEnd(p)
	for _, pr := range r.Probes {
		if pr.Intended != "" && pr.RegionAgainstIntentSeconds != nil && pr.TruthAgainstIntentSeconds != nil {
			p("<p class=\"note intent\">%s</p>\n", esc(intentLine(pr, FormatSeconds)+". Exposure counts only stale answers; these count every answer against the intended access, a bad policy the truth itself applied included."))
		}
		if pr.LatencySeconds != nil {
			p("<p class=\"note\">%s waited for consistency: p50 %s, p99 %s, max %s added latency per held request.</p>\n",
				esc(pr.Name), FormatSeconds(pr.LatencySeconds.P50), FormatSeconds(pr.LatencySeconds.P99), FormatSeconds(pr.LatencySeconds.Max))
		}
		if pr.ConfidentialReads > 0 {
			p("<p class=\"note\">%s: %s read an object that exists: confidential data actually left the bucket.</p>\n", esc(pr.Name), esc(countPerTrial(pr.ConfidentialReads, r.Trials, "stale allows")))
		}
	}
	htmlMutations(p, r.Mutations)
	p("<h3>Expectations</h3>\n<ul class=\"expectations\">\n")
	for _, e := range r.Expectations {
		mark, class := "✓", "pass"
		if !e.Passed {
			mark, class = "✗", "fail"
		}
		p("<li class=\"%s\"><span class=\"mark\">%s</span> <code>%s</code>", class, mark, esc(e.Expr))
		if e.Detail != "" {
			p(" <span class=\"detail\">%s</span>", esc(e.Detail))
		}
		p("</li>\n")
	}
	if len(r.Expectations) == 0 {
		p("<li>no expectations</li>\n")
	}
	p("</ul>\n")
	htmlUnconverged(p, r.Unconverged, r.Trials)
	p("</section>\n")

	p("<section id=\"timeline-section\">\n<h2>Timeline of the first trial</h2>\n")
	if r.Timeline == nil {
		p("<p class=\"empty\">No timeline was recorded for this run.</p>\n")
	} else {
		p("<p class=\"howto\">One lane per region, time running left to right. A ◆ is a commit at its origin; the dashed line carries it across every lane because the truth changes everywhere at that instant. A ○ is the apply in a region, the bar before it its lag. A ■ is an S3 upload, a data-plane write in the bucket's region, readable there at once. Shaded red: the region allowed what the truth denied (exposure); orange: the reverse (denial); hatched: a fault. Ticks under a lane are the probe's requests, coloured by whether the answer was stale. Hover the chart to read the time.</p>\n")
		p("<div class=\"chart-wrap\">%s</div>\n", timelineSVG(r))
		p("%s\n", legendHTML)
	}
	p("</section>\n")
	if w := r.Worst; w != nil && w.Timeline != nil {
		p("<section id=\"worst-section\">\n<h2>Timeline of the worst trial</h2>\n")
		p("<p class=\"howto\">Trial %d of %d (seed %d, replay it with <code>--seed %d --trials 1</code>) %s. Read it like the first trial's.</p>\n",
			w.Index+1, r.Trials, w.Seed, w.Seed, worstWhy(w))
		p("<div class=\"chart-wrap\">%s</div>\n</section>\n", timelineSVGOf(r, w.Timeline, "timeline-worst", fmt.Sprintf("Timeline of the worst trial (seed %d): one lane per region", w.Seed)))
	}

	p("<section id=\"distribution-section\">\n<h2>Exposure and denial windows over trials</h2>\n")
	p("<p class=\"howto\">Each bar counts the trials whose window fell in its range (red: exposure, a stale allow; orange: denial, a stale deny); trials without a window get no bar, the caption counts them. Dashed lines mark the median (p50) and the 99th percentile (p99). A wide spread means the risk depends on luck: plan for the p99, not the median.</p>\n<div class=\"grid\">\n")
	shown := 0
	ids := map[string]bool{}
	// Ids must be unique in a page; two probe names can share a slug.
	uniqueID := func(prefix, name string) string {
		id := prefix + slug(name)
		for n := 2; ids[id]; n++ {
			id = prefix + slug(name) + "-" + strconv.Itoa(n)
		}
		ids[id] = true
		return id
	}
	zeros := func(values []float64) int {
		n := 0
		for _, v := range values {
			if v == 0 {
				n++
			}
		}
		return n
	}
	for _, pr := range r.Probes {
		if len(pr.Histogram) == 0 {
			continue
		}
		shown++
		noExposure, noDenial := zeros(pr.Histogram), len(pr.Histogram)
		if len(pr.DenialHistogram) > 0 {
			noDenial = zeros(pr.DenialHistogram)
		}
		if noExposure < len(pr.Histogram) {
			p("<figure>%s<figcaption><b>%s</b> in %s: %d of %d trials had no exposure.</figcaption></figure>\n",
				histogramSVG(pr, uniqueID("histogram-", pr.Name)), esc(pr.Name), esc(pr.Region), noExposure, len(pr.Histogram))
		}
		if noDenial < len(pr.DenialHistogram) {
			p("<figure>%s<figcaption><b>%s</b> in %s: %d of %d trials had no denial.</figcaption></figure>\n",
				windowHistogramSVG(pr, denialKind, pr.DenialHistogram, pr.DenialSeconds, uniqueID("denial-histogram-", pr.Name)),
				esc(pr.Name), esc(pr.Region), noDenial, len(pr.DenialHistogram))
		}
		if noExposure == len(pr.Histogram) && noDenial == len(pr.Histogram) {
			p("<p class=\"never\"><b>%s</b> in %s was never stale over %s: no exposure, no denial.</p>\n",
				esc(pr.Name), esc(pr.Region), plural(len(pr.Histogram), "trial", "trials"))
		}
	}
	if shown == 0 {
		p("<p class=\"empty\">No per-trial exposure values were recorded.</p>\n")
	}
	p("</div>\n</section>\n\n")
	p("<section id=\"visibility-section\">\n<h2>t-visibility: how fast each region sees a change</h2>\n")
	if len(r.Visibility) == 0 {
		p("<p class=\"empty\">No mutation was applied, so there is no visibility curve.</p>\n")
	} else {
		p("<p class=\"howto\">For each region, the probability that it has applied a mutation <i>t</i> seconds after the mutation's commit (the PBS curve of Bailis et al., VLDB 2012), over every mutation of every trial. Where a curve crosses 50%%, half the changes are visible there; until it reaches 100%%, some region can still answer from the old state.</p>\n")
		p("<div class=\"chart-wrap\">%s</div>\n", visibilitySVG(r.Visibility, r.ModelVisibility, regionNames(r)))
	}
	if len(r.Regions) > 0 {
		cols := []col{{"region", "region", false}, {"lag p50", "lag p50", true}, {"lag p99", "lag p99", true}, {"lag max", "lag max", true},
			{"converged at p50", "converged at p50", true}, {"converged at max", "converged at max", true}}
		tableStart(p, "regions", cols)
		for _, reg := range r.Regions {
			tableRow(p, cols, esc(reg.Region), FormatSeconds(reg.LagSeconds.P50), FormatSeconds(reg.LagSeconds.P99), FormatSeconds(reg.LagSeconds.Max),
				FormatSeconds(reg.ConvergedAtSeconds.P50), FormatSeconds(reg.ConvergedAtSeconds.Max))
		}
		tableEnd(p)
	}
	p("</section>\n</main>\n")
	p("<footer>Generated by iamprop from scenario <code>%s</code>, %s, seed %s. The JSON report (<code>--json</code>) holds every number shown here.</footer>\n",
		esc(r.Scenario), esc(r.Mode), strconv.FormatUint(r.Seed, 10))
	p("<script>%s</script>\n</body>\n</html>\n", pageJS)
	return bw.Flush()
}

// regionNames lists regions in timeline order (or report order), so each
// region has one colour in every chart.
func regionNames(r *Run) []string {
	if r.Timeline != nil && len(r.Timeline.Regions) > 0 {
		return r.Timeline.Regions
	}
	var out []string
	for _, reg := range r.Regions {
		out = append(out, reg.Region)
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// legendHTML explains every mark of the timeline with the mark itself.
var legendHTML = `<ul class="legend" id="timeline-legend">` +
	`<li><svg width="16" height="16" viewBox="0 0 16 16"><path d="M8 1l7 7-7 7-7-7z" fill="` + colCommit + `"/></svg> commit (origin region)</li>` +
	`<li><svg width="16" height="16" viewBox="0 0 16 16"><rect x="3" y="3" width="10" height="10" fill="` + colCommit + `"/></svg> data-plane write (S3 upload, in the bucket's region)</li>` +
	`<li><svg width="30" height="16" viewBox="0 0 30 16"><line x1="0" y1="8" x2="22" y2="8" stroke="` + colApply + `" stroke-width="2" opacity="0.55"/><circle cx="23" cy="8" r="4.5" fill="#fff" stroke="` + colApply + `" stroke-width="2"/></svg> lag, then apply</li>` +
	`<li><svg width="22" height="16" viewBox="0 0 22 16"><rect width="22" height="16" fill="` + colExposure + `" fill-opacity="0.22" stroke="` + colExposure + `"/></svg> exposure window (stale allow)</li>` +
	`<li><svg width="22" height="16" viewBox="0 0 22 16"><rect width="22" height="16" fill="` + colDenial + `" fill-opacity="0.22" stroke="` + colDenial + `"/></svg> denial window (stale deny)</li>` +
	`<li><svg width="22" height="16" viewBox="0 0 22 16"><rect width="22" height="16" fill="#ddd"/><path d="M0 16L16 0M6 16L22 0M-6 10L10 -6" stroke="#888" stroke-width="2"/></svg> fault (partition, crash, loss)</li>` +
	`<li><svg width="14" height="16" viewBox="0 0 14 16"><path d="M3 3v10M7 3v10M11 3v10" stroke="` + colFresh + `" stroke-width="1.5"/></svg> request answered like the truth</li>` +
	`<li><svg width="14" height="16" viewBox="0 0 14 16"><path d="M3 3v10M7 3v10M11 3v10" stroke="` + colExposure + `" stroke-width="1.5"/></svg> stale allow served</li>` +
	`<li><svg width="14" height="16" viewBox="0 0 14 16"><path d="M3 3v10M7 3v10M11 3v10" stroke="` + colDenial + `" stroke-width="1.5"/></svg> stale deny served</li>` +
	`<li><svg width="14" height="16" viewBox="0 0 14 16"><path d="M3 3v10M7 3v10M11 3v10" stroke="` + colWaiting + `" stroke-width="1.5"/></svg> held (at_least consistency)</li>` +
	`<li><svg width="14" height="16" viewBox="0 0 14 16"><path d="M3 3v10M7 3v10M11 3v10" stroke="` + colDown + `" stroke-width="1.5"/></svg> region down</li>` +
	`</ul>`

const pageCSS = `
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#ffffff;--card:#f6f8fa;--pass:#1a7f37;--fail:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 24px}
header{padding-top:24px}
.kicker{margin:0;color:var(--muted);font-size:13px}
h1{margin:4px 0 8px;font-size:26px;line-height:1.25}
h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
.facts{list-style:none;padding:0;margin:0 0 8px;display:flex;flex-wrap:wrap;gap:8px}
.facts li{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1px 10px;font-size:13px}
.facts li.pass{color:var(--pass);border-color:var(--pass)}
.facts li.fail{color:var(--fail);border-color:var(--fail)}
.story{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-top:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:4px 16px}
.card h2{border:0;margin:8px 0 0;font-size:16px}
.lesson{border-left:4px solid var(--pass)}
.prose{white-space:pre-line}
.howto{color:var(--muted);font-size:14px;max-width:900px}
table{border-collapse:collapse;font-size:14px;margin:8px 0;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;white-space:nowrap}
th{background:var(--card);font-weight:600;white-space:normal;vertical-align:bottom}
.total{display:block;font-size:12px;color:var(--muted)}
.n{text-align:right;font-variant-numeric:tabular-nums}
.expectations{list-style:none;padding:0}
.expectations li{margin:2px 0}
.expectations .mark{display:inline-block;width:1.2em;font-weight:700}
.expectations .pass .mark{color:var(--pass)}
.expectations .fail .mark{color:var(--fail)}
.detail{color:var(--muted)}
.note{font-size:14px}
.sources li,.probe-list li,.model,.howto,.note{overflow-wrap:anywhere}
table.unconverged td:last-child{white-space:normal}
.chart-wrap{overflow-x:auto}
svg.chart{width:100%;height:auto;display:block;font-size:11px;fill:var(--fg)}
svg.chart text{fill:var(--fg)}
svg.chart .axis text{fill:var(--muted)}
svg.chart .axis-label{font-size:12px;fill:var(--fg)!important}
svg.chart .lane-label{font-size:13px;font-weight:600}
svg.chart .probe-label{font-size:10px;fill:var(--muted)}
svg.chart .lag-label{font-size:10px;fill:#1f3a93}
svg.chart .fault-label{font-size:10px;font-weight:600;fill:#444}
svg.chart .commit-labels text{font-size:11px;fill:#1f3a93}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;color:var(--muted)}
.legend svg{vertical-align:middle;margin-right:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
figure{margin:0}
figcaption{font-size:13px;color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;margin-top:32px;padding-bottom:24px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
@media (max-width:760px){.story{grid-template-columns:1fr}
header,main,footer{padding:0 12px}
.grid{grid-template-columns:1fr}
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr{display:block}
table.cards tr{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:4px 8px}
table.cards td{display:block;border:0;padding:2px 0;white-space:normal;text-align:right;overflow-wrap:anywhere}
table.cards td::before{content:attr(data-label);float:left;margin-right:12px;color:var(--muted);text-align:left;white-space:nowrap}
table.cards .total{display:inline;margin-left:4px}}
`

// pageJS only adds a time cursor to the timeline; every chart is complete
// without it.
const pageJS = `
(function () {
  "use strict";
  document.querySelectorAll("svg.timeline").forEach(cursor);
  function cursor(svg) {
  var x0 = parseFloat(svg.getAttribute("data-x0"));
  var x1 = parseFloat(svg.getAttribute("data-x1"));
  var dur = parseFloat(svg.getAttribute("data-duration"));
  var line = svg.querySelector(".cursor");
  var label = svg.querySelector(".cursor-label");
  function hide() {
    line.setAttribute("visibility", "hidden");
    label.setAttribute("visibility", "hidden");
  }
  svg.addEventListener("mousemove", function (ev) {
    var ctm = svg.getScreenCTM();
    if (!ctm) { return; }
    var pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
    if (pt.x < x0 || pt.x > x1) { hide(); return; }
    var t = (pt.x - x0) / (x1 - x0) * dur;
    line.setAttribute("x1", pt.x);
    line.setAttribute("x2", pt.x);
    label.setAttribute("x", pt.x + 4);
    label.textContent = "t = " + t.toFixed(3) + " s";
    line.setAttribute("visibility", "visible");
    label.setAttribute("visibility", "visible");
  });
  svg.addEventListener("mouseleave", hide);
  }
})();
`

// paragraphs renders prose from a YAML block: blank lines separate
// paragraphs, single line breaks are the file's wrapping and become spaces.
func paragraphs(text string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if para = strings.TrimSpace(para); para == "" {
			continue
		}
		b.WriteString("<p class=\"prose\">")
		b.WriteString(esc(strings.Join(strings.Fields(para), " ")))
		b.WriteString("</p>")
	}
	return b.String()
}

// htmlMutations is the table of when each step's mutation was in force
// everywhere and when its origin could know it, over trials.
func htmlMutations(p func(string, ...any), ms []Mutation) {
	if len(ms) == 0 {
		return
	}
	p("<h3>When each change was in force everywhere, and when its origin could know</h3>\n")
	p("<p class=\"howto\">A change is <b>complete</b> when the last live region applied it: from then on it is in force everywhere. Its origin can only <b>know</b> so once every region's ack covering it has reached it, which is when the origin's propagation status (<code>GET /v1/mutations/{id}</code>) says complete. Instants are seconds from the start of a trial; <b>known after</b> is the difference. An upload, a data-plane write, is complete and known when it is written in its bucket's region.</p>\n")
	cols := []col{{"step", "step", false}, {"origin", "origin", false},
		{"complete p50", "complete p50", true}, {"p99", "complete p99", true}, {"known p50", "known p50", true}, {"p99", "known p99", true},
		{"known after p50", "known after p50", true}, {"p99", "known after p99", true}, {"trials complete / known / committed", "trials complete / known / committed", true}}
	tableStart(p, "mutations", cols)
	d := func(n int, s float64) string {
		if n == 0 {
			return "–"
		}
		return FormatSeconds(s)
	}
	for _, m := range ms {
		both := min(m.Complete, m.KnownComplete)
		tableRow(p, cols, fmt.Sprintf("%d %s", m.Step, esc(m.Call)), esc(m.Origin),
			d(m.Complete, m.CompleteAtSeconds.P50), d(m.Complete, m.CompleteAtSeconds.P99),
			d(m.KnownComplete, m.KnownCompleteAtSeconds.P50), d(m.KnownComplete, m.KnownCompleteAtSeconds.P99),
			d(both, m.KnownAfterCompleteSeconds.P50), d(both, m.KnownAfterCompleteSeconds.P99),
			fmt.Sprintf("%d / %d / %d", m.Complete, m.KnownComplete, m.Committed))
	}
	tableEnd(p)
}

// col is one column of a data table: its heading (HTML), the plain label
// its cells carry for the narrow layout, and whether it holds numbers.
type col struct {
	head, label string
	num         bool
}

// tableStart opens a data table. Class cards lets the page's CSS turn each
// row into a card of labelled values on a narrow page (a phone, or 200%
// zoom), where a dozen columns cannot fit side by side.
func tableStart(p func(string, ...any), class string, cols []col) {
	p("<table class=\"%s cards\"><thead><tr>", class)
	for _, c := range cols {
		if c.num {
			p("<th class=\"n\">%s</th>", c.head)
		} else {
			p("<th>%s</th>", c.head)
		}
	}
	p("</tr></thead><tbody>\n")
}

// tableRow writes one row of cells, each already HTML.
func tableRow(p func(string, ...any), cols []col, cells ...string) {
	p("<tr>")
	for i, cell := range cells {
		class := ""
		if cols[i].num {
			class = " class=\"n\""
		}
		p("<td%s data-label=\"%s\">%s</td>", class, esc(cols[i].label), cell)
	}
	p("</tr>\n")
}

func tableEnd(p func(string, ...any)) { p("</tbody></table>\n") }

// htmlPerTrial is cellPerTrial for the HTML table: the total goes on a
// second, smaller line so count columns stay narrow.
func htmlPerTrial(total, trials int) string {
	if trials <= 1 {
		return thousands(int64(total))
	}
	return formatCount(perTrial(total, trials)) + "<small class=\"total\">(" + thousands(int64(total)) + ")</small>"
}

// worstWhy says why the worst trial is the worst: the longest exposure, or,
// when exposure ties (or there is none), the longest denial.
func worstWhy(w *WorstTrial) string {
	switch {
	case w.ExposureSeconds == 0:
		return "had the longest denial: " + FormatSeconds(w.DenialSeconds) + " summed over the probes"
	case w.DenialSeconds == 0:
		return "had the longest exposure: " + FormatSeconds(w.ExposureSeconds) + " summed over the probes"
	default:
		return "had the longest exposure, then the longest denial: " + FormatSeconds(w.ExposureSeconds) + " and " + FormatSeconds(w.DenialSeconds) + " summed over the probes"
	}
}
