package sim_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

// BenchmarkNodeMemory builds clusters of growing size and reports the live
// heap per node after every node has applied one mutation, to show that
// memory grows linearly in nodes (the shared Membership keeps peer lists
// out of the per-node cost).
func BenchmarkNodeMemory(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("r%05d", i)
			}
			var perNode float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s, err := sim.New(sim.Config{Regions: names, Seed: 1, Gossip: replication.DefaultLANGossip(),
					Delay: delay.NewModel(mustD(delay.Constant(0))), Initial: initial()})
				if err != nil {
					b.Fatal(err)
				}
				s.Schedule(0, func() { _, _ = s.Commit(names[0], createUser("alice")) })
				s.RunUntil(10 * time.Second)
				runtime.GC()
				runtime.ReadMemStats(&after)
				perNode = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perNode, "heap-B/node")
		})
	}
}

// BenchmarkDeliveries measures the steady-state event loop: a 100-node
// cluster (built outside the timer) under a stream of 10 commits per second,
// 20 ms latency, push/pull every 30 s; it reports delivered messages per wall
// second on one core.
func BenchmarkDeliveries(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("r%03d", i)
	}
	s, err := sim.New(sim.Config{Regions: names, Seed: 1, Gossip: replication.DefaultLANGossip(),
		Delay: delay.NewModel(mustD(delay.Constant(0))), Network: sim.Network{Latency: mustD(delay.Constant(20 * time.Millisecond))},
		Initial: initial()})
	if err != nil {
		b.Fatal(err)
	}
	k := 0
	b.ResetTimer()
	cpu0 := sim.CPUSeconds()
	for b.Loop() {
		// One iteration: one commit and 100 ms of virtual time.
		_, _ = s.Commit(names[k%len(names)], createUser(fmt.Sprintf("u%d", k)))
		k++
		s.RunUntil(s.Now() + 100*time.Millisecond)
	}
	b.ReportMetric(float64(s.Stats().Deliveries)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(s.Stats().Deliveries)/(sim.CPUSeconds()-cpu0), "deliveries/cpu-s")
	// Late arrivals re-fold the view from a checkpoint: what bounds this
	// benchmark (docs/benchmarks.md).
	var applied, refoldApplies, rumors uint64
	for _, r := range names {
		st := s.NodeStats(r)
		applied += st.Applied
		refoldApplies += st.RefoldApplies
		rumors += st.MutationsReceived
	}
	// A gossip packet carries several rumors (memberlist's compound
	// message: each rumor is one of its messages); this counts them.
	b.ReportMetric(float64(rumors)/(sim.CPUSeconds()-cpu0), "rumors/cpu-s")
	b.ReportMetric(float64(refoldApplies)/float64(max(applied, 1)), "refold-applies/apply")
}
