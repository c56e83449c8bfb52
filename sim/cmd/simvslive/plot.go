package main

import (
	"bytes"
	"fmt"
	"html"
	"slices"

	"github.com/iamprop/iamprop/runner"
)

// plot draws one small panel per compared distribution: the live and the
// simulated empirical CDF over the same axis, with the KS distance and the
// median relative error in the panel's title. Plain SVG, no dependencies.
func plot(all []*runner.Comparison) []byte {
	type panel struct {
		title     string
		sim, live []float64
		note      string
	}
	var panels []panel
	for _, c := range all {
		for _, r := range c.Rows {
			panels = append(panels, panel{
				title: fmt.Sprintf("%s: %s %s", c.Scenario, r.Metric, r.Name),
				sim:   r.Sim, live: r.Live,
				note: fmt.Sprintf("KS %.3f, median err %s", r.KS, pct(r.MedianRelErr)),
			})
		}
	}
	const cols, pw, ph, m = 3, 320, 200, 36
	rows := (len(panels) + cols - 1) / cols
	W, H := cols*pw, rows*ph+30
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="10">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13">Empirical CDFs, live (blue) vs simulator (orange dashed); x in ms</text>`+"\n")
	for k, p := range panels {
		x0, y0 := (k%cols)*pw+m, 30+(k/cols)*ph+24
		w, h := pw-m-12, ph-m-28
		hi := max(slices.Max(p.sim), slices.Max(p.live))
		if hi <= 0 {
			hi = 1e-3
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`+"\n", x0-m+8, y0-10, html.EscapeString(p.title))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", x0-m+8, y0+2, html.EscapeString(p.note))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0+6, w, h)
		fmt.Fprintf(&b, `<text x="%d" y="%d">0</text><text x="%d" y="%d" text-anchor="end">%.0f</text>`+"\n", x0, y0+h+18, x0+w, y0+h+18, 1000*hi)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">1</text><text x="%d" y="%d" text-anchor="end">0</text>`+"\n", x0-3, y0+14, x0-3, y0+h+6)
		for _, s := range []struct {
			v     []float64
			style string
		}{{p.live, `stroke="#1f77b4" stroke-width="1.5"`}, {p.sim, `stroke="#ff7f0e" stroke-width="1.5" stroke-dasharray="4 2"`}} {
			fmt.Fprintf(&b, `<polyline fill="none" %s points="%s"/>`+"\n", s.style, ecdf(s.v, hi, x0, y0+6, w, h))
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// ecdf returns the SVG points of a step CDF, thinned to at most ~400 steps.
func ecdf(v []float64, hi float64, x0, y0, w, h int) string {
	x := slices.Sorted(slices.Values(v))
	px := func(t float64) float64 { return float64(x0) + float64(w)*t/hi }
	py := func(f float64) float64 { return float64(y0) + float64(h)*(1-f) }
	var b bytes.Buffer
	fmt.Fprintf(&b, "%.1f,%.1f", px(0), py(0))
	step := max(1, len(x)/400)
	prev := 0.0
	for i := 0; i < len(x); i += step {
		j := i
		for j+1 < len(x) && (j+1-i < step || x[j+1] == x[j]) {
			j++
		}
		f := float64(j+1) / float64(len(x))
		fmt.Fprintf(&b, " %.1f,%.1f %.1f,%.1f", px(x[i]), py(prev), px(x[i]), py(f))
		prev = f
		i = j + 1 - step
	}
	fmt.Fprintf(&b, " %.1f,%.1f", px(hi), py(1))
	return b.String()
}
