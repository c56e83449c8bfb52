package live

import (
	"context"
	"fmt"
	"slices"
	"syscall"
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
			at, _ := n.rn.AppliedAt(n.Region(), id)
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

// BenchmarkIdle50 starts 50 regions in one process on loopback (Local
// preset), lets them settle, and measures the process's CPU time (user +
// system, getrusage) and the gossip bytes sent over a quiet second, with
// heartbeat acks every gossip round (what max_lag admission needs) and
// without them: their cost in a cluster where nothing happens.
//
//	go test -run '^$' -bench Idle50 -benchtime 3x -timeout 10m ./live/
func BenchmarkIdle50(b *testing.B) {
	for _, hb := range []time.Duration{-1, 0} {
		name := map[bool]string{true: "heartbeat=off", false: "heartbeat=round"}[hb < 0]
		b.Run(name, func(b *testing.B) { benchIdle50(b, hb) })
	}
}

func benchIdle50(b *testing.B, hb time.Duration) {
	var regions []string
	for i := range 50 {
		regions = append(regions, fmt.Sprintf("region-%02d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, regions, ClusterOptions{Preset: PresetLocal, Initial: initial(b), Seed: 1, AckHeartbeat: hb})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Shutdown()
	time.Sleep(2 * time.Second)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	sent := func() (bytes uint64) {
		for _, n := range c.Nodes() {
			n.mu.RLock()
			bytes += n.rn.Stats().BytesSent
			n.mu.RUnlock()
		}
		return bytes
	}
	var cpuTotal time.Duration
	var bytesTotal uint64
	for b.Loop() {
		c0, s0 := cpu(), sent()
		time.Sleep(time.Second)
		cpuTotal += cpu() - c0
		bytesTotal += sent() - s0
	}
	b.ReportMetric(float64(cpuTotal.Milliseconds())/float64(b.N), "cpu-ms/s")
	b.ReportMetric(float64(bytesTotal)/float64(b.N)/1e3, "kB-sent/s")
}
