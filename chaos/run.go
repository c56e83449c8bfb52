package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/store"
	"github.com/iamprop/iamprop/wire"
)

// Options configures a chaos run.
type Options struct {
	Nodes     int           // regionnode processes per schedule (at least 3)
	Schedules int           // schedules to run
	Duration  time.Duration // faults and commits per schedule, before the heal
	Seed      uint64        // the run's seed; schedule i uses ScheduleSeed(Seed, i)
	// Replay, when set, runs exactly these schedule seeds instead.
	Replay []uint64
	// Workers per region committing concurrently (default 2).
	Workers int
	// Binary is a prebuilt regionnode; "" builds one with `go build`.
	Binary string
	// KeepDirs keeps every schedule's data and logs (failing ones are
	// always kept).
	KeepDirs bool
	// Progress receives one line per schedule (nil: none).
	Progress io.Writer
	// ReplayCommand renders the command that replays a schedule seed.
	ReplayCommand func(seed uint64) string
	// Divergence adds the faults that can lose commits and split the
	// cluster (wipes at any time, seed wipes, byte flips in logs:
	// NewDivergenceSchedule), consistency readers, and the checks of
	// CheckDivergence and CheckReads. Opt-in until origin epochs and
	// content-comparing anti-entropy land: today it finds known defects.
	Divergence bool
}

// ScheduleReport is the outcome of one schedule.
type ScheduleReport struct {
	Index  int            `json:"index"`
	Seed   uint64         `json:"seed"`
	Faults map[string]int `json:"faults"` // injected, by kind; "wipe-skipped" when its mutations could not be seen elsewhere in time
	Result Result         `json:"result"`
	// ConvergeSeconds: from the heal until every region held the truth;
	// -1 if not within the bound.
	ConvergeSeconds float64  `json:"converge_seconds"`
	Passed          bool     `json:"passed"`
	Errors          []string `json:"errors,omitempty"` // the harness's own troubles (a node that would not start, ...)
	Replay          string   `json:"replay,omitempty"`
	Dir             string   `json:"dir,omitempty"` // kept data and logs
	Plan            []string `json:"plan,omitempty"`
	// History is the recorded operation history (`scenario chaos
	// --history`); kept out of the report's JSON, where it would dwarf
	// the rest.
	History []Event `json:"-"`
	// HealSeconds is when the heal began, since the schedule started.
	HealSeconds float64 `json:"heal_seconds"`
}

// Report is the outcome of a run: what docs/validation.md quotes.
type Report struct {
	Nodes          int            `json:"nodes"`
	Duration       string         `json:"duration"`
	Seed           uint64         `json:"seed"`
	SchedulesRun   int            `json:"schedules_run"`
	SchedulesOK    int            `json:"schedules_passed"`
	Faults         map[string]int `json:"faults"`
	Acked          int            `json:"mutations_acknowledged"`
	FailedCommits  int            `json:"commits_failed"`
	UnknownCommits int            `json:"commits_unknown"`
	UnknownApplied int            `json:"commits_unknown_committed"`
	FailedBy       map[string]int `json:"commits_failed_by"`
	Lost           int            `json:"lost"`
	Forgotten      int            `json:"forgotten"`
	Unacknowledged int            `json:"unacknowledged_applied"`
	Divergent      int            `json:"divergent_views"`
	Resurrected    int            `json:"resurrected"`
	DeletesChecked int            `json:"deletes_checked"`
	IDReuse        int            `json:"id_reuse"`
	Unreported     int            `json:"unreported"`
	StaleReads     int            `json:"stale_reads"`
	Reads          int            `json:"reads_checked"`
	// ReadsUnknown: answered max_lag reads not judged (Result.ReadsUnknown).
	ReadsUnknown int `json:"reads_unknown"`
	// ReportedLost and LossConsequences count Result's lists of the same
	// names: commits lost with their origin's disk that the nodes report,
	// and what followed from them; neither fails a schedule.
	ReportedLost     int              `json:"reported_lost"`
	LossConsequences int              `json:"loss_consequences"`
	Divergence       bool             `json:"divergence"`
	BoundSeconds     float64          `json:"converge_bound_seconds"`
	Converge         Quantiles        `json:"converge_seconds"`
	FailingSeeds     []uint64         `json:"failing_seeds"`
	Schedules        []ScheduleReport `json:"schedules"`
	WallSeconds      float64          `json:"wall_seconds"`
}

// Quantiles of the time to converge after the heal.
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Passed reports whether every schedule passed.
func (r *Report) Passed() bool { return r.SchedulesRun > 0 && r.SchedulesOK == r.SchedulesRun }

// Run runs the schedules one after another, each on a fresh cluster.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Nodes < 3 {
		return nil, fmt.Errorf("chaos: --nodes %d: need at least 3 (a partition and a stopped node must leave a majority side)", o.Nodes)
	}
	if o.Nodes > 16 {
		return nil, fmt.Errorf("chaos: --nodes %d: at most 16 processes", o.Nodes)
	}
	if o.Duration < time.Second {
		return nil, fmt.Errorf("chaos: --duration %v: at least 1s", o.Duration)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	seeds := o.Replay
	if len(seeds) == 0 {
		if o.Schedules <= 0 {
			return nil, fmt.Errorf("chaos: --schedules %d: at least 1", o.Schedules)
		}
		for i := 0; i < o.Schedules; i++ {
			seeds = append(seeds, ScheduleSeed(o.Seed, i))
		}
	}
	began := time.Now()
	bin := o.Binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "iamprop-chaos-bin-")
		if err != nil {
			return nil, &SetupError{err}
		}
		defer os.RemoveAll(dir)
		if bin, err = Build(ctx, dir); err != nil {
			return nil, &SetupError{err}
		}
	} else if err := checkExecutable(bin); err != nil {
		return nil, &SetupError{err}
	}
	rep := &Report{Divergence: o.Divergence, Nodes: o.Nodes, Duration: o.Duration.String(), Seed: o.Seed, Faults: map[string]int{}, FailedBy: map[string]int{}, BoundSeconds: ConvergenceBound.Seconds(), FailingSeeds: []uint64{}}
	var conv []float64
	for i, seed := range seeds {
		if ctx.Err() != nil {
			break
		}
		sr, setupErr := runSchedule(ctx, bin, o, i, seed)
		if setupErr != nil {
			// Not a finding: nothing about the system under test was
			// learnt, so no report, only the reason.
			return nil, &SetupError{fmt.Errorf("schedule %d (seed %d): %w", i+1, seed, setupErr)}
		}
		if ctx.Err() != nil && !sr.Passed {
			break // interrupted: not a finding
		}
		rep.SchedulesRun++
		if sr.Passed {
			rep.SchedulesOK++
		} else {
			rep.FailingSeeds = append(rep.FailingSeeds, seed)
		}
		for k, v := range sr.Faults {
			rep.Faults[k] += v
		}
		r := &sr.Result
		rep.Acked += r.Acked
		rep.FailedCommits += r.Failed
		rep.UnknownCommits += r.Unknown
		rep.UnknownApplied += r.UnknownCommitted
		for k, v := range r.FailedBy {
			rep.FailedBy[k] += v
		}
		rep.Lost += len(r.Lost)
		rep.Forgotten += len(r.Forgotten)
		rep.Unacknowledged += len(r.Unacknowledged)
		rep.Divergent += len(r.Divergent)
		rep.Resurrected += len(r.Resurrected)
		rep.DeletesChecked += r.DeletesChecked
		rep.IDReuse += len(r.IDReuse)
		rep.Unreported += len(r.Unreported)
		rep.StaleReads += len(r.StaleReads)
		rep.Reads += r.Reads
		rep.ReadsUnknown += r.ReadsUnknown
		rep.ReportedLost += len(r.ReportedLost)
		rep.LossConsequences += len(r.LossConsequences)
		if sr.ConvergeSeconds >= 0 {
			conv = append(conv, sr.ConvergeSeconds)
		}
		if o.Progress != nil {
			printSchedule(o.Progress, len(seeds), &sr)
		}
		rep.Schedules = append(rep.Schedules, sr)
	}
	rep.Converge = quantiles(conv)
	rep.WallSeconds = time.Since(began).Seconds()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

func quantiles(xs []float64) Quantiles {
	q := Quantiles{N: len(xs)}
	if len(xs) == 0 {
		return q
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(p float64) float64 {
		// nearest rank
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	q.P50, q.P99, q.Max = at(0.5), at(0.99), s[len(s)-1]
	return q
}

func printSchedule(w io.Writer, total int, sr *ScheduleReport) {
	status := "ok"
	if !sr.Passed {
		status = "FAIL"
	}
	conv := "not converged"
	if sr.ConvergeSeconds >= 0 {
		conv = fmt.Sprintf("converged in %.2fs", sr.ConvergeSeconds)
	}
	var faults string
	for _, k := range Kinds {
		if n := sr.Faults[string(k)]; n > 0 {
			faults += fmt.Sprintf(" %s×%d", k, n)
		}
	}
	for _, k := range extraCounts {
		if n := sr.Faults[k]; n > 0 {
			faults += fmt.Sprintf(" %s×%d", k, n)
		}
	}
	fmt.Fprintf(w, "schedule %d/%d seed %d: %d acked, %d unknown, %d failed; faults%s; %s: %s\n",
		sr.Index+1, total, sr.Seed, sr.Result.Acked, sr.Result.Unknown, sr.Result.Failed, faults, conv, status)
	if sr.Passed {
		return
	}
	for _, e := range sr.Errors {
		fmt.Fprintf(w, "  harness: %s\n", e)
	}
	fs := sr.Result.Findings()
	for i, f := range fs {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more findings\n", len(fs)-20)
			break
		}
		fmt.Fprintf(w, "  %s\n", f)
	}
	for _, p := range sr.Plan {
		fmt.Fprintf(w, "  plan: %s\n", p)
	}
	fmt.Fprintf(w, "  failing seed %d; replay: %s\n", sr.Seed, sr.Replay)
	if sr.Dir != "" {
		fmt.Fprintf(w, "  data, node logs and the history (history.json) kept in %s\n", sr.Dir)
	}
}

// extraCounts are the fault outcomes counted besides the kinds: a wipe
// not done, and how a node met its corrupted log.
var extraCounts = []string{"wipe-skipped", CorruptRefused, CorruptStarted}

// How a node restarted without --recover met its corrupted log: it
// refused to start (the expected answer; it is then restarted with
// --recover), or it started (the flips hit only the torn tail, which is
// trimmed, or an empty log).
const (
	CorruptRefused = "corrupt-refused"
	CorruptStarted = "corrupt-started"
)

// httpGetter answers "does GET url give 200", with a short timeout.
type httpGetter struct{ c *http.Client }

func (g *httpGetter) ok(url string) bool {
	if g.c == nil {
		g.c = &http.Client{Timeout: time.Second}
	}
	resp, err := g.c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// scheduleRun is the state of one schedule in progress.
type scheduleRun struct {
	c     *cluster
	plan  Schedule
	t0    time.Time
	gates []sync.RWMutex // per node: workers hold it shared per request; a wipe holds it exclusively

	mu      sync.Mutex
	faults  map[string]int
	errs    []string
	nemesis []nemesisEvent

	netMu   sync.Mutex // serializes fault posts; guards current
	current *wire.FaultSpec

	divergence bool
	// wipes counts, per node, the wipes that did not wait for its commits
	// to spread; a worker that sees it change abandons its users.
	wipes   []atomic.Int32
	boardMu sync.Mutex
	board   []string // acknowledged ids, for the readers' at_least tokens
}

func (s *scheduleRun) count(kind string) {
	s.mu.Lock()
	s.faults[kind]++
	s.mu.Unlock()
}

// record notes a nemesis event for the history.
func (s *scheduleRun) record(f, value string) {
	at := s.since()
	s.mu.Lock()
	s.nemesis = append(s.nemesis, nemesisEvent{at: at, f: f, value: value})
	s.mu.Unlock()
}

func (s *scheduleRun) errorf(format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *scheduleRun) since() time.Duration { return time.Since(s.t0) }

func (s *scheduleRun) sleepUntil(ctx context.Context, at time.Duration) {
	if d := at - s.since(); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
}

func runSchedule(ctx context.Context, bin string, o Options, index int, seed uint64) (sr ScheduleReport, setupErr error) {
	sr = ScheduleReport{Index: index, Seed: seed, ConvergeSeconds: -1, Faults: map[string]int{}}
	if o.ReplayCommand != nil {
		sr.Replay = o.ReplayCommand(seed)
	}
	root, err := os.MkdirTemp("", "iamprop-chaos-")
	if err != nil {
		return sr, err
	}
	plan := NewSchedule(seed, o.Nodes, o.Duration)
	if o.Divergence {
		plan = NewDivergenceSchedule(seed, o.Nodes, o.Duration)
	}
	for _, f := range plan.Network {
		sr.Plan = append(sr.Plan, f.String())
	}
	for _, f := range plan.Process {
		sr.Plan = append(sr.Plan, f.String())
	}
	s := &scheduleRun{plan: plan, faults: sr.Faults, gates: make([]sync.RWMutex, o.Nodes), divergence: o.Divergence, wipes: make([]atomic.Int32, o.Nodes)}
	keep := o.KeepDirs
	defer func() {
		if s.c != nil {
			s.c.stopAll()
		}
		if keep || (!sr.Passed && setupErr == nil) {
			sr.Dir = root
		} else {
			os.RemoveAll(root)
		}
	}()
	s.c, err = newCluster(bin, root, o.Nodes, seed)
	if err != nil {
		return sr, err
	}
	s.c.exitedAlone = func(region string, err error) {
		s.errorf("%s exited on its own (%v): a crash the schedule did not inject", region, err)
	}
	h, err := s.boot(ctx)
	if err != nil {
		if se := s.c.setupCause(err); se != nil {
			return sr, se
		}
		sr.Errors = append(sr.Errors, err.Error())
		return sr, nil
	}

	// Workers and the two fault lanes run together; the workers stop once
	// both lanes are done and the duration has passed.
	s.t0 = time.Now()
	h.T0 = s.t0
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	var wg sync.WaitGroup
	opsCh := make(chan []Op, o.Nodes*o.Workers)
	readsCh := make(chan []Read, o.Nodes)
	readers := 0
	if o.Divergence {
		for i, nd := range s.c.nodes {
			readers++
			wg.Add(1)
			go func() {
				defer wg.Done()
				readsCh <- s.read(wctx, nd, rand.New(rand.NewPCG(seed^0x4ead, uint64(1+i))))
			}()
		}
	}
	for i, nd := range s.c.nodes {
		for w := 0; w < o.Workers; w++ {
			wk := newWorker(nd.region, i, w, rand.New(rand.NewPCG(seed, uint64(1+i*o.Workers+w))))
			wg.Add(1)
			go func() {
				defer wg.Done()
				opsCh <- s.work(wctx, nd, wk, rand.New(rand.NewPCG(seed^0x7e57, uint64(1+i*o.Workers+w))))
			}()
		}
	}
	// The lanes stop at the duration, leaving whatever fault is in force
	// (a partition, a stopped node) for the heal to end.
	fctx, stopFaults := context.WithDeadline(ctx, s.t0.Add(o.Duration))
	defer stopFaults()
	var lanes sync.WaitGroup
	lanes.Add(2)
	go func() { defer lanes.Done(); s.networkLane(fctx) }()
	go func() { defer lanes.Done(); s.processLane(ctx, fctx) }()
	lanes.Wait()
	s.sleepUntil(ctx, o.Duration)
	stopWorkers()
	wg.Wait()
	close(opsCh)
	for ops := range opsCh {
		h.Ops = append(h.Ops, ops...)
	}
	for range readers {
		h.Reads = append(h.Reads, <-readsCh...)
	}
	// Per worker the ops stay in issue order (a stable sort by start).
	slices.SortStableFunc(h.Ops, func(a, b Op) int { return cmp.Compare(a.Start, b.Start) })

	// Heal: faults off, stopped nodes started again; convergence is timed
	// from here, so it includes a restarted node's start and catch-up.
	s.record("heal", "")
	sr.HealSeconds = s.since().Seconds()
	s.heal(ctx)
	healed := time.Now()
	res, finals, convergedAt, err := s.awaitConvergence(ctx, h)
	if err != nil {
		s.errorf("check: %v", err)
	}
	if o.Divergence && ctx.Err() == nil {
		s.reports(ctx, finals)
		// Stop every node (SIGTERM closes the logs) and read what each
		// log holds under every id.
		s.c.stopAll()
		logs := map[string][]replication.Mutation{}
		for _, nd := range s.c.nodes {
			l, muts, _, err := store.Open(nd.dir, store.Options{})
			if err != nil {
				s.errorf("read %s's log after the schedule: %v", nd.region, err)
				continue
			}
			l.Close()
			logs[nd.region] = muts
		}
		CheckDivergence(h, finals, logs, &res)
		CheckReads(h, &res)
	}
	for _, fs := range []*[]Finding{&res.Lost, &res.Forgotten, &res.Unacknowledged, &res.Divergent, &res.Resurrected, &res.IDReuse, &res.Unreported, &res.StaleReads} {
		for i := range *fs {
			(*fs)[i].Seed = seed
		}
	}
	sr.Result = res
	if !convergedAt.IsZero() {
		sr.ConvergeSeconds = convergedAt.Sub(healed).Seconds()
		s.mu.Lock()
		s.nemesis = append(s.nemesis, nemesisEvent{at: convergedAt.Sub(s.t0), f: "converged", value: "every region holds the truth"})
		s.mu.Unlock()
	}
	s.mu.Lock()
	sr.Errors = append(sr.Errors, s.errs...)
	sr.History = buildHistory(h.Ops, s.nemesis)
	s.mu.Unlock()
	sr.Passed = len(sr.Errors) == 0 && res.OK() && sr.ConvergeSeconds >= 0 && ctx.Err() == nil
	if !sr.Passed || keep {
		// The recorded operations and reads, beside the nodes' logs: a
		// timing-dependent failure may not come back on replay.
		if b, err := json.Marshal(h); err == nil {
			_ = os.WriteFile(filepath.Join(root, "history.json"), b, 0o600)
		}
	}
	return sr, nil
}

// faultTarget is what a fault acts on, for the history: its plan line
// without the instant, the kind and the duration.
func faultTarget(f Fault) string {
	txt := f.String()
	for range 2 {
		if _, rest, ok := strings.Cut(txt, " "); ok {
			txt = rest
		}
	}
	if i := strings.LastIndex(txt, " for "); i > 0 {
		txt = txt[:i]
	}
	return txt
}

// SetupError is a run that could not set up a cluster: no regionnode
// binary, a node that cannot bind its port or refuses its flags. It is not
// a finding about the system under test; `scenario chaos` exits 2.
type SetupError struct{ Err error }

func (e *SetupError) Error() string {
	return "chaos setup: " + strings.TrimPrefix(e.Err.Error(), "chaos: ")
}
func (e *SetupError) Unwrap() error { return e.Err }

// checkExecutable says why bin cannot be run, or returns nil.
func checkExecutable(bin string) error {
	fi, err := os.Stat(bin)
	switch {
	case err != nil:
		return fmt.Errorf("--regionnode %s: %w", bin, err)
	case fi.IsDir():
		return fmt.Errorf("--regionnode %s: a directory, not a regionnode binary", bin)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("--regionnode %s: not executable", bin)
	}
	return nil
}

// boot starts every node, waits until all are ready and have applied the
// setup mutations, and returns the history holding those.
func (s *scheduleRun) boot(ctx context.Context) (History, error) {
	h := History{Account: "111122223333"}
	c := s.c
	for _, nd := range c.nodes {
		h.Regions = append(h.Regions, nd.region)
	}
	first := c.nodes[0]
	if err := c.start(first); err != nil {
		return h, err
	}
	if err := c.waitServing(ctx, first, 15*time.Second); err != nil {
		return h, err
	}
	errs := make(chan error, len(c.nodes))
	for _, nd := range c.nodes[1:] {
		go func() {
			if err := c.start(nd); err != nil {
				errs <- err
				return
			}
			errs <- c.waitServing(ctx, nd, 15*time.Second)
		}()
	}
	for range c.nodes[1:] {
		if err := <-errs; err != nil {
			return h, err
		}
	}
	if err := s.waitAll(ctx, 20*time.Second, "every node ready", func(nd *node) bool {
		return nd.client.Ready(ctx) == nil
	}); err != nil {
		return h, err
	}
	var last replication.MutationID
	for _, req := range setupRequests() {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := first.client.Commit(rctx, wire.MutationRequest{Call: req.call, With: req.with})
		cancel()
		if err != nil {
			return h, fmt.Errorf("chaos: setup %s at %s: %w", req.call, first.region, err)
		}
		id, err := replication.ParseMutationID(resp.ID)
		if err != nil {
			return h, fmt.Errorf("chaos: setup %s at %s: the node answered id %q: %w", req.call, first.region, resp.ID, err)
		}
		last = id
		h.Ops = append(h.Ops, Op{Worker: "setup", Region: first.region, Call: req.call, With: req.with, Outcome: Acked, ID: resp.ID, HLC: resp.HLC})
	}
	err := s.waitAll(ctx, 20*time.Second, "setup applied everywhere", func(nd *node) bool {
		v, err := nd.client.View(ctx)
		return err == nil && replication.VersionVector(v.Vector).Covers(last)
	})
	return h, err
}

// waitAll polls cond on every node until it holds for all.
func (s *scheduleRun) waitAll(ctx context.Context, d time.Duration, what string, cond func(*node) bool) error {
	deadline := time.Now().Add(d)
	for {
		all := true
		for _, nd := range s.c.nodes {
			if !cond(nd) {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: %s: not within %v", what, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// work commits the worker's calls at its node until ctx ends, and returns
// what it saw.
func (s *scheduleRun) work(ctx context.Context, nd *node, w *worker, pace *rand.Rand) []Op {
	var ops []Op
	gate := &s.gates[nd.index]
	var wipes int32
	for ctx.Err() == nil {
		if n := s.wipes[nd.index].Load(); n != wipes {
			wipes = n
			w.forgetAll()
		}
		req := w.next()
		gate.RLock()
		if ctx.Err() != nil {
			gate.RUnlock()
			break
		}
		op := Op{Worker: w.name, Region: nd.region, Call: req.call, With: req.with, Start: s.since()}
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := nd.client.Commit(rctx, wire.MutationRequest{Call: req.call, With: req.with})
		cancel()
		op.End = s.since()
		gate.RUnlock()
		op.Outcome, op.Code = classify(err)
		if err != nil {
			op.Err = err.Error()
		} else {
			op.ID, op.HLC, op.Deletes = resp.ID, resp.HLC, req.deletes
			if s.divergence {
				s.boardMu.Lock()
				s.board = append(s.board, resp.ID)
				s.boardMu.Unlock()
			}
		}
		w.done(req, op.Outcome)
		ops = append(ops, op)
		pauseFor := time.Duration(5+pace.IntN(20)) * time.Millisecond
		if op.Outcome == Failed {
			pauseFor = 50 * time.Millisecond // the node is down or catching up
		}
		select {
		case <-ctx.Done():
		case <-time.After(pauseFor):
		}
	}
	return ops
}

// classify turns a commit's error into its outcome and code (Op.Code).
func classify(err error) (Outcome, string) {
	if err == nil {
		return Acked, ""
	}
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Status == 503 && ae.Code == codeNodeDown:
			return Failed, "refused" // the node is down (its port held by the harness)
		case ae.Status == 503 && ae.Code == "CatchingUp":
			return Failed, ae.Code // refused before anything was proposed
		case ae.Status >= 400 && ae.Status < 500:
			return Failed, ae.Code // an AWS error or a bad request: nothing committed
		default:
			return Unknown, ae.Code // 500, or 503 ServiceUnavailable (stopping, or the log failed mid-commit)
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return Failed, "refused" // the request never reached a node
	}
	return Unknown, "transport" // reset, EOF, timeout: the node may have committed it
}

// setFaults posts spec (nil: clear) to every running node and remembers
// it for nodes that restart.
func (s *scheduleRun) setFaults(ctx context.Context, spec *wire.FaultSpec) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	s.current = spec
	var wg sync.WaitGroup
	for _, nd := range s.c.nodes {
		if !nd.isRunning() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.postFaults(ctx, nd, spec)
		}()
	}
	wg.Wait()
}

// postFaults sends spec to one node. A node that is stopping or down
// refuses; it gets the faults in force when it restarts.
func (s *scheduleRun) postFaults(ctx context.Context, nd *node, spec *wire.FaultSpec) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if spec == nil {
		_ = nd.client.ClearFaults(rctx)
		return
	}
	if err := nd.client.SetFaults(rctx, *spec); err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Status == 400 {
			s.errorf("POST /v1/faults to %s refused: %v", nd.region, err)
		}
	}
}

func (s *scheduleRun) networkLane(ctx context.Context) {
	for _, f := range s.plan.Network {
		s.sleepUntil(ctx, f.At)
		if ctx.Err() != nil {
			return
		}
		spec := f.Spec
		s.setFaults(ctx, &spec)
		s.count(string(f.Kind))
		s.record(string(f.Kind), faultTarget(f))
		s.sleepUntil(ctx, f.At+f.Hold)
		if ctx.Err() != nil {
			return // the heal clears it
		}
		s.setFaults(ctx, nil)
		s.record("stop-"+string(f.Kind), faultTarget(f))
	}
}

// processLane runs the process faults until ctx (the schedule's end)
// ends; parent is the run's context, for a corrupted node's restart, which
// is finished even after the end (the heal does not know how to do it).
func (s *scheduleRun) processLane(parent, ctx context.Context) {
	for _, f := range s.plan.Process {
		s.sleepUntil(ctx, f.At)
		if ctx.Err() != nil {
			return
		}
		nd := s.c.nodes[f.Node]
		if f.Kind != KindWipe {
			s.record(string(f.Kind), nd.region)
		}
		switch f.Kind {
		case KindKill9:
			if err := s.c.kill9(nd); err != nil {
				s.errorf("%v", err)
			}
		case KindTerm:
			if err := s.c.term(nd); err != nil {
				s.errorf("%v", err)
			}
		case KindWipe:
			if !s.wipe(ctx, nd, f.Hold) {
				s.count("wipe-skipped")
				continue
			}
		case KindWipeNow, KindWipeSeed:
			// No waiting for its commits to spread and no holding off its
			// clients: what nobody else had is gone with the disk.
			if err := s.c.kill9(nd); err != nil {
				s.errorf("%v", err)
			}
			if err := s.c.wipe(nd); err != nil {
				s.errorf("wipe %s: %v", nd.region, err)
			}
			s.wipes[nd.index].Add(1)
			if f.Kind == KindWipeSeed {
				nd.mu.Lock()
				nd.soloNext = true // as it was founded, whether the lane or the heal restarts it
				nd.mu.Unlock()
			}
		case KindCorrupt:
			if err := s.c.kill9(nd); err != nil {
				s.errorf("%v", err)
			}
			if _, err := s.c.flip(nd, f.Flips); err != nil {
				s.errorf("flip bytes in %s's log: %v", nd.region, err)
			}
			s.count(string(f.Kind))
			s.sleepUntil(ctx, s.since()+f.Hold)
			s.restartCorrupt(parent, nd, f.Recover)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		s.count(string(f.Kind))
		if f.Kind != KindWipe {
			s.sleepUntil(ctx, s.since()+f.Hold)
			if ctx.Err() != nil {
				return // the heal restarts it
			}
			s.record("restart", nd.region)
			s.restart(ctx, nd)
		}
	}
}

// restartCorrupt starts a node whose log had bytes flipped: with
// --recover at once, or first without it, where refusing to start is the
// expected answer (counted as CorruptRefused) and is followed by a start
// with --recover.
func (s *scheduleRun) restartCorrupt(ctx context.Context, nd *node, recover bool) {
	if !recover {
		nd.mu.Lock()
		nd.mayRefuse = true
		nd.mu.Unlock()
		if err := s.c.start(nd); err != nil {
			s.errorf("%v", err)
			return
		}
		nd.mu.Lock()
		exited := nd.exited
		nd.mu.Unlock()
		err := s.c.waitServing(ctx, nd, 15*time.Second)
		select {
		case <-exited:
			s.count(CorruptRefused)
		default:
			if err != nil {
				if ctx.Err() == nil {
					s.errorf("%v", err)
				}
				return
			}
			s.count(CorruptStarted)
			s.postCurrent(ctx, nd)
			return
		}
	}
	nd.mu.Lock()
	nd.recoverNext = true
	nd.mu.Unlock()
	s.restart(ctx, nd)
}

// wipe replaces nd's disk the way an operator would: only once every
// mutation nd holds from itself is applied in every other region (so the
// cluster can hand it back), with nd's clients held off meanwhile. It
// returns false if that did not happen within 10s (the wipe is skipped).
func (s *scheduleRun) wipe(ctx context.Context, nd *node, down time.Duration) bool {
	gate := &s.gates[nd.index]
	gate.Lock() // waits for nd's in-flight commits; holds off new ones
	defer gate.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if visibleElsewhere(ctx, s.c, nd) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.record(string(KindWipe), nd.region)
	if err := s.c.kill9(nd); err != nil {
		s.errorf("%v", err)
	}
	if err := s.c.wipe(nd); err != nil {
		s.errorf("wipe %s: %v", nd.region, err)
	}
	s.sleepUntil(ctx, s.since()+down)
	if ctx.Err() == nil {
		s.record("restart", nd.region)
		s.restart(ctx, nd) // else the heal restarts it
	}
	return true
}

// visibleElsewhere reports whether every other region has applied every
// mutation of nd's own that nd has.
func visibleElsewhere(ctx context.Context, c *cluster, nd *node) bool {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	own, err := nd.client.View(rctx)
	if err != nil {
		return false
	}
	for _, o := range c.nodes {
		if o == nd {
			continue
		}
		v, err := o.client.View(rctx)
		if err != nil {
			return false
		}
		for stream, seq := range own.Vector { // every epoch of nd's origin
			if origin, _, err := replication.ParseStream(stream); err == nil && origin == nd.region && v.Vector[stream] < seq {
				return false
			}
		}
	}
	return true
}

// restart starts nd again on its addresses and data directory, and gives
// it the faults in force.
func (s *scheduleRun) restart(ctx context.Context, nd *node) {
	if err := s.c.start(nd); err != nil {
		s.errorf("%v", err)
		return
	}
	if err := s.c.waitServing(ctx, nd, 15*time.Second); err != nil {
		if ctx.Err() == nil {
			s.errorf("%v", err)
		}
		return // cut by the end of the schedule: converging includes the start
	}
	s.postCurrent(ctx, nd)
}

// postCurrent gives a (re)started node the faults in force.
func (s *scheduleRun) postCurrent(ctx context.Context, nd *node) {
	s.netMu.Lock()
	if s.current != nil {
		s.postFaults(ctx, nd, s.current)
	}
	s.netMu.Unlock()
}

// heal clears every fault and starts every stopped node (without waiting
// for it: that is part of converging).
func (s *scheduleRun) heal(ctx context.Context) {
	s.setFaults(ctx, nil)
	for _, nd := range s.c.nodes {
		if !nd.isRunning() {
			if err := s.c.start(nd); err != nil {
				s.errorf("heal: %v", err)
			}
		}
	}
}

// awaitConvergence polls every node's view until all hold the truth (and
// the checker passes), or ConvergenceBound passes; it returns the last
// verdict, the views it judged, and when convergence was seen (zero if
// not). With the divergence faults a lost commit is expected, so views
// that agree (one digest, one vector) for two push/pull intervals also
// end the wait: they converged, if not to the truth, and the checker
// says what they lack.
func (s *scheduleRun) awaitConvergence(ctx context.Context, h History) (Result, []Final, time.Time, error) {
	deadline := time.Now().Add(ConvergenceBound)
	var items []Item
	for _, op := range h.Ops {
		if op.Outcome == Acked {
			items = append(items, op.Deletes...)
		}
	}
	var last Result
	var lastFinals []Final
	var lastErr error
	var agreeSince time.Time
	for {
		readAt := time.Now()
		finals, agree := s.views(ctx)
		if !agree {
			agreeSince = time.Time{}
		} else if agreeSince.IsZero() {
			agreeSince = readAt
		}
		if agree || time.Now().After(deadline) {
			s.probe(ctx, finals, items)
			res, err := Check(h, finals)
			last, lastFinals, lastErr = res, finals, err
			if err == nil && res.OK() {
				return res, finals, readAt, nil
			}
			if s.divergence && agree && time.Since(agreeSince) >= 2*PushPullInterval {
				return res, finals, agreeSince, err
			}
			if time.Now().After(deadline) {
				return last, lastFinals, time.Time{}, lastErr
			}
		}
		select {
		case <-ctx.Done():
			return last, lastFinals, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// views reads every node's view; agree says all digests and vectors are
// equal (and every node answered).
func (s *scheduleRun) views(ctx context.Context) ([]Final, bool) {
	finals := make([]Final, len(s.c.nodes))
	var wg sync.WaitGroup
	for i, nd := range s.c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			finals[i] = Final{Region: nd.region, Vector: replication.VersionVector{}}
			if v, err := nd.client.View(rctx); err == nil {
				finals[i].Digest, finals[i].Vector = v.Digest, v.Vector
				finals[i].LostEpochs, finals[i].Epoch = v.Lost, v.Epoch
			}
		}()
	}
	wg.Wait()
	agree := true
	for _, f := range finals {
		if f.Digest == "" || f.Digest != finals[0].Digest || !maps.Equal(f.Vector, finals[0].Vector) {
			agree = false
		}
	}
	return finals, agree
}

// reports asks every node what it reports itself: /readyz and the
// conflict and lost counters of /metrics (Final's Ready, Conflicts, Lost).
func (s *scheduleRun) reports(ctx context.Context, finals []Final) {
	var wg sync.WaitGroup
	for i, nd := range s.c.nodes {
		if i >= len(finals) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			finals[i].Ready = nd.client.Ready(rctx) == nil
			req, err := http.NewRequestWithContext(rctx, "GET", "http://"+nd.http+"/metrics", nil)
			if err != nil {
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			if err == nil && resp.StatusCode == 200 {
				finals[i].Conflicts, finals[i].Lost = nodeReports(body)
			}
		}()
	}
	wg.Wait()
}

// read issues consistency reads at nd until ctx ends, alternating
// at_least (with the id of a recent acknowledgement at any region as the
// token) and max_lag, and returns what each answered.
func (s *scheduleRun) read(ctx context.Context, nd *node, r *rand.Rand) []Read {
	var reads []Read
	for i := 0; ctx.Err() == nil; i++ {
		rd := Read{Region: nd.region, Mode: "max_lag", MaxLag: ReadMaxLag}
		c := &wire.ConsistencyReq{Mode: "max_lag", MaxLag: ReadMaxLag.String()}
		if i%2 == 0 {
			s.boardMu.Lock()
			if n := len(s.board); n > 0 {
				rd.Mode, rd.Token, rd.MaxLag = "at_least", s.board[n-1-r.IntN(min(n, 64))], 0
			}
			s.boardMu.Unlock()
			if rd.Token != "" {
				c = &wire.ConsistencyReq{Mode: "at_least", Token: rd.Token, Timeout: "1s"}
			}
		}
		rd.Start = s.since()
		rctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := nd.client.Authorize(rctx, wire.AuthorizeRequest{Principal: "anonymous", Action: "s3:GetObject",
			Resource: "arn:aws:s3:::chaos-reads/x", Consistency: c})
		cancel()
		rd.End = s.since()
		if err != nil {
			var ae *apiclient.Error
			if errors.As(err, &ae) {
				rd.Code = ae.Code
			} else {
				rd.Code = "transport"
			}
		} else {
			rd.Answered, rd.Vector = true, resp.View.Vector
			rd.Above, rd.AboveTruncated = resp.View.Above, resp.View.AboveTruncated
		}
		reads = append(reads, rd)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+r.IntN(30)) * time.Millisecond):
		}
	}
	return reads
}

// ReadMaxLag is the bound the readers' max_lag reads ask for.
const ReadMaxLag = 500 * time.Millisecond

// probe asks every node whether it still holds each deleted item.
func (s *scheduleRun) probe(ctx context.Context, finals []Final, items []Item) {
	var wg sync.WaitGroup
	for i, nd := range s.c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			finals[i].Present = map[string]bool{}
			for _, it := range items {
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				resp, err := nd.client.Authorize(rctx, wire.AuthorizeRequest{Principal: it.Principal, Action: it.Action, Resource: it.Resource})
				cancel()
				if err == nil {
					finals[i].Present[it.Key()] = it.present(resp.Authenticated, resp.Decision == "Allow")
				}
			}
		}()
	}
	wg.Wait()
}
