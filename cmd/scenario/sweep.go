package main

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// sweepPoint is one value of the swept parameter and what the scenario
// measured with it.
type sweepPoint struct {
	Value     string       `json:"value"`
	Converged bool         `json:"converged"`
	Probes    []sweepProbe `json:"probes"`
}

type sweepProbe struct {
	Probe               string       `json:"probe"`
	Region              string       `json:"region"`
	ExposureSeconds     report.Stats `json:"exposure_seconds"`
	DenialSeconds       report.Stats `json:"denial_seconds"`
	StaleAllowsPerTrial float64      `json:"stale_allows_per_trial"`
}

// sweepJSON is `scenario sweep --json`.
type sweepJSON struct {
	Scenario  string       `json:"scenario"`
	Parameter string       `json:"parameter"`
	Trials    int          `json:"trials"`
	Seed      uint64       `json:"seed"`
	Points    []sweepPoint `json:"points"`
}

func newSweepCmd() *cobra.Command {
	var (
		set     string
		trials  int
		seed    uint64
		asJSON  bool
		htmlOut string
	)
	cmd := &cobra.Command{
		Use:   "sweep FILE --set PARAM=V1,V2,...",
		Short: "Run a scenario over a parameter's values and show how exposure follows",
		Long: `sweep runs a scenario once per value of one parameter, with the same seeds and
trial count, and prints exposure p50 and p99 per probe against the value ("what if
the lag were doubled?"). --html plots them.

PARAM is one of:
  propagation.scale                     multiply every delay distribution (1 = as written)
  propagation.default.FIELD             a field of the default distribution
  propagation.revoke.FIELD              a field of the revoke distribution
  propagation.links[I].FIELD            a field of the I-th link's distribution
  network.loss                          the gossip loss probability
  gossip.interval, gossip.fanout        the gossip round and fanout
FIELD is the distribution's own: value, min, max, mean, stddev, median, p99,
scale (durations) or shape. Exit status 2 on invalid input.`,
		Example: `  scenario sweep public-s3-bucket --set propagation.default.median=1s,2s,4s,8s --trials 200
  scenario sweep public-s3-bucket --set propagation.scale=0.5,1,2,4 --html sweep.html
  scenario sweep partitioned-region --set gossip.fanout=1,2,3,4 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trials < 1 {
				return invalidInput(fmt.Errorf("--trials must be at least 1, got %d", trials))
			}
			param, values, err := parseSweepSet(set)
			if err != nil {
				return invalidInput(err)
			}
			sc, err := loadScenario(args[0])
			if err != nil {
				return invalidInput(err)
			}
			doc := sweepJSON{Scenario: sc.Name, Parameter: param, Trials: trials}
			for _, v := range values {
				variant, err := applySweep(sc, param, v)
				if err != nil {
					return invalidInput(fmt.Errorf("--set %s=%s: %w", param, v, err))
				}
				run, err := runner.Run(cmd.Context(), variant, runner.Options{Seed: seed, Trials: trials})
				if err != nil {
					return invalidInput(fmt.Errorf("--set %s=%s: %w", param, v, err))
				}
				doc.Seed = run.Seed
				pt := sweepPoint{Value: v, Converged: run.Converged}
				for _, p := range run.Probes {
					pt.Probes = append(pt.Probes, sweepProbe{Probe: p.Name, Region: p.Region, ExposureSeconds: p.ExposureSeconds,
						DenialSeconds: p.DenialSeconds, StaleAllowsPerTrial: float64(p.StaleAllows) / float64(max(run.Trials, 1))})
				}
				doc.Points = append(doc.Points, pt)
			}
			if htmlOut != "" {
				var buf bytes.Buffer
				renderSweepHTML(&buf, doc)
				if err := os.WriteFile(htmlOut, buf.Bytes(), 0o644); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, doc)
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "%s\tPROBE\tREGION\tEXPOSURE p50\tp99\tmax\tSTALE ALLOWS/TRIAL\tDENIAL p50\tCONVERGED\n", strings.ToUpper(param))
			for _, pt := range doc.Points {
				for _, p := range pt.Probes {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%v\n", pt.Value, p.Probe, p.Region,
						report.FormatSeconds(p.ExposureSeconds.P50), report.FormatSeconds(p.ExposureSeconds.P99), report.FormatSeconds(p.ExposureSeconds.Max),
						p.StaleAllowsPerTrial, report.FormatSeconds(p.DenialSeconds.P50), pt.Converged)
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %d trials per value, seeds from %d\n", sc.Name, trials, doc.Seed)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&set, "set", "", "the parameter and its values: PARAM=V1,V2,... (required)")
	fl.IntVar(&trials, "trials", 100, "trials per value")
	fl.Uint64Var(&seed, "seed", 0, "seed of the first trial for every value (default: the scenario's seed)")
	fl.BoolVar(&asJSON, "json", false, "print the sweep as JSON")
	fl.StringVar(&htmlOut, "html", "", "also write exposure p50 and p99 against the value as an HTML chart to this file")
	return cmd
}

var sweepParam = regexp.MustCompile(`^(propagation\.scale|propagation\.(default|revoke)\.[a-z0-9]+|propagation\.links\[(\d+)\]\.[a-z0-9]+|network\.loss|gossip\.(interval|fanout))$`)

// parseSweepSet splits "PARAM=V1,V2,..." and checks the parameter's name.
func parseSweepSet(set string) (string, []string, error) {
	if set == "" {
		return "", nil, errors.New("--set is required, e.g. --set propagation.default.median=1s,2s,4s")
	}
	param, list, ok := strings.Cut(set, "=")
	param = strings.TrimSpace(param)
	if !ok || !sweepParam.MatchString(param) {
		return "", nil, fmt.Errorf("--set %q: want PARAM=V1,V2,... with PARAM one of propagation.scale, propagation.default.FIELD, propagation.revoke.FIELD, propagation.links[I].FIELD, network.loss, gossip.interval, gossip.fanout", set)
	}
	var values []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return "", nil, fmt.Errorf("--set %s: no values", param)
	}
	return param, values, nil
}

// applySweep returns a copy of sc with param set to v.
func applySweep(sc *scenarios.Scenario, param, v string) (*scenarios.Scenario, error) {
	out := *sc
	out.Propagation.Links = slices.Clone(sc.Propagation.Links)
	if sc.Propagation.Revoke != nil {
		r := *sc.Propagation.Revoke
		out.Propagation.Revoke = &r
	}
	positive := func() (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("want a positive number, got %q", v)
		}
		return f, nil
	}
	switch {
	case param == "propagation.scale":
		f, err := positive()
		if err != nil {
			return nil, err
		}
		out.Propagation = runner.ScalePropagation(out.Propagation, f)
	case param == "network.loss":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f >= 1 {
			return nil, fmt.Errorf("want a probability in [0, 1), got %q", v)
		}
		out.Network.Loss = f
	case param == "gossip.interval":
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("want a positive duration such as 200ms, got %q", v)
		}
		out.Gossip.Interval = d
	case param == "gossip.fanout":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("want a whole number of at least 1, got %q", v)
		}
		out.Gossip.Fanout = n
	default:
		path, field, _ := strings.Cut(strings.TrimPrefix(param, "propagation."), ".")
		var d *scenarios.Distribution
		switch {
		case path == "default":
			d = &out.Propagation.Default
		case path == "revoke":
			if out.Propagation.Revoke == nil {
				return nil, errors.New("the scenario has no propagation.revoke")
			}
			d = out.Propagation.Revoke
		default:
			i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path, "links["), "]"))
			if i >= len(out.Propagation.Links) {
				return nil, fmt.Errorf("the scenario has %d propagation links", len(out.Propagation.Links))
			}
			d = &out.Propagation.Links[i].Distribution
		}
		if err := setDistField(d, field, v); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// setDistField sets one field of a distribution, refusing a field its
// kind does not take.
func setDistField(d *scenarios.Distribution, field, v string) error {
	takes := map[string][]string{
		"constant": {"value"}, "uniform": {"min", "max"}, "normal": {"mean", "stddev"}, "lognormal": {"median", "p99"},
		"exponential": {"mean"}, "pareto": {"scale", "shape"}, "empirical": {},
	}[d.Dist]
	if !slices.Contains(takes, field) {
		return fmt.Errorf("a %s distribution takes %s, not %q", d.Dist, strings.Join(takes, ", "), field)
	}
	if field == "shape" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) {
			return fmt.Errorf("shape: want a positive number, got %q", v)
		}
		d.Shape = f
		return nil
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 0 {
		return fmt.Errorf("%s: want a duration such as 2s, got %q", field, v)
	}
	switch field {
	case "value":
		d.Value = dur
	case "min":
		d.Min = dur
	case "max":
		d.Max = dur
	case "mean":
		d.Mean = dur
	case "stddev":
		d.Stddev = dur
	case "median":
		d.Median = dur
		if d.Dist == "lognormal" && d.P99 <= dur {
			// Keep the distribution's spread: p99 moves with the median.
			return fmt.Errorf("median %s is not below p99 %s; sweep propagation.scale to move both", dur, d.P99)
		}
	case "p99":
		d.P99 = dur
	case "scale":
		d.Scale = dur
	}
	return nil
}

// renderSweepHTML draws, per probe, exposure p50 (solid) and p99 (dashed)
// against the swept values, evenly spaced in the order given.
func renderSweepHTML(w io.Writer, doc sweepJSON) {
	esc := html.EscapeString
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sweep: %s over %s</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}svg text{font:11px system-ui,sans-serif}svg{max-width:100%%;height:auto}</style></head><body>
<h1>%s: exposure against %s</h1>
<p>%d trials per value, seeds from %d. Solid: exposure p50; dashed: p99; hover a point for its figures.</p>
`, esc(doc.Scenario), esc(doc.Parameter), esc(doc.Scenario), esc(doc.Parameter), doc.Trials, doc.Seed)
	if len(doc.Points) == 0 {
		fmt.Fprintln(w, "</body></html>")
		return
	}
	const W, H, left, bottom, top = 640.0, 260.0, 60.0, 40.0, 16.0
	for pi, p := range doc.Points[0].Probes {
		ymax := 0.0
		for _, pt := range doc.Points {
			if pi < len(pt.Probes) {
				ymax = max(ymax, pt.Probes[pi].ExposureSeconds.P99)
			}
		}
		ymax = max(ymax*1.1, 0.001)
		x := func(i int) float64 {
			if len(doc.Points) == 1 {
				return left + (W-left-20)/2
			}
			return left + (W-left-20)*float64(i)/float64(len(doc.Points)-1)
		}
		y := func(v float64) float64 { return H - bottom - (H-bottom-top)*v/ymax }
		fmt.Fprintf(w, "<h2>%s in %s</h2>\n", esc(p.Probe), esc(p.Region))
		fmt.Fprintf(w, `<svg width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="exposure of %s against %s">`+"\n", W, H, W, H, esc(p.Probe), esc(doc.Parameter))
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`+"\n",
			left, H-bottom, W-10, H-bottom, left, top, left, H-bottom)
		for _, frac := range []float64{0, 0.5, 1} {
			v := ymax / 1.1 * frac
			fmt.Fprintf(w, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, esc(report.FormatSeconds(v)))
		}
		for _, q := range []struct {
			name, dash string
			get        func(report.Stats) float64
		}{{"p50", "", func(s report.Stats) float64 { return s.P50 }}, {"p99", ` stroke-dasharray="6 4"`, func(s report.Stats) float64 { return s.P99 }}} {
			var pts []string
			for i, pt := range doc.Points {
				if pi < len(pt.Probes) {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(q.get(pt.Probes[pi].ExposureSeconds))))
				}
			}
			fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="#c62828" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), q.dash)
		}
		for i, pt := range doc.Points {
			if pi >= len(pt.Probes) {
				continue
			}
			s := pt.Probes[pi].ExposureSeconds
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="#c62828"><title>%s=%s: exposure p50 %s, p99 %s, %.1f stale allows per trial</title></circle>`+"\n",
				x(i), y(s.P50), esc(doc.Parameter), esc(pt.Value), esc(report.FormatSeconds(s.P50)), esc(report.FormatSeconds(s.P99)), pt.Probes[pi].StaleAllowsPerTrial)
			fmt.Fprintf(w, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x(i), H-bottom+16, esc(pt.Value))
		}
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n</svg>\n", (W+left)/2, H-6, esc(doc.Parameter))
	}
	fmt.Fprintln(w, "</body></html>")
}
