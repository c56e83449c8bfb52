// Command validate compares the simulator with two published gossip models
// and prints the markdown tables of docs/validation.md:
//
//   - HashiCorp Serf's convergence simulator (a logistic infection curve,
//     computed here with the formula of its web page, see serfConvergence):
//     time for one rumor to reach 99.99% of N nodes, fanout 3, interval 200 ms, no loss;
//   - Demers et al. 1987 rumor mongering: the residue s (fraction never
//     reached) against s = e^-(k+1)(1-s), with k+1 the measured number of
//     sends per informed node.
//
// Usage: go run ./sim/cmd/validate [-seeds 10] [-big 3]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

func main() {
	seeds := flag.Int("seeds", 10, "seeds per cluster size up to 1,000 nodes")
	big := flag.Int("big", 3, "seeds for 10,000 nodes")
	flag.Parse()
	fmt.Println("| nodes | seeds | simulated p50 (s) | min (s) | max (s) | Serf logistic model (s) | simulated p50 to 50% (s) | Serf to 50% (s) |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range []int{5, 30, 1000, 10000} {
		k := *seeds
		if n >= 10000 {
			k = *big
		}
		var ts, halves []float64
		lan := replication.GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4}
		for seed := 1; seed <= k; seed++ {
			t, _, _ := spread(n, uint64(seed), lan, 0.9999)
			ts = append(ts, t.Seconds())
			half, _, _ := spread(n, uint64(seed), lan, 0.5)
			halves = append(halves, half.Seconds())
		}
		slices.Sort(ts)
		slices.Sort(halves)
		fmt.Printf("| %d | %d | %.2f | %.2f | %.2f | %.1f | %.2f | %.1f |\n", n, k, ts[len(ts)/2], ts[0], ts[len(ts)-1],
			serfConvergence(n, 3, 0.2, 0, 0, 0.9999), halves[len(halves)/2], serfConvergence(n, 3, 0.2, 0, 0, 0.5))
	}
	fmt.Println()
	fmt.Println("| nodes | fanout | retransmit mult | seeds | sends per informed node c = k+1 | simulated residue s | Demers s = e^-c(1-s) |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, row := range []struct{ n, fanout, mult int }{{1000, 1, 1}, {1000, 1, 2}, {1000, 3, 1}, {99, 1, 1}} {
		var res, sends float64
		for seed := 1; seed <= *seeds; seed++ {
			_, reached, sent := spread(row.n, uint64(seed), replication.GossipConfig{Interval: 200 * time.Millisecond, Fanout: row.fanout, RetransmitMult: row.mult}, 2)
			res += 1 - float64(reached)/float64(row.n)
			sends += float64(sent) / float64(reached)
		}
		res /= float64(*seeds)
		c := sends / float64(*seeds)
		fmt.Printf("| %d | %d | %d | %d | %.2f | %.4f | %.4f |\n", row.n, row.fanout, row.mult, *seeds, c, res, demers(c))
	}
}

// serfConvergence is HashiCorp Serf's convergence simulator (the formula
// behind serf.io/docs/internals/simulator.html): a logistic infection curve
// with contact rate fanout/n × (1−loss) × (1−failed) × 0.5 per round,
//
//	infected(x) = n / (1 + (n+1)·e^(−contact·n·x)),
//
// evaluated at whole rounds; it returns the first round's time (seconds) at
// which the infected fraction reaches target, as the page's graph does (at
// most 100 rounds).
func serfConvergence(n, fanout int, interval, loss, failed, target float64) float64 {
	contact := float64(fanout) / float64(n) * (1 - loss) * (1 - failed) * 0.5
	nodes := float64(n)
	for round := 0; round < 100; round++ {
		infected := nodes / (1 + (nodes+1)*math.Exp(-contact*nodes*float64(round)))
		if infected/nodes >= target {
			return float64(round) * interval
		}
	}
	return 100 * interval
}

// demers solves s = e^-c(1-s) for its root in (0, 1) by fixed-point iteration
// from 0 (the map is increasing and converges to the smaller root).
func demers(c float64) float64 {
	s := 0.0
	for range 10000 {
		s = math.Exp(-c * (1 - s))
	}
	return s
}

// spread commits one mutation at the first node of an n-node cluster with
// zero latency, zero apply delay and no push/pull (pure rumor mongering), and
// runs until the queue is empty. It returns the instant the fraction target of
// nodes had applied it (0 if never), how many nodes did, and how many messages
// were delivered.
func spread(n int, seed uint64, g replication.GossipConfig, target float64) (time.Duration, int, uint64) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("r%05d", i)
	}
	init := controlplane.NewState()
	init.Apply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	zero, _ := delay.Constant(0)
	s, err := sim.New(sim.Config{Regions: names, Seed: seed, Gossip: g, Delay: delay.NewModel(zero), Initial: init})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	need := int(math.Ceil(target * float64(n)))
	reached := 0
	var at time.Duration
	s.OnApply(func(t time.Duration, _ string, _ replication.Mutation) {
		reached++
		if reached == need {
			at = t
		}
	})
	s.Schedule(0, func() {
		if _, err := s.Commit(names[0], controlplane.Call{Action: "iam:CreateUser", Args: json.RawMessage(`{"user_name":"alice"}`)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	})
	s.RunUntil(10 * time.Minute)
	return at, reached, s.Stats().Deliveries
}
