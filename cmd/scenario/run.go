package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/internal/yamlcheck"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/runner/realtime"
	"github.com/iamprop/iamprop/runner/runmetrics"
	"github.com/iamprop/iamprop/scenarios"
)

// runFlags are the options shared by run, explain and compare.
type runFlags struct {
	seed        uint64
	trials      int
	live        bool
	cluster     string
	json        bool
	html        string
	openmetrics string
	ascii       bool
	metricsAt   string
	// metricsAddr and metricsLinger: the runner's /metrics endpoint in
	// live and cluster mode, and how long it outlives the run.
	metricsAddr   string
	metricsLinger time.Duration
	// acceptNodeModel: with --cluster, run even when the nodes' delay
	// model is not the scenario's.
	acceptNodeModel bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a scenario and measure its exposure windows",
		Long: `run replays a scenario in the deterministic virtual-time simulator (default),
measures exposure and denial windows exactly, checks the scenario's expectations
and prints a summary. Exit status: 0 all expectations passed, 1 one failed,
2 invalid input.

FILE is a path to a scenario file or the name of a scenario in the library
(see 'scenario list').`,
		Example: `  scenario run scenarios/public-s3-bucket.yaml
  scenario run public-s3-bucket --trials 1000 --seed 7
  scenario run scenarios/public-s3-bucket.yaml --json > report.json
  scenario run scenarios/public-s3-bucket.yaml --trials 500 --html report.html
  scenario run public-s3-bucket --live
  scenario run public-s3-bucket --live --trials 10 --metrics-addr 127.0.0.1:9464
  IAMPROP_API_TOKEN=... scenario run public-s3-bucket --cluster http://127.0.0.1:8080,http://127.0.0.1:8081,http://127.0.0.1:8082
    (start the nodes with: regionnode --propagation scenarios/public-s3-bucket.yaml ...)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenario(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the first trial (default: the scenario's seed); trial i uses seed+i")
	fl.IntVar(&f.trials, "trials", 1, "number of independent trials (Monte Carlo)")
	fl.BoolVar(&f.live, "live", false, "run on an in-process memberlist cluster on loopback, in real time")
	fl.StringVar(&f.cluster, "cluster", "", "run one trial on external regionnode processes: comma-separated API URLs, one per region (http:// or https://; tokens from IAMPROP_API_TOKEN and IAMPROP_ADMIN_TOKEN, CA file from IAMPROP_CA_FILE); refused when their delay model is not the scenario's")
	fl.BoolVar(&f.acceptNodeModel, "accept-node-model", false, "with --cluster: run even when the nodes' delay model differs from the scenario's (the windows then measure the nodes' delays)")
	fl.BoolVar(&f.json, "json", false, "print the run report as JSON instead of the summary")
	fl.StringVar(&f.html, "html", "", "also write a self-contained HTML report to this file")
	fl.StringVar(&f.openmetrics, "openmetrics", "", "also write the trial results as OpenMetrics (for promtool backfill) to this file")
	fl.StringVar(&f.metricsAt, "openmetrics-at", "", "timestamp (RFC 3339) stamped on the OpenMetrics samples (default: now, so Prometheus keeps the backfilled block)")
	fl.BoolVar(&f.ascii, "ascii", false, "plain ASCII output (no colours or symbols)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "with --live or --cluster: serve the run's exposure windows and stale decisions on http://ADDR/metrics for Prometheus while it runs (PORT or :PORT listens on 127.0.0.1; name an interface, e.g. 0.0.0.0:9464, to expose it)")
	fl.DurationVar(&f.metricsLinger, "metrics-linger", 15*time.Second, "with --metrics-addr: keep serving this long after the run, so Prometheus scrapes the last trial")
	return cmd
}

// loadScenario loads a scenario file, or a library scenario by name. An
// argument that is neither is one line naming the library scenarios that
// are close to it.
func loadScenario(arg string) (*scenarios.Scenario, error) {
	if _, err := os.Stat(arg); err != nil && errors.Is(err, os.ErrNotExist) {
		names, _ := scenarios.LibraryNames()
		if slices.Contains(names, strings.TrimSuffix(arg, ".yaml")) {
			return scenarios.LoadLibrary(arg)
		}
		if strings.ContainsRune(arg, filepath.Separator) {
			// A path, not a name: no library hint unless one is close.
			hint := closeNames(arg, names)
			if strings.Contains(hint, "scenario list") {
				hint = ""
			}
			return nil, fmt.Errorf("open %s: no such file%s", arg, hint)
		}
		return nil, fmt.Errorf("open %s: no such file, and no library scenario of that name%s", arg, closeNames(arg, names))
	}
	return scenarios.Load(arg)
}

// closeNames suggests library names near arg: within three edits, or
// containing it (a prefix such as "public-s3").
func closeNames(arg string, names []string) string {
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(arg), ".yaml"))
	var close []string
	for _, n := range names {
		if yamlcheck.EditDistance(base, n) <= 3 || (len(base) >= 4 && strings.Contains(n, base)) {
			close = append(close, n)
		}
	}
	switch {
	case len(close) == 0:
		return " (`scenario list` shows the library)"
	case len(close) == 1:
		return fmt.Sprintf(" (did you mean %q?)", close[0])
	case len(close) > 5:
		close = append(close[:5], "...")
	}
	return " (close library names: " + strings.Join(close, ", ") + ")"
}

func runScenario(cmd *cobra.Command, arg string, f runFlags) error {
	if f.cluster != "" && f.live {
		return invalidInput(errors.New("--live and --cluster exclude each other"))
	}
	if f.trials < 1 {
		return invalidInput(fmt.Errorf("--trials must be at least 1, got %d", f.trials))
	}
	if f.metricsAddr != "" && !f.live && f.cluster == "" {
		return invalidInput(errors.New("--metrics-addr needs --live or --cluster (a simulated run is backfilled instead: --openmetrics FILE, then promtool tsdb create-blocks-from openmetrics)"))
	}
	metricsAt := time.Now().Truncate(time.Second)
	if f.metricsAt != "" {
		t, err := time.Parse(time.RFC3339, f.metricsAt)
		if err != nil {
			return invalidInput(fmt.Errorf("--openmetrics-at: %w", err))
		}
		metricsAt = t
	}
	sc, err := loadScenario(arg)
	if err != nil {
		return invalidInput(err)
	}
	out := cmd.OutOrStdout()
	opts := runner.Options{Seed: f.seed, Trials: f.trials, Live: f.live, RealTime: realtime.Backends{}}
	if f.cluster != "" {
		opts.Cluster = strings.Split(f.cluster, ",")
		// The nodes' tokens: from the environment, as regionnode takes
		// them, so they never show in a process listing. The write token
		// also reads; the admin token is needed only for a scenario with
		// faults. IAMPROP_CA_FILE verifies https:// nodes, and
		// IAMPROP_CLIENT_CERT/IAMPROP_CLIENT_KEY answer --client-ca.
		opts.RealTime = realtime.Backends{
			Token: os.Getenv("IAMPROP_API_TOKEN"),
			ClusterTLS: apiclient.Options{
				ReadToken: os.Getenv("IAMPROP_READ_TOKEN"), AdminToken: os.Getenv("IAMPROP_ADMIN_TOKEN"),
				CAFile: os.Getenv("IAMPROP_CA_FILE"), CertFile: os.Getenv("IAMPROP_CLIENT_CERT"), KeyFile: os.Getenv("IAMPROP_CLIENT_KEY"),
			},
			AcceptNodeModel: f.acceptNodeModel,
		}
	} else if f.acceptNodeModel {
		return invalidInput(errors.New("--accept-node-model needs --cluster"))
	}
	if bar := newProgress(cmd.ErrOrStderr(), f.json, f.trials); bar != nil {
		opts.Progress = bar.update
		defer bar.finish()
	}
	linger := f.metricsLinger
	if f.metricsAddr != "" {
		srv, err := runmetrics.Serve(f.metricsAddr)
		if err != nil {
			return invalidInput(err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "serving the run's metrics on http://%s/metrics\n", srv.Addr)
		opts.Observer = runmetrics.Observer(srv.Metrics)
		// The in-process nodes of --live register beside the runner's
		// measurements, so one scrape gives both.
		if b, ok := opts.RealTime.(realtime.Backends); ok {
			b.Registerer = srv.Registerer()
			opts.RealTime = b
		}
		defer func() {
			// Prometheus scrapes periodically: keep the last trial's values
			// up for a few scrapes before the process goes away (Ctrl-C
			// ends the wait).
			if linger > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "keeping /metrics up for %v so Prometheus scrapes the last values (--metrics-linger)\n", linger)
				select {
				case <-time.After(linger):
				case <-cmd.Context().Done():
				}
			}
			_ = srv.Close(context.Background())
		}()
	}
	run, err := runner.Run(cmd.Context(), sc, opts)
	if err != nil {
		linger = 0 // nothing was measured to be scraped
		return invalidInput(err)
	}
	if f.html != "" {
		if err := writeReport(f.html, func(w io.Writer) error { return report.HTML(w, run) }); err != nil {
			return err
		}
	}
	if f.openmetrics != "" {
		if err := writeReport(f.openmetrics, func(w io.Writer) error { return report.OpenMetrics(w, run, metricsAt) }); err != nil {
			return err
		}
	}
	if f.json {
		if err := report.JSON(out, run); err != nil {
			return err
		}
	} else if err := report.Terminal(out, run, report.TerminalOptions{ASCII: f.ascii}); err != nil {
		return err
	}
	if !run.Passed {
		return failed(errors.New(""))
	}
	return nil
}

// writeFile renders into a buffer first so a failed render leaves no half file.
func writeReport(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// progress draws a one-line progress bar on a terminal.
type progress struct {
	w     io.Writer
	total int
	last  time.Time
}

// newProgress returns a bar only when stderr is a terminal, output is not
// JSON and there is more than one trial.
func newProgress(w io.Writer, jsonOut bool, trials int) *progress {
	f, ok := w.(*os.File)
	if jsonOut || trials < 2 || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{w: w, total: trials}
}

func (p *progress) update(done, total int) {
	now := time.Now()
	if done != total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := done * width / total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d trials", bar, done, total)
}

func (p *progress) finish() { fmt.Fprint(p.w, "\r\033[K") }
