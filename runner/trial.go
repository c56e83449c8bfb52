package runner

import (
	"fmt"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/sim"
)

// maxTimelineSamples bounds the probe samples kept for the first trial's
// timeline, so a long scenario cannot blow up the HTML report.
const maxTimelineSamples = 5000

// trialResult is everything one trial measured. It is folded into the
// aggregate in trial order, so the aggregate is deterministic.
type trialResult struct {
	index     int
	seed      uint64
	probes    []probeResult // in scenario probe order
	lags      [][]float64   // per region index: seconds, one per applied mutation from a step
	converged bool
	// convergedAt is, per region index, the instant (seconds) of the region's
	// last apply when it ended converged, or -1.
	convergedAt []float64
	rejected    []string // steps rejected at their origin (AWS errors), for the report
	timeline    *report.Timeline
	err         error

	// missing: when not converged (sim), what each region lacked and why.
	missing []report.MissingMutation
}

// probeResult is one probe's measurement in one trial.
type probeResult struct {
	exposure, denial time.Duration
	// With an intended access: how long the region's answer, and the
	// truth's, differed from it.
	regionAgainstIntent, truthAgainstIntent time.Duration
	requests                                int
	staleAllows                             int
	staleDenies                             int
	confidentialReads                       int
	waits                                   []float64 // at_least: seconds each sampled request waited
}

// decision is a region's or the truth's answer to one probe at one instant.
type decision uint8

const (
	decDeny decision = iota
	decAllow
	decDown // the region is crashed and serves nothing
)

func toDecision(e evaluator.Effect) decision {
	if e == evaluator.Allow {
		return decAllow
	}
	return decDeny
}

// probeTrack follows one probe through a trial: the region's and the truth's
// decisions are step functions of virtual time, so the stale intervals are
// exact, and the served samples are counted analytically per interval.
type probeTrack struct {
	spec          *scenarios.Probe
	request       controlplane.Probe
	region        int
	regionDec     decision
	truthDec      decision
	objectInTruth bool
	last          time.Duration // accounted up to here
	res           probeResult
	// at_least consistency: the token's mutation, once committed.
	token       *replication.MutationID
	waitingFrom time.Duration // start of the current wait, when waiting
	waiting     bool
	// open stale window (timeline)
	openKind string
	openFrom time.Duration
	bucket   string
	key      string
	// truthSteps, when set (live replays), records the truth's decision
	// after every change, to judge the decisions the live region served.
	truthSteps *[]truthStep
}

// truthStep is the truth's decision for a probe from an instant on.
type truthStep struct {
	at     time.Duration
	dec    decision
	object bool
}

// staleKind says what the current pair of decisions is.
func (p *probeTrack) staleKind() string {
	switch {
	case p.regionDec == decAllow && p.truthDec == decDeny:
		return "exposure"
	case p.regionDec == decDeny && p.truthDec == decAllow:
		return "denial"
	}
	return ""
}

// samplesIn counts the probe's periodic requests with instants in [from, to).
func (p *probeTrack) samplesIn(from, to time.Duration) int {
	s := p.spec
	if s.Every <= 0 {
		return 0
	}
	from = max(from, s.From)
	to = min(to, s.Until)
	if to <= from {
		return 0
	}
	// first k with From + k*Every >= from, last k with From + k*Every < to
	first := (from - s.From + s.Every - 1) / s.Every
	last := (to - s.From - 1) / s.Every
	if last < first {
		return 0
	}
	return int(last - first + 1)
}

// views is what measurement reads: the simulator while it runs, or a replay
// of a live run's commit and apply instants.
type views interface {
	Now() time.Duration
	View(region string) *controlplane.State
	Truth() *controlplane.State
	Has(region string, id replication.MutationID) bool
}

type trial struct {
	sc       *scenarios.Scenario
	plan     *plan
	sim      *sim.Sim // sim trials only
	v        views
	probes   []*probeTrack
	byRegion [][]*probeTrack
	regionIx map[string]int
	res      *trialResult
	tl       *report.Timeline
	// commits of steps, for lags and tokens
	committedAt map[replication.MutationID]time.Duration
	stepOf      map[replication.MutationID]int
	stepIDs     []*replication.MutationID // per step index, once committed
	lastApply   []time.Duration
	down        []bool
	committing  int // 1 + index of the step being committed, 0 otherwise
}

// newTrial sets up the measurement of one trial over v (the simulator, or a
// replay of a live run) and takes every probe's initial decisions. With
// recordTruth, each probe also records the truth's decisions over time.
func newTrial(p *plan, v views, res *trialResult, keepTimeline, recordTruth bool) *trial {
	sc := p.scenario
	t := &trial{
		sc: sc, plan: p, v: v, res: res,
		regionIx:    map[string]int{},
		committedAt: map[replication.MutationID]time.Duration{},
		stepOf:      map[replication.MutationID]int{},
		stepIDs:     make([]*replication.MutationID, len(sc.Steps)),
		lastApply:   make([]time.Duration, len(sc.Regions)),
		down:        make([]bool, len(sc.Regions)),
		byRegion:    make([][]*probeTrack, len(sc.Regions)),
	}
	for i, r := range sc.Regions {
		t.regionIx[r] = i
	}
	res.lags = make([][]float64, len(sc.Regions))
	if keepTimeline {
		t.tl = newTimeline(sc)
	}
	for i := range sc.Probes {
		spec := &sc.Probes[i]
		pt := &probeTrack{spec: spec, request: p.probeRequests[i], region: t.regionIx[spec.Region]}
		pt.bucket, pt.key = splitS3(spec.Resource)
		pt.regionDec = t.decide(pt, v.View(spec.Region))
		pt.truthDec = t.decide(pt, v.Truth())
		pt.objectInTruth = t.objectExists(pt, v.Truth())
		if recordTruth {
			pt.truthSteps = &[]truthStep{{0, pt.truthDec, pt.objectInTruth}}
		}
		t.probes = append(t.probes, pt)
		t.byRegion[pt.region] = append(t.byRegion[pt.region], pt)
	}
	return t
}

// finishProbes accounts every probe up to the end of the scenario.
func (t *trial) finishProbes(end time.Duration) {
	for _, pt := range t.probes {
		t.account(pt, end)
		t.closeWindow(pt, end)
		if pt.waiting {
			t.endWait(pt, end)
		}
	}
}

// runTrial runs one trial of the scenario with the given seed.
func runTrial(p *plan, index int, seed uint64, keepTimeline bool) *trialResult {
	sc := p.scenario
	res := &trialResult{index: index, seed: seed}
	cfg := sim.Config{
		Regions: sc.Regions,
		Seed:    seed,
		Gossip:  p.gossip,
		Delay:   p.delay,
		Network: p.network,
		Initial: p.initial,
		// The live driver repairs on sight too: sim and live agree.
		PullOnSight: true,
	}
	s, _ := p.sims.Get().(*sim.Sim)
	var err error
	if s != nil {
		err = s.Reset(cfg)
	} else {
		s, err = sim.New(cfg)
	}
	if err != nil {
		res.err = err
		return res
	}
	// Nothing in the result refers to s (views are frozen values), so the
	// next trial may reset it.
	defer p.sims.Put(s)
	t := newTrial(p, s, res, keepTimeline, false)
	t.sim = s
	s.OnCommit(t.onCommit)
	s.OnApply(t.onApply)
	for i := range sc.Steps {
		i := i
		s.Schedule(sc.Steps[i].At, func() { t.commitStep(i) })
	}
	for i := range sc.Faults {
		t.scheduleFault(&sc.Faults[i])
	}
	s.RunUntil(sc.Duration)
	t.finishProbes(sc.Duration)
	res.converged = s.Converged()
	if !res.converged {
		res.missing = t.explainMissing(s, sc.Duration)
	}
	truth := s.Truth().Digest()
	res.convergedAt = make([]float64, len(sc.Regions))
	for i, r := range sc.Regions {
		v := s.View(r)
		if v != nil && v.Digest() == truth {
			res.convergedAt[i] = t.lastApply[i].Seconds()
		} else {
			res.convergedAt[i] = -1
		}
	}
	for _, pt := range t.probes {
		res.probes = append(res.probes, pt.res)
	}
	res.timeline = t.tl
	return res
}

func newTimeline(sc *scenarios.Scenario) *report.Timeline {
	return &report.Timeline{Duration: sc.Duration.Seconds(), Regions: sc.Regions}
}

func (t *trial) decide(pt *probeTrack, view *controlplane.State) decision {
	if view == nil {
		return decDown
	}
	return toDecision(view.Decide(pt.request).Effect)
}

func (t *trial) objectExists(pt *probeTrack, view *controlplane.State) bool {
	if pt.bucket == "" || pt.key == "" || view == nil {
		return false
	}
	return view.ObjectExists(pt.bucket, pt.key)
}

// effectiveRegionDec applies the probe's consistency option to the region's
// raw decision: at_least fails closed (denies) while the token is missing.
func (t *trial) effectiveRegionDec(pt *probeTrack, raw decision) decision {
	if pt.waiting && raw != decDown {
		return decDeny
	}
	return raw
}

// account closes the interval [pt.last, now) with the current decisions.
func (t *trial) account(pt *probeTrack, now time.Duration) {
	from, to := max(pt.last, pt.spec.From), min(now, pt.spec.Until)
	if to > from {
		n := pt.samplesIn(from, to)
		pt.res.requests += n
		switch pt.staleKind() {
		case "exposure":
			pt.res.exposure += to - from
			pt.res.staleAllows += n
			if pt.objectInTruth {
				pt.res.confidentialReads += n
			}
		case "denial":
			pt.res.denial += to - from
			pt.res.staleDenies += n
		}
		if want := pt.spec.Intended; want != "" {
			intended := decDeny
			if want == "allow" {
				intended = decAllow
			}
			// A down region serves nothing: not an answer against intent.
			if pt.regionDec != decDown && pt.regionDec != intended {
				pt.res.regionAgainstIntent += to - from
			}
			if pt.truthDec != intended {
				pt.res.truthAgainstIntent += to - from
			}
		}
		t.recordSamples(pt, from, to)
	}
	if now > pt.last {
		pt.last = now
	}
}

func (t *trial) recordSamples(pt *probeTrack, from, to time.Duration) {
	if t.tl == nil || pt.spec.Every <= 0 || len(t.tl.Samples) >= maxTimelineSamples {
		return
	}
	s := pt.spec
	k := (from - s.From + s.Every - 1) / s.Every
	for at := s.From + k*s.Every; at < to && len(t.tl.Samples) < maxTimelineSamples; at += s.Every {
		t.tl.Samples = append(t.tl.Samples, report.ProbeSample{
			At: at.Seconds(), Probe: s.Name, Region: s.Region,
			Decision: decisionName(pt.regionDec, pt.waiting), Truth: decisionName(pt.truthDec, false),
		})
	}
}

func decisionName(d decision, waiting bool) string {
	switch {
	case d == decDown:
		return "Unavailable"
	case waiting:
		return "Waiting"
	case d == decAllow:
		return "Allow"
	}
	return "Deny"
}

// update re-evaluates a probe after its region's view or the truth changed
// at now, and opens or closes stale windows for the timeline.
func (t *trial) update(pt *probeTrack, now time.Duration, regionChanged, truthChanged bool) {
	t.account(pt, now)
	before := pt.staleKind()
	if regionChanged {
		raw := t.decide(pt, t.v.View(pt.spec.Region))
		if pt.waiting && pt.token != nil && t.v.Has(pt.spec.Region, *pt.token) {
			t.endWait(pt, now)
		}
		pt.regionDec = t.effectiveRegionDec(pt, raw)
	}
	if truthChanged {
		pt.truthDec = t.decide(pt, t.v.Truth())
		pt.objectInTruth = t.objectExists(pt, t.v.Truth())
		if pt.truthSteps != nil {
			*pt.truthSteps = append(*pt.truthSteps, truthStep{now, pt.truthDec, pt.objectInTruth})
		}
	}
	if after := pt.staleKind(); after != before {
		t.closeWindow(pt, now)
		if after != "" {
			pt.openKind, pt.openFrom = after, now
		}
	}
}

func (t *trial) closeWindow(pt *probeTrack, now time.Duration) {
	if pt.openKind == "" {
		return
	}
	from, to := max(pt.openFrom, pt.spec.From), min(now, pt.spec.Until)
	if t.tl != nil && to > from {
		t.tl.Windows = append(t.tl.Windows, report.Window{
			Probe: pt.spec.Name, Region: pt.spec.Region, Kind: pt.openKind,
			From: from.Seconds(), To: to.Seconds(),
		})
	}
	pt.openKind = ""
}

// endWait ends an at_least wait at now: every sampled request issued during
// the wait waited until now, capped by the probe's timeout.
func (t *trial) endWait(pt *probeTrack, now time.Duration) {
	s := pt.spec
	if s.Every > 0 {
		from := max(pt.waitingFrom, s.From)
		k := (from - s.From + s.Every - 1) / s.Every
		for at := s.From + k*s.Every; at < now && at < s.Until; at += s.Every {
			w := now - at
			if s.Timeout > 0 && w > s.Timeout {
				w = s.Timeout
			}
			pt.res.waits = append(pt.res.waits, w.Seconds())
		}
	}
	pt.waiting = false
}

func (t *trial) commitStep(i int) {
	st := &t.sc.Steps[i]
	call := t.plan.stepCalls[i]
	// onCommit runs inside Commit and needs to know which step it is.
	t.committing = i + 1
	_, err := t.sim.Commit(st.Region, call)
	t.committing = 0
	if err != nil {
		t.res.rejected = append(t.res.rejected, fmt.Sprintf("step %d (%s at %s): %v", i+1, st.Call, st.Region, err))
		if t.tl != nil {
			t.tl.Events = append(t.tl.Events, report.TimelineEvent{
				At: t.v.Now().Seconds(), Region: st.Region, Kind: "rejected", Call: st.Call, Label: err.Error(),
			})
		}
		return
	}
}

func (t *trial) onCommit(at time.Duration, region string, m replication.Mutation) {
	t.committedAt[m.ID] = at
	if t.committing > 0 {
		id := m.ID
		t.stepIDs[t.committing-1] = &id
		t.stepOf[id] = t.committing - 1
	}
	if t.tl != nil {
		label := ""
		if i, ok := t.stepOf[m.ID]; ok {
			label = t.sc.Steps[i].Label
		}
		t.tl.Events = append(t.tl.Events, report.TimelineEvent{
			At: at.Seconds(), Region: region, Kind: "commit", Mutation: m.ID.String(), Call: m.Call.Action, Label: label,
		})
	}
	// at_least probes whose token this is start waiting in every region
	// that has not applied it yet.
	started := map[*probeTrack]bool{}
	for _, pt := range t.probes {
		if pt.spec.Consistency != "at_least" || pt.token != nil {
			continue
		}
		if step := pt.spec.AtLeastStep; step > 0 && step <= len(t.stepIDs) && t.stepIDs[step-1] != nil && *t.stepIDs[step-1] == m.ID {
			id := m.ID
			pt.token = &id
			if !t.v.Has(pt.spec.Region, id) {
				t.account(pt, at)
				pt.waiting, pt.waitingFrom = true, at
				started[pt] = true
			}
		}
	}
	for _, pt := range t.probes {
		t.update(pt, at, started[pt], true)
	}
}

func (t *trial) onApply(at time.Duration, region string, m replication.Mutation) {
	ri, ok := t.regionIx[region]
	if !ok {
		return
	}
	t.lastApply[ri] = at
	if c, ok := t.committedAt[m.ID]; ok && m.ID.Origin != region {
		lag := at - c
		t.res.lags[ri] = append(t.res.lags[ri], lag.Seconds())
		if t.tl != nil {
			t.tl.Events = append(t.tl.Events, report.TimelineEvent{
				At: at.Seconds(), Region: region, Kind: "apply", Mutation: m.ID.String(), Call: m.Call.Action, Lag: round(lag.Seconds()),
			})
		}
	}
	for _, pt := range t.byRegion[ri] {
		t.update(pt, at, true, false)
	}
}

func (t *trial) faultEvent(kind, region, label string) {
	if t.tl != nil {
		t.tl.Events = append(t.tl.Events, report.TimelineEvent{At: t.v.Now().Seconds(), Region: region, Kind: kind, Label: label})
	}
}

func (t *trial) scheduleFault(f *scenarios.Fault) {
	s := t.sim
	var heal func()
	switch f.Kind {
	case "partition":
		s.Schedule(f.At, func() {
			id := s.Partition(f.Groups)
			t.faultEvent("fault", "", fmt.Sprintf("partition %v", f.Groups))
			heal = func() { s.Heal(id); t.faultEvent("heal", "", "partition healed") }
		})
	case "partition_oneway":
		s.Schedule(f.At, func() {
			id := s.PartitionOneWay(f.From, f.To)
			t.faultEvent("fault", f.From, fmt.Sprintf("one-way partition %s -> %s", f.From, f.To))
			heal = func() { s.Heal(id); t.faultEvent("heal", f.From, "one-way partition healed") }
		})
	case "loss":
		s.Schedule(f.At, func() {
			id := s.SetLoss(f.Loss)
			t.faultEvent("fault", "", fmt.Sprintf("message loss %.0f%%", f.Loss*100))
			heal = func() { s.Heal(id); t.faultEvent("heal", "", "loss healed") }
		})
	case "latency":
		s.Schedule(f.At, func() {
			id := s.SetLatency(t.plan.faultLatency[f])
			t.faultEvent("fault", "", "latency spike")
			heal = func() { s.Heal(id); t.faultEvent("heal", "", "latency back to normal") }
		})
	case "crash":
		ri := t.regionIx[f.Region]
		s.Schedule(f.At, func() {
			s.Crash(f.Region, f.LoseState)
			t.down[ri] = true
			t.faultEvent("crash", f.Region, map[bool]string{true: "crash, state lost", false: "crash"}[f.LoseState])
			for _, pt := range t.byRegion[ri] {
				t.update(pt, s.Now(), true, false)
			}
			heal = func() {
				s.Restart(f.Region)
				t.down[ri] = false
				t.faultEvent("restart", f.Region, "restart")
				for _, pt := range t.byRegion[ri] {
					t.update(pt, s.Now(), true, false)
				}
			}
		})
	}
	if f.For > 0 {
		s.Schedule(f.At+f.For, func() {
			if heal != nil {
				heal()
			}
		})
	}
}

// splitS3 returns the bucket and key of an S3 object ARN, or "" when the
// resource is not one.
func splitS3(arn string) (bucket, key string) {
	const prefix = "arn:aws:s3:::"
	if len(arn) <= len(prefix) || arn[:len(prefix)] != prefix {
		return "", ""
	}
	rest := arn[len(prefix):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:]
		}
	}
	return rest, ""
}
