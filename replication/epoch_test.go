package replication

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// TestWipedOriginNeverSplitsTheCluster is the three-region story of a wiped
// disk: A commits 3, is cut off from C, commits 2 more that only B gets,
// loses its state and restarts while B is cut off (memberlist declared B
// dead, so A's membership is A and C). A's next commit must not reuse an id
// B holds, and once healed every region must hold the same mutations and
// the same view.
func TestWipedOriginNeverSplitsTheCluster(t *testing.T) {
	const a, b, c = "us-east-2", "eu-west-1", "ap-southeast-2"
	regions := []string{a, b, c}
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 2, RetransmitMult: 4, PushPullInterval: time.Second}
	h := newHarness(t, regions, &linkDelay{}, g, 7)
	h.quiet = true
	h.collectAll()
	commit := func(r string, user string) Mutation {
		t.Helper()
		m, err := h.nodes[r].Propose(h.now, call("iam:CreateUser", `{"user_name":"`+user+`"}`))
		if err != nil {
			t.Fatalf("commit %s at %s: %v", user, r, err)
		}
		h.collect(r)
		return m
	}
	isolate := func(r string, on bool) {
		for _, o := range regions {
			if o != r {
				h.cut[[2]string{r, o}], h.cut[[2]string{o, r}] = on, on
			}
		}
	}
	for i := 1; i <= 3; i++ {
		commit(a, fmt.Sprintf("u%d", i))
	}
	h.run(h.now.Add(5 * time.Second))
	isolate(c, true)
	old := map[MutationID]Mutation{}
	for i := 4; i <= 5; i++ {
		m := commit(a, fmt.Sprintf("u%d", i))
		old[m.ID] = m
	}
	h.run(h.now.Add(5 * time.Second))
	if !h.nodes[b].Has(MutationID{Origin: a, Seq: 5}) {
		t.Fatal("setup: B lacks A's fifth commit")
	}
	// A loses its disk; B is cut off and gone from A's membership.
	h.down[a] = true
	h.outbox = nil
	isolate(c, false)
	isolate(b, true)
	h.restart(a, true)
	h.nodes[a].SetPeers([]string{a, c})
	h.nodes[c].SetPeers([]string{a, c})
	h.run(h.now.Add(5 * time.Second))
	m := commit(a, "after-wipe")
	if prev, ok := old[m.ID]; ok {
		t.Errorf("A's commit after the wipe reused id %s of %s", m.ID, prev.Call.Args)
	}
	// Heal.
	isolate(b, false)
	for _, r := range regions {
		h.nodes[r].SetPeers(regions)
	}
	h.run(h.now.Add(60 * time.Second))
	if !h.converged() {
		h.status()
		t.Errorf("split after healing: digests differ\n%s", h.out.String())
	}
	for _, r := range regions {
		for id, want := range old {
			if !h.nodes[r].Has(id) {
				t.Errorf("%s lacks %s", r, id)
				continue
			}
			if got := h.nodes[r].peek(id).m; !sameContent(&got, &want) {
				t.Errorf("%s holds another mutation under %s: %s, want %s", r, id, got.Call.Args, want.Call.Args)
			}
		}
	}
}

// TestRecoveryWaitsForTheWholeAnswer: a region that lost its state, or
// that restarted with its log and must catch up (Config.CatchUp), may
// commit only once it holds everything its peer sent in answer, not as
// soon as the first message of an answer split over several arrived.
func TestRecoveryWaitsForTheWholeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name               string
		loseState, catchUp bool
	}{
		{"lost state", true, false},
		{"restart with the log, catching up", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testRecoveryWaitsForTheWholeAnswer(t, tc.loseState, tc.catchUp) })
	}
}

func testRecoveryWaitsForTheWholeAnswer(t *testing.T, loseState, catchUp bool) {
	const a, b = "us-east-2", "eu-west-1"
	regions := []string{a, b}
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4}
	h := newHarness(t, regions, &linkDelay{}, g, 3)
	h.quiet = true
	h.collectAll()
	// A is away while B makes more than one message's worth of commits.
	h.down[a] = true
	for i := 0; i < MaxMutationsPerMessage+10; i++ {
		if _, err := h.nodes[b].Propose(h.now, call("iam:CreateUser", fmt.Sprintf(`{"user_name":"b%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	h.collect(b)
	h.outbox = nil
	h.restartWith(a, loseState, catchUp)
	if _, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", `{"user_name":"before"}`)); err == nil {
		t.Fatal("A committed before any peer answered")
	}
	h.nodes[a].PushPull(b)
	h.collect(a)
	// Deliver the request; B answers in several messages.
	for len(h.outbox) > 0 {
		m := h.outbox[0]
		h.outbox = h.outbox[1:]
		if m.env.To != b || m.env.Msg.Kind != KindPushPullRequest {
			continue
		}
		h.deliver(m)
		break
	}
	var answer []inflight
	for _, m := range h.outbox {
		if m.env.To == a && (m.env.Msg.Kind == KindPushPullResponse || m.env.Msg.Kind == KindRepair) {
			answer = append(answer, m)
		}
	}
	if len(answer) < 2 {
		t.Fatalf("setup: the answer came in %d messages, want several", len(answer))
	}
	h.outbox = nil
	for i, m := range answer {
		if err := h.step(a, m.env.Msg); err != nil {
			t.Fatal(err)
		}
		_, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", `{"user_name":"early"}`))
		var ae *controlplane.APIError
		last := i == len(answer)-1
		switch {
		case !last && err == nil:
			t.Fatalf("A committed after %d of the %d messages of B's answer, before it held B's state", i+1, len(answer))
		case !last && !(errors.As(err, &ae) && ae.Code == "ServiceUnavailable"):
			t.Fatalf("early commit: %v, want ServiceUnavailable", err)
		case last && err != nil:
			t.Fatalf("commit after the whole answer: %v", err)
		}
	}
}

// TestLostOldEpochCommitsAreReported: us-east-2 committed 1, 2 and 3; only
// 1 and 3 reached eu-west-1 before it lost its disk. Recovering in a new
// epoch, it learns 1 and 3 back, fills 2 with a no-op, reports it lost,
// and both regions' vectors move past it.
func TestLostOldEpochCommitsAreReported(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4, PushPullInterval: time.Second}
	h := newHarness(t, []string{a, b}, &linkDelay{}, g, 9)
	h.quiet = true
	h.collectAll()
	var ms []Mutation
	for i := 1; i <= 3; i++ {
		m, err := h.nodes[a].Propose(h.now, call("iam:CreateUser", fmt.Sprintf(`{"user_name":"u%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	h.collect(a)
	h.outbox = nil
	h.nodes[b].Restore(time.Unix(0, 0), []Mutation{ms[0], ms[2]})
	h.restart(a, true)
	h.run(at(10 * time.Second))
	if s := h.nodes[a].Stats(); s.Lost != 1 || !h.nodes[a].IsLost(ms[1].ID) {
		t.Errorf("lost %d (IsLost %v), want %s reported lost", s.Lost, h.nodes[a].IsLost(ms[1].ID), ms[1].ID)
	}
	if !h.nodes[b].IsLost(ms[1].ID) {
		t.Errorf("%s does not know %s is lost", b, ms[1].ID)
	}
	for _, r := range []string{a, b} {
		if v := h.nodes[r].Vector(); v[a] != 3 {
			t.Errorf("%s vector %v, want %s at 3", r, v, a)
		}
	}
	if !h.converged() {
		t.Error("not converged")
	}
}
