package sim_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

func netSim(t *testing.T, seed uint64, n sim.Network, trace *bytes.Buffer) *sim.Sim {
	t.Helper()
	cfg := sim.Config{Regions: three, Seed: seed, Gossip: replication.DefaultLANGossip(),
		Delay: delay.NewModel(mustD(delay.Constant(0))), Network: n, Initial: initial()}
	if trace != nil {
		cfg.Trace = trace
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPerLinkLatency: with zero apply delay a region applies on receipt, so a
// 700 ms link override shows up exactly in the first apply on that link.
func TestPerLinkLatency(t *testing.T) {
	const seed = 4
	fast := mustD(delay.Constant(time.Millisecond))
	n := sim.Network{Latency: fast, Links: map[[2]string]delay.Distribution{
		{"us-east-2", "ap-southeast-2"}: mustD(delay.Constant(700 * time.Millisecond)),
		{"eu-west-1", "ap-southeast-2"}: mustD(delay.Constant(700 * time.Millisecond)),
	}}
	s := netSim(t, seed, n, nil)
	applied := map[string]time.Duration{}
	s.OnApply(func(at time.Duration, r string, _ replication.Mutation) { applied[r] = at })
	s.Schedule(0, func() { _, _ = s.Commit("us-east-2", createUser("erin")) })
	s.RunUntil(10 * time.Second)
	eu, ap := applied["eu-west-1"], applied["ap-southeast-2"]
	if eu <= 0 || eu > 201*time.Millisecond {
		t.Errorf("seed %d: eu-west-1 (1 ms link) applied at %s, want within one 200 ms round + 1 ms", seed, eu)
	}
	if ap < 700*time.Millisecond || ap > 901*time.Millisecond {
		t.Errorf("seed %d: ap-southeast-2 (700 ms links) applied at %s, want in [700 ms, 901 ms]", seed, ap)
	}
}

// TestDuplication: duplicated gossip is delivered twice but applied once
// per region, and the cluster converges.
func TestDuplication(t *testing.T) {
	const seed = 8
	var trace bytes.Buffer
	s := netSim(t, seed, sim.Network{Latency: mustD(delay.Uniform(time.Millisecond, 50*time.Millisecond)), Duplicate: 1}, &trace)
	applies := map[string]int{}
	s.OnApply(func(_ time.Duration, r string, _ replication.Mutation) { applies[r]++ })
	s.Schedule(0, func() { _, _ = s.Commit("us-east-2", createUser("frank")) })
	s.RunUntil(5 * time.Second)
	if !s.Converged() {
		t.Fatalf("seed %d: not converged", seed)
	}
	dups := strings.Count(trace.String(), " duplicate ")
	gossip := strings.Count(trace.String(), " gossip\n")
	if dups == 0 || gossip < 2*dups {
		t.Errorf("seed %d: %d duplicates, %d gossip deliveries: want every gossip delivered twice", seed, dups, gossip)
	}
	for _, r := range three {
		if applies[r] != 1 {
			t.Errorf("seed %d: %s applied %d times, want once", seed, r, applies[r])
		}
	}
}

// TestGilbertElliott: the burst channel loses messages at its stationary
// rate, in runs longer than independent loss at that rate would give.
func TestGilbertElliott(t *testing.T) {
	const seed = 12
	ge := &sim.GilbertElliott{GoodToBad: 0.05, BadToGood: 0.25, LossGood: 0, LossBad: 1}
	want := (ge.BadToGood*ge.LossGood + ge.GoodToBad*ge.LossBad) / (ge.GoodToBad + ge.BadToGood) // 1/6
	var trace bytes.Buffer
	s := netSim(t, seed, sim.Network{Latency: mustD(delay.Constant(time.Millisecond)), Burst: ge}, &trace)
	// A steady stream of commits keeps gossip flowing on every link.
	for i := range 400 {
		s.Schedule(time.Duration(i)*100*time.Millisecond, func() { _, _ = s.Commit("us-east-2", createUser("u"+string(rune('a'+i%26))+string(rune('a'+i/26)))) })
	}
	s.RunUntil(45 * time.Second)
	// One directed link's gossip outcomes, in order: true = lost.
	var seq []bool
	for _, line := range strings.Split(trace.String(), "\n") {
		switch {
		case strings.Contains(line, "drop us-east-2>eu-west-1 gossip loss"):
			seq = append(seq, true)
		case strings.Contains(line, " us-east-2>eu-west-1 gossip") && strings.Contains(line, " deliver "):
			seq = append(seq, false)
		}
	}
	lost, runs := 0, 0
	for i, l := range seq {
		if l {
			lost++
			if i == 0 || !seq[i-1] {
				runs++
			}
		}
	}
	if len(seq) < 150 || runs == 0 {
		t.Fatalf("seed %d: only %d messages (%d loss runs) on the link", seed, len(seq), runs)
	}
	rate, meanRun := float64(lost)/float64(len(seq)), float64(lost)/float64(runs)
	// Bounds are several standard deviations wide for this many messages.
	if rate < want/2 || rate > want*2 {
		t.Errorf("seed %d: loss rate %.3f over %d messages, want about %.3f", seed, rate, len(seq), want)
	}
	// Independent loss at 1/6 gives runs of 1.2 on average; the channel's
	// bad state lasts 1/BadToGood = 4 messages.
	if meanRun < 1.6 {
		t.Errorf("seed %d: mean loss run %.2f messages, want bursts (about %.0f)", seed, meanRun, 1/ge.BadToGood)
	}
	t.Logf("seed %d: %d messages, loss rate %.3f (stationary %.3f), mean burst %.2f", seed, len(seq), rate, want, meanRun)
}
