package sim

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

// BenchmarkConvergeOneMutation commits one mutation in an n-node cluster
// (fanout 3, interval 200 ms, no loss, zero apply delay) and runs until every
// node has it. Building the cluster is outside the timer and reported
// apart (build-ns/node). It reports deliveries per second of the runs (wall
// and, less sensitive to a loaded machine, CPU), the same with the builds'
// CPU included, and the simulated convergence time.
func BenchmarkConvergeOneMutation(b *testing.B) { benchOneMutation(b, false) }

// BenchmarkSpreadOneMutation is BenchmarkConvergeOneMutation run on until
// gossip falls silent (every region has sent the rumor its retransmit
// limit of times): one whole epidemic, what a Monte Carlo trial of one
// change costs, most deliveries being duplicates.
func BenchmarkSpreadOneMutation(b *testing.B) { benchOneMutation(b, true) }

func benchOneMutation(b *testing.B, untilQuiet bool) {
	for _, n := range []int{30, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("r%05d", i)
			}
			var deliveries uint64
			var conv time.Duration
			var build time.Duration
			var cpu float64 // CPU seconds of the runs, building excluded
			cpuAll := cpuSeconds()
			for b.Loop() {
				b.StopTimer()
				t0 := time.Now()
				init := controlplane.NewState()
				init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
				s, err := New(Config{Regions: names, Seed: 1, Gossip: replication.DefaultLANGossip(), Initial: init})
				if err != nil {
					b.Fatal(err)
				}
				applied := 0
				s.OnApply(func(at time.Duration, _ string, _ replication.Mutation) {
					applied++
					if applied == n {
						conv = at
					}
				})
				build += time.Since(t0)
				b.StartTimer()
				cpu0 := cpuSeconds()
				s.Schedule(0, func() {
					if _, err := s.Commit(names[0], user("alice")); err != nil {
						b.Fatal(err)
					}
				})
				for t := time.Second; applied < n && t < 120*time.Second; t += time.Second {
					s.RunUntil(t)
				}
				if applied < n {
					b.Fatalf("only %d of %d nodes applied", applied, n)
				}
				if untilQuiet {
					// Push/pull comes 30 s (scaled) after the start at the
					// earliest: by then every rumor has died out.
					s.RunUntil(25 * time.Second)
				}
				cpu += cpuSeconds() - cpu0
				deliveries += s.Stats().Deliveries
			}
			b.ReportMetric(float64(deliveries)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(deliveries)/cpu, "deliveries/cpu-s")
			// The same with each iteration's build included: what a Monte
			// Carlo trial of one change costs from scratch.
			b.ReportMetric(float64(deliveries)/(cpuSeconds()-cpuAll), "deliveries/cpu-s-with-build")
			b.ReportMetric(float64(build.Nanoseconds())/float64(b.N*n), "build-ns/node")
			b.ReportMetric(float64(deliveries)/float64(b.N), "deliveries/op")
			b.ReportMetric(conv.Seconds(), "sim-s-to-all")
		})
	}
}

// cpuSeconds is the process's user + system CPU time. On a shared, loaded
// machine wall-clock rates mostly measure the other processes; per CPU
// second (with -cpu 1, one core) is the figure that load affects least.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
