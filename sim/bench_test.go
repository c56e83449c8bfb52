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
func BenchmarkConvergeOneMutation(b *testing.B) { benchOneMutation(b, false, false) }

// BenchmarkSpreadOneMutation is BenchmarkConvergeOneMutation run on until
// gossip falls silent (every region has sent the rumor its retransmit
// limit of times): one whole epidemic, what a Monte Carlo trial of one
// change costs, most deliveries being duplicates.
func BenchmarkSpreadOneMutation(b *testing.B) { benchOneMutation(b, true, false) }

// BenchmarkTrialsOneMutation is BenchmarkSpreadOneMutation as a Monte Carlo
// driver runs it: one simulation, Reset for every trial (a new seed each
// time, one initial state), everything timed, the Reset included.
func BenchmarkTrialsOneMutation(b *testing.B) { benchOneMutation(b, true, true) }

func benchOneMutation(b *testing.B, untilQuiet, reset bool) {
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
			var s *Sim
			shared := initialAccount()
			trial := uint64(0)
			cpuAll := cpuSeconds()
			for b.Loop() {
				trial++
				if !reset {
					b.StopTimer()
				}
				t0 := time.Now()
				var err error
				if reset && s != nil {
					err = s.Reset(Config{Regions: names, Seed: trial, Gossip: replication.DefaultLANGossip(), Initial: shared})
				} else if reset {
					s, err = New(Config{Regions: names, Seed: trial, Gossip: replication.DefaultLANGossip(), Initial: shared})
				} else {
					s, err = New(Config{Regions: names, Seed: 1, Gossip: replication.DefaultLANGossip(), Initial: initialAccount()})
				}
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
				if !reset {
					b.StartTimer()
				}
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

// initialAccount is a state with one account, the start of every trial.
func initialAccount() *controlplane.State {
	init := controlplane.NewState()
	init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	return init
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
