package chaos

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestChaosOnRealProcesses builds regionnode and runs short schedules on
// three real processes: every fault kind the schedules draw, then the
// checker on the healed cluster.
func TestChaosOnRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real regionnode processes")
	}
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const seed = 11
	rep, err := Run(ctx, Options{Nodes: 3, Schedules: 2, Duration: 3 * time.Second, Seed: seed, Progress: &progress,
		ReplayCommand: func(s uint64) string {
			return fmt.Sprintf("go run ./cmd/scenario chaos --nodes 3 --duration 3s --replay %d", s)
		}})
	t.Logf("seed %d:\n%s", seed, progress.String())
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if rep.SchedulesRun != 2 {
		t.Fatalf("seed %d: ran %d schedules, want 2", seed, rep.SchedulesRun)
	}
	if !rep.Passed() {
		t.Fatalf("seed %d: failing schedules %v (details above)", seed, rep.FailingSeeds)
	}
	if rep.Acked < 100 {
		t.Errorf("seed %d: only %d mutations acknowledged in two schedules: the workload barely ran", seed, rep.Acked)
	}
	injected := 0
	for _, n := range rep.Faults {
		injected += n
	}
	if injected < 4 {
		t.Errorf("seed %d: only %d faults injected: %v", seed, injected, rep.Faults)
	}
	if rep.DeletesChecked == 0 {
		t.Errorf("seed %d: no deleted item probed for resurrection", seed)
	}
	if rep.Converge.N != 2 || rep.Converge.Max > ConvergenceBound.Seconds() {
		t.Errorf("seed %d: convergence %+v, want both schedules within %v", seed, rep.Converge, ConvergenceBound)
	}
}
