package replication

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Benchmarks of the node's hot paths. Targets (docs/benchmarks.md ("replication")):
// a duplicate rumor (the common case in a converging cluster) well under a
// microsecond; a whole cluster spreading one mutation at 1M+ deliveries/s.

func BenchmarkStepDuplicate(b *testing.B) {
	n := newTestNode(b, "eu-west-1", nil, "us-east-2")
	msg := Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{commitAt(b, "us-east-2", 1, 0, "g")}}
	if err := n.Step(epoch, msg); err != nil {
		b.Fatal(err)
	}
	n.Ready()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Step(epoch, msg); err != nil {
			b.Fatal(err)
		}
	}
	if n.Stats().Duplicates != uint64(b.N) {
		b.Fatalf("not all duplicates")
	}
}

// BenchmarkStepNew: each Step carries one new mutation, applied on receipt
// (validation, persist, re-queue, fold, checkpoint clones). The calls
// rewrite 8 inline policies, so the state stays the size of a scenario's.
// signed=true adds an Ed25519 verification of each (sign.go).
func BenchmarkStepNew(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(fmt.Sprintf("signed=%v", signed), func(b *testing.B) { benchStepNew(b, signed) })
	}
}

func benchStepNew(b *testing.B, signed bool) {
	keys := newTestKeys("eu-west-1", "us-east-2")
	n := newTestNode(b, "eu-west-1", nil, "us-east-2", "ap-southeast-2")
	if signed {
		n = signedNode(b, keys, "eu-west-1", []string{"eu-west-1", "us-east-2"}, "us-east-2", "ap-southeast-2")
	}
	msgs := make([]Message, b.N)
	for i := range msgs {
		m := commitAt(b, "us-east-2", uint64(i+1), time.Duration(i), "")
		m.Call = call("iam:PutUserPolicy", fmt.Sprintf(`{"user_name":"alice","policy_name":"p%d","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}}`, i%8, i))
		if signed {
			m = signAs(keys, "us-east-2", m)
		}
		msgs[i] = Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range msgs {
		if err := n.Step(epoch, msgs[i]); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			n.Ready()
		}
	}
	b.StopTimer()
	if s := n.Stats(); s.Applied != uint64(b.N) {
		b.Fatalf("applied %d of %d (stats %+v)", s.Applied, b.N, s)
	}
}

// BenchmarkPropose: one local commit (validation, stamp, fold), with and
// without signing it.
func BenchmarkPropose(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(fmt.Sprintf("signed=%v", signed), func(b *testing.B) {
			keys := newTestKeys("us-east-2")
			n := newTestNode(b, "us-east-2", nil)
			if signed {
				n = signedNode(b, keys, "us-east-2", []string{"us-east-2"})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c := call("iam:PutUserPolicy", fmt.Sprintf(`{"user_name":"alice","policy_name":"p%d","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}}`, i%8, i))
				if _, err := n.Propose(epoch.Add(time.Duration(i)), c); err != nil {
					b.Fatal(err)
				}
				if i%64 == 0 {
					n.Ready()
				}
			}
		})
	}
}

// BenchmarkTickApply: mutations wait for their apply instant; one Tick per
// mutation applies it.
func BenchmarkTickApply(b *testing.B) {
	n := newTestNode(b, "eu-west-1", &linkDelay{def: time.Hour}, "us-east-2")
	for i := 0; i < b.N; i += MaxMutationsPerMessage {
		var ms []Mutation
		for j := i; j < min(b.N, i+MaxMutationsPerMessage); j++ {
			m := commitAt(b, "us-east-2", uint64(j+1), time.Duration(j)*time.Microsecond, "")
			m.Call = call("iam:PutUserPolicy", fmt.Sprintf(`{"user_name":"alice","policy_name":"p%d","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}}`, j%8, j))
			ms = append(ms, m)
		}
		if err := n.Step(epoch, Message{Kind: KindRepair, From: "us-east-2", Mutations: ms}); err != nil {
			b.Fatal(err)
		}
	}
	n.Ready()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Tick(epoch.Add(time.Hour + time.Duration(i)*time.Microsecond))
		if i%64 == 0 {
			n.Ready()
		}
	}
	if n.Pending() != 0 {
		b.Fatalf("%d still pending", n.Pending())
	}
}

// event is a tick (msg nil) or a delivery in the benchmark's little
// simulator.
type event struct {
	at   int64
	seq  uint64
	node int
	msg  *Message
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// cluster is n regions sharing one sorted membership slice.
type cluster struct {
	nodes []*Node
	index map[string]int
}

func newCluster(tb testing.TB, n int, seed uint64) *cluster {
	names := make([]string, n)
	index := map[string]int{}
	for i := range names {
		names[i] = fmt.Sprintf("r%05d", i)
		index[names[i]] = i
	}
	init := initialState(tb)
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = NewNode(Config{Region: names[i], Initial: init, Start: epoch, Rand: rand.New(rand.NewPCG(seed, uint64(i)))})
	}
	members := NewMembership(names) // validated once, shared by all
	for _, n := range nodes {
		n.SetMembership(members)
	}
	return &cluster{nodes: nodes, index: index}
}

// spread commits one mutation in the cluster (LAN gossip, 1ms latency, no
// apply delay) and runs until every region applied it, as the simulator
// would. It returns the deliveries made.
func (c *cluster) spread(tb testing.TB) (deliveries int) {
	nodes, index, n := c.nodes, c.index, len(c.nodes)
	var q events
	var seq uint64
	scheduled := make([]int64, n)
	applied := 0
	carry := func(i int, now int64) {
		rd := nodes[i].Ready()
		applied += len(rd.Applied)
		for k := range rd.Messages {
			seq++
			heap.Push(&q, event{at: now + int64(time.Millisecond), seq: seq, node: index[rd.Messages[k].To], msg: &rd.Messages[k].Msg})
		}
		if d := rd.Deadline; !d.IsZero() && d.UnixNano() != scheduled[i] {
			scheduled[i] = d.UnixNano()
			seq++
			heap.Push(&q, event{at: max(d.UnixNano(), now), seq: seq, node: i})
		}
	}
	start := epoch.Add(time.Second).UnixNano()
	if _, err := nodes[0].Propose(time.Unix(0, start), call("iam:CreateGroup", `{"group_name":"g"}`)); err != nil {
		tb.Fatal(err)
	}
	carry(0, start)
	for applied < n && q.Len() > 0 {
		e := heap.Pop(&q).(event)
		now := time.Unix(0, e.at)
		if e.msg != nil {
			deliveries++
			if err := nodes[e.node].Step(now, *e.msg); err != nil {
				tb.Fatal(err)
			}
		} else {
			if scheduled[e.node] != e.at {
				continue // superseded
			}
			scheduled[e.node] = 0
			nodes[e.node].Tick(now)
		}
		carry(e.node, e.at)
	}
	if applied < n {
		tb.Fatalf("only %d of %d regions applied", applied, n)
	}
	return deliveries
}

func BenchmarkClusterSpread(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			total := 0
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := newCluster(b, n, uint64(i+1))
				b.StartTimer()
				total += c.spread(b)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(total)/float64(b.N), "deliveries/op")
		})
	}
}

func TestSpreadReachesEveryone(t *testing.T) {
	if d := newCluster(t, 50, 1).spread(t); d == 0 {
		t.Fatalf("no deliveries")
	}
}

// BenchmarkNewNode: the memory of one idle region (shared initial state and
// membership), the per-node cost of a large simulated cluster.
func BenchmarkNewNode(b *testing.B) {
	init := initialState(b)
	peers := make([]string, 10000)
	for i := range peers {
		peers[i] = fmt.Sprintf("r%05d", i)
	}
	members := NewMembership(peers)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n := NewNode(Config{Region: peers[i%len(peers)], Initial: init, Start: epoch, Rand: rand.New(rand.NewPCG(1, uint64(i)))})
		n.SetMembership(members)
	}
}
