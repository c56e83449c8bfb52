// Command simvslive runs library scenarios, scaled down in time, many times
// live (an in-process hashicorp/memberlist cluster on loopback, the
// runner's --live mode) and in the simulator, and compares the
// distributions of exposure windows, denial windows and lags per probe and
// region: the median relative error of the simulator's median against the
// live one, and the two-sample Kolmogorov-Smirnov distance. It prints the
// markdown table of docs/validation.md and writes an SVG of the empirical
// CDFs.
//
// Usage:
//
//	go run ./sim/cmd/simvslive [-scenarios public-s3-bucket,detach-admin-policy,revoke-race,partitioned-region]
//	    [-trials 100] [-sim-trials 2000] [-seed 1] [-scale 0.05] [-resolution 1ms] [-svg docs/img/simvslive.svg]
//	    [-max-lag 100ms]   (every probe reads with max_lag; compared by the stale allows served)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/runner/realtime"
	"github.com/iamprop/iamprop/scenarios"
)

func main() {
	names := flag.String("scenarios", "public-s3-bucket,detach-admin-policy,revoke-race,partitioned-region", "library scenarios, comma-separated")
	trials := flag.Int("trials", 100, "live trials per scenario (each takes about the scaled duration plus cluster start-up)")
	simTrials := flag.Int("sim-trials", 2000, "simulated trials per scenario")
	seed := flag.Uint64("seed", 1, "seed of the first trial (trial i uses seed+i)")
	scale := flag.Float64("scale", 0.05, "factor applied to the scenario's time (duration, steps, probes, faults, propagation delays, push/pull interval); the gossip round is not scaled")
	resolution := flag.Duration("resolution", time.Millisecond, "round every value to a multiple of this before the statistics (live timer jitter); 0 keeps them exact")
	svg := flag.String("svg", "", "write the CDF plot to this SVG file")
	raw := flag.String("json", "", "write every compared sample (seconds) to this JSON file, for a closer look")
	maxLag := flag.Duration("max-lag", 0, "if set, every probe reads with max_lag consistency of this bound (before scaling), and is compared by the stale allows it was served")
	flag.Parse()
	if *scale <= 0 || *trials < 1 || *simTrials < 1 {
		fmt.Fprintln(os.Stderr, "simvslive: -scale must be > 0, -trials and -sim-trials >= 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var all []*runner.Comparison
	printHeader(os.Stdout, *scale, *resolution)
	for _, name := range strings.Split(*names, ",") {
		sc, err := scenarios.LoadLibrary(strings.TrimSpace(name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "simvslive:", err)
			os.Exit(2)
		}
		if *maxLag > 0 {
			sc.Probes = slices.Clone(sc.Probes)
			for i := range sc.Probes {
				p := &sc.Probes[i]
				p.Consistency, p.MaxLag, p.AtLeastStep, p.Timeout = replication.ModeMaxLag, *maxLag, 0, 0
			}
		}
		start := time.Now()
		c, err := runner.Compare(ctx, runner.Scale(sc, *scale), runner.CompareOptions{
			LiveTrials: *trials, SimTrials: *simTrials, Seed: *seed, Resolution: *resolution, RealTime: realtime.Backends{},
			Progress: func(done, total int) {
				if done%10 == 0 || done == total {
					fmt.Fprintf(os.Stderr, "%s: %d/%d live trials (%s)\n", sc.Name, done, total, time.Since(start).Round(time.Second))
				}
			},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "simvslive:", err)
			os.Exit(1)
		}
		all = append(all, c)
		printRows(os.Stdout, c) // as each scenario finishes: a long run shows progress
	}
	if *raw != "" {
		b, err := json.Marshal(samples(all))
		if err == nil {
			err = os.WriteFile(*raw, b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "simvslive:", err)
			os.Exit(1)
		}
	}
	if *svg != "" {
		if err := os.WriteFile(*svg, plot(all), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "simvslive:", err)
			os.Exit(1)
		}
	}
}

// The validation's aims: the simulator's median within 10% of the live one, and
// the KS distance under 0.15.
const (
	aimMedian = 0.10
	aimKS     = 0.15
)

func printHeader(w *os.File, scale float64, res time.Duration) {
	fmt.Fprintf(w, "scale %g, values rounded to %s; median and KS over live trials vs simulated trials\n\n", scale, res)
	fmt.Fprintln(w, "| scenario | metric | probe or region | live trials | sim trials | live p50 (ms) | sim p50 (ms) | median rel. error | KS distance | within aim |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
}

func printRows(w *os.File, c *runner.Comparison) {
	{
		for _, r := range c.Rows {
			name := r.Name
			if r.Metric != "lag" {
				name += " (" + r.Region + ")"
			}
			ok := "yes"
			switch {
			case r.KS >= aimKS && !(r.MedianRelErr <= aimMedian):
				ok = "no (both)"
			case r.KS >= aimKS:
				ok = "no (KS)"
			case !(r.MedianRelErr <= aimMedian):
				ok = "no (median)"
			}
			unit := 1000.0 // seconds, printed in ms
			if r.Metric == runner.MetricStaleAllows {
				unit = 1 // a count of reads, printed as is
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.1f | %.1f | %s | %.3f | %s |\n",
				c.Scenario, r.Metric, name, c.LiveTrials, c.SimTrials, unit*r.MedianLive, unit*r.MedianSim, pct(r.MedianRelErr), r.KS, ok)
		}
	}
}

func pct(v float64) string {
	if math.IsInf(v, 1) {
		return "∞ (live p50 is 0)"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// sampleRow is a comparison row as JSON: a statistic that is not finite
// (a zero live median) is null.
type sampleRow struct {
	Scenario, Metric, Name, Region string
	Sim, Live                      []float64
	MedianRelErr, KS               *float64
}

func samples(all []*runner.Comparison) []sampleRow {
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	var out []sampleRow
	for _, c := range all {
		for _, r := range append(slices.Clone(c.Rows), c.Commits...) {
			out = append(out, sampleRow{c.Scenario, r.Metric, r.Name, r.Region, r.Sim, r.Live, finite(r.MedianRelErr), finite(r.KS)})
		}
	}
	return out
}
