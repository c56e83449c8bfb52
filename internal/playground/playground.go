// Package playground is the browser playground's Go side: the library as
// the page lists it, a run of scenario YAML to the exact report JSON
// `scenario run --json` prints (and the HTML report's charts), and the
// knobs the page edits in place. It links the simulator only (package
// runner, never runner/realtime), so it builds for GOOS=js GOARCH=wasm;
// cmd/playground-wasm exposes it to JavaScript. Site holds the static page.
package playground

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// site is the page and its JavaScript glue; the WebAssembly module and
// wasm_exec.js are added when the site is written (see Site).
//
//go:embed site
var site embed.FS

// Site returns the static page's own files (index.html, app.js,
// worker.js, style.css), rooted at the site.
func Site() fs.FS {
	sub, err := fs.Sub(site, "site")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Entry is one library scenario as the page lists it.
type Entry struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Lesson      string `json:"lesson"`
	YAML        string `json:"yaml"`
	// Mitigations are the library's variants of this case, the scenarios
	// named NAME-*: what `scenario compare NAME NAME-...` sets side by side.
	Mitigations []string `json:"mitigations,omitempty"`
}

// Library lists the library's scenarios with their source, by name.
func Library() ([]Entry, error) {
	names, err := scenarios.LibraryNames()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		sc, err := scenarios.LoadLibrary(n)
		if err != nil {
			return nil, err
		}
		src, err := fs.ReadFile(scenarios.Library, n+".yaml")
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Name: sc.Name, Title: sc.Title, Description: sc.Description, Lesson: sc.Lesson, YAML: string(src)})
	}
	for i := range out {
		for _, n := range names {
			if strings.HasPrefix(n, out[i].Name+"-") {
				out[i].Mitigations = append(out[i].Mitigations, n)
			}
		}
	}
	return out, nil
}

// Issue is a problem in the edited YAML at a line and column (1-based;
// zero when the problem has no position), as the CLI reports it.
type Issue struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Result is one run: the report JSON (byte for byte what `scenario run
// NAME --seed S --trials N --json` prints), the HTML report, or the
// issues that stopped it.
type Result struct {
	JSON   string  `json:"json,omitempty"`
	HTML   string  `json:"html,omitempty"`
	Passed bool    `json:"passed"`
	Issues []Issue `json:"issues,omitempty"`
}

// Run parses src as the library scenario name (edited or not; its file is
// scenarios/NAME.yaml, as the CLI names it), runs trials from seed (0: the
// scenario's) in the simulator and renders the reports. progress, when
// set, is called after each trial.
func Run(ctx context.Context, name, src string, seed uint64, trials int, progress func(done, total int)) Result {
	sc, is := parse(name, src, trials)
	if is != nil {
		return Result{Issues: is}
	}
	run, err := runner.Run(ctx, sc, runner.Options{Seed: seed, Trials: trials, Progress: progress})
	if err != nil {
		return Result{Issues: issues(err)}
	}
	return render(run)
}

// Sharder runs shards of the run Run(name, src, seed, trials) would
// make, for FoldShards: the page splits a long run over several Web
// Workers (WebAssembly has one thread each). A worker keeps its Sharder
// for the next shard of the same run, so the YAML is read and the plan
// built once per worker.
type Sharder struct {
	s *runner.Sharder
}

// NewSharder reads src as Run does; the issues are Run's.
func NewSharder(name, src string, seed uint64, trials int) (*Sharder, []Issue) {
	sc, is := parse(name, src, trials)
	if is != nil {
		return nil, is
	}
	s, err := runner.NewSharder(sc, runner.Options{Seed: seed, Trials: trials})
	if err != nil {
		return nil, issues(err)
	}
	return &Sharder{s: s}, nil
}

// Run runs trials [from, to). progress, when set, is called after each
// trial with the shard's count and size.
func (s *Sharder) Run(ctx context.Context, from, to int, progress func(done, total int)) ([]byte, []Issue) {
	b, err := s.s.Run(ctx, from, to, progress)
	if err != nil {
		return nil, issues(err)
	}
	return b, nil
}

// FoldShards folds the shards of a run (RunShard's, covering every trial)
// into the Result Run gives for the same arguments, byte for byte.
func FoldShards(ctx context.Context, name, src string, seed uint64, trials int, shards [][]byte) Result {
	f, is := NewFolder(name, src, seed, trials)
	if is != nil {
		return Result{Issues: is}
	}
	for _, b := range shards {
		if is := f.Add(ctx, b); is != nil {
			return Result{Issues: is}
		}
	}
	return f.Finish()
}

// Folder folds the shards of a run as they come (FoldShards one shard at
// a time): the page's first worker folds each shard between its own, so
// that little is left to fold when the last shard ends.
type Folder struct {
	f *runner.Folder
}

// NewFolder reads src as Run does and runs the run's trial 0; the issues
// are Run's.
func NewFolder(name, src string, seed uint64, trials int) (*Folder, []Issue) {
	sc, is := parse(name, src, trials)
	if is != nil {
		return nil, is
	}
	f, err := runner.NewFolder(sc, runner.Options{Seed: seed, Trials: trials})
	if err != nil {
		return nil, issues(err)
	}
	return &Folder{f: f}, nil
}

// Add folds one shard (a Sharder's), as far as the shards before it are in.
func (f *Folder) Add(ctx context.Context, shard []byte) []Issue {
	if err := f.f.Add(ctx, shard); err != nil {
		return issues(err)
	}
	return nil
}

// Finish renders the reports once every shard is in: Run's Result.
func (f *Folder) Finish() Result {
	run, err := f.f.Finish()
	if err != nil {
		return Result{Issues: issues(err)}
	}
	return render(run)
}

// parse reads src as the library scenario name and checks trials.
func parse(name, src string, trials int) (*scenarios.Scenario, []Issue) {
	file := "scenarios/" + strings.TrimSuffix(name, ".yaml") + ".yaml"
	sc, err := scenarios.Parse(file, []byte(src))
	if err != nil {
		return nil, issues(err)
	}
	if trials < 1 {
		return nil, []Issue{{Message: fmt.Sprintf("trials must be at least 1, got %d", trials)}}
	}
	return sc, nil
}

// render writes a run's report JSON and HTML.
func render(run *report.Run) Result {
	var js, html bytes.Buffer
	if err := report.JSON(&js, run); err != nil {
		return Result{Issues: issues(err)}
	}
	if err := report.HTML(&html, run); err != nil {
		return Result{Issues: issues(err)}
	}
	return Result{JSON: js.String(), HTML: html.String(), Passed: run.Passed}
}

// Source is one scenario of a comparison: its library name and its YAML
// (edited or not).
type Source struct {
	Name string `json:"name"`
	YAML string `json:"yaml"`
}

// Compare runs each source with trials trials from seed (0: each
// scenario's own) and sets their key figures side by side: JSON is byte
// for byte what `scenario compare NAME... --seed S --trials N --json`
// prints, HTML the page of its --html, Passed whether every run passed.
// progress, when set, counts the trials of all the runs together. Issues
// name the scenario they belong to.
func Compare(ctx context.Context, srcs []Source, seed uint64, trials int, progress func(done, total int)) Result {
	if trials < 1 {
		return Result{Issues: []Issue{{Message: fmt.Sprintf("trials must be at least 1, got %d", trials)}}}
	}
	if len(srcs) < 2 {
		return Result{Issues: []Issue{{Message: "a comparison needs at least two scenarios"}}}
	}
	runs := make([]*report.Run, 0, len(srcs))
	total := trials * len(srcs)
	for i, s := range srcs {
		file := "scenarios/" + strings.TrimSuffix(s.Name, ".yaml") + ".yaml"
		sc, err := scenarios.Parse(file, []byte(s.YAML))
		if err == nil {
			opts := runner.Options{Seed: seed, Trials: trials}
			if progress != nil {
				opts.Progress = func(done, _ int) { progress(i*trials+done, total) }
			}
			var run *report.Run
			if run, err = runner.Run(ctx, sc, opts); err == nil {
				runs = append(runs, run)
				continue
			}
		}
		is := issues(err)
		if i > 0 {
			// Only the first source is in the editor: a position in
			// another file would point at the wrong text.
			for j := range is {
				is[j] = Issue{Message: s.Name + ": " + is[j].Message}
			}
		}
		return Result{Issues: is}
	}
	c := report.Compare(trials, runs)
	var js, html bytes.Buffer
	if err := report.CompareJSON(&js, c); err != nil {
		return Result{Issues: issues(err)}
	}
	report.CompareHTML(&html, c)
	passed := true
	for _, r := range runs {
		passed = passed && r.Passed
	}
	return Result{JSON: js.String(), HTML: html.String(), Passed: passed}
}

// issues turns an error into positioned issues where it has positions.
func issues(err error) []Issue {
	var se *scenarios.Error
	if errors.As(err, &se) {
		out := make([]Issue, len(se.Issues))
		for i, is := range se.Issues {
			msg := is.Reason
			if is.Field != "" {
				msg = is.Field + ": " + is.Reason
			}
			out[i] = Issue{Line: is.Line, Column: is.Column, Message: msg}
		}
		return out
	}
	return []Issue{{Message: err.Error()}}
}
