package runner

// Measurement, the same for every backend: a trial follows the commit and
// apply instants a backend reports (onCommit, onApply, onBound, crashed,
// restarted) and accounts every probe's exposure and denial windows
// exactly, its served requests analytically, and each step's completion.
// Nothing here drives a cluster: the simulator (simulator.go) calls it as
// it runs, the real-time backends (realtime.go) replay what their nodes
// recorded.

import (
	"fmt"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
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
	// completions, per step (scenario order): when its mutation was
	// complete and known complete at its origin.
	completions []completion
}

// completion is one step's mutation in one trial: whether it committed,
// when the last live region applied it (complete) and when its origin
// could first know every region had (known).
type completion struct {
	committed, complete, known bool
	// committedAt is the commit instant at the step's origin: the step's
	// `at` in the simulator, the node's own commit timestamp live.
	committedAt, completeAt, knownAt time.Duration
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
	spec    *scenarios.Probe
	request *controlplane.PreparedProbe
	// decidedIn and decided: the last view decided and its decision.
	// Views never change once handed out (the simulator's are frozen, a
	// replay's rebuilt on every apply), and a region that applied what the
	// truth did holds the truth's very view, so one decision serves both.
	decidedIn     *controlplane.State
	decided       decision
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
	// max_lag consistency: the region's view may lack commits made since
	// staleSince (replication.Node.BoundSince: the oldest last word of a
	// region, or a known missing commit), so reads are refused (fail
	// closed) from staleSince + MaxLag + 1ns on, the first instant the
	// view's age may exceed MaxLag; crossing numbers the scheduled check
	// of that instant, so a superseded one does nothing.
	stale      bool
	staleSince time.Duration
	refused    bool
	crossing   uint64
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
	// Includes reports whether region's view includes id and every earlier
	// mutation of its origin epoch (replication.Node.Includes).
	Includes(region string, id replication.MutationID) bool
}

// trial is the measurement of one trial: every probe's decisions as step
// functions of time, and the commits and applies of the scenario's steps.
type trial struct {
	sc   *scenarios.Scenario
	plan *plan
	// schedule, when set (the simulator), runs fn at the virtual instant
	// at: the exact instant a max_lag probe's lag crosses its limit.
	// Replays of recorded instants have no future to schedule in.
	schedule func(at time.Duration, fn func())
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
	// stepApplied is, per step and region index, the instant the region
	// last applied the step's mutation, or -1.
	stepApplied [][]time.Duration
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
		stepApplied: make([][]time.Duration, len(sc.Steps)),
	}
	for i := range t.stepApplied {
		t.stepApplied[i] = make([]time.Duration, len(sc.Regions))
		for r := range t.stepApplied[i] {
			t.stepApplied[i][r] = -1
		}
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
		pt := &probeTrack{spec: spec, request: p.probePrepared[i], region: t.regionIx[spec.Region]}
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

// complete fills the result's completions at the end of a trial: a step's
// mutation is complete once every region up at the end has applied it
// (the last such apply), and known complete once known(origin, r, id)
// answers for every region r of the scenario (the latest answer), as the
// origin's propagation status would say complete; instants after end do
// not count.
func (t *trial) complete(end time.Duration, known func(origin, region string, id replication.MutationID) (time.Duration, bool)) {
	t.res.completions = make([]completion, len(t.sc.Steps))
	for i, idp := range t.stepIDs {
		if idp == nil {
			continue
		}
		id := *idp
		c := &t.res.completions[i]
		c.committed, c.complete, c.known = true, true, true
		c.committedAt = t.committedAt[id]
		if controlplane.IsDataPlane(t.sc.Steps[i].Call) {
			// A write is complete, and its region knows it, when it is made.
			at := t.committedAt[id]
			c.completeAt, c.knownAt = at, at
			t.timelineCompletion(i, id, c)
			continue
		}
		for ri, r := range t.sc.Regions {
			if !t.down[ri] {
				at := t.stepApplied[i][ri]
				if at < 0 || at > end {
					c.complete = false
				}
				c.completeAt = max(c.completeAt, at)
			}
			at, ok := known(id.Origin, r, id)
			if !ok || at > end {
				c.known = false
			}
			c.knownAt = max(c.knownAt, at)
		}
		if !c.complete {
			c.completeAt = 0
		}
		if !c.known {
			c.knownAt = 0
		}
		t.timelineCompletion(i, id, c)
	}
}

// timelineCompletion records step i's completion c in the timeline.
func (t *trial) timelineCompletion(i int, id replication.MutationID, c *completion) {
	if t.tl == nil {
		return
	}
	tc := report.Completion{Step: i + 1, Mutation: id.String(), Origin: id.Origin}
	if c.complete {
		v := round(c.completeAt.Seconds())
		tc.CompleteAt = &v
	}
	if c.known {
		v := round(c.knownAt.Seconds())
		tc.KnownCompleteAt = &v
	}
	t.tl.Completions = append(t.tl.Completions, tc)
}

func newTimeline(sc *scenarios.Scenario) *report.Timeline {
	return &report.Timeline{Duration: sc.Duration.Seconds(), Regions: sc.Regions}
}

func (t *trial) decide(pt *probeTrack, view *controlplane.State) decision {
	if view == nil {
		return decDown
	}
	if view != pt.decidedIn {
		pt.decidedIn, pt.decided = view, toDecision(view.DecidePrepared(pt.request).Effect)
	}
	return pt.decided
}

func (t *trial) objectExists(pt *probeTrack, view *controlplane.State) bool {
	if pt.bucket == "" || pt.key == "" || view == nil {
		return false
	}
	return view.ObjectExists(pt.bucket, pt.key)
}

// effectiveRegionDec applies the probe's consistency option to the region's
// raw decision: at_least fails closed (denies) while the token is missing,
// max_lag while the view lags by more than max_lag.
func (t *trial) effectiveRegionDec(pt *probeTrack, raw decision) decision {
	if (pt.waiting || pt.refused) && raw != decDown {
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
		if pt.waiting && pt.token != nil && t.v.Includes(pt.spec.Region, *pt.token) {
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
		kind := "commit"
		if controlplane.IsDataPlane(m.Call.Action) {
			kind = "write"
		}
		t.tl.Events = append(t.tl.Events, report.TimelineEvent{
			At: at.Seconds(), Region: region, Kind: kind, Mutation: m.ID.String(), Call: m.Call.Action, Label: label,
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
			if !t.v.Includes(pt.spec.Region, id) {
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
	if i, ok := t.stepOf[m.ID]; ok {
		t.stepApplied[i][ri] = at
	}
	// A data-plane write (an upload) is in force where it was written, the
	// bucket's region, at once; the copies the other regions' views get on
	// receipt are no lag, since no request for the object is decided there.
	if c, ok := t.committedAt[m.ID]; ok && m.ID.Origin != region && !controlplane.IsDataPlane(m.Call.Action) {
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

// onBound follows a region's BoundSince for its max_lag probes.
func (t *trial) onBound(at time.Duration, region string, since time.Duration, stale bool) {
	ri, ok := t.regionIx[region]
	if !ok {
		return
	}
	for _, pt := range t.byRegion[ri] {
		if pt.spec.Consistency == replication.ModeMaxLag {
			pt.stale, pt.staleSince = stale, since
			t.admitMaxLag(pt, at)
		}
	}
}

// admitMaxLag decides a max_lag probe's admission at now, as
// replication.Node.Admit does (refused once now - BoundSince > MaxLag),
// and schedules the exact crossing instant while it is still admitted.
func (t *trial) admitMaxLag(pt *probeTrack, now time.Duration) {
	limit := pt.spec.MaxLag
	refused := pt.stale && now-pt.staleSince > limit
	pt.crossing++
	if pt.stale && !refused && t.schedule != nil {
		gen, at := pt.crossing, pt.staleSince+limit+1
		t.schedule(at, func() {
			if pt.crossing == gen {
				t.admitMaxLag(pt, at)
			}
		})
	}
	if refused != pt.refused {
		pt.refused = refused
		t.update(pt, now, true, false)
	}
}

// reject records a step its origin rejected (an AWS error) at now.
func (t *trial) reject(i int, err error) {
	st := &t.sc.Steps[i]
	t.res.rejected = append(t.res.rejected, fmt.Sprintf("step %d (%s at %s): %v", i+1, st.Call, st.Region, err))
	if t.tl != nil {
		t.tl.Events = append(t.tl.Events, report.TimelineEvent{
			At: t.v.Now().Seconds(), Region: st.Region, Kind: "rejected", Call: st.Call, Label: err.Error(),
		})
	}
}

// crashed notes that region ri went down at now: its probes are answered
// by nobody until it restarts, and a region that lost its state applies
// the steps again, if at all, after its restart.
func (t *trial) crashed(ri int, now time.Duration, lostState bool) {
	t.down[ri] = true
	if lostState {
		for i := range t.stepApplied {
			t.stepApplied[i][ri] = -1
		}
	}
	t.faultEvent("crash", t.sc.Regions[ri], map[bool]string{true: "crash, state lost", false: "crash"}[lostState])
	for _, pt := range t.byRegion[ri] {
		t.update(pt, now, true, false)
	}
}

// restarted notes that region ri came back at now.
func (t *trial) restarted(ri int, now time.Duration) {
	t.down[ri] = false
	t.faultEvent("restart", t.sc.Regions[ri], "restart")
	for _, pt := range t.byRegion[ri] {
		t.update(pt, now, true, false)
	}
}

func (t *trial) faultEvent(kind, region, label string) {
	if t.tl != nil {
		t.tl.Events = append(t.tl.Events, report.TimelineEvent{At: t.v.Now().Seconds(), Region: region, Kind: kind, Label: label})
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
