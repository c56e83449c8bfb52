// Package runner replays a scenario in the deterministic simulator, measures
// exposure and denial windows exactly from commit and apply instants, runs
// Monte Carlo trials, checks the scenario's expectations and fills the run
// report.
package runner

import (
	"context"
	"fmt"
	"github.com/iamprop/iamprop/delay"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// Options controls one run.
type Options struct {
	// Seed of the first trial; trial i uses Seed+i. Zero takes the scenario's seed.
	Seed uint64
	// Trials is how many independent trials to run (at least 1).
	Trials int
	// Workers is how many trials run at once; zero means GOMAXPROCS.
	Workers int
	// Progress, when set, is called after each trial is folded in, in order.
	Progress func(done, total int)
	// Live runs each trial on an in-process cluster of real memberlist
	// nodes on loopback, in real time, one trial after another.
	Live bool
	// Cluster, when set, runs the one trial on external regionnode
	// processes, one API URL per region; Token is their API token.
	Cluster []string
	// RealTime provides the clusters of Live and Cluster runs (package
	// runner/realtime, which holds the nodes' credentials for Cluster);
	// without it only the simulator runs.
	RealTime RealTime
	// Observer, when set, receives each trial's measurements as the trial
	// is measured (package runner/runmetrics publishes them on /metrics).
	Observer Observer
	// OnTrial, when set, receives each trial's own measurements, in trial
	// order: what a comparison of two runs' distributions needs (the
	// report keeps only their statistics).
	OnTrial func(TrialSample)
}

// TrialSample is one trial's measurements: per probe (scenario order) its
// exposure and denial windows, per region (scenario order) the lag of every
// step's mutation it applied.
type TrialSample struct {
	Index    int
	Seed     uint64
	Exposure []float64 // seconds, per probe
	Denial   []float64 // seconds, per probe
	// StaleAllows counts, per probe, the stale allows served: analytic in
	// the simulator, the nodes' real answers live. StaleDenies counts the
	// stale denials, Requests the requests the probe made.
	StaleAllows []float64
	StaleDenies []float64
	Requests    []float64
	Lags        [][]float64
	Converged   bool
	// CompleteAt and KnownCompleteAt are, per step (scenario order), the
	// seconds at which its mutation was complete and known complete at
	// its origin; -1 when the step did not commit or did not get there
	// within the run.
	CompleteAt      []float64
	KnownCompleteAt []float64
	// CommitAt is, per step (scenario order), the second at which its
	// origin committed it, or -1: live, how far the driver's commits are
	// from the steps' `at`.
	CommitAt []float64
}

func (r *trialResult) sample() TrialSample {
	s := TrialSample{Index: r.index, Seed: r.seed, Lags: r.lags, Converged: r.converged}
	for _, p := range r.probes {
		s.Exposure = append(s.Exposure, p.exposure.Seconds())
		s.Denial = append(s.Denial, p.denial.Seconds())
		s.StaleAllows = append(s.StaleAllows, float64(p.staleAllows))
		s.StaleDenies = append(s.StaleDenies, float64(p.staleDenies))
		s.Requests = append(s.Requests, float64(p.requests))
	}
	for _, c := range r.completions {
		complete, known, commit := -1.0, -1.0, -1.0
		if c.committed {
			commit = c.committedAt.Seconds()
		}
		if c.complete {
			complete = c.completeAt.Seconds()
		}
		if c.known {
			known = c.knownAt.Seconds()
		}
		s.CompleteAt = append(s.CompleteAt, complete)
		s.KnownCompleteAt = append(s.KnownCompleteAt, known)
		s.CommitAt = append(s.CommitAt, commit)
	}
	return s
}

// Run runs the scenario on the backend opts choose (the simulator unless
// Live or Cluster is set) and returns its report. An error
// means the scenario could not run at all (for example an initial state AWS
// would reject); failed expectations are reported in Run.Passed instead.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options) (*report.Run, error) {
	p, seed, err := prepare(sc, &opts)
	if err != nil {
		return nil, err
	}
	b, err := backendFor(opts)
	if err != nil {
		return nil, err
	}
	workers := 1
	if b.parallel() {
		workers = opts.Workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		workers = min(workers, opts.Trials)
	}
	one := func(i int) *trialResult { return b.trial(ctx, p, i, seed+uint64(i), i == 0) }
	f := newFolder(sc, p, seed, b.mode(), opts)
	if err := runTrials(ctx, one, opts.Trials, workers, f.fold); err != nil {
		return nil, err
	}
	return f.finish(), nil
}

// prepare builds the scenario's plan and settles opts.Trials (at least 1)
// and the seed of trial 0.
func prepare(sc *scenarios.Scenario, opts *Options) (*plan, uint64, error) {
	p, err := newPlan(sc)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", sc.Name, err)
	}
	if opts.Trials < 1 {
		opts.Trials = 1
	}
	seed := opts.Seed
	if seed == 0 {
		seed = sc.Seed
	}
	return p, seed, nil
}

// folder folds a run's trial results, in trial order, into its report.
type folder struct {
	sc   *scenarios.Scenario
	p    *plan
	mode Mode
	opts Options
	agg  *aggregate
}

func newFolder(sc *scenarios.Scenario, p *plan, seed uint64, mode Mode, opts Options) *folder {
	agg := newAggregate(sc, seed, opts.Trials)
	agg.run.Mode = mode.String()
	describeScenario(agg.run, sc, p)
	if opts.Observer != nil {
		opts.Observer.RunStarted(sc, mode)
	}
	return &folder{sc: sc, p: p, mode: mode, opts: opts, agg: agg}
}

// fold adds the next trial's result (its error stops the run).
func (f *folder) fold(r *trialResult) error {
	if r.err != nil {
		return fmt.Errorf("%s: trial %d (seed %d): %w", f.sc.Name, r.index, r.seed, r.err)
	}
	f.agg.add(r)
	if f.opts.Observer != nil || f.opts.OnTrial != nil {
		s := r.sample()
		if f.opts.Observer != nil {
			f.opts.Observer.TrialMeasured(f.sc, f.mode, s)
		}
		if f.opts.OnTrial != nil {
			f.opts.OnTrial(s)
		}
	}
	if f.opts.Progress != nil {
		f.opts.Progress(r.index+1, f.opts.Trials)
	}
	return nil
}

// finish completes the report once every trial is folded.
func (f *folder) finish() *report.Run {
	agg := f.agg
	run := agg.finish()
	// The worst trial's story beside the first's: the simulator replays
	// it from its seed (deterministic), recording its timeline this time.
	if f.mode == ModeSim && agg.worstIndex != 0 && agg.worst.above(agg.first) {
		if w := runTrial(f.p, agg.worstIndex, agg.worstSeed, true); w.err == nil && w.timeline != nil {
			run.Worst = &report.WorstTrial{Index: agg.worstIndex, Seed: agg.worstSeed,
				ExposureSeconds: round(agg.worst.exposure), DenialSeconds: round(agg.worst.denial), Timeline: w.timeline}
		}
	}
	run.ModelVisibility = modelCurves(run, f.sc, f.p)
	if f.opts.Observer != nil {
		f.opts.Observer.RunFinished(f.sc, f.mode, run.Passed)
	}
	return run
}

// backend runs the trials of one mode: the simulator (simBackend), an
// in-process live cluster (liveBackend) or external region nodes
// (clusterBackend). Measurement is the same for all (trial, in measure.go).
type backend interface {
	// mode names the backend in the report and the metrics.
	mode() Mode
	// parallel reports whether trials may run at once: simulated ones do;
	// real-time trials on real sockets would slow each other's gossip.
	parallel() bool
	// trial runs trial index with seed; keepTimeline records its story.
	trial(ctx context.Context, p *plan, index int, seed uint64, keepTimeline bool) *trialResult
}

// backendFor picks the backend opts ask for.
func backendFor(opts Options) (backend, error) {
	switch {
	case len(opts.Cluster) > 0:
		if opts.Trials != 1 {
			return nil, fmt.Errorf("a cluster run has exactly one trial (the nodes keep their state), got --trials %d", opts.Trials)
		}
		if opts.RealTime == nil {
			return nil, errNoRealTime
		}
		return clusterBackend{rt: opts.RealTime, urls: opts.Cluster}, nil
	case opts.Live:
		if opts.RealTime == nil {
			return nil, errNoRealTime
		}
		return liveBackend{rt: opts.RealTime}, nil
	}
	return simBackend{}, nil
}

// Check prepares a scenario without running it: its initial state goes
// through the control plane's AWS checks and its delay models are built. An
// error names the file and the state entry at fault.
func Check(sc *scenarios.Scenario) error {
	_, err := newPlan(sc)
	return err
}

// runTrials runs trials on workers and hands results to fold strictly in
// trial order, holding at most a bounded number of finished results, so
// memory stays flat in the number of trials and the fold is deterministic.
func runTrials(ctx context.Context, one func(int) *trialResult, trials, workers int, fold func(*trialResult) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	results := make(chan *trialResult, workers)
	// window bounds how far ahead of the fold the workers may run.
	window := make(chan struct{}, 4*workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := one(i)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; i < trials; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	pending := map[int]*trialResult{}
	want := 0
	for r := range results {
		pending[r.index] = r
		for {
			r, ok := pending[want]
			if !ok {
				break
			}
			delete(pending, want)
			want++
			<-window
			if err := fold(r); err != nil {
				cancel()
				for range results {
				}
				return err
			}
		}
		if want == trials {
			break
		}
	}
	if err := ctx.Err(); err != nil && want < trials {
		return err
	}
	return nil
}

// aggregate folds trial results into the report's statistics.
type aggregate struct {
	sc         *scenarios.Scenario
	run        *report.Run
	exposure   []Distribution
	denial     []Distribution
	waits      []Distribution
	histograms [][]float64
	denialHist [][]float64
	// against intent: region and truth, per probe with an intended access
	regionIntent, truthIntent []Distribution
	// worst is the trial with the longest total exposure so far, on a tie
	// the longest total denial (a denial-only case has a worst trial too);
	// the first such trial on a tie of both, by trial index.
	worst, first windowTotals
	worstIndex   int
	worstSeed    uint64
	lags         []Distribution
	convergedAt  []Distribution
	probes       []report.Probe
	confReads    []int
	rejected     []string
	reasons      map[string]int // missing pairs by reason, over unconverged trials
	// per step: complete_at, known_complete_at and their difference
	completeAt, knownAt, knownAfter []Distribution
	mutations                       []report.Mutation
}

// windowTotals are one trial's exposure and denial windows, summed over
// its probes (seconds).
type windowTotals struct{ exposure, denial float64 }

// above orders trials by harm: exposure first, denial on a tie.
func (w windowTotals) above(o windowTotals) bool {
	return w.exposure > o.exposure || (w.exposure == o.exposure && w.denial > o.denial)
}

// maxHistogramSample caps the per-trial exposure values kept for the HTML
// histogram (a deterministic prefix of the trials).
const maxHistogramSample = 10000

func newAggregate(sc *scenarios.Scenario, seed uint64, trials int) *aggregate {
	a := &aggregate{
		sc: sc,
		run: &report.Run{
			Scenario: sc.Name, Title: sc.Title, Description: sc.Description, Lesson: sc.Lesson,
			Mode: ModeSim.String(), Seed: seed, Trials: trials, Converged: true,
		},
		exposure:     make([]Distribution, len(sc.Probes)),
		denial:       make([]Distribution, len(sc.Probes)),
		waits:        make([]Distribution, len(sc.Probes)),
		histograms:   make([][]float64, len(sc.Probes)),
		denialHist:   make([][]float64, len(sc.Probes)),
		regionIntent: make([]Distribution, len(sc.Probes)),
		truthIntent:  make([]Distribution, len(sc.Probes)),
		probes:       make([]report.Probe, len(sc.Probes)),
		confReads:    make([]int, len(sc.Probes)),
		lags:         make([]Distribution, len(sc.Regions)),
		convergedAt:  make([]Distribution, len(sc.Regions)),
		completeAt:   make([]Distribution, len(sc.Steps)),
		knownAt:      make([]Distribution, len(sc.Steps)),
		knownAfter:   make([]Distribution, len(sc.Steps)),
		mutations:    make([]report.Mutation, len(sc.Steps)),
	}
	for i, st := range sc.Steps {
		a.mutations[i] = report.Mutation{Step: i + 1, Call: st.Call, Origin: st.Region, Label: st.Label}
	}
	for i, p := range sc.Probes {
		a.probes[i] = report.Probe{Name: p.Name, Region: p.Region, Principal: p.Principal, Action: p.Action, Resource: p.Resource, Intended: p.Intended}
	}
	return a
}

func (a *aggregate) add(r *trialResult) {
	if r.timeline != nil {
		a.run.Timeline = r.timeline
		a.rejected = r.rejected
	}
	if !r.converged {
		a.run.Converged = false
		a.addUnconverged(r)
	}
	var total windowTotals
	for _, pr := range r.probes {
		total.exposure += pr.exposure.Seconds()
		total.denial += pr.denial.Seconds()
	}
	if r.index == 0 {
		a.first = total
	}
	if total.above(a.worst) || (total == a.worst && r.index < a.worstIndex) {
		a.worst, a.worstIndex, a.worstSeed = total, r.index, r.seed
	}
	for i, pr := range r.probes {
		p := &a.probes[i]
		p.Requests += pr.requests
		p.StaleAllows += pr.staleAllows
		p.StaleDenies += pr.staleDenies
		a.confReads[i] += pr.confidentialReads
		a.exposure[i].Add(pr.exposure.Seconds())
		a.regionIntent[i].Add(pr.regionAgainstIntent.Seconds())
		a.truthIntent[i].Add(pr.truthAgainstIntent.Seconds())
		a.denial[i].Add(pr.denial.Seconds())
		for _, w := range pr.waits {
			a.waits[i].Add(w)
		}
		if len(a.histograms[i]) < maxHistogramSample {
			a.histograms[i] = append(a.histograms[i], round(pr.exposure.Seconds()))
			a.denialHist[i] = append(a.denialHist[i], round(pr.denial.Seconds()))
		}
	}
	for i, c := range r.completions {
		if !c.committed {
			continue
		}
		m := &a.mutations[i]
		m.Committed++
		if c.complete {
			m.Complete++
			a.completeAt[i].Add(c.completeAt.Seconds())
		}
		if c.known {
			m.KnownComplete++
			a.knownAt[i].Add(c.knownAt.Seconds())
		}
		if c.complete && c.known {
			a.knownAfter[i].Add((c.knownAt - c.completeAt).Seconds())
		}
	}
	for ri, lags := range r.lags {
		for _, l := range lags {
			a.lags[ri].Add(l)
		}
		if r.convergedAt[ri] >= 0 {
			a.convergedAt[ri].Add(r.convergedAt[ri])
		}
	}
}

// visibilityPoints is the resolution of the t-visibility curves.
const visibilityPoints = 60

func (a *aggregate) finish() *report.Run {
	run := a.run
	for i := range a.probes {
		p := a.probes[i]
		p.ExposureSeconds = a.exposure[i].Stats()
		p.DenialSeconds = a.denial[i].Stats()
		if a.waits[i].Count() > 0 {
			s := a.waits[i].Stats()
			p.LatencySeconds = &s
		}
		if p.Intended != "" {
			rs, ts := a.regionIntent[i].Stats(), a.truthIntent[i].Stats()
			p.RegionAgainstIntentSeconds, p.TruthAgainstIntentSeconds = &rs, &ts
		}
		p.Histogram = a.histograms[i]
		// Only a probe that was ever denied stale carries its denial
		// sample: most are exposure cases, and the JSON stays short.
		if slices.ContainsFunc(a.denialHist[i], func(v float64) bool { return v > 0 }) {
			p.DenialHistogram = a.denialHist[i]
		}
		p.ConfidentialReads = a.confReads[i]
		run.Probes = append(run.Probes, p)
	}
	for i, m := range a.mutations {
		if m.Committed == 0 {
			continue
		}
		m.CompleteAtSeconds = a.completeAt[i].Stats()
		m.KnownCompleteAtSeconds = a.knownAt[i].Stats()
		m.KnownAfterCompleteSeconds = a.knownAfter[i].Stats()
		run.Mutations = append(run.Mutations, m)
	}
	var maxLag float64
	for ri, region := range a.sc.Regions {
		run.Regions = append(run.Regions, report.Region{
			Region:             region,
			LagSeconds:         a.lags[ri].Stats(),
			ConvergedAtSeconds: a.convergedAt[ri].Stats(),
		})
		if a.lags[ri].Count() > 0 {
			maxLag = max(maxLag, a.lags[ri].Stats().Max)
		}
	}
	if maxLag > 0 {
		for ri, region := range a.sc.Regions {
			if a.lags[ri].Count() == 0 {
				continue
			}
			curve := report.VisibilityCurve{Region: region}
			for k := 0; k <= visibilityPoints; k++ {
				t := maxLag * float64(k) / visibilityPoints
				curve.Points = append(curve.Points, [2]float64{round(t), round(a.lags[ri].CDF(t))})
			}
			run.Visibility = append(run.Visibility, curve)
		}
	}
	if run.Timeline != nil {
		sort.SliceStable(run.Timeline.Events, func(i, j int) bool { return run.Timeline.Events[i].At < run.Timeline.Events[j].At })
	}
	a.finishUnconverged()
	run.Expectations = a.checkExpectations()
	run.Passed = true
	for _, e := range run.Expectations {
		if !e.Passed {
			run.Passed = false
		}
	}
	return run
}

// describeScenario copies what the report lists about the scenario: its
// steps, delay model and sources.
func describeScenario(run *report.Run, sc *scenarios.Scenario, p *plan) {
	if m, ok := p.delay.(fmt.Stringer); ok {
		run.Propagation = m.String()
	}
	run.Sources = slices.Clone(sc.Sources)
	for _, st := range sc.Steps {
		run.Steps = append(run.Steps, report.StepInfo{At: st.At.Seconds(), Region: st.Region, Call: st.Call, Label: st.Label})
	}
}

// modelCurves is the delay model's t-visibility per region, from the first
// step's origin, on the measured curves' time axis: what the measured
// curves would be if gossip were instant.
func modelCurves(run *report.Run, sc *scenarios.Scenario, p *plan) []report.VisibilityCurve {
	m, ok := p.delay.(*delay.Model)
	if !ok || len(sc.Steps) == 0 || len(run.Visibility) == 0 {
		return nil
	}
	hi := 0.0
	for _, cv := range run.Visibility {
		for _, pt := range cv.Points {
			hi = max(hi, pt[0])
		}
	}
	if hi <= 0 {
		return nil
	}
	origin := sc.Steps[0].Region
	var out []report.VisibilityCurve
	for _, region := range sc.Regions {
		if region == origin {
			continue // the origin applies its own commit at once
		}
		d := m.Distribution(origin, region, false)
		cv := report.VisibilityCurve{Region: region}
		for k := 0; k < visibilityPoints; k++ {
			t := hi * float64(k) / float64(visibilityPoints-1)
			cv.Points = append(cv.Points, [2]float64{round(t), round(d.CDF(time.Duration(t * float64(time.Second))))})
		}
		out = append(out, cv)
	}
	return out
}
