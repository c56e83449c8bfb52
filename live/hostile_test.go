package live

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/replication"
)

// TestHostilePeerCannotChangeTheView is the story of an insider: a peer
// that holds the gossip key (so its packets pass memberlist's decryption)
// but writes garbage, truncated, oversized or forged replication messages,
// or replays old ones, straight to the victim's gossip port over real
// sockets. For every message the victim stays up, counts what it refused
// in iamprop_gossip_rejected_total, and its view digest does not move.
func TestHostilePeerCannotChangeTheView(t *testing.T) {
	var logs syncBuffer
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef"), Logger: zerolog.New(&logs)})
	victim, peer := c.Node("us-east-2"), c.Node("eu-west-1")

	// One honest mutation first, so there is something to replay and to forge.
	honest, err := c.Commit("eu-west-1", createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "honest mutation applied at the victim", func(ctx context.Context) error {
		return c.WaitApplied(ctx, honest.ID)
	})

	encode := func(m replication.Message) []byte { return append([]byte{tagReplication}, m.Encode()...) }
	valid := encode(replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{honest}})
	forgedContent := honest
	forgedContent.Call = createUser("mallory") // same id, other content
	// A later timestamp: the honest mutation wins the conflict everywhere
	// (TestConflictResolvedAlikeEverywhere plays a forgery that wins).
	forgedContent.TS.Logical++
	fromVictim := replication.Message{Kind: replication.KindGossip, From: victim.Region(), Mutations: []replication.Mutation{{
		ID: replication.MutationID{Origin: victim.Region(), Seq: 99}, TS: replication.Timestamp{Wall: time.Now().UnixNano()},
		Call: createUser("mallory"),
	}}}
	future := replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{{
		ID: replication.MutationID{Origin: peer.Region(), Seq: 50}, TS: replication.Timestamp{Wall: time.Now().Add(24 * time.Hour).UnixNano()},
		Call: createUser("mallory"),
	}}}

	cases := []struct {
		name     string
		payload  []byte
		reliable bool // over memberlist's TCP stream (no packet size limit)
		rejected bool // must be counted as rejected (a replay is harmless, not an attack)
	}{
		{"garbage", []byte{tagReplication, 0xde, 0xad, 0xbe, 0xef}, false, true},
		{"unknown tag", []byte{0x7f, 1, 2, 3}, false, true},
		{"truncated", valid[:len(valid)/2], false, true},
		{"oversized", append([]byte{tagReplication}, bytes.Repeat([]byte{1}, replication.MaxMessageBytes+10)...), true, true},
		{"forged content under a known id", encode(replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{forgedContent}}), false, true},
		{"claims to come from the victim", encode(fromVictim), false, true},
		{"timestamp a day ahead", encode(future), false, true},
		{"replayed old mutation", valid, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := victim.Digest()
			rejected := testutil.ToFloat64(victim.Metrics().GossipRejected)
			dups := testutil.ToFloat64(victim.Metrics().GossipDuplicates)
			to := memberlist.Address{Addr: victim.GossipAddr()}
			send := peer.ml.SendToAddress
			if tc.reliable {
				m := memberNode(peer, victim.Region())
				if m == nil {
					t.Fatal("the peer does not see the victim as a member")
				}
				send = func(_ memberlist.Address, b []byte) error { return peer.ml.SendReliable(m, b) }
			}
			logged := logs.Len()
			if err := send(to, tc.payload); err != nil {
				t.Fatalf("send: %v", err)
			}
			// The counter moves before the log line is written: wait for both.
			// Both nodes (and memberlist's debug output) log into one buffer,
			// so only a warning from the victim's region counts.
			victimWarned := func() bool {
				for _, line := range strings.Split(logs.Since(logged), "\n") {
					if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, `"region":"`+victim.Region()+`"`) {
						return true
					}
				}
				return false
			}
			deadline := time.Now().Add(5 * time.Second)
			for tc.rejected && (testutil.ToFloat64(victim.Metrics().GossipRejected) == rejected || !victimWarned()) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := testutil.ToFloat64(victim.Metrics().GossipRejected); tc.rejected && got <= rejected {
				t.Errorf("iamprop_gossip_rejected_total stayed at %v: the message was not refused", got)
			}
			if tc.rejected && !victimWarned() {
				t.Errorf("the victim logged no warning for the refusal")
			}
			if !tc.rejected {
				// A replay is not an attack the node can tell from gossip's
				// own redundancy: it is counted as a duplicate and folds to
				// the same view.
				for testutil.ToFloat64(victim.Metrics().GossipDuplicates) <= dups && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if got := testutil.ToFloat64(victim.Metrics().GossipDuplicates); got <= dups {
					t.Errorf("iamprop_gossip_duplicate_mutations_total stayed at %v: the replay was not counted", got)
				}
			}
			if err := victim.Healthy(); err != nil {
				t.Fatalf("victim unhealthy: %v", err)
			}
			if after := victim.Digest(); after != before {
				t.Errorf("view digest changed from %s to %s", before, after)
			}
		})
	}
	// And the honest cluster still works afterwards.
	next, err := c.Commit("eu-west-1", createUser("bob"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "a later honest mutation applied everywhere", func(ctx context.Context) error {
		return c.WaitApplied(ctx, next.ID)
	})
}

// syncBuffer is a bytes.Buffer safe for the nodes' goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Since returns what was logged after the first off bytes.
func (b *syncBuffer) Since(off int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[off:])
}

// Len returns how many bytes were logged so far.
func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// memberNode returns n's memberlist entry for region, or nil.
func memberNode(n *Node, region string) *memberlist.Node {
	for _, m := range n.ml.Members() {
		if m.Name == region {
			return m
		}
	}
	return nil
}

// TestForgedSequenceCannotStopCommits: an insider gossips a mutation under
// the victim's own origin with sequence number 2^64-1 (which used to wrap
// the victim's next sequence number to 0, so that every later commit failed
// while /healthz stayed 200), or other claims no honest peer makes. The
// victim refuses each, counts it by reason, and keeps committing (its
// clock is not dragged a day ahead either: the HLC never saw the claim).
func TestForgedSequenceCannotStopCommits(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef")})
	victim, peer := c.Node("us-east-2"), c.Node("eu-west-1")
	own, err := c.Commit(victim.Region(), createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	// Claims under the victim's origin use its current epoch: the only
	// stream whose next sequence number it knows.
	forge := func(origin string, seq uint64) replication.Mutation {
		var ep uint64
		if origin == victim.Region() {
			ep = own.ID.Epoch
		}
		return replication.Mutation{ID: replication.MutationID{Origin: origin, Epoch: ep, Seq: seq},
			TS: replication.Timestamp{Wall: time.Now().UnixNano()}, Call: createUser("mallory")}
	}
	cases := []struct {
		name   string
		claim  replication.Mutation
		reason string
	}{
		{"own origin, seq 2^64-1", forge(victim.Region(), math.MaxUint64), "own_origin"},
		{"own origin, the very next seq", forge(victim.Region(), own.ID.Seq+2), "own_origin"},
		{"other origin, far ahead", forge("sa-east-1", replication.DefaultMaxSeqAhead+1), "seq_ahead"},
		{"own origin, timestamp a day ahead", func() replication.Mutation {
			m := forge(victim.Region(), 1)
			m.TS.Wall = time.Now().Add(24 * time.Hour).UnixNano()
			return m
		}(), "future_timestamp"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := testutil.ToFloat64(victim.Metrics().GossipRefused.WithLabelValues(tc.reason))
			rejected := testutil.ToFloat64(victim.Metrics().GossipRejected)
			msg := replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{tc.claim}}
			if err := peer.ml.SendToAddress(memberlist.Address{Addr: victim.GossipAddr()}, append([]byte{tagReplication}, msg.Encode()...)); err != nil {
				t.Fatalf("send: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for testutil.ToFloat64(victim.Metrics().GossipRejected) == rejected && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := testutil.ToFloat64(victim.Metrics().GossipRefused.WithLabelValues(tc.reason)); got != refused+1 {
				t.Errorf("iamprop_gossip_refused_mutations_total{reason=%q} = %v, want %v", tc.reason, got, refused+1)
			}
			if got := testutil.ToFloat64(victim.Metrics().GossipRejected); got != rejected+1 {
				t.Errorf("iamprop_gossip_rejected_total = %v, want %v", got, rejected+1)
			}
			// Local commits keep working, with the next honest number.
			m, err := c.Commit(victim.Region(), createUser(fmt.Sprint("bob", i)))
			if err != nil {
				t.Fatalf("commit after the forged claim: %v", err)
			}
			if want := own.ID.Seq + uint64(i) + 1; m.ID.Seq != want {
				t.Errorf("committed %s, want sequence number %d", m.ID, want)
			}
			if m.TS.Time().After(time.Now().Add(time.Minute)) {
				t.Errorf("committed at %v: the claim dragged the clock ahead", m.TS.Time())
			}
			within(t, 10*time.Second, "the commit reaches the peer", func(ctx context.Context) error {
				return c.WaitApplied(ctx, m.ID)
			})
			if err := victim.Healthy(); err != nil {
				t.Errorf("victim unhealthy: %v", err)
			}
		})
	}
}

// TestConflictResolvedAlikeEverywhere: a mutation under a known id with
// other content, taken in by one region only, leaves the regions with
// equal vectors and different views. The push/pull digests find it, both
// regions count and show the conflict (/v1/view, /readyz degraded), and
// both keep the same mutation: here the forgery, whose earlier timestamp
// wins by the resolution rule (an insider with the gossip key could as
// well commit a backdated mutation of its own).
func TestConflictResolvedAlikeEverywhere(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef")})
	victim, peer := c.Node("us-east-2"), c.Node("eu-west-1")
	honest, err := c.Commit("eu-west-1", createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "honest mutation applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, honest.ID) })
	forged := honest
	forged.Call = createUser("mallory")
	forged.TS.Wall--
	msg := replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{forged}}
	if err := peer.ml.SendToAddress(memberlist.Address{Addr: victim.GossipAddr()}, append([]byte{tagReplication}, msg.Encode()...)); err != nil {
		t.Fatal(err)
	}
	within(t, 20*time.Second, "both regions meet the conflict and agree", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			return victim.View().Conflicts > 0 && peer.View().Conflicts > 0 && victim.Digest() == peer.Digest()
		})
	})
	for _, n := range []*Node{victim, peer} {
		v := n.View()
		if len(v.RecentConflicts) == 0 || v.RecentConflicts[0].ID != honest.ID.String() {
			t.Errorf("%s shows conflicts %+v, want one on %s", n.Region(), v.RecentConflicts, honest.ID)
		}
		if got := testutil.ToFloat64(n.Metrics().GossipConflicts); got == 0 {
			t.Errorf("%s: iamprop_gossip_conflicts_total = 0", n.Region())
		}
	}
	if a, b := victim.View().RecentConflicts[0], peer.View().RecentConflicts[0]; a.Kept != b.Kept {
		t.Errorf("the regions kept different mutations: %s and %s", a.Kept, b.Kept)
	}
}
