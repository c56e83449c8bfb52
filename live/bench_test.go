package live

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// BenchmarkPropagationOverhead5 measures, on a 5-region loopback cluster
// with memberlist's Local preset, the instant each mutation became visible
// in each other region minus its commit time minus the configured delay:
// what the live cluster adds to the modelled propagation delay (gossip,
// repair of missed rumors, timer slack). Target: p99 under 50ms.
// With delay 0 the figure is the raw gossip latency (the Local preset
// gossips every 100ms, so that one is a few rounds, not under 50ms).
//
//	go test -run '^$' -bench PropagationOverhead5 -benchtime 200x ./live/
func BenchmarkPropagationOverhead5(b *testing.B) {
	for _, delay := range []time.Duration{500 * time.Millisecond, 0} {
		b.Run("delay="+delay.String(), func(b *testing.B) { benchOverhead(b, delay) })
	}
}

func benchOverhead(b *testing.B, lag time.Duration) {
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2", "us-west-2", "sa-east-1"}
	c, err := StartCluster(context.Background(), regions, ClusterOptions{
		Preset: PresetLocal, Initial: initial(b), Seed: 1, Delay: constantDelay(b, lag),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Shutdown()
	var ids []replication.MutationID
	var commits []time.Time
	for i := 0; b.Loop(); i++ {
		origin := regions[i%len(regions)]
		m, err := c.Commit(origin, createUser(fmt.Sprintf("user-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, m.ID)
		commits = append(commits, m.CommitTime())
		time.Sleep(5 * time.Millisecond) // a steady stream, not one burst
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := c.WaitApplied(ctx, id); err != nil {
			b.Fatalf("%s not applied everywhere: %v", id, err)
		}
	}
	var lags []time.Duration
	for i, id := range ids {
		for _, n := range c.Nodes() {
			if n.Region() == id.Origin {
				continue
			}
			n.mu.RLock()
			at := n.visibleAt[id]
			n.mu.RUnlock()
			lags = append(lags, at.Sub(commits[i])-lag)
		}
	}
	slices.Sort(lags)
	q := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkConverge50 starts 50 regions in one process on loopback (Local
// preset), commits one mutation and measures the time until every region
// has applied it.
//
//	go test -run '^$' -bench Converge50 -benchtime 1x -timeout 10m ./live/
func BenchmarkConverge50(b *testing.B) {
	for _, signing := range []bool{false, true} {
		b.Run(fmt.Sprintf("signing=%v", signing), func(b *testing.B) { benchConverge50(b, signing) })
	}
}

func benchConverge50(b *testing.B, signing bool) {
	var regions []string
	for i := range 50 {
		regions = append(regions, fmt.Sprintf("region-%02d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := StartCluster(ctx, regions, ClusterOptions{Preset: PresetLocal, Initial: initial(b), Seed: 1, Signing: signing})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Shutdown()
	joined := time.Since(start)
	var conv []time.Duration
	for i := 0; b.Loop(); i++ {
		m, err := c.Commit(regions[i%len(regions)], createUser(fmt.Sprintf("u%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WaitApplied(ctx, m.ID); err != nil {
			b.Fatalf("not converged: %v", err)
		}
		conv = append(conv, time.Since(m.CommitTime()))
	}
	if err := c.WaitConverged(ctx); err != nil {
		b.Fatal(err)
	}
	slices.Sort(conv)
	b.ReportMetric(float64(conv[len(conv)-1].Milliseconds()), "all-applied-max-ms")
	b.ReportMetric(joined.Seconds(), "join-s")
}
