package replication

import (
	"testing"
	"time"
)

// TestMessagePoolReuses: a slice handed back is handed out again (cleared)
// for any length of its capacity class, and slices of other capacities are
// not taken.
func TestMessagePoolReuses(t *testing.T) {
	for _, c := range []struct {
		name      string
		put, take int // lengths
		reused    bool
	}{
		{"same length", 3, 3, true},
		{"same class", 3, 4, true},
		{"smaller class", 8, 3, false},
		{"larger class", 2, 3, false},
		{"one", 1, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewMessagePool()
			s := p.get(c.put)
			s[0] = Mutation{ID: MutationID{Origin: "us-east-2", Seq: 1}}
			p.Put(s)
			got := p.get(c.take)
			if len(got) != c.take {
				t.Fatalf("len %d, want %d", len(got), c.take)
			}
			if reused := &got[:1][0] == &s[:1][0]; reused != c.reused {
				t.Fatalf("reused = %v, want %v", reused, c.reused)
			}
			if got[0].ID.Seq != 0 {
				t.Fatalf("a reused slice still holds %v", got[0].ID)
			}
		})
	}
	p := NewMessagePool()
	p.Put(make([]Mutation, 3)) // capacity 3: not a class
	if s := p.get(3); cap(s) != 4 {
		t.Fatalf("cap %d, want a fresh slice of capacity 4", cap(s))
	}
}

// TestMessagePoolReusesAcks: ack slices are recycled like mutation
// slices, by capacity class, cleared.
func TestMessagePoolReusesAcks(t *testing.T) {
	for _, c := range []struct {
		name      string
		put, take int
		reused    bool
	}{
		{"same length", 3, 3, true},
		{"same class", 3, 4, true},
		{"smaller class", 8, 3, false},
		{"one", 1, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewMessagePool()
			s := p.getAcks(c.put)
			s[0] = Ack{Region: "us-east-2", Vector: VersionVector{"us-east-2": 1}}
			p.PutAcks(s)
			got := p.getAcks(c.take)
			if len(got) != c.take {
				t.Fatalf("len %d, want %d", len(got), c.take)
			}
			if reused := &got[:1][0] == &s[:1][0]; reused != c.reused {
				t.Fatalf("reused = %v, want %v", reused, c.reused)
			}
			if got[0].Region != "" || got[0].Vector != nil {
				t.Fatalf("a reused slice still holds %+v", got[0])
			}
		})
	}
}

// TestRecycledReadyStartsEmpty: after Recycle, the next Ready lists only
// what happened since, in the recycled memory.
func TestRecycledReadyStartsEmpty(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil, "us-east-2", "ap-southeast-2")
	if _, err := n.Propose(at(time.Second), call("iam:CreateGroup", `{"group_name":"a"}`)); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if len(rd.Persist) != 1 || len(rd.Applied) != 1 {
		t.Fatalf("first Ready: %d persisted, %d applied; want 1, 1", len(rd.Persist), len(rd.Applied))
	}
	first := &rd.Persist[:1][0]
	n.Recycle(rd)
	if _, err := n.Propose(at(2*time.Second), call("iam:CreateGroup", `{"group_name":"b"}`)); err != nil {
		t.Fatal(err)
	}
	rd = n.Ready()
	if len(rd.Persist) != 1 || rd.Persist[0].ID.Seq != 2 || len(rd.Applied) != 1 || rd.Applied[0].ID.Seq != 2 {
		t.Fatalf("second Ready persists %v, applies %v; want only seq 2", rd.Persist, rd.Applied)
	}
	if &rd.Persist[0] != first {
		t.Errorf("the second Ready did not reuse the recycled Persist slice")
	}
	n.Recycle(rd)
	if got := n.Ready(); len(got.Persist)+len(got.Applied)+len(got.Messages) != 0 {
		t.Fatalf("Ready after Recycle with nothing new: %+v", got)
	}
}
