package replication

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

func TestFoldCacheStep(t *testing.T) {
	c := NewFoldCache(2)
	base := c.base(initialState(t))
	if c.base(initialState(t)) == base {
		t.Fatal("two initial states share one base")
	}
	a := commitAt(t, "us-east-2", 1, time.Second, "a")
	s1 := c.next(base, &a)
	if s1 == base || base.Digest() == s1.Digest() {
		t.Fatal("a step returned its predecessor or left it unchanged")
	}
	before := base.Digest()
	if c.next(base, &a) != s1 || c.Stats().Hits != 1 {
		t.Fatalf("the same step was not taken from the cache: %+v", c.Stats())
	}
	if base.Digest() != before {
		t.Fatal("a step modified its predecessor")
	}
	// Same ID and timestamp, other content (a forged or reused ID): never
	// the cached result.
	forged := a
	forged.Call = call("iam:CreateGroup", `{"group_name":"other"}`)
	if s := c.next(base, &forged); s == s1 || s.Digest() == s1.Digest() {
		t.Fatal("a mutation with another content got the cached view")
	}
	gap := Mutation{ID: MutationID{Origin: "us-east-2", Seq: 2}, TS: a.TS, Call: controlplane.Call{Action: GapAction}}
	if c.next(s1, &gap) != s1 {
		t.Fatal("a gap filler changed the view")
	}
	// Capacity 2: a third step evicts the oldest.
	b := commitAt(t, "us-east-2", 2, 2*time.Second, "b")
	d := commitAt(t, "us-east-2", 3, 3*time.Second, "d")
	c.next(s1, &b)
	c.next(s1, &d)
	if held := c.Stats().Held; held != 2 {
		t.Fatalf("held %d steps, want the capacity 2", held)
	}
}

// TestFoldCacheNodesAgree: nodes sharing a cache and nodes folding in place
// reach the same views after the same randomized arrival orders, late
// arrivals (re-folds) included.
func TestFoldCacheNodesAgree(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 5))
		var ms []Mutation
		for i := range 40 {
			origin := []string{"us-east-2", "ap-southeast-2"}[i%2]
			m := commitAt(t, origin, uint64(i/2+1), time.Duration(r.IntN(1000))*time.Millisecond, "")
			m.Call = call("iam:CreateGroup", `{"group_name":"g`+string(rune('a'+r.IntN(8)))+`"}`)
			if r.IntN(3) == 0 {
				m.Call = call("iam:DeleteGroup", `{"group_name":"g`+string(rune('a'+r.IntN(8)))+`"}`)
			}
			ms = append(ms, m)
		}
		cache := NewFoldCache(0)
		init := initialState(t)
		var digests [][32]byte
		for k := range 4 {
			cfg := Config{Region: "eu-west-1", Initial: init, Start: epoch, Rand: rand.New(rand.NewPCG(seed, uint64(k))), CheckpointEvery: 4}
			if k%2 == 0 {
				cfg.FoldCache = cache
			}
			n := NewNode(cfg)
			order := r.Perm(len(ms))
			for _, i := range order {
				if err := n.Step(epoch.Add(time.Hour), Message{Kind: KindRepair, From: "us-east-2", Mutations: []Mutation{ms[i]}}); err != nil {
					t.Fatal(err)
				}
			}
			digests = append(digests, n.Digest())
		}
		for k := 1; k < len(digests); k++ {
			if digests[k] != digests[0] {
				t.Fatalf("seed %d: node %d (cache %v) differs from node 0", seed, k, k%2 == 0)
			}
		}
		if cache.Stats().Hits == 0 {
			t.Fatalf("seed %d: the second cached node never hit the cache", seed)
		}
	}
}

// TestFoldCacheValidatesArgsOnce: nodes sharing a cache scan a shared
// mutation's arguments as JSON once between them (the simulator hands one
// Args buffer to every region), while arguments that are not JSON are
// refused by every node, each time: only a valid scan is remembered.
func TestFoldCacheValidatesArgsOnce(t *testing.T) {
	good := commitAt(t, "us-east-2", 1, time.Second, "a")
	bad := commitAt(t, "us-east-2", 2, time.Second, "b")
	bad.Call.Args = []byte(`{"group_name":`)
	for _, tc := range []struct {
		name      string
		m         Mutation
		nodes     int
		wantErr   bool
		wantScans uint64
	}{
		{"valid, three nodes", good, 3, false, 1},
		{"not JSON, three nodes", bad, 3, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewFoldCache(0)
			for k := range tc.nodes {
				n := NewNode(Config{Region: "eu-west-1", Initial: initialState(t), Start: epoch, FoldCache: cache,
					Rand: rand.New(rand.NewPCG(1, uint64(k)))})
				err := n.Step(at(2*time.Second), Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{tc.m}})
				if (err != nil) != tc.wantErr {
					t.Fatalf("node %d: Step = %v, want an error: %v", k, err, tc.wantErr)
				}
			}
			if got := cache.Stats().ArgsScans; got != tc.wantScans {
				t.Errorf("%d JSON scans of the arguments, want %d", got, tc.wantScans)
			}
		})
	}
}
