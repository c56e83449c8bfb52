package realtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// A live trial runs the public bucket case on real memberlist nodes over
// loopback sockets, in real time. The delay model holds the privacy write
// back for 1.5 s on the way to eu-west-1, so the measured exposure must be
// at least that, plus a little real gossip and scheduling overhead, and the
// requests the live node actually served during it were stale allows.
func TestLiveTrialMeasuresRealExposure(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test; skipped with -short")
	}
	src := strings.NewReplacer("NAME", "live", "DELAY", "1500ms", "duration: 30s", "duration: 4s",
		"until: 30s", "until: 4s").Replace(bucketCase)
	sc, err := scenarios.Parse("live.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	run, err := runner.Run(context.Background(), sc, runner.Options{Trials: 1, Live: true, RealTime: Backends{}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Mode != "live" {
		t.Errorf("mode = %q, want live", run.Mode)
	}
	p := run.Probes[0]
	exposure := time.Duration(p.ExposureSeconds.Max * float64(time.Second))
	// Lower bound: the configured delay. Upper bound: generous, for a
	// loaded 2-core CI machine; on an idle one the overhead is milliseconds.
	if exposure < 1500*time.Millisecond || exposure > 2500*time.Millisecond {
		t.Errorf("live exposure = %v, want 1.5s plus a small overhead", exposure)
	}
	if p.Requests < 30 || p.StaleAllows < 10 || p.StaleAllows > 25 {
		t.Errorf("served %d requests with %d stale allows; want about 40 and 15", p.Requests, p.StaleAllows)
	}
	home := run.Probes[1]
	if home.ExposureSeconds.Max != 0 || home.StaleAllows != 0 {
		t.Errorf("the origin region must never be stale, got %+v", home)
	}
	if !run.Converged {
		t.Error("live cluster did not converge")
	}
	// The privacy write (1s) is in force everywhere once ap-southeast-2
	// applies it (2s of delay); the origin learns so from the acks, later.
	m := run.Mutations[0]
	if m.Complete != 1 || m.CompleteAtSeconds.Max < 3 || m.CompleteAtSeconds.Max > 3.5 {
		t.Errorf("step 1 complete in %d trials at %vs, want 1 at 3s plus a small overhead", m.Complete, m.CompleteAtSeconds.Max)
	}
	if m.KnownComplete != 1 || m.KnownCompleteAtSeconds.Max < m.CompleteAtSeconds.Max {
		t.Errorf("step 1 known complete in %d trials at %vs, want 1 after it was complete (%vs)", m.KnownComplete, m.KnownCompleteAtSeconds.Max, m.CompleteAtSeconds.Max)
	}
}
