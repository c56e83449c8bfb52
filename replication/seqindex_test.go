package replication

import (
	"math/rand/v2"
	"testing"
)

// TestSeqIndexMatchesMap puts random sequence numbers (dense runs, gaps,
// far-ahead and zero) into a seqIndex and a map, and requires the same
// answers from get, len and each.
func TestSeqIndexMatchesMap(t *testing.T) {
	for _, c := range []struct {
		name  string
		draw  func(r *rand.Rand, i int) uint64
		count int
	}{
		{"in order", func(_ *rand.Rand, i int) uint64 { return uint64(i + 1) }, 500},
		{"shuffled near prefix", func(r *rand.Rand, _ int) uint64 { return uint64(1 + r.IntN(600)) }, 800},
		{"far ahead and zero", func(r *rand.Rand, i int) uint64 {
			switch r.IntN(4) {
			case 0:
				return 0
			case 1:
				return 1<<62 + uint64(r.IntN(10))
			case 2:
				return uint64(1 + r.IntN(3000))
			}
			return uint64(i + 1)
		}, 2000},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var x seqIndex
			want := map[uint64]*entry{}
			for i := 0; i < c.count; i++ {
				s := c.draw(r, i)
				e := &entry{}
				x.put(s, e)
				if s != 0 {
					want[s] = e
				}
				probe := c.draw(r, i)
				if got := x.get(probe); got != want[probe] {
					t.Fatalf("op %d: get(%d) = %p, want %p", i, probe, got, want[probe])
				}
			}
			if x.len() != len(want) {
				t.Fatalf("len = %d, want %d", x.len(), len(want))
			}
			seen := 0
			x.each(func(s uint64, e *entry) {
				seen++
				if want[s] != e {
					t.Fatalf("each: %d -> %p, want %p", s, e, want[s])
				}
			})
			if seen != len(want) {
				t.Fatalf("each visited %d, want %d", seen, len(want))
			}
		})
	}
}

// TestSeqIndexBoundsEmptySlots: a peer sending numbers just inside the
// slack, each ahead of the last, must not grow the slice by the slack per
// number: empty slots never outnumber the entries held.
func TestSeqIndexBoundsEmptySlots(t *testing.T) {
	var x seqIndex
	next := uint64(1)
	for range 2000 {
		x.put(next, &entry{})
		next = uint64(len(x.dense)) + seqSlack - 1 // just inside the slack of the moment
	}
	if empty := len(x.dense) - countDense(&x); empty > countDense(&x) {
		t.Fatalf("%d empty slots for %d dense entries (%d held in all)", empty, countDense(&x), x.len())
	}
}

func countDense(x *seqIndex) int {
	k := 0
	for _, e := range x.dense {
		if e != nil {
			k++
		}
	}
	return k
}
