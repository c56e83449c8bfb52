package replication

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/memberlist"
)

var txqSeed = flag.Uint64("replication.txqseed", 0, "seed of TestTransmitQueueMatchesMemberlist (0: seeds 1..20)")

// mlBroadcast is a memberlist NamedBroadcast standing for one rumor.
type mlBroadcast struct {
	name     string
	msg      []byte
	finished *[]string
}

func (b *mlBroadcast) Name() string { return b.name }
func (b *mlBroadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}
func (b *mlBroadcast) Message() []byte { return b.msg }
func (b *mlBroadcast) Finished()       { *b.finished = append(*b.finished, b.name) }

// TestTransmitQueueMatchesMemberlist drives memberlist's
// TransmitLimitedQueue and transmitQueue with the same random operations
// (queue a rumor, sometimes under a name already queued; take with a random
// overhead and budget; prune to a random length; change the cluster size)
// and requires the same
// rumors, in the same order, from every take, and the same queue length
// after every operation. It is what lets the node use its own queue.
func TestTransmitQueueMatchesMemberlist(t *testing.T) {
	seeds := []uint64{*txqSeed}
	if *txqSeed == 0 {
		seeds = nil
		for s := uint64(1); s <= 20; s++ {
			seeds = append(seeds, s)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 3))
			nodes := 1 + r.IntN(50)
			numNodes := func() int { return nodes }
			mult := 1 + r.IntN(4)
			ml := &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: mult}
			ours := newTransmitQueue(numNodes, mult)
			var finished []string
			byMsg := map[*byte]string{}
			entries := map[MutationID]*entry{} // a node holds one entry per ID
			names := 5 + r.IntN(40)            // a small name space: replacements happen
			sizes := []int{1 + r.IntN(400), 1 + r.IntN(400), 1 + r.IntN(1400)}
			for op := 0; op < 3000; op++ {
				switch k := r.IntN(10); {
				case k < 4:
					seq := uint64(1 + r.IntN(names))
					size := sizes[r.IntN(len(sizes))]
					if r.IntN(4) == 0 {
						size = 1 + r.IntN(1400)
					}
					id := MutationID{Origin: "o", Seq: seq}
					msg := make([]byte, size)
					byMsg[&msg[0]] = id.String()
					ml.QueueBroadcast(&mlBroadcast{name: id.String(), msg: msg, finished: &finished})
					e := entries[id]
					if e == nil {
						e = &entry{m: Mutation{ID: id}}
						entries[id] = e
					}
					ours.push(e, size)
				case k < 9:
					overhead, limit := r.IntN(6), r.IntN(1500)
					var want, got []string
					for _, m := range ml.GetBroadcasts(overhead, limit) {
						want = append(want, byMsg[&m[0]])
					}
					for _, e := range ours.take(overhead, limit, nil) {
						got = append(got, e.m.ID.String())
					}
					if fmt.Sprint(want) != fmt.Sprint(got) {
						t.Fatalf("seed %d op %d: take(%d, %d): memberlist %v, ours %v", seed, op, overhead, limit, want, got)
					}
				case r.IntN(2) == 0:
					keep := r.IntN(12)
					if ml.NumQueued() > 0 { // memberlist's Prune of a queue never used panics
						ml.Prune(keep)
					}
					ours.prune(keep)
				default:
					nodes = 1 + r.IntN(2000)
				}
				if ml.NumQueued() != ours.len() {
					t.Fatalf("seed %d op %d: memberlist holds %d rumors, ours %d", seed, op, ml.NumQueued(), ours.len())
				}
			}
			if len(finished) == 0 {
				t.Fatalf("seed %d: no rumor ever finished: the test exercised nothing", seed)
			}
		})
	}
}

// TestTransmitQueueTakeDoesNotAllocate: a steady-state gossip take costs
// no allocation (the point of not using memberlist's queue).
func TestTransmitQueueTakeDoesNotAllocate(t *testing.T) {
	q := newTransmitQueue(func() int { return 1000 }, 4)
	es := make([]*entry, 8)
	for i := range es {
		es[i] = &entry{m: Mutation{ID: MutationID{Origin: "o", Seq: uint64(i + 1)}}}
	}
	buf := make([]*entry, 0, 16)
	allocs := testing.AllocsPerRun(200, func() {
		for _, e := range es {
			q.push(e, 100)
		}
		for q.len() > 0 {
			buf = q.take(3, 1400, buf[:0])
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per fill-and-drain, want 0", allocs)
	}
}
