package runner

import (
	"slices"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
)

// minScaledEvery is the shortest probe period Scale produces: exposure
// windows are exact whatever the period, and a live probe asking every
// millisecond would only load the machine the gossip runs on.
const minScaledEvery = 20 * time.Millisecond

// Scale returns a copy of sc with its scenario time multiplied by factor
// (0 < factor): the duration, the steps' and faults' instants and lengths,
// the probes' schedules and consistency bounds, every propagation-delay
// distribution and the push/pull interval. It leaves alone what belongs to
// the transport (the gossip round, network latency and loss), which a live
// cluster cannot scale, and
// drops the expectations, whose thresholds were written for the unscaled
// scenario. A live trial of a 20 s scenario at factor 0.05 takes about a
// second.
func Scale(sc *scenarios.Scenario, factor float64) *scenarios.Scenario {
	d := func(v time.Duration) time.Duration { return time.Duration(float64(v) * factor) }
	out := *sc
	out.Duration = d(sc.Duration)
	out.Expect = nil
	out.Propagation = scenarios.Propagation{Default: scaleDist(sc.Propagation.Default, factor)}
	for _, l := range sc.Propagation.Links {
		out.Propagation.Links = append(out.Propagation.Links, scenarios.Link{From: l.From, To: l.To, Distribution: scaleDist(l.Distribution, factor)})
	}
	if r := sc.Propagation.Revoke; r != nil {
		v := scaleDist(*r, factor)
		out.Propagation.Revoke = &v
	}
	// Push/pull is the scenario's anti-entropy policy, on the scale of
	// its delays and partitions: scaled, the default (30 s) included. The
	// gossip round is the transport's own timing and stays as it is.
	pp := sc.Gossip.PushPullInterval
	if pp <= 0 {
		pp = replication.DefaultLANGossip().PushPullInterval
	}
	out.Gossip.PushPullInterval = d(pp)
	out.Steps = slices.Clone(sc.Steps)
	for i := range out.Steps {
		out.Steps[i].At = d(out.Steps[i].At)
	}
	out.Probes = slices.Clone(sc.Probes)
	for i := range out.Probes {
		p := &out.Probes[i]
		if p.Every > 0 {
			p.Every = max(minScaledEvery, d(p.Every))
		}
		p.From, p.Until, p.MaxLag, p.Timeout = d(p.From), d(p.Until), d(p.MaxLag), d(p.Timeout)
	}
	out.Faults = slices.Clone(sc.Faults)
	for i := range out.Faults {
		out.Faults[i].At, out.Faults[i].For = d(out.Faults[i].At), d(out.Faults[i].For)
	}
	return &out
}

func scaleDist(x scenarios.Distribution, factor float64) scenarios.Distribution {
	d := func(v time.Duration) time.Duration { return time.Duration(float64(v) * factor) }
	x.Value, x.Min, x.Max, x.Mean, x.Stddev, x.Median, x.P99, x.Scale = d(x.Value), d(x.Min), d(x.Max), d(x.Mean), d(x.Stddev), d(x.Median), d(x.P99), d(x.Scale)
	if x.Points != nil {
		pts := make([][2]float64, len(x.Points))
		for i, p := range x.Points {
			pts[i] = [2]float64{p[0] * factor, p[1]}
		}
		x.Points = pts
	}
	return x
}

// ScalePropagation returns p with every delay distribution multiplied by
// factor (0 < factor): "what if the lag were doubled?" for `scenario
// sweep --set propagation.scale=...`. The scenario's time is left alone.
func ScalePropagation(p scenarios.Propagation, factor float64) scenarios.Propagation {
	out := scenarios.Propagation{Default: scaleDist(p.Default, factor)}
	for _, l := range p.Links {
		out.Links = append(out.Links, scenarios.Link{From: l.From, To: l.To, Distribution: scaleDist(l.Distribution, factor)})
	}
	if r := p.Revoke; r != nil {
		v := scaleDist(*r, factor)
		out.Revoke = &v
	}
	return out
}
