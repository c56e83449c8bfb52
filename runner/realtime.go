package runner

// The real-time measurement shared by the in-process (--live) and the
// external (--cluster) backends (backend.go, runner/realtime): steps, faults and probes on the wall
// clock through a driver, then a replay of the instants the nodes recorded
// through the same measurement as the simulator (measure.go).

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/wire"
)

// liveSettle bounds how long a live trial waits, after the scenario's
// duration, for every region to converge before it reads apply instants.
const liveSettle = 60 * time.Second

// liveSample is one decision a live region actually served to a probe.
type liveSample struct {
	at      time.Duration
	allowed bool
	refused bool // at_least or max_lag failed closed
	wait    time.Duration
}

// liveCommit is one step committed on the live cluster.
type liveCommit struct {
	step int
	at   time.Duration
	m    replication.Mutation
}

// runDriven runs one real-time trial through a driver.
func runDriven(ctx context.Context, p *plan, c Driver, index int, seed uint64, keepTimeline bool) *trialResult {
	sc := p.scenario
	res := &trialResult{index: index, seed: seed}

	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0) }
	clock := wallClock{since: since, sleep: sleepCtx}
	sleepUntil := func(at time.Duration) bool { return clock.until(ctx, at) }

	var mu sync.Mutex
	var commits []liveCommit
	var rejected []string
	tokens := make([]string, len(sc.Steps)) // mutation id per step, once committed
	samples := make([][]liveSample, len(sc.Probes))

	var wg sync.WaitGroup
	// Probes: each samples its region at its own period, like a client would.
	for i := range sc.Probes {
		pr := &sc.Probes[i]
		if pr.Every <= 0 {
			continue
		}
		wg.Add(1)
		go func(i int, pr *scenarios.Probe) {
			defer wg.Done()
			for at := pr.From; at < pr.Until && at <= sc.Duration; at += pr.Every {
				if !sleepUntil(at) {
					return
				}
				cons := replication.Consistency{Mode: pr.Consistency, Timeout: pr.Timeout, MaxLag: pr.MaxLag}
				if pr.Consistency == "at_least" {
					mu.Lock()
					tok := ""
					if pr.AtLeastStep > 0 && pr.AtLeastStep <= len(tokens) {
						tok = tokens[pr.AtLeastStep-1]
					}
					mu.Unlock()
					if tok == "" {
						cons = replication.Consistency{} // nothing to wait for yet
					} else {
						cons.Token = tok
					}
				}
				issued := since()
				allowed, err := c.Authorize(ctx, pr.Region, p.probeRequests[i], cons)
				s := liveSample{at: issued, wait: since() - issued, allowed: allowed, refused: err != nil}
				mu.Lock()
				samples[i] = append(samples[i], s)
				mu.Unlock()
			}
		}(i, pr)
	}

	// Steps and faults, in time order, on one goroutine.
	type action struct {
		at time.Duration
		do func()
	}
	var actions []action
	for i := range sc.Steps {
		i := i
		st := &sc.Steps[i]
		actions = append(actions, action{st.At, func() {
			m, err := c.Commit(ctx, p.stepRegion[i], p.stepCalls[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rejected = append(rejected, fmt.Sprintf("step %d (%s at %s): %v", i+1, st.Call, st.Region, err))
				return
			}
			tokens[i] = m.ID.String()
			commits = append(commits, liveCommit{step: i, at: m.TS.Time().Sub(t0), m: m})
		}})
	}
	faults := FaultSpec{}
	applyFaults := func() { _ = c.SetFaults(ctx, faults) }
	for i := range sc.Faults {
		f := &sc.Faults[i]
		start, end := liveFault(f, &faults, c, ctx)
		if start == nil {
			continue
		}
		actions = append(actions, action{f.At, func() { start(); applyFaults() }})
		if f.For > 0 {
			actions = append(actions, action{f.At + f.For, func() { end(); applyFaults() }})
		}
	}
	slices.SortStableFunc(actions, func(a, b action) int { return int(a.at - b.at) })
	for _, a := range actions {
		if !clock.untilExactly(ctx, a.at) {
			break
		}
		a.do()
	}
	sleepUntil(sc.Duration)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		res.err = err
		return res
	}
	settle, cancel := context.WithTimeout(ctx, liveSettle)
	converged := c.WaitConverged(settle) == nil
	cancel()

	// Every region's own, exact apply instant of every committed mutation.
	type apply struct {
		at     time.Duration
		region string
		m      replication.Mutation
	}
	var applies []apply
	for _, cm := range commits {
		for _, r := range sc.Regions {
			if r == cm.m.ID.Origin {
				continue
			}
			// Like the simulator, observe the scenario's span only: an apply
			// after the end (the settle wait) is neither a lag nor a window.
			if at, ok := c.AppliedAt(ctx, r, cm.m.ID); ok && at.Sub(t0) <= sc.Duration {
				applies = append(applies, apply{at: at.Sub(t0), region: r, m: cm.m})
			}
		}
	}

	// Replay: the same measurement as in the simulator, driven by the
	// recorded instants.
	rp := newReplay(p.initial, sc.Regions)
	t := newTrial(p, rp, res, keepTimeline, true)
	slices.SortStableFunc(commits, func(a, b liveCommit) int { return int(a.at - b.at) })
	slices.SortStableFunc(applies, func(a, b apply) int { return int(a.at - b.at) })
	ci, ai := 0, 0
	for ci < len(commits) || ai < len(applies) {
		// At equal instants a commit comes first: it cannot be applied
		// elsewhere before it exists.
		if ci < len(commits) && (ai >= len(applies) || commits[ci].at <= applies[ai].at) {
			cm := commits[ci]
			ci++
			rp.commit(cm.at, cm.m)
			t.committing = cm.step + 1
			t.onCommit(cm.at, cm.m.ID.Origin, cm.m)
			t.committing = 0
			t.onApply(cm.at, cm.m.ID.Origin, cm.m)
			continue
		}
		a := applies[ai]
		ai++
		rp.apply(a.at, a.region, a.m)
		t.onApply(a.at, a.region, a.m)
	}
	rp.now = sc.Duration
	t.finishProbes(sc.Duration)
	// When each origin could know its steps complete: its own status.
	known := map[replication.MutationID]map[string]time.Time{}
	for _, cm := range commits {
		known[cm.m.ID] = c.KnownApplied(ctx, cm.m.ID)
	}
	t.complete(sc.Duration, func(_, region string, id replication.MutationID) (time.Duration, bool) {
		at, ok := known[id][region]
		if !ok || at.IsZero() {
			return 0, false
		}
		return at.Sub(t0), true
	})
	// Served decisions: what the live regions actually answered, judged
	// against the truth at the instant each request was issued.
	for i, pt := range t.probes {
		r := &pt.res
		r.requests, r.staleAllows, r.staleDenies, r.confidentialReads, r.waits = 0, 0, 0, 0, nil
		for _, s := range samples[i] {
			r.requests++
			truth := truthAt(*pt.truthSteps, s.at)
			switch {
			case s.allowed && truth.dec != decAllow:
				r.staleAllows++
				if truth.object {
					r.confidentialReads++
				}
			case !s.allowed && truth.dec == decAllow:
				r.staleDenies++
			}
			if pt.spec.Consistency == "at_least" {
				r.waits = append(r.waits, s.wait.Seconds())
			}
		}
		res.probes = append(res.probes, *r)
	}
	res.converged = converged
	res.convergedAt = make([]float64, len(sc.Regions))
	for i := range sc.Regions {
		res.convergedAt[i] = -1
		if converged {
			res.convergedAt[i] = t.lastApply[i].Seconds()
		}
	}
	res.rejected = rejected
	res.timeline = t.tl
	return res
}

// wallClock is how a real-time trial waits for its instants: since reads
// the time from the trial's start; sleep waits about d on a timer (which
// may wake late) and is false if ctx ends first. Tests replace both.
type wallClock struct {
	since func() time.Duration
	sleep func(ctx context.Context, d time.Duration) bool
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// until waits on a timer until the trial's instant at: late by the
// timer's and the scheduler's delay, which a probe's sample tolerates
// (it records the instant it was issued).
func (w wallClock) until(ctx context.Context, at time.Duration) bool {
	return w.sleep(ctx, at-w.since())
}

// stepLead is how long before a step's instant the driver's timer is set
// to wake it; the rest it waits on the clock. Timers on this 2-core
// machine woke steps 0.1 to 15 ms late (median 1 ms), and later at 100 ms
// than at 140 ms (the probes wake at the same instants), which made
// revoke-race's live exposure (the spacing of its two steps) miss its 40
// ms in a quarter of the trials: docs/validation.md.
const stepLead = 10 * time.Millisecond

// spinYield: while more than this remains, the wait on the clock yields
// the processor to the cluster's goroutines between readings.
const spinYield = time.Millisecond

// untilExactly waits until the trial's instant at, for steps and faults:
// the simulator commits a step at its `at` exactly, and the spacing of two
// steps is a window that live trials must reproduce. It wakes stepLead
// early on a timer and then reads the clock until the instant, so a
// timer that wakes late by less than stepLead costs nothing.
func (w wallClock) untilExactly(ctx context.Context, at time.Duration) bool {
	if d := at - stepLead - w.since(); d > 0 && !w.sleep(ctx, d) {
		return false
	}
	for {
		left := at - w.since()
		if left <= 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if left > spinYield {
			runtime.Gosched()
		}
	}
}

func truthAt(steps []truthStep, at time.Duration) truthStep {
	cur := steps[0]
	for _, s := range steps {
		if s.at > at {
			break
		}
		cur = s
	}
	return cur
}

// liveFault returns the start and end of a scenario fault on the live
// cluster's fault-injecting transport (crashes go through the cluster).
func liveFault(f *scenarios.Fault, spec *FaultSpec, c Driver, ctx context.Context) (start, end func()) {
	switch f.Kind {
	case "partition":
		return func() { spec.Partition = f.Groups }, func() { spec.Partition = nil }
	case "partition_oneway":
		return func() { spec.PartitionOneway = &wire.OneWay{From: f.From, To: f.To} }, func() { spec.PartitionOneway = nil }
	case "loss":
		return func() { spec.Links = append(spec.Links, wire.LinkSpec{From: "*", To: "*", Loss: f.Loss}) },
			func() { spec.Links = nil }
	case "crash":
		return func() { _ = c.Crash(ctx, f.Region) }, func() { _ = c.Restart(ctx, f.Region, f.LoseState) }
	}
	return nil, nil
}

// replay rebuilds, from recorded instants, every region's view and the
// truth as they were at each instant: the fold of the mutations applied so
// far, in the replicated order.
type replay struct {
	initial *controlplane.State
	now     time.Duration
	truth   *foldSet
	regions map[string]*foldSet
}

type foldSet struct {
	applied []replication.Mutation
	has     map[replication.MutationID]bool
	view    *controlplane.State
}

func newReplay(initial *controlplane.State, regions []string) *replay {
	rp := &replay{initial: initial, truth: &foldSet{has: map[replication.MutationID]bool{}, view: initial}, regions: map[string]*foldSet{}}
	for _, r := range regions {
		rp.regions[r] = &foldSet{has: map[replication.MutationID]bool{}, view: initial}
	}
	return rp
}

func (f *foldSet) add(initial *controlplane.State, m replication.Mutation) {
	if f.has[m.ID] {
		return
	}
	f.has[m.ID] = true
	f.applied = append(f.applied, m)
	slices.SortFunc(f.applied, func(a, b replication.Mutation) int { return replication.Compare(&a, &b) })
	v := initial.Clone()
	for i := range f.applied {
		if f.applied[i].Call.Action != replication.GapAction {
			v.Apply(f.applied[i].Call)
		}
	}
	f.view = v
}

func (rp *replay) commit(at time.Duration, m replication.Mutation) {
	rp.now = at
	rp.truth.add(rp.initial, m)
	rp.regions[m.ID.Origin].add(rp.initial, m)
}

func (rp *replay) apply(at time.Duration, region string, m replication.Mutation) {
	rp.now = at
	rp.regions[region].add(rp.initial, m)
}

func (rp *replay) Now() time.Duration { return rp.now }
func (rp *replay) View(region string) *controlplane.State {
	if f, ok := rp.regions[region]; ok {
		return f.view
	}
	return nil
}
func (rp *replay) Truth() *controlplane.State { return rp.truth.view }
func (rp *replay) Includes(region string, id replication.MutationID) bool {
	f, ok := rp.regions[region]
	if !ok || id.Seq == 0 {
		return false
	}
	// As replication.Node.Includes: id and every earlier seq of its stream.
	for s := id.Seq; s > 0; s-- {
		if !f.has[replication.MutationID{Origin: id.Origin, Epoch: id.Epoch, Seq: s}] {
			return false
		}
	}
	return true
}
