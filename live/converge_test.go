package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestFiftyRegionsDisseminateWithoutPushPull: 50 in-process regions on
// loopback with memberlist's Local preset and its periodic push/pull off,
// so rumors and pull on sight are all that carry a commit. Each of a few
// commits must reach every region. The deadline is generous on purpose:
// the assertion is that all 50 get it at all (rumor mongering alone misses
// a region about every other commit here, and without push/pull nothing
// else would fetch it), not how fast; BenchmarkConverge50 measures speed.
func TestFiftyRegionsDisseminateWithoutPushPull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 memberlist nodes; skipped with -short")
	}
	var regions []string
	for i := range 50 {
		regions = append(regions, fmt.Sprintf("region-%02d", i))
	}
	c := startCluster(t, regions, ClusterOptions{Preset: PresetLocal, Tune: func(mc *memberlist.Config) {
		mc.PushPullInterval = 0 // memberlist then never schedules one (joins still exchange state)
	}})
	// Without push/pull a region the rumor missed never catches up, so a
	// generous bound loses nothing: it only keeps a busy machine (fifty
	// nodes beside other tests' processes) from failing a healthy run.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for k := range 5 {
		origin := regions[(k*11)%len(regions)]
		m, err := c.Commit(origin, createUser(fmt.Sprintf("u%d", k)))
		if err != nil {
			t.Fatal(err)
		}
		// Wait for each before the next: a later commit's vector must not
		// be what reveals an earlier one.
		if err := c.WaitApplied(ctx, m.ID); err != nil {
			var lack []string
			for _, r := range regions {
				if !c.Has(r, m.ID) {
					lack = append(lack, r)
				}
			}
			t.Fatalf("commit %d (%s from %s) not applied everywhere (%v): %d regions lack it: %v", k, m.ID, origin, err, len(lack), lack)
		}
	}
}
