package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// The charts are drawn here, in Go, as inline SVG: the same Run gives the
// same bytes, the file needs no script or network to show its data, and a
// test can find every chart by id.

// regionColors is the Okabe-Ito palette, readable with the common forms of
// colour blindness; regions take colours in report order.
var regionColors = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}

func regionColor(i int) string { return regionColors[i%len(regionColors)] }

// Colours of stale kinds, shared by the timeline, its legend and the tables.
const (
	colExposure = "#d62728"
	colDenial   = "#f28e2b"
	colFresh    = "#8a97a6"
	colDown     = "#222222"
	colWaiting  = "#8e44ad"
	colCommit   = "#1f3a93"
	colApply    = "#1f3a93"
)

// svgWriter accumulates SVG markup with rounded coordinates: two decimals
// are finer than a pixel and keep the file small and stable.
type svgWriter struct{ strings.Builder }

func (s *svgWriter) f(format string, args ...any) { fmt.Fprintf(&s.Builder, format, args...) }

// c formats a coordinate.
func c(v float64) string {
	r := math.Round(v*100) / 100
	if r == 0 {
		r = 0
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func esc(s string) string { return html.EscapeString(s) }

// niceStep returns a round step (1, 2, 2.5 or 5 times a power of ten) that
// cuts span into about target intervals, for axis ticks people can read.
func niceStep(span float64, target int) float64 {
	if span <= 0 || target <= 0 {
		return 1
	}
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel formats an axis tick without float noise (0.30000000000000004).
func tickLabel(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// slug turns a name into an id fragment: letters, digits and '-' only.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Timeline geometry, in SVG user units (the chart scales to the page width).
const (
	tlWidth    = 1000.0
	tlLeft     = 150.0 // region names
	tlRight    = 20.0
	tlLaneH    = 56.0 // events band of a lane
	tlProbeH   = 16.0 // one row of probe ticks
	tlLabelRow = 15.0 // one row of commit labels above the lanes
	tlAxisH    = 48.0
	charW      = 6.2 // approximate width of one character at 11px, for label placement
	lagCharW   = 6.0 // the same at 10px, generously: lag labels are digits
)

// timelineSVG draws the first trial: one lane per region with commits,
// applies (and their lag), faults, shaded stale windows and probe ticks.
func timelineSVG(r *Run) string {
	return timelineSVGOf(r, r.Timeline, "timeline", "Timeline of the first trial: one lane per region")
}

// timelineSVGOf draws tl as the SVG element id (unique in the page).
func timelineSVGOf(r *Run, tl *Timeline, id, title string) string {
	dur := tl.Duration
	for _, e := range tl.Events {
		dur = math.Max(dur, e.At)
	}
	if dur <= 0 {
		dur = 1
	}
	x := func(t float64) float64 { return tlLeft + (tlWidth-tlLeft-tlRight)*t/dur }

	regions := tl.Regions
	regionIx := map[string]int{}
	for i, reg := range regions {
		regionIx[reg] = i
	}
	// Probes per region, in report order, each with its own tick row.
	probeRows := map[string][]string{}
	for _, p := range r.Probes {
		probeRows[p.Region] = append(probeRows[p.Region], p.Name)
	}
	for _, s := range tl.Samples {
		if !contains(probeRows[s.Region], s.Probe) {
			probeRows[s.Region] = append(probeRows[s.Region], s.Probe)
		}
	}

	// Commit labels go in rows above the lanes; each takes the first row
	// where it does not overlap the previous label, so dense schedules stay
	// legible without a layout engine.
	type label struct {
		x    float64
		row  int
		text string
	}
	var labels []label
	var rowEnd []float64
	for _, e := range tl.Events {
		if e.Kind != "commit" && e.Kind != "write" {
			continue
		}
		text := e.Call
		if e.Label != "" {
			text += " (" + e.Label + ")"
		}
		lx := x(e.At)
		row := 0
		for ; row < len(rowEnd); row++ {
			if lx > rowEnd[row]+8 {
				break
			}
		}
		if row == len(rowEnd) {
			rowEnd = append(rowEnd, 0)
		}
		rowEnd[row] = lx + float64(len([]rune(text)))*charW
		labels = append(labels, label{lx, row, text})
	}
	top := 28 + tlLabelRow*float64(len(rowEnd))

	laneY := make([]float64, len(regions))
	laneH := make([]float64, len(regions))
	y := top
	for i, reg := range regions {
		laneY[i] = y
		laneH[i] = tlLaneH + tlProbeH*float64(len(probeRows[reg]))
		y += laneH[i]
	}
	bottom := y
	height := bottom + tlAxisH

	var s svgWriter
	s.f(`<svg id="%s" class="chart timeline" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-title" data-duration="%s" data-x0="%s" data-x1="%s" data-lanes="%d">`,
		id, c(tlWidth), c(height), id, c(dur), c(tlLeft), c(tlWidth-tlRight), len(regions))
	s.f(`<title id="%s-title">%s</title>`, id, esc(title))
	if id == "timeline" {
		// One hatch pattern per page: the other timelines refer to it.
		s.f(`<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#888888" stroke-width="2"/></pattern></defs>`)
	}

	// Lane backgrounds and grid first, so everything else draws on top.
	s.f(`<g class="lane-bg">`)
	for i := range regions {
		fill := "#ffffff"
		if i%2 == 1 {
			fill = "#f6f8fa"
		}
		s.f(`<rect x="0" y="%s" width="%s" height="%s" fill="%s"/>`, c(laneY[i]), c(tlWidth), c(laneH[i]), fill)
	}
	step := niceStep(dur, 10)
	s.f(`</g><g class="axis x-axis">`)
	for t := 0.0; t <= dur+1e-9; t += step {
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d0d7de" stroke-width="0.5"/>`, c(x(t)), c(top), c(x(t)), c(bottom))
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(x(t)), c(bottom), c(x(t)), c(bottom+5))
		s.f(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, c(x(t)), c(bottom+18), tickLabel(t))
	}
	s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(tlLeft), c(bottom), c(tlWidth-tlRight), c(bottom))
	s.f(`<text class="axis-label" x="%s" y="%s" text-anchor="middle">virtual time since the start of the trial (seconds)</text>`, c((tlLeft+tlWidth-tlRight)/2), c(bottom+40))
	s.f(`</g>`)

	// Commit guides cross every lane: a commit changes the truth everywhere.
	s.f(`<g class="commit-guides">`)
	for _, e := range tl.Events {
		if e.Kind == "commit" {
			s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1" stroke-dasharray="3 3" opacity="0.6"/>`,
				c(x(e.At)), c(top-4), c(x(e.At)), c(bottom), colCommit)
		}
	}
	s.f(`</g><g class="commit-labels">`)
	for _, l := range labels {
		s.f(`<text x="%s" y="%s">%s</text>`, c(l.x), c(top-8-tlLabelRow*float64(len(rowEnd)-1-l.row)), esc(l.text))
	}
	s.f(`</g>`)

	commitAt := map[string]float64{}
	for _, e := range tl.Events {
		if e.Kind == "commit" {
			commitAt[e.Mutation] = e.At
		}
	}
	// Faults become bands from their start to their heal or restart (or the
	// end); a fault with no region covers every lane.
	type band struct {
		from, to float64
		region   string
		text     string
	}
	var bands []band
	for i, e := range tl.Events {
		if e.Kind != "fault" && e.Kind != "crash" {
			continue
		}
		end := dur
		for _, f := range tl.Events[i+1:] {
			if f.Region == e.Region && ((e.Kind == "fault" && f.Kind == "heal") || (e.Kind == "crash" && f.Kind == "restart")) {
				end = f.At
				break
			}
		}
		bands = append(bands, band{e.At, end, e.Region, e.Label})
	}

	for i, reg := range regions {
		y0, mid := laneY[i], laneY[i]+tlLaneH/2
		s.f(`<g class="lane" data-region="%s">`, esc(reg))
		s.f(`<rect class="lane-swatch" x="0" y="%s" width="5" height="%s" fill="%s"/>`, c(y0), c(laneH[i]), regionColor(i))
		s.f(`<text class="lane-label" x="12" y="%s">%s</text>`, c(mid+4), esc(reg))
		// Lag labels sit above the lane's line (row 0) or below it (row 1),
		// wherever no label is in the way; with both taken the apply's
		// tooltip says it. Fault labels, stacked from the top, take row 0.
		var taken [2][][2]float64
		lagY := [2]float64{mid - 10, mid + 19}
		k := 0 // faults drawn in this lane so far: their labels stack, not overlap
		for _, b := range bands {
			if b.region != "" && b.region != reg {
				continue
			}
			k++
			s.f(`<rect class="fault" x="%s" y="%s" width="%s" height="%s" fill="url(#hatch)" opacity="0.8"><title>%s: %s from %s to %s</title></rect>`,
				c(x(b.from)), c(y0+2), c(math.Max(x(b.to)-x(b.from), 1)), c(laneH[i]-4), esc(reg), esc(b.text), at(b.from), at(b.to))
			s.f(`<text class="fault-label" x="%s" y="%s">%s</text>`, c(x(b.from)+3), c(y0+2+12*float64(k)), esc(b.text))
			span := [2]float64{x(b.from) + 3, x(b.from) + 3 + float64(len([]rune(b.text)))*lagCharW}
			taken[0] = append(taken[0], span)
			if k >= 3 {
				taken[1] = append(taken[1], span)
			}
		}
		for _, win := range tl.Windows {
			if win.Region != reg {
				continue
			}
			col := colExposure
			if win.Kind == "denial" {
				col = colDenial
			}
			s.f(`<rect class="window %s" data-probe="%s" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.22" stroke="%s" stroke-width="1"><title>%s window of %s in %s: %s to %s (%s)</title></rect>`,
				esc(win.Kind), esc(win.Probe), c(x(win.From)), c(y0+2), c(math.Max(x(win.To)-x(win.From), 1)), c(laneH[i]-4), col, col,
				esc(win.Kind), esc(win.Probe), esc(reg), at(win.From), at(win.To), at(win.To-win.From))
		}
		// Lag bars: from the commit to the apply in this lane.
		for _, e := range tl.Events {
			if e.Kind != "apply" || e.Region != reg {
				continue
			}
			if from, ok := commitAt[e.Mutation]; ok && e.At > from {
				s.f(`<line class="lag" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2" opacity="0.55"/>`,
					c(x(from)), c(mid), c(x(e.At)), c(mid), colApply)
			}
		}
		for _, e := range tl.Events {
			if e.Region != reg {
				continue
			}
			px := x(e.At)
			switch e.Kind {
			case "commit":
				s.f(`<path class="commit" d="M%s %sl7 7-7 7-7-7z" fill="%s"><title>%s: %s commits %s</title></path>`,
					c(px), c(mid-7), colCommit, at(e.At), esc(reg), esc(mutationText(e)))
			case "write":
				s.f(`<rect class="write" x="%s" y="%s" width="10" height="10" fill="%s"><title>%s: %s writes %s (data plane, readable here at once)</title></rect>`,
					c(px-5), c(mid-5), colCommit, at(e.At), esc(reg), esc(mutationText(e)))
			case "apply":
				s.f(`<circle class="apply" cx="%s" cy="%s" r="4.5" fill="#ffffff" stroke="%s" stroke-width="2"><title>%s: %s applies %s (lag %s)</title></circle>`,
					c(px), c(mid), colApply, at(e.At), esc(reg), esc(e.Call), at(e.Lag))
				if e.Lag > 0 {
					text := "+" + FormatSeconds(e.Lag)
					span := [2]float64{px - float64(len(text))*lagCharW/2 - 3, px + float64(len(text))*lagCharW/2 + 3}
					for row := range taken {
						if !overlapsAny(span, taken[row]) {
							taken[row] = append(taken[row], span)
							s.f(`<text class="lag-label" x="%s" y="%s" text-anchor="middle">%s</text>`, c(px), c(lagY[row]), esc(text))
							break
						}
					}
				}
			case "rejected":
				s.f(`<path class="rejected" d="M%s %sl8 8m0-8l-8 8" stroke="%s" stroke-width="2"><title>%s: %s rejects %s: %s</title></path>`,
					c(px-4), c(mid-4), colExposure, at(e.At), esc(reg), esc(e.Call), esc(e.Label))
			}
		}
		for row, probe := range probeRows[reg] {
			ry := y0 + tlLaneH + tlProbeH*float64(row)
			s.f(`<text class="probe-label" x="12" y="%s">%s</text>`, c(ry+10), esc(probe))
			s.probeTicks(tl.Samples, probe, reg, ry, x)
		}
		s.f(`</g>`)
	}
	// The cursor is moved by the page's script; hidden until then.
	s.f(`<line class="cursor" x1="0" y1="%s" x2="0" y2="%s" stroke="#24292f" stroke-width="1" visibility="hidden"/>`, c(top-4), c(bottom))
	s.f(`<text class="cursor-label" x="0" y="%s" visibility="hidden"></text>`, c(top-6))
	s.f(`</svg>`)
	return s.String()
}

// overlapsAny reports whether the interval span meets one of spans.
func overlapsAny(span [2]float64, spans [][2]float64) bool {
	for _, o := range spans {
		if span[0] < o[1] && o[0] < span[1] {
			return true
		}
	}
	return false
}

// probeTicks draws one probe's samples as ticks, one path per colour, so
// thousands of samples stay a few kilobytes.
func (s *svgWriter) probeTicks(samples []ProbeSample, probe, region string, ry float64, x func(float64) float64) {
	kinds := []struct{ class, color, title string }{
		{"fresh", colFresh, "answered like the truth"},
		{"exposure", colExposure, "stale allow (exposure)"},
		{"denial", colDenial, "stale deny (denial)"},
		{"waiting", colWaiting, "held by at_least consistency"},
		{"down", colDown, "region down: no answer"},
	}
	for _, k := range kinds {
		var d strings.Builder
		n := 0
		for _, smp := range samples {
			if smp.Probe != probe || smp.Region != region || sampleClass(smp) != k.class {
				continue
			}
			fmt.Fprintf(&d, "M%s %sv10", c(x(smp.At)), c(ry+2))
			n++
		}
		if n == 0 {
			continue
		}
		s.f(`<path class="ticks %s" data-count="%d" d="%s" stroke="%s" stroke-width="1.5"><title>%s: %d requests %s</title></path>`,
			k.class, n, d.String(), k.color, esc(probe), n, k.title)
	}
}

// sampleClass says how a served decision compares with the truth.
func sampleClass(s ProbeSample) string {
	switch {
	case s.Decision == "Unavailable":
		return "down"
	case s.Decision == "Waiting":
		return "waiting"
	case s.Decision == "Allow" && s.Truth == "Deny":
		return "exposure"
	case s.Decision == "Deny" && s.Truth == "Allow":
		return "denial"
	}
	return "fresh"
}

func mutationText(e TimelineEvent) string {
	if e.Label != "" {
		return e.Call + " (" + e.Label + ")"
	}
	return e.Call
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Histogram geometry.
const (
	hW, hH                 = 480.0, 280.0
	hLeft, hRight          = 56.0, 16.0
	hTop, hBottom          = 24.0, 52.0
	maxBins, minBinsWanted = 30, 8
)

// bin is one bar of the exposure histogram: trials with a window in [from, to).
type bin struct {
	from, to float64
	count    int
}

// bins cuts values into bars of a round width, so edges read as 0, 2, 4 s
// rather than 0, 1.87, 3.74 s. The last bar includes the maximum.
func bins(values []float64) []bin {
	if len(values) == 0 {
		return nil
	}
	hi := 0.0
	for _, v := range values {
		hi = math.Max(hi, v)
	}
	if hi <= 0 {
		return []bin{{0, 0, len(values)}}
	}
	want := min(maxBins, max(minBinsWanted, int(math.Ceil(math.Sqrt(float64(len(values)))))))
	width := niceStep(hi, want)
	n := int(math.Floor(hi/width)) + 1
	out := make([]bin, n)
	for i := range out {
		out[i] = bin{from: float64(i) * width, to: float64(i+1) * width}
	}
	for _, v := range values {
		i := min(n-1, max(0, int(math.Floor(v/width))))
		out[i].count++
	}
	return out
}

// windowKind is what a histogram shows: the exposure or the denial window.
type windowKind struct {
	name   string // "exposure" | "denial"
	title  string // "Exposure" | "Denial"
	colour string
}

var (
	exposureKind = windowKind{"exposure", "Exposure", colExposure}
	denialKind   = windowKind{"denial", "Denial", colDenial}
)

// histogramSVG draws the distribution of one probe's exposure window over
// trials, with its p50 and p99 marked, as the SVG element with the given id.
func histogramSVG(p Probe, id string) string {
	return windowHistogramSVG(p, exposureKind, p.Histogram, p.ExposureSeconds, id)
}

// windowHistogramSVG draws one window's distribution over trials. Trials
// without a window get no bar (a bar at 0 reads as a window); the caption
// counts them.
func windowHistogramSVG(p Probe, kind windowKind, values []float64, st Stats, id string) string {
	var positive []float64
	for _, v := range values {
		if v > 0 {
			positive = append(positive, v)
		}
	}
	bs := bins(positive)
	if len(bs) == 0 {
		bs = []bin{{0, 1, 0}}
	}
	var s svgWriter
	s.f(`<svg id="%s" class="chart histogram %s" data-probe="%s" data-trials="%d" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-title">`,
		id, kind.name, esc(p.Name), len(values), c(hW), c(hH), id)
	s.f(`<title id="%s-title">%s window of %s in %s over %d trials</title>`, id, kind.title, esc(p.Name), esc(p.Region), len(values))
	hi := bs[len(bs)-1].to
	if hi <= 0 {
		hi = 1
	}
	maxCount := 0
	for _, b := range bs {
		maxCount = max(maxCount, b.count)
	}
	plotW, plotH := hW-hLeft-hRight, hH-hTop-hBottom
	x := func(v float64) float64 { return hLeft + plotW*v/hi }
	yStep := math.Max(1, math.Ceil(niceStep(float64(maxCount), 5)))
	yMax := math.Ceil(float64(maxCount)/yStep) * yStep
	if yMax == 0 {
		yMax = 1
	}
	y := func(n float64) float64 { return hTop + plotH*(1-n/yMax) }

	s.f(`<g class="axis y-axis">`)
	for v := 0.0; v <= yMax+1e-9; v += yStep {
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d0d7de" stroke-width="0.5"/>`, c(hLeft), c(y(v)), c(hW-hRight), c(y(v)))
		s.f(`<text x="%s" y="%s" text-anchor="end">%s</text>`, c(hLeft-6), c(y(v)+4), tickLabel(v))
	}
	s.f(`<text class="axis-label" transform="translate(14 %s) rotate(-90)" text-anchor="middle">trials</text></g>`, c(hTop+plotH/2))

	s.f(`<g class="bars">`)
	for _, b := range bs {
		if b.count == 0 {
			continue
		}
		bx, bw := x(b.from), x(b.to)-x(b.from)
		title := fmt.Sprintf("%s of %d trials had %s %s window in [%s, %s)", plural(b.count, "trial", "trials"), len(values), article(kind.name), kind.name, FormatSeconds(b.from), FormatSeconds(b.to))
		s.f(`<rect class="bar" data-count="%d" data-from="%s" data-to="%s" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.75" stroke="#ffffff"><title>%s</title></rect>`,
			b.count, num(b.from), num(b.to), c(bx), c(y(float64(b.count))), c(math.Max(bw, 1)), c(y(0)-y(float64(b.count))), kind.colour, esc(title))
	}
	s.f(`</g><g class="axis x-axis">`)
	step := niceStep(hi, 6)
	for v := 0.0; v <= hi+1e-9; v += step {
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(x(v)), c(y(0)), c(x(v)), c(y(0)+5))
		s.f(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, c(x(v)), c(y(0)+18), tickLabel(v))
	}
	s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(hLeft), c(y(0)), c(hW-hRight), c(y(0)))
	s.f(`<text class="axis-label" x="%s" y="%s" text-anchor="middle">%s window per trial (seconds)</text></g>`, c(hLeft+plotW/2), c(hH-10), kind.name)

	// Quantile markers; p99 above p50 so both labels show when they meet.
	s.f(`<g class="quantiles">`)
	for i, q := range []struct {
		name string
		v    float64
	}{{"p50", st.P50}, {"p99", st.P99}} {
		if q.v < 0 || q.v > hi {
			continue
		}
		s.f(`<line class="quantile %s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#24292f" stroke-dasharray="4 3"/>`, q.name, c(x(q.v)), c(hTop), c(x(q.v)), c(y(0)))
		text := q.name + " " + FormatSeconds(q.v)
		// Near the right edge the label goes left of its line, not off the chart.
		tx, anchor := x(q.v)+3, "start"
		if tx+float64(len([]rune(text)))*charW > hW-hRight {
			tx, anchor = x(q.v)-3, "end"
		}
		// 15 units apart: an 11px label's box is about 13 tall.
		s.f(`<text x="%s" y="%s" text-anchor="%s">%s</text>`, c(tx), c(hTop+10+15*float64(i)), anchor, esc(text))
	}
	s.f(`</g></svg>`)
	return s.String()
}

// article is "an" before "exposure", "a" before "denial".
func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// Visibility chart geometry.
const (
	vW, vH        = 1000.0, 320.0
	vLeft, vRight = 64.0, 170.0
	vTop, vBottom = 20.0, 52.0
)

// visibilitySVG draws the t-visibility curves: for each region, the
// probability that it has applied a mutation t seconds after its commit.
// model, if not empty, is the delay model's own curve per region, drawn
// dashed in the region's colour.
func visibilitySVG(curves, model []VisibilityCurve, regionOrder []string) string {
	hi := 0.0
	for _, cv := range curves {
		for _, p := range cv.Points {
			hi = math.Max(hi, p[0])
		}
	}
	if hi <= 0 {
		hi = 1
	}
	plotW, plotH := vW-vLeft-vRight, vH-vTop-vBottom
	x := func(t float64) float64 { return vLeft + plotW*t/hi }
	y := func(p float64) float64 { return vTop + plotH*(1-p) }
	var s svgWriter
	s.f(`<svg id="visibility" class="chart visibility" viewBox="0 0 %s %s" role="img" aria-labelledby="visibility-title" data-curves="%d">`, c(vW), c(vH), len(curves))
	s.f(`<title id="visibility-title">t-visibility: probability that a region has applied a mutation, t seconds after its commit</title>`)
	s.f(`<g class="axis y-axis">`)
	for _, p := range []float64{0, 0.25, 0.5, 0.75, 1} {
		dash := ""
		if p == 0.5 {
			dash = ` stroke-dasharray="4 3"`
		}
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d0d7de"%s/>`, c(vLeft), c(y(p)), c(vLeft+plotW), c(y(p)), dash)
		s.f(`<text x="%s" y="%s" text-anchor="end">%d%%</text>`, c(vLeft-6), c(y(p)+4), int(p*100))
	}
	s.f(`<text class="axis-label" transform="translate(16 %s) rotate(-90)" text-anchor="middle">P(applied)</text></g>`, c(vTop+plotH/2))
	s.f(`<g class="axis x-axis">`)
	step := niceStep(hi, 10)
	for t := 0.0; t <= hi+1e-9; t += step {
		s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(x(t)), c(y(0)), c(x(t)), c(y(0)+5))
		s.f(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, c(x(t)), c(y(0)+18), tickLabel(t))
	}
	s.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a"/>`, c(vLeft), c(y(0)), c(vLeft+plotW), c(y(0)))
	s.f(`<text class="axis-label" x="%s" y="%s" text-anchor="middle">time after the commit (seconds)</text></g>`, c(vLeft+plotW/2), c(vH-10))
	for i, cv := range model {
		col := regionColor(indexOf(regionOrder, cv.Region, i))
		var pts strings.Builder
		for j, p := range cv.Points {
			if p[0] > hi {
				break
			}
			if j > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(c(x(p[0])) + "," + c(y(p[1])))
		}
		s.f(`<polyline class="model" data-region="%s" points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 4" opacity="0.8"><title>%s: the delay model alone</title></polyline>`,
			esc(cv.Region), pts.String(), col, esc(cv.Region))
	}
	if len(model) > 0 {
		ly := vTop + 10 + 20*float64(len(curves))
		s.f(`<g class="key"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a" stroke-width="1.5" stroke-dasharray="5 4"/><text x="%s" y="%s">delay model</text></g>`,
			c(vLeft+plotW+16), c(ly), c(vLeft+plotW+40), c(ly), c(vLeft+plotW+46), c(ly+4))
	}
	for i, cv := range curves {
		col := regionColor(indexOf(regionOrder, cv.Region, i))
		var pts strings.Builder
		for j, p := range cv.Points {
			if j > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(c(x(p[0])) + "," + c(y(p[1])))
		}
		s.f(`<polyline class="curve" data-region="%s" points="%s" fill="none" stroke="%s" stroke-width="2.5" stroke-linejoin="round"><title>%s</title></polyline>`,
			esc(cv.Region), pts.String(), col, esc(cv.Region))
		ly := vTop + 10 + 20*float64(i)
		s.f(`<g class="key"><line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/><text x="%s" y="%s">%s</text></g>`,
			c(vLeft+plotW+16), c(ly), c(vLeft+plotW+40), c(ly), col, c(vLeft+plotW+46), c(ly+4), esc(cv.Region))
	}
	s.f(`</svg>`)
	return s.String()
}

// indexOf returns the position of s in list, or fallback when absent, so a
// region keeps its colour across the timeline and the curves.
func indexOf(list []string, s string, fallback int) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return fallback
}
