package runner

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// consistencyProbe runs the library's consistency-token scenario with the
// eu-west-1 attacker-read probe under the given consistency option and
// returns that probe's served counts over the trials.
func consistencyProbe(t *testing.T, mode string, maxLag time.Duration, trials int) report.Probe {
	t.Helper()
	sc, err := scenarios.LoadLibrary("public-s3-bucket-consistency-token")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range sc.Probes {
		p := &sc.Probes[i]
		if p.Name != "attacker-read" {
			continue
		}
		found = true
		p.Consistency, p.MaxLag = mode, maxLag
		if mode != "at_least" {
			p.AtLeastStep, p.Timeout = 0, 0
		}
	}
	if !found {
		t.Fatal("scenario has no attacker-read probe")
	}
	sc.Expect = nil // the library's expectations are about at_least
	run, err := Run(context.Background(), sc, Options{Trials: trials, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range run.Probes {
		if p.Name == "attacker-read" {
			return p
		}
	}
	t.Fatal("no attacker-read in the report")
	return report.Probe{}
}

// TestMaxLagAdmission: a max_lag probe is refused (fails closed) once the
// region knows its view lags by more than max_lag, so it serves far fewer
// stale allows than a local read. The region learns of the privacy write
// when the rumor arrives (within a gossip round), long before it applies it
// (about 4 s later): only the reads before receipt + max_lag can be stale.
func TestMaxLagAdmission(t *testing.T) {
	const trials = 200
	local := consistencyProbe(t, "local", 0, trials)
	maxLag := consistencyProbe(t, "max_lag", 100*time.Millisecond, trials)
	atLeast := consistencyProbe(t, "at_least", 0, trials)
	t.Logf("stale allows over %d trials: local %d, max_lag 100ms %d, at_least %d", trials, local.StaleAllows, maxLag.StaleAllows, atLeast.StaleAllows)
	for _, tc := range []struct {
		name string
		ok   bool
		want string
	}{
		{"local reads are exposed", local.StaleAllows > 20*trials, "more than 20 stale allows a trial"},
		{"max_lag refuses stale reads", maxLag.StaleAllows <= 3*trials, "at most 3 stale allows a trial (reads before receipt + max_lag)"},
		{"max_lag closes most of the window", maxLag.StaleAllows*10 < local.StaleAllows, "a tenth of local's"},
		{"max_lag is no more exposed than at_least plus the gossip round", maxLag.StaleAllows >= atLeast.StaleAllows, "at least at_least's"},
		{"refused reads are not served as allows", maxLag.Requests == local.Requests, "the same requests counted"},
	} {
		if !tc.ok {
			t.Errorf("%s: local %d, max_lag %d, at_least %d stale allows over %d trials; want %s",
				tc.name, local.StaleAllows, maxLag.StaleAllows, atLeast.StaleAllows, trials, tc.want)
		}
	}
}

// TestMaxLagCrossingIsExact: with a constant 6 s delay and zero network
// latency, eu-west-1 receives the privacy write (committed at 1 s) within
// one 200 ms gossip round and holds it until 7 s. A max_lag read is served
// while the lag is at most max_lag and refused from 1 s + max_lag + 1 ns
// on, so the exposure window is exactly max_lag + 1 ns, and the read at
// exactly 1 s + max_lag is still served.
func TestMaxLagCrossingIsExact(t *testing.T) {
	for _, tc := range []struct {
		maxLag      time.Duration
		exposure    time.Duration
		staleAllows int
	}{
		{500 * time.Millisecond, 500*time.Millisecond + 1, 6},    // reads at 1.0 .. 1.5 s
		{250 * time.Millisecond, 250*time.Millisecond + 1, 3},    // 1.0, 1.1, 1.2 s
		{10 * time.Second, 6 * time.Second, 60},                  // never refused: applied at 7 s
		{5999 * time.Millisecond, 5999*time.Millisecond + 1, 60}, // refused from 6.999000001 s: the read at 7.0 s sees the new view
	} {
		t.Run(tc.maxLag.String(), func(t *testing.T) {
			sc := loadCase(t, "maxlag", "6s")
			sc.Probes[0].Consistency, sc.Probes[0].MaxLag = "max_lag", tc.maxLag
			sc.Expect = nil
			var exposure float64 // the report rounds; the trial's own value does not
			run, err := Run(context.Background(), sc, Options{Trials: 1, OnTrial: func(s TrialSample) { exposure = s.Exposure[0] }})
			if err != nil {
				t.Fatal(err)
			}
			p := run.Probes[0]
			if got := time.Duration(math.Round(exposure * 1e9)); got != tc.exposure {
				t.Errorf("exposure = %v, want exactly %v", got, tc.exposure)
			}
			if p.StaleAllows != tc.staleAllows {
				t.Errorf("stale allows = %d, want %d", p.StaleAllows, tc.staleAllows)
			}
			if p.StaleDenies != 0 {
				t.Errorf("stale denies = %d: a refusal while the truth denies is no denial", p.StaleDenies)
			}
		})
	}
}

// TestMaxLagFailsClosedInAPartition: eu-west-1 is cut off from 500 ms to
// 10.5 s, so the privacy write committed at 1 s reaches it only after the
// heal. It never hears of that write, so nothing it knows says its view
// lacks one: a local read serves stale allows for the whole partition. A
// max_lag 1s read must count the view's age from the last word it had of
// the others (just before 500 ms) and be refused from about 1.5 s on, in
// the simulator as in the node.
func TestMaxLagFailsClosedInAPartition(t *testing.T) {
	src := strings.NewReplacer("NAME", "maxlag-partition", "DELAY", "200ms").Replace(bucketCase) +
		"faults:\n  - {at: 500ms, partition: [[eu-west-1], [us-east-2, ap-southeast-2]], for: 10s}\n"
	for _, tc := range []struct {
		mode string
		ok   func(staleAllows int) bool
		want string
	}{
		{"local", func(n int) bool { return n > 80 }, "more than 80 (the partition's 9.5 s of reads)"},
		{"max_lag", func(n int) bool { return n <= 6 }, "at most 6 (reads from 1 s until the last word is 1 s old)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sc, err := scenarios.Parse("maxlag-partition.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			sc.Expect = nil
			sc.Probes[0].Consistency = tc.mode
			if tc.mode == "max_lag" {
				sc.Probes[0].MaxLag = time.Second
			}
			run, err := Run(context.Background(), sc, Options{Trials: 3, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := run.Probes[0]
			if n := p.StaleAllows / 3; !tc.ok(n) {
				t.Errorf("%s read in the cut-off region: %d stale allows a trial, want %s", tc.mode, n, tc.want)
			}
		})
	}
}
