package replay

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/evaluator"
)

// Measurement is what Measure found in each trial: per window, how long
// its region decided the old way, and when.
type Measurement struct {
	Trials int
	// seconds[w][t] is window w's exposure (or denial) in trial t.
	seconds [][]float64
	// stale[w] holds, over all trials, the spans in which window w's
	// region decided the old way; within one trial they do not overlap.
	stale [][]span
}

type span struct{ from, until time.Duration }

// Measure runs trials Monte Carlo trials of the replay's windows. A trial
// draws, from model, the apply instant of every applied change in every
// region other than the one that committed it (commit + a delay from the
// origin -> region distribution; S3 object writes apply at once), as the
// simulator's nodes do, and folds each window's region view from those
// instants: the region decides a window's triple as the truth after the
// changes it has applied, without those still in flight. Decisions are
// cached per (triple, view), so a trial costs the windows' few view
// changes, not the requests; trial i uses seed+i.
//
// Unlike `scenario run` of the emitted scenario, no gossip network is
// simulated: a change reaches a region when its delay has passed (the
// simulator applies on receipt when receipt is later, milliseconds
// without faults). The figures agree with the runner's within sampling
// error (TestMeasureAgreesWithRunner).
func (a *Analysis) Measure(model *delay.Model, trials int, seed uint64) *Measurement {
	p := a.Plan
	m := &Measurement{Trials: trials, seconds: make([][]float64, len(a.Windows)), stale: make([][]span, len(a.Windows))}
	for w := range a.Windows {
		m.seconds[w] = make([]float64, trials)
	}
	regionIdx := map[string]int{}
	for i, r := range a.Regions {
		regionIdx[r] = i
	}
	R := len(a.Regions)
	commit := make([]time.Duration, len(p.Changes))
	delayed := make([]bool, len(p.Changes)) // applied, and not applied on receipt
	for j, c := range p.Changes {
		commit[j] = p.at(c.Time)
		delayed[j] = c.Applied && !controlplane.IsDataPlane(c.Call.Action)
	}
	applyAt := make([]time.Duration, len(p.Changes)*R)
	maxDelay := make([]time.Duration, R)
	v := &viewCache{a: a, decisions: map[string]bool{}, states: map[string]*controlplane.State{}}
	affects := make(map[int][]int32) // per triple with a window: the changes that may change it
	for _, w := range a.Windows {
		if _, ok := affects[w.tuple]; !ok {
			affects[w.tuple] = mergeSorted(a.touches[w.tuple], a.global)
		}
	}
	var bounds []time.Duration
	var inflight []int32
	for t := range trials {
		rng := rand.New(rand.NewPCG(seed+uint64(t), 0x9e3779b97f4a7c15))
		clear(maxDelay)
		for j := range p.Changes {
			c := &p.Changes[j]
			for ri, r := range a.Regions {
				at := commit[j]
				if delayed[j] && r != c.Region {
					d := model.Sample(c.Region, r, c.Revoke, rng)
					at += d
					maxDelay[ri] = max(maxDelay[ri], d)
				}
				applyAt[j*R+ri] = at
			}
		}
		for wi := range a.Windows {
			w := &a.Windows[wi]
			ri := regionIdx[w.Region]
			aff := affects[w.tuple]
			// The changes that can be in flight in the window: committed
			// before it ends, applied in the region after it starts.
			end := sort.Search(len(aff), func(i int) bool { return commit[aff[i]] >= w.Until })
			bounds = append(bounds[:0], w.From, w.Until)
			begin := end
			for begin > 0 && commit[aff[begin-1]]+maxDelay[ri] > w.From {
				begin--
			}
			for _, j := range aff[begin:end] {
				if c := commit[j]; c > w.From {
					bounds = append(bounds, c)
				}
				if ap := applyAt[int(j)*R+ri]; ap > w.From && ap < w.Until {
					bounds = append(bounds, ap)
				}
			}
			slices.Sort(bounds)
			bounds = slices.Compact(bounds)
			var total time.Duration
			open := false
			for bi := 0; bi+1 < len(bounds); bi++ {
				at := bounds[bi]
				// The view at this instant: the truth after the last
				// change committed so far, minus those still in flight.
				n := sort.Search(end, func(i int) bool { return commit[aff[i]] > at })
				last := int32(-1)
				if n > 0 {
					last = aff[n-1]
				}
				inflight = inflight[:0]
				for _, j := range aff[min(begin, n):n] {
					if applyAt[int(j)*R+ri] > at {
						inflight = append(inflight, j)
					}
				}
				if v.decide(w.tuple, last, inflight) == w.allow {
					open = false
					continue
				}
				total += bounds[bi+1] - at
				if st := &m.stale[wi]; open {
					(*st)[len(*st)-1].until = bounds[bi+1]
				} else {
					*st = append(*st, span{at, bounds[bi+1]})
					open = true
				}
			}
			m.seconds[wi][t] = total.Seconds()
		}
	}
	return m
}

// mergeSorted merges two ascending lists of change indices.
func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// viewCache decides triples on region views: the truth after change last
// without the changes in flight. It caches decisions per (triple, view)
// and views per (last, in flight), both bounded.
type viewCache struct {
	a         *Analysis
	decisions map[string]bool
	states    map[string]*controlplane.State
	key       []byte
}

func (v *viewCache) decide(k int, last int32, inflight []int32) bool {
	if len(inflight) == 0 {
		// The truth after change last: the triple's own flip history.
		fl := v.a.flips[k]
		n := sort.Search(len(fl), func(i int) bool { return int32(fl[i].change) > last })
		if n == 0 {
			return v.a.initial[k]
		}
		return fl[n-1].allow
	}
	v.key = binary.AppendVarint(v.key[:0], int64(last))
	for _, j := range inflight {
		v.key = binary.AppendVarint(v.key, int64(j))
	}
	viewLen := len(v.key)
	v.key = binary.AppendVarint(v.key, int64(k))
	if d, ok := v.decisions[string(v.key)]; ok {
		return d
	}
	st, ok := v.states[string(v.key[:viewLen])]
	if !ok {
		// Start from the truth before the first change in flight and fold
		// the rest, skipping those in flight.
		p := v.a.Plan
		st = v.a.before[inflight[0]].Clone()
		next := 0
		for j := inflight[0]; j <= last; j++ {
			if next < len(inflight) && inflight[next] == j {
				next++
				continue
			}
			if p.Changes[j].Applied {
				st.Apply(p.Changes[j].Call)
			}
		}
		// Windows of one change come together (they are ordered by
		// start), and a decision once made is cached: a few views suffice.
		if len(v.states) >= 256 {
			clear(v.states)
		}
		v.states[string(v.key[:viewLen])] = st
	}
	t := v.a.Plan.triples[k]
	d := st.Decide(controlplane.Probe{Principal: t.principal, Action: t.action, Resource: t.resource}).Effect == evaluator.Allow
	if len(v.decisions) >= 1<<20 {
		clear(v.decisions)
	}
	v.decisions[string(v.key)] = d
	return d
}

// Probability is the share of trials in which window w's region still
// decided the old way at instant at: for a suspect request, that it was
// served by a stale view.
func (m *Measurement) Probability(w int, at time.Duration) float64 {
	if w < 0 || m.Trials == 0 {
		return 0
	}
	n := 0
	for _, s := range m.stale[w] {
		if s.from <= at && at < s.until {
			n++
		}
	}
	return round3(float64(n) / float64(m.Trials))
}

// Seconds is window w's exposure (or denial) in each trial.
func (m *Measurement) Seconds(w int) []float64 { return m.seconds[w] }
