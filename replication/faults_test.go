package replication

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestRandomFaultsConverge drives five regions through a random minute of
// commits, message loss, partitions and crashes (with the durable log kept
// or lost), then heals everything and checks that anti-entropy brings every
// region to the same view holding every committed mutation. A failure
// prints the seed that reproduces it.
func TestRandomFaultsConverge(t *testing.T) {
	regions := []string{"ap-southeast-2", "eu-west-1", "sa-east-1", "us-east-2", "us-west-2"}
	lostTotal, restartsLost := 0, 0
	defer func() {
		if *seedFlag == 0 && !t.Failed() && (lostTotal == 0 || restartsLost == 0) {
			t.Errorf("the seeds never lost a commit with a region's state (%d lost, %d lost-state restarts): the recovery path went untested", lostTotal, restartsLost)
		}
	}()
	for _, seed := range seeds(25) {
		r := rand.New(rand.NewPCG(seed, 99))
		delay := &linkDelay{links: map[[2]string]time.Duration{}}
		for _, a := range regions {
			for _, b := range regions {
				delay.links[[2]string{a, b}] = time.Duration(r.IntN(3000)) * time.Millisecond
			}
		}
		g := GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: 10 * time.Second}
		h := newHarness(t, regions, delay, g, seed)
		h.quiet, h.latency, h.lossRNG = true, 20*time.Millisecond, rand.New(rand.NewPCG(seed, 7))
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("seed %d: %s\n(reproduce: go test ./replication -run TestRandomFaultsConverge -replication.seed=%d)", seed, fmt.Sprintf(format, a...), seed)
		}

		var committed []Mutation
		var log []string
		lost := map[MutationID]bool{}
		now := time.Duration(0)
		for now < time.Minute {
			now += time.Duration(r.IntN(2000)) * time.Millisecond
			h.run(at(now))
			switch k := r.IntN(10); {
			case k < 5: // a commit somewhere live
				reg := regions[r.IntN(len(regions))]
				if h.down[reg] {
					continue
				}
				c := call("iam:PutUserPolicy", fmt.Sprintf(`{"user_name":"alice","policy_name":"p%d","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}}`, r.IntN(3), r.IntN(100)))
				if r.IntN(3) == 0 {
					c = call("iam:DeleteUserPolicy", fmt.Sprintf(`{"user_name":"alice","policy_name":"p%d"}`, r.IntN(3)))
				}
				if m, err := h.nodes[reg].Propose(h.now, c); err == nil {
					committed = append(committed, m)
				}
				h.collect(reg)
			case k < 6:
				h.loss = r.Float64() * 0.4
				log = append(log, fmt.Sprintf("%v loss %.2f", now, h.loss))
			case k < 7:
				group := regions[:1+r.IntN(len(regions)-1)]
				h.cut = map[[2]string]bool{}
				for _, a := range regions {
					for _, b := range regions {
						if slices.Contains(group, a) != slices.Contains(group, b) {
							h.cut[[2]string{a, b}] = true
						}
					}
				}
				log = append(log, fmt.Sprintf("%v partition %v", now, group))
			case k < 8:
				h.cut = map[[2]string]bool{}
			case k < 9:
				reg := regions[r.IntN(len(regions))]
				h.down[reg] = true
				log = append(log, fmt.Sprintf("%v crash %s", now, reg))
			default:
				for _, reg := range regions {
					if h.down[reg] {
						lose := r.IntN(3) == 0
						if lose {
							restartsLost++
							// Commits of reg that no other region has made
							// durable are lost with its log: real data loss,
							// not a replication failure.
							for _, m := range committed {
								if m.ID.Origin == reg && !durableElsewhere(h, reg, m.ID) {
									lost[m.ID] = true
								}
							}
						}
						h.restart(reg, lose)
						log = append(log, fmt.Sprintf("%v restart %s lose=%v", now, reg, lose))
					}
				}
			}
		}
		// Heal everything; anti-entropy gets a few rounds.
		h.cut, h.loss = map[[2]string]bool{}, 0
		for _, reg := range regions {
			if h.down[reg] {
				h.restart(reg, false)
			}
		}
		h.run(at(now + time.Minute))
		lostTotal += len(lost)
		if len(committed) == 0 {
			fail("no commits: the test exercised nothing")
		}
		if !h.converged() {
			h.out.Reset()
			h.status()
			fail("not converged after healing:\n%s\nfaults: %v", h.out.String(), log)
		}
		for _, reg := range regions {
			for _, m := range committed {
				if !lost[m.ID] && !h.nodes[reg].Has(m.ID) {
					h.out.Reset()
					h.status()
					fail("%s lacks %s\n%s\nfaults: %v", reg, m.ID, h.out.String(), log)
				}
			}
			for origin, o := range h.nodes[reg].origins {
				if o.applied != o.max {
					fail("%s: origin %s applied up to %d of %d: a permanent gap", reg, origin, o.applied, o.max)
				}
			}
			if s := h.nodes[reg].Stats(); s.Conflicts > 0 {
				fail("%s saw %d conflicting mutations", reg, s.Conflicts)
			}
		}
	}
}

func durableElsewhere(h *harness, region string, id MutationID) bool {
	for r, log := range h.durable {
		if r != region && slices.ContainsFunc(log, func(m Mutation) bool { return m.ID == id }) {
			return true
		}
	}
	return false
}
