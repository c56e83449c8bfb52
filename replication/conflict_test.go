package replication

import (
	"testing"
	"time"
)

// TestEqualVectorsDifferentContentConverge: two regions hold different
// mutations under one id (what a reused id left behind before epochs, or a
// forgery each region took in first). Their vectors are equal, so
// comparing vectors never exchanges them; the push/pull digests must find
// the mismatch, both regions must count the conflict, and both must keep
// the same mutation whichever held which.
func TestEqualVectorsDifferentContentConverge(t *testing.T) {
	const a, b = "us-east-2", "eu-west-1"
	x := Mutation{ID: MutationID{Origin: "ap-southeast-2", Seq: 1}, TS: Timestamp{Wall: at(time.Second).UnixNano()}, Call: call("iam:CreateUser", `{"user_name":"x"}`)}
	y := x
	y.Call = call("iam:CreateUser", `{"user_name":"y"}`)
	later := y
	later.TS.Logical++
	cases := []struct {
		name       string
		atA, atB   Mutation
		wantWinner Mutation
	}{
		{"x at A, y at B", x, y, pick(&x, &y)},
		{"y at A, x at B", y, x, pick(&x, &y)},
		{"the earlier timestamp wins", later, x, x},
		{"the earlier timestamp wins, either side", x, later, x},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := GossipConfig{Interval: 100 * time.Millisecond, Fanout: 1, RetransmitMult: 4, PushPullInterval: time.Second}
			h := newHarness(t, []string{a, b}, &linkDelay{}, g, 5)
			h.quiet = true
			h.nodes[a].Restore(time.Unix(0, 0), []Mutation{tc.atA})
			h.nodes[b].Restore(time.Unix(0, 0), []Mutation{tc.atB})
			h.collectAll()
			if h.converged() {
				t.Fatal("setup: the two views are equal")
			}
			h.run(at(30 * time.Second))
			if !h.converged() {
				h.status()
				t.Fatalf("still split after 30s of push/pull:\n%s", h.out.String())
			}
			for _, r := range []string{a, b} {
				n := h.nodes[r]
				if got := n.peek(x.ID).m; !sameContent(&got, &tc.wantWinner) {
					t.Errorf("%s keeps %s, want %s", r, got.Call.Args, tc.wantWinner.Call.Args)
				}
				if s := n.Stats(); s.Conflicts == 0 || len(n.Conflicts()) == 0 {
					t.Errorf("%s did not report the conflict: %+v", r, s)
				}
			}
			// The winner is persisted, so a restart from the log keeps it.
			log := append([]Mutation{tc.atA}, h.durable[a]...)
			re := NewNode(h.cfgs[a])
			re.Restore(time.Unix(0, 0), log)
			if re.Digest() != h.nodes[a].Digest() {
				t.Errorf("restored from its log (both versions in it), %s holds another view", a)
			}
		})
	}
}

func pick(a, b *Mutation) Mutation {
	if wins(a, b) {
		return *a
	}
	return *b
}
