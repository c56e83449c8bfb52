package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/trail"
)

type replayFlags struct {
	snapshot    string
	propagation string
	trials      int
	seed        uint64
	json        bool
	html        string
	emit        string
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [flags] TRAIL...",
		Short: "Replay a CloudTrail history: the windows its changes opened and the requests they may have let through",
		Long: `replay reads CloudTrail records (log files as delivered to S3, .json or .json.gz,
folders of them, and 'aws cloudtrail lookup-events' output), replays the IAM, S3 and
Organizations changes they record in the simulator, and reports, for each change, which
(principal, action, resource) it revoked or granted and for how long each other region could
still decide the old way (p50/p99/max over trials), and the successful requests that the truth
already denied: they may have been served by a stale view. Records are sorted in temporary
files under $TMPDIR (removed at exit), so memory stays bounded however long the trail. See
docs/replay.md.

Exit status: 0 it ran, 2 invalid input (nothing runs).`,
		Example: `  scenario replay trail/
  scenario replay --snapshot auth-details.json --trials 500 trail/*.json.gz lookup.json
  scenario replay --json trail/ > replay.json
  scenario replay --html replay.html --emit-scenario incident.yaml trail/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReplay(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.snapshot, "snapshot", "", "the state before the trail: output of 'aws iam get-account-authorization-details'")
	fl.StringVar(&f.propagation, "propagation", "", "YAML file with a propagation block (a scenario's 'propagation:'; default: lognormal, median 4s, p99 10s)")
	fl.IntVar(&f.trials, "trials", 200, "number of independent trials (Monte Carlo)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the first trial; trial i uses seed+i")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON instead of the summary")
	fl.StringVar(&f.html, "html", "", "also write the replay's run report (timeline of the changes and windows) as HTML to this file")
	fl.StringVar(&f.emit, "emit-scenario", "", "also write the replay as a scenario file (its name is the file's name)")
	return cmd
}

// trailFiles expands folders into the .json and .json.gz files under them,
// in name order.
func trailFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .json or .json.gz files", a)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// readTrail streams every file's records into a replay plan: each record
// is reduced and sorted as it is decoded (on disk beyond a memory bound),
// so the trail is never held whole. Every file is decoded before anything
// runs, so a bad file means nothing half-runs. Close the returned builder
// once the plan's requests have been read.
func readTrail(args []string, snap *trail.Snapshot) (*replay.Plan, *replay.Builder, error) {
	files, err := trailFiles(args)
	if err != nil {
		return nil, nil, err
	}
	b := replay.NewBuilder(snap, replay.BuilderOptions{})
	fail := func(err error) (*replay.Plan, *replay.Builder, error) {
		b.Close()
		return nil, nil, err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return fail(err)
		}
		err = trail.DecodePipelined(name, f, b.Add)
		f.Close()
		if err != nil {
			return fail(err)
		}
	}
	p, err := b.Plan()
	if err != nil {
		return fail(err)
	}
	if p.Records == 0 {
		return fail(errors.New("the trail holds no records"))
	}
	return p, b, nil
}

func readSnapshot(path string) (*trail.Snapshot, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return trail.DecodeSnapshot(path, f)
}

// readPropagation returns the YAML of a propagation block: the file's
// `propagation:` value, or the whole file when it is the block itself.
func readPropagation(path string) (string, []string, error) {
	if path == "" {
		return "", nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var doc struct {
		Propagation yaml.Node `yaml:"propagation"`
		Sources     []string  `yaml:"sources"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	block := data
	if doc.Propagation.Kind != 0 {
		if block, err = yaml.Marshal(&doc.Propagation); err != nil {
			return "", nil, err
		}
	}
	return string(block), doc.Sources, nil
}

// preparedReplay is an analyzed trail: close it once its output is written.
type preparedReplay struct {
	a     *replay.Analysis
	b     *replay.Builder
	o     replay.Options
	model *delay.Model
}

// prepareReplay reads and analyzes the inputs: every error is invalid input.
func prepareReplay(args []string, snapshotPath, propagationPath, name string) (*preparedReplay, error) {
	snap, err := readSnapshot(snapshotPath)
	if err != nil {
		return nil, err
	}
	prop, sources, err := readPropagation(propagationPath)
	if err != nil {
		return nil, err
	}
	p, b, err := readTrail(args, snap)
	if err != nil {
		return nil, err
	}
	r := &preparedReplay{b: b, o: replay.Options{Name: name, Propagation: prop, Sources: sources}}
	fail := func(err error) (*preparedReplay, error) {
		b.Close()
		return nil, err
	}
	base, err := scenarios.Parse(name+".yaml", p.BaseScenario(r.o))
	if err != nil {
		return fail(fmt.Errorf("the replay's scenario is invalid: %w", err))
	}
	if r.model, err = runner.DelayModel(base); err != nil {
		return fail(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		return fail(fmt.Errorf("the snapshot's state: %w", err))
	}
	if r.a, err = p.Analyze(initial, r.o); err != nil {
		return fail(err)
	}
	return r, nil
}

func runReplay(cmd *cobra.Command, args []string, f replayFlags) error {
	if f.trials < 1 {
		return invalidInput(fmt.Errorf("--trials must be at least 1, got %d", f.trials))
	}
	name := "replay"
	if f.emit != "" {
		name = strings.TrimSuffix(filepath.Base(f.emit), ".yaml")
	}
	r, err := prepareReplay(args, f.snapshot, f.propagation, name)
	if err != nil {
		return invalidInput(err)
	}
	defer r.b.Close()
	a := r.a
	sc, err := scenarios.Parse(name+".yaml", a.YAML)
	if err != nil {
		return invalidInput(fmt.Errorf("the replay's scenario is invalid: %w", err))
	}
	var run *report.Run
	if f.html != "" {
		// The run report's timeline is the simulator's: only --html pays
		// for simulating the gossip.
		if run, err = runner.Run(cmd.Context(), sc, runner.Options{Seed: f.seed, Trials: f.trials}); err != nil {
			return invalidInput(err)
		}
	}
	m := a.Measure(r.model, f.trials, f.seed)
	prop := r.o.Propagation
	if prop == "" {
		prop = replay.DefaultPropagation
	}
	res := a.Result(m, r.b.Duplicates(), strings.TrimSpace(prop))
	if f.emit != "" {
		if err := os.WriteFile(f.emit, a.YAML, 0o644); err != nil {
			return err
		}
	}
	if f.html != "" {
		if err := writeReport(f.html, func(w io.Writer) error { return report.HTML(w, run) }); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if f.json {
		return res.WriteJSON(out, a, m)
	}
	return printReplay(out, res, a.Plan.Skips(), a.Plan.EachSkip, func(fn func(replay.SuspectResult) error) (int, error) { return a.EachSuspectResult(m, fn) })
}

// printReplay writes the terminal summary; suspects streams the suspect
// requests and returns how many requests were denied from the start.
// skips records are skipped, and eachSkip streams them.
func printReplay(out io.Writer, r *replay.Result, skips int, eachSkip func(func(replay.Skip) error) error, suspects func(func(replay.SuspectResult) error) (int, error)) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	applied := 0
	for _, c := range r.Changes {
		if c.Applied {
			applied++
		}
	}
	fmt.Fprintf(w, "trail: %d records (%d duplicates dropped), %d changes replayed (%d applied), %d skipped, %d unmodelled\n",
		r.Records, r.Duplicates, len(r.Changes), applied, skips, countAll(r.Unmodelled))
	fmt.Fprintf(w, "model: %s, %d trials, regions %s\n", r.Propagation, r.Trials, strings.Join(r.Regions, ", "))
	fmt.Fprintln(w, "\nchanges:")
	for _, c := range r.Changes {
		status := "applied"
		if !c.Applied {
			status = "not applied: " + c.Reason
		}
		kind := "grant"
		if c.Revoke {
			kind = "revoke"
		}
		fmt.Fprintf(w, "  %s  %-10s %-32s %-7s %s  (%s)\n", c.Time.Format("2006-01-02T15:04:05Z"), c.Region, c.Call, kind, c.EventID, status)
	}
	fmt.Fprintln(w, "\nwindows (p50 / p99 / max over trials):")
	if len(r.Windows) == 0 {
		fmt.Fprintln(w, "  none: no change flipped a decision of the requests the trail names")
	}
	for _, x := range r.Windows {
		s := x.Exposure
		what := "still allowed"
		if s == nil {
			s, what = x.Denial, "still denied"
		}
		note := ""
		if x.HomeRegionUnknown {
			note = " (bucket's home region unknown: kept in every region)"
		}
		fmt.Fprintf(w, "  %s in %s: %s %s %s on %s for %s / %s / %s%s\n", x.EventID, x.Region, what, x.Principal, x.Action, x.Resource,
			report.FormatSeconds(s.P50), report.FormatSeconds(s.P99), report.FormatSeconds(s.Max), note)
	}
	fmt.Fprintln(w, "\nsuspect requests (succeeded after a change that denies them):")
	n := 0
	denied, err := suspects(func(s replay.SuspectResult) error {
		n++
		_, err := fmt.Fprintf(w, "  %s in %s: %s %s %s, after %s; P(served by a stale view) = %.2f\n", s.EventID, s.Region, s.Principal, s.Action, s.Resource, s.ChangeEventID, s.Probability)
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(w, "  none")
	}
	r.DeniedFromStart = denied
	if skips > 0 {
		fmt.Fprintln(w, "\nskipped:")
		if err := eachSkip(func(s replay.Skip) error {
			_, err := fmt.Fprintf(w, "  %s %s: %s\n", s.EventID, s.EventName, s.Reason)
			return err
		}); err != nil {
			return err
		}
	}
	if len(r.Unmodelled) > 0 {
		fmt.Fprintln(w, "\nunmodelled events (not replayed):")
		var names []string
		for n := range r.Unmodelled {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %s x%d\n", n, r.Unmodelled[n])
		}
	}
	if len(r.Unknown) > 0 {
		fmt.Fprintln(w, "\nprior state unknown (replayed as absent; --snapshot supplies IAM, not buckets):")
		for _, u := range r.Unknown {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if r.DeniedFromStart > 0 {
		fmt.Fprintf(w, "\n%d successful requests were denied by the replayed state from the start: the state before the trail is incomplete\n", r.DeniedFromStart)
	}
	return w.Flush()
}

func countAll(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
