package replication

import (
	"errors"
	"testing"
	"time"
)

// TestAdmit: eu-west-1 receives at 2 s a mutation committed at 1 s that it
// applies at 7 s (6 s delay). From receipt on it knows its view lacks a
// mutation committed at 1 s: max_lag reads are refused once the lag
// exceeds max_lag, at_least reads until the apply.
func TestAdmit(t *testing.T) {
	delay := &linkDelay{def: 6 * time.Second}
	n := newTestNode(t, "eu-west-1", delay)
	mu := commitAt(t, "us-east-2", 1, time.Second, "a")
	if _, ok := n.StaleSince(); ok {
		t.Fatal("a fresh node is stale")
	}
	if err := n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{mu}}); err != nil {
		t.Fatal(err)
	}
	since, ok := n.StaleSince()
	if !ok || !since.Equal(at(time.Second)) {
		t.Fatalf("StaleSince = %v, %v; want 1s (the pending mutation's commit)", rel(since), ok)
	}
	token := mu.ID.String()
	for _, tc := range []struct {
		name string
		now  time.Duration
		c    Consistency
		ok   bool
		err  error
	}{
		{"local", 3 * time.Second, Consistency{}, true, nil},
		{"local by name", 3 * time.Second, Consistency{Mode: ModeLocal}, true, nil},
		{"max_lag within", 3 * time.Second, Consistency{Mode: ModeMaxLag, MaxLag: 2 * time.Second}, true, nil},
		{"max_lag at exactly the limit", 3 * time.Second, Consistency{Mode: ModeMaxLag, MaxLag: 2 * time.Second}, true, nil},
		{"max_lag one ns past", 3*time.Second + 1, Consistency{Mode: ModeMaxLag, MaxLag: 2 * time.Second}, false, ErrTooStale},
		{"max_lag zero", 2 * time.Second, Consistency{Mode: ModeMaxLag}, false, ErrTooStale},
		{"at_least pending token", 3 * time.Second, Consistency{Mode: ModeAtLeast, Token: token}, false, ErrNotFresh},
		{"at_least unknown token", 3 * time.Second, Consistency{Mode: ModeAtLeast, Token: "sa-east-1/9"}, false, ErrNotFresh},
		{"at_least bad token", 3 * time.Second, Consistency{Mode: ModeAtLeast, Token: "nope"}, false, ErrBadConsistency},
		{"unknown mode", 3 * time.Second, Consistency{Mode: "strong"}, false, ErrBadConsistency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := n.Admit(at(tc.now), tc.c)
			if ok != tc.ok || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("Admit = %v, %v; want %v, %v", ok, err, tc.ok, tc.err)
			}
		})
	}
	n.Tick(at(7 * time.Second))
	if _, ok := n.StaleSince(); ok {
		t.Error("stale after applying the pending mutation")
	}
	for _, c := range []Consistency{{Mode: ModeMaxLag}, {Mode: ModeAtLeast, Token: token}} {
		if ok, err := n.Admit(at(8*time.Second), c); !ok {
			t.Errorf("%s after the apply: refused: %v", c.Mode, err)
		}
	}
	if got := n.Lag(at(8 * time.Second)); got != 0 {
		t.Errorf("lag after the apply = %v, want 0", got)
	}
}

// TestRecoveringIsStale: a node restarted without its log is known stale
// from its start until every peer answered its push/pull request.
func TestRecoveringIsStale(t *testing.T) {
	n := NewNode(Config{Region: "eu-west-1", LostState: true, Initial: initialState(t), Start: epoch})
	n.SetPeers([]string{"us-east-2"})
	since, ok := n.StaleSince()
	if !ok || !since.Equal(epoch) {
		t.Fatalf("StaleSince = %v, %v; want the start", since, ok)
	}
	if lag := n.Lag(at(3 * time.Second)); lag != 3*time.Second {
		t.Errorf("lag = %v, want 3s", lag)
	}
	if err := n.Step(at(time.Second), Message{Kind: KindPushPullResponse, From: "us-east-2", Vector: VersionVector{}}); err != nil {
		t.Fatal(err)
	}
	if n.Recovering() {
		t.Fatal("still recovering after the only peer answered")
	}
	if _, ok := n.StaleSince(); ok {
		t.Error("stale after catching up")
	}
}

// TestAtLeastNeedsTheOriginsHistory: an at_least token is admitted only
// once the view includes its mutation and every earlier one of its origin
// epoch; the token's mutation alone, applied while an earlier commit of the
// same origin is still missing, is not enough (a read after two writes
// must not see the second without the first).
func TestAtLeastNeedsTheOriginsHistory(t *testing.T) {
	n := newTestNode(t, "eu-west-1", &linkDelay{})
	first := commitAt(t, "us-east-2", 1, time.Second, "a")
	second := commitAt(t, "us-east-2", 2, 2*time.Second, "b")
	if err := n.Step(at(3*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{second}}); err != nil {
		t.Fatal(err)
	}
	n.Tick(at(3 * time.Second))
	if !n.Has(second.ID) {
		t.Fatal("setup: the second commit is not applied")
	}
	c := Consistency{Mode: ModeAtLeast, Token: second.ID.String()}
	if ok, err := n.Admit(at(3*time.Second), c); ok || !errors.Is(err, ErrNotFresh) {
		t.Errorf("token %s admitted with %s missing: %v, %v", second.ID, first.ID, ok, err)
	}
	if err := n.Step(at(4*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{first}}); err != nil {
		t.Fatal(err)
	}
	n.Tick(at(4 * time.Second))
	if ok, err := n.Admit(at(4*time.Second), c); !ok {
		t.Errorf("token refused once the origin's history is in: %v", err)
	}
}
