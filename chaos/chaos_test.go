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

// TestUnexpectedExitIsReported: a regionnode that dies without the harness
// signalling it (a crash nobody injected) must be reported, and counted
// down so that the heal starts it again; one the harness stops must not.
func TestUnexpectedExitIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real regionnode process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin, err := Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(bin, t.TempDir(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stopAll()
	alone := make(chan string, 4)
	c.exitedAlone = func(region string, _ error) { alone <- region }
	nd := c.nodes[0]
	if err := c.start(nd); err != nil {
		t.Fatal(err)
	}
	if err := c.waitServing(ctx, nd, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.kill9(nd); err != nil { // the harness's own fault: expected
		t.Fatal(err)
	}
	select {
	case r := <-alone:
		t.Fatalf("an injected kill -9 of %s was reported as a crash of its own", r)
	case <-time.After(200 * time.Millisecond):
	}
	if err := c.start(nd); err != nil {
		t.Fatal(err)
	}
	if err := c.waitServing(ctx, nd, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	nd.mu.Lock()
	proc := nd.cmd.Process
	nd.mu.Unlock()
	if err := proc.Kill(); err != nil { // behind the harness's back
		t.Fatal(err)
	}
	select {
	case r := <-alone:
		if r != nd.region {
			t.Fatalf("reported %s, want %s", r, nd.region)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a crash the harness did not cause went unreported")
	}
	if nd.isRunning() {
		t.Error("the crashed node still counts as running, so the heal would not restart it")
	}
}

// TestDivergenceFaultsOnRealProcesses replays one divergence schedule on
// three real processes (seed 39: a corrupt log restarted without
// --recover first, then a wipe at any time): the node must refuse its
// corrupt log, that refusal must not count as a crash, the harness must
// bring it back with --recover, and the readers' answers must be judged.
// Whether the wipe loses commits depends on timing, so findings are
// logged, not asserted.
func TestDivergenceFaultsOnRealProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real regionnode processes")
	}
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const seed = 39
	rep, err := Run(ctx, Options{Nodes: 3, Replay: []uint64{seed}, Duration: 3 * time.Second, Divergence: true, Progress: &progress})
	t.Logf("seed %d:\n%s", seed, progress.String())
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if rep.SchedulesRun != 1 {
		t.Fatalf("seed %d: ran %d schedules, want 1", seed, rep.SchedulesRun)
	}
	sr := rep.Schedules[0]
	if len(sr.Errors) > 0 {
		t.Errorf("seed %d: harness errors %v: an expected refusal counted as a crash, or the --recover restart failed", seed, sr.Errors)
	}
	for _, k := range []string{string(KindCorrupt), CorruptRefused, string(KindWipeNow)} {
		if sr.Faults[k] != 1 {
			t.Errorf("seed %d: %d %s, want 1 (faults %v)", seed, sr.Faults[k], k, sr.Faults)
		}
	}
	if sr.ConvergeSeconds < 0 {
		t.Errorf("seed %d: the views never agreed after the heal: the corrupted node did not come back", seed)
	}
	if rep.Reads == 0 {
		t.Errorf("seed %d: no consistency read was answered and judged", seed)
	}
}
