package sim_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

// TestRandomFaultsConverge drives 200 seeded fault schedules (partitions,
// one-way cuts, loss, crashes keeping or losing state) over 3 to 5 regions,
// heals everything at 6 s, and checks that every region converges, with
// every commit applied, within 3 minutes of the heal. A failure names the seed;
// rerun it with the trace: go test ./sim -run TestRandomFaultsConverge -seed N -v.
//
// Lost-state crashes spare the region that commits: a region that loses the
// only copy of a committed mutation loses it for good (the truth keeps it),
// which is a replication durability question, not a convergence one.
func TestRandomFaultsConverge(t *testing.T) {
	all := []string{"us-east-2", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1"}
	first, last := uint64(1), uint64(200)
	if *seedFlag != 0 {
		first, last = *seedFlag, *seedFlag
	}
	const heal = 6 * time.Second
	for seed := first; seed <= last; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		regions := all[:3+r.IntN(3)]
		var trace traceBuf
		o := opts{seed: seed, prop: mustD(delay.Exponential(time.Second)),
			latency: mustD(delay.Uniform(5*time.Millisecond, 80*time.Millisecond)), loss: 0.05 * r.Float64()}
		if *seedFlag != 0 {
			o.trace = &trace.Buffer
		}
		s := build(t, regions, o)
		var faults []sim.FaultID
		crashed := map[string]bool{}
		var ids []replication.MutationID
		for k := range 6 {
			at := time.Duration(r.IntN(5000)) * time.Millisecond
			switch r.IntN(5) {
			case 0:
				cut := 1 + r.IntN(len(regions)-1)
				s.Schedule(at, func() { faults = append(faults, s.Partition([][]string{regions[:cut], regions[cut:]})) })
			case 1:
				a, b := regions[r.IntN(len(regions))], regions[r.IntN(len(regions))]
				s.Schedule(at, func() { faults = append(faults, s.PartitionOneWay(a, b)) })
			case 2:
				p := r.Float64()
				s.Schedule(at, func() { faults = append(faults, s.SetLoss(p)) })
			case 3, 4:
				reg := regions[1+r.IntN(len(regions)-1)]
				lose := r.IntN(2) == 0
				s.Schedule(at, func() { crashed[reg] = true; s.Crash(reg, lose) })
			}
			s.Schedule(at+time.Millisecond, func() {
				m, err := s.Commit(regions[0], createUser(fmt.Sprintf("u%d", k)))
				if err != nil {
					t.Errorf("seed %d: commit %d: %v", seed, k, err)
					return
				}
				ids = append(ids, m.ID)
			})
		}
		s.Schedule(heal, func() {
			for _, f := range faults {
				s.Heal(f)
			}
			for _, reg := range regions {
				if crashed[reg] {
					s.Restart(reg)
				}
			}
		})
		at, ok := s.RunUntilConverged(heal, heal+3*time.Minute)
		if !ok {
			t.Errorf("seed %d: not converged 3 min after the heal (rerun with -seed %d -v for the trace)", seed, seed)
		}
		for _, reg := range regions {
			for _, id := range ids {
				if !s.Has(reg, id) {
					t.Errorf("seed %d: %s lacks %s at %s", seed, reg, id, at)
				}
			}
		}
		if *seedFlag != 0 {
			t.Logf("seed %d converged %s after the heal; trace:\n%s", seed, at-heal, trace.String())
		}
	}
}
