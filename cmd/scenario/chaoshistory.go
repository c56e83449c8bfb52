package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/iamprop/iamprop/chaos"
)

// chaosHistory is the document `scenario chaos --history FILE` writes: each
// schedule's operation history, Jepsen-style.
type chaosHistory struct {
	Nodes     int               `json:"nodes"`
	Seed      uint64            `json:"seed"`
	Schedules []scheduleHistory `json:"schedules"`
}

type scheduleHistory struct {
	Index       int           `json:"index"`
	Seed        uint64        `json:"seed"`
	Passed      bool          `json:"passed"`
	HealSeconds float64       `json:"heal_seconds"`
	History     []chaos.Event `json:"history"`
}

func writeChaosHistory(path string, rep *chaos.Report) error {
	doc := chaosHistory{Nodes: rep.Nodes, Seed: rep.Seed, Schedules: []scheduleHistory{}}
	for _, sr := range rep.Schedules {
		doc.Schedules = append(doc.Schedules, scheduleHistory{Index: sr.Index, Seed: sr.Seed, Passed: sr.Passed, HealSeconds: sr.HealSeconds, History: sr.History})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeChaosHTML writes a self-contained page with one timeline per
// schedule: a row per client (each commit a bar from invocation to
// completion, coloured by outcome), a row of faults, the heal and the
// instant every region held the truth.
func writeChaosHTML(path string, rep *chaos.Report) error {
	var buf bytes.Buffer
	renderChaosHTML(&buf, rep)
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

const (
	tlWidth  = 960.0
	tlLeft   = 150.0
	tlRow    = 16.0
	colOK    = "#2e7d32"
	colFail  = "#c62828"
	colInfo  = "#ef6c00"
	colFault = "#6a1b9a"
)

func renderChaosHTML(w io.Writer, rep *chaos.Report) {
	esc := html.EscapeString
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaos: %d nodes, seed %d</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}h2{font-size:1.1em;margin-top:2em}
svg text{font:11px system-ui,sans-serif}svg{max-width:100%%;height:auto}.legend span{display:inline-block;margin-right:1.5em}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}</style></head><body>
<h1>chaos: %d nodes · %s per schedule · seed %d · %d of %d schedules passed</h1>
<p class="legend"><span><i class="sw" style="background:%s"></i>commit acknowledged (ok)</span><span><i class="sw" style="background:%s"></i>failed (fail)</span><span><i class="sw" style="background:%s"></i>outcome unknown (info)</span><span><i class="sw" style="background:%s;opacity:.35"></i>fault in force</span><span>dashed: heal · solid: every region holds the truth</span></p>
`, rep.Nodes, rep.Seed, rep.Nodes, esc(rep.Duration), rep.Seed, rep.SchedulesOK, rep.SchedulesRun, colOK, colFail, colInfo, colFault)
	for _, sr := range rep.Schedules {
		renderSchedule(w, sr)
	}
	fmt.Fprintln(w, "</body></html>")
}

func renderSchedule(w io.Writer, sr chaos.ScheduleReport) {
	esc := html.EscapeString
	status := "passed"
	if !sr.Passed {
		status = "FAILED"
	}
	fmt.Fprintf(w, "<h2>schedule %d · seed %d · %s</h2>\n", sr.Index+1, sr.Seed, status)
	if len(sr.History) == 0 {
		fmt.Fprintln(w, "<p>No history was recorded (the schedule did not start).</p>")
		return
	}
	end := int64(0)
	for _, e := range sr.History {
		end = max(end, e.Time)
	}
	end = max(end, 1)
	x := func(t int64) float64 { return tlLeft + (tlWidth-tlLeft-10)*float64(t)/float64(end) }

	// Rows: the nemesis first, then each client in name order.
	var procs []string
	for _, e := range sr.History {
		if e.Process != "nemesis" && !slices.Contains(procs, e.Process) {
			procs = append(procs, e.Process)
		}
	}
	slices.Sort(procs)
	row := map[string]int{"nemesis": 0}
	for i, p := range procs {
		row[p] = i + 1
	}
	height := tlRow*float64(len(procs)+1) + 30
	fmt.Fprintf(w, `<svg width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="timeline of schedule %d">`+"\n", tlWidth, height, tlWidth, height, sr.Index+1)
	for p, r := range row {
		fmt.Fprintf(w, `<text x="4" y="%.1f">%s</text>`+"\n", float64(r)*tlRow+12, esc(p))
	}
	// Faults: a start and its stop-; process faults end at their restart.
	open := map[string]int64{}
	var marks []string
	for _, e := range sr.History {
		if e.Process != "nemesis" {
			continue
		}
		v, _ := e.Value.(string)
		switch {
		case e.F == "heal":
			marks = append(marks, fmt.Sprintf(`<line x1="%.1f" x2="%.1f" y1="0" y2="%.0f" stroke="#555" stroke-dasharray="4 3"><title>heal at %s</title></line>`, x(e.Time), x(e.Time), height-20, secs(e.Time)))
		case e.F == "converged":
			marks = append(marks, fmt.Sprintf(`<line x1="%.1f" x2="%.1f" y1="0" y2="%.0f" stroke="%s" stroke-width="2"><title>every region holds the truth at %s</title></line>`, x(e.Time), x(e.Time), height-20, colOK, secs(e.Time)))
		case strings.HasPrefix(e.F, "stop-") || e.F == "restart":
			key := strings.TrimPrefix(e.F, "stop-")
			if e.F == "restart" {
				key = "process " + v
			} else {
				key += " " + v
			}
			if from, ok := open[key]; ok {
				fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity=".35"><title>%s from %s to %s</title></rect>`+"\n",
					x(from), 2.0, max(x(e.Time)-x(from), 1), tlRow-4, colFault, esc(key), secs(from), secs(e.Time))
				delete(open, key)
			}
		default:
			key := e.F + " " + v
			if e.F == "kill9" || e.F == "sigterm" || e.F == "wipe" {
				key = "process " + v
			}
			open[key] = e.Time
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", x(e.Time)+2, tlRow*float64(len(procs)+1)+14, colFault, esc(e.F))
		}
	}
	// A fault still in force at the end lasts until the heal.
	heal := int64(sr.HealSeconds * 1e9)
	for key, from := range open {
		fmt.Fprintf(w, `<rect x="%.1f" y="2" width="%.1f" height="%.1f" fill="%s" fill-opacity=".35"><title>%s from %s until the heal</title></rect>`+"\n",
			x(from), max(x(heal)-x(from), 1), tlRow-4, colFault, esc(key), secs(from))
	}
	// Commits: invocation to completion.
	started := map[string]chaos.Event{}
	for _, e := range sr.History {
		if e.Process == "nemesis" {
			continue
		}
		if e.Type == "invoke" {
			started[e.Process] = e
			continue
		}
		in, ok := started[e.Process]
		if !ok {
			continue
		}
		col := map[string]string{"ok": colOK, "fail": colFail, "info": colInfo}[e.Type]
		v, _ := e.Value.(string)
		y := float64(row[e.Process])*tlRow + 3
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s (%s to %s)</title></rect>`+"\n",
			x(in.Time), y, max(x(e.Time)-x(in.Time), 1), tlRow-6, col, esc(e.Process), esc(e.F), e.Type, esc(v), secs(in.Time), secs(e.Time))
	}
	for _, m := range marks {
		fmt.Fprintln(w, m)
	}
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f">0s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`+"\n</svg>\n", tlLeft, height-4, tlWidth-10, height-4, secs(end))
}

func secs(ns int64) string { return fmt.Sprintf("%.3fs", float64(ns)/1e9) }
