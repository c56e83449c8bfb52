package runner

// The simulator backend: a trial in virtual time, driven by the scenario's
// steps and faults on a sim.Sim, measured as it runs (measure.go).

import (
	"context"
	"fmt"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/sim"
)

// simBackend runs trials in the deterministic simulator (ModeSim), on all
// cores: each trial is independent and its result depends only on its seed.
type simBackend struct{}

func (simBackend) mode() Mode     { return ModeSim }
func (simBackend) parallel() bool { return true }

func (simBackend) trial(_ context.Context, p *plan, index int, seed uint64, keepTimeline bool) *trialResult {
	return runTrial(p, index, seed, keepTimeline)
}

// runTrial runs one trial of the scenario with the given seed.
func runTrial(p *plan, index int, seed uint64, keepTimeline bool) *trialResult {
	sc := p.scenario
	res := &trialResult{index: index, seed: seed}
	cfg := simConfig(p, seed)
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
	t.schedule = s.Schedule
	s.OnCommit(t.onCommit)
	s.OnApply(t.onApply)
	if p.maxLag {
		s.OnBound(t.onBound)
	}
	for i := range sc.Steps {
		i := i
		s.Schedule(sc.Steps[i].At, func() { commitStep(t, s, i) })
	}
	for i := range sc.Faults {
		scheduleFault(t, s, &sc.Faults[i])
	}
	s.RunUntil(sc.Duration)
	t.finishProbes(sc.Duration)
	res.converged = s.Converged()
	if !res.converged {
		res.missing = explainMissing(t, s, sc.Duration)
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
	t.complete(sc.Duration, s.KnownAppliedAt)
	res.timeline = t.tl
	return res
}

// simConfig is the simulator's configuration for one trial of p.
func simConfig(p *plan, seed uint64) sim.Config {
	return sim.Config{
		Regions: p.scenario.Regions,
		Seed:    seed,
		Gossip:  p.gossip,
		Delay:   p.delay,
		Network: p.network,
		Initial: p.initial,
		// The live driver repairs on sight too: sim and live agree.
		PullOnSight: true,
		// Acks make a region's lag known from its peers (max_lag reads)
		// and tell an origin when its mutations are complete
		// (known_complete_at), as live.
		Acks: true,
		// max_lag admission counts the view's age from every region's
		// last ack, so quiet regions keep acking, as live nodes do. Only
		// then: heartbeats are messages, and every message draws from the
		// simulated network's random source.
		AckHeartbeat: ackHeartbeat(p),
	}
}

// ackHeartbeat is the simulated regions' Config.AckHeartbeat: a gossip
// round, as the live driver's, when a probe reads with max_lag; none
// otherwise.
func ackHeartbeat(p *plan) time.Duration {
	if !p.maxLag {
		return 0
	}
	return p.gossip.Interval
}

// commitStep commits step i at its origin in the simulator.
func commitStep(t *trial, s *sim.Sim, i int) {
	call := t.plan.stepCalls[i]
	// onCommit runs inside Commit and needs to know which step it is.
	t.committing = i + 1
	_, err := s.Commit(t.plan.stepRegion[i], call)
	t.committing = 0
	if err != nil {
		t.reject(i, err)
	}
}

// scheduleFault schedules a scenario fault, and its healing, in the
// simulator, and tells the measurement about crashes and restarts.
func scheduleFault(t *trial, s *sim.Sim, f *scenarios.Fault) {
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
			t.crashed(ri, s.Now(), f.LoseState)
			heal = func() {
				s.Restart(f.Region)
				t.restarted(ri, s.Now())
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

// explainMissing lists, at the end of a trial that did not converge, every
// committed mutation a live region lacked and why (sim.Sim.Missing), with
// the reason told in a sentence for the report.
func explainMissing(t *trial, s *sim.Sim, end time.Duration) []report.MissingMutation {
	live := 0
	for _, r := range t.sc.Regions {
		if s.View(r) != nil {
			live++
		}
	}
	sec := func(d time.Duration) string { return report.FormatSeconds(d.Seconds()) }
	var out []report.MissingMutation
	for _, x := range s.Missing() {
		m := report.MissingMutation{
			Region: x.Region, Mutation: x.Mutation.ID.String(), Call: x.Mutation.Call.Action, Reason: x.Reason.String(),
		}
		if i, ok := t.stepOf[x.Mutation.ID]; ok {
			m.Label = t.sc.Steps[i].Label
		}
		if x.NextPushPull >= 0 {
			m.NextPushPullSeconds = round(x.NextPushPull.Seconds())
		}
		switch x.Reason {
		case sim.Pending:
			m.ApplyAtSeconds = round(x.ApplyAt.Seconds())
			m.Detail = fmt.Sprintf("received, but its propagation delay makes it visible only at %s, after the run ended at %s",
				sec(x.ApplyAt), sec(end))
		case sim.InFlight:
			m.Detail = fmt.Sprintf("a message carrying it was still on the wire when the run ended at %s", sec(end))
		case sim.Spreading:
			m.Detail = fmt.Sprintf("not received yet: other regions were still gossiping it when the run ended at %s", sec(end))
		case sim.RumorDied:
			m.Detail = fmt.Sprintf("its rumor died out before reaching %s (each region that had it sent it %d times, the retransmit limit at %d regions); only push/pull repairs that",
				x.Region, replication.RetransmitLimit(t.plan.gossip.RetransmitMult, live), live)
			if x.NextPushPull >= 0 {
				m.Detail += fmt.Sprintf(", and the next push/pull of %s is at %s, after the run ended at %s", x.Region, sec(x.NextPushPull), sec(end))
			} else {
				m.Detail += ", and push/pull is off"
			}
		case sim.CutOff:
			m.Detail = fmt.Sprintf("a network partition cut %s off from every region that held it when the run ended at %s", x.Region, sec(end))
		case sim.Lost:
			m.Detail = "lost for good: its origin lost its state before any other region held it"
			if x.Reported {
				m.Detail += "; " + x.Region + " reports it lost itself, as a live node would"
			}
		case sim.Conflict:
			m.Detail = x.Region + " holds another mutation under this ID (a sequence number reused after its origin lost its state)"
		}
		out = append(out, m)
	}
	return out
}
