package replication

import (
	"fmt"
	"testing"
	"time"
)

// A region with nobody to gossip to (alone, or cut off from every peer)
// keeps queueing its commits as rumors, and without a bound the queue
// grew for ever (and each queueing shifted all of it). It is bounded as
// serf bounds memberlist's: past maxQueuedRumors the most sent, oldest
// rumors are dropped and counted; push/pull repairs whoever missed them.
func TestRumorQueueIsBounded(t *testing.T) {
	n := newTestNode(t, "us-east-2", nil)
	const extra = 500
	commits := maxQueuedRumors + extra
	var last Mutation
	for i := range commits {
		m, err := n.Propose(at(time.Duration(i)*time.Millisecond), call("iam:CreateGroup", fmt.Sprintf(`{"group_name":"g%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		last = m
		if i%64 == 0 {
			n.Ready()
		}
	}
	if got := n.rumors.len(); got != maxQueuedRumors {
		t.Fatalf("%d rumors queued after %d commits with no peer, want the bound %d", got, commits, maxQueuedRumors)
	}
	if got := n.Stats().RumorsPruned; got != extra {
		t.Fatalf("RumorsPruned %d, want %d", got, extra)
	}
	// The newest commit is still queued: a peer that appears hears of it first.
	if e := n.lookup(last.ID); e == nil || e.tx == nil {
		t.Fatalf("the last commit %s is not queued", last.ID)
	}
}
