package controlplane

import (
	"math/rand/v2"
	"testing"
)

// dropSums forgets t's cached shard and table digests.
func dropSums[V any](t *table[V]) {
	if t.sh == nil {
		return
	}
	t.sh.sum.Store(nil)
	for _, p := range t.sh.s {
		if p != nil {
			p.sum.Store(nil)
		}
	}
}

// freshDigest computes s's digest with no cache at all.
func freshDigest(s *State) [32]byte {
	dropSums(&s.accounts)
	dropSums(&s.users)
	dropSums(&s.groups)
	dropSums(&s.roles)
	dropSums(&s.policies)
	dropSums(&s.keys)
	dropSums(&s.buckets)
	dropSums(&s.objects)
	dropSums(&s.ous)
	dropSums(&s.orgPolicies)
	dropSums(&s.attachments)
	dropSums(&s.enabled)
	dropSums(&s.tombstones)
	return s.computeDigest()
}

// fromShardSums computes s's digest again from its shards' and tables'
// cached digests (the state's own cached digest dropped): what a view
// pays after a change.
func fromShardSums(s *State) [32]byte {
	s.digest.v.Store(nil)
	return s.Digest()
}

// TestDigestIncrementalMatchesFresh: after every call of random sequences,
// through chains of clones, the digest from the cached shard and table
// digests equals the one computed from nothing, and a clone's digest never
// moves when the state it was cloned from (or a later clone) changes.
func TestDigestIncrementalMatchesFresh(t *testing.T) {
	p := pool()
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		s := freshAccounts(t)
		type kept struct {
			s    *State
			want [32]byte
		}
		var clones []kept
		for step := range 120 {
			c := p[r.IntN(len(p))]
			if r.IntN(10) == 0 {
				// Some steps write many keys of one table at once.
				for i := range 20 {
					s.Apply(mk("s3:PutObject", `{"bucket":"docs","key":"k`+string(rune('a'+i))+`"}`))
				}
			}
			s.Apply(c)
			inc := fromShardSums(s)
			if inc != s.Digest() {
				t.Fatalf("seed %d step %d: the state's cached digest differs from its shards'", seed, step)
			}
			if step%3 == 0 {
				// Every third step checks against no cache; the others
				// leave stale-looking caches in place for later steps.
				if fresh := freshDigest(s); inc != fresh {
					t.Fatalf("seed %d step %d (%s %s): incremental digest %x, from nothing %x", seed, step, c.Action, c.Args, inc, fresh)
				}
			}
			if step%10 == 0 {
				k := s.Clone()
				clones = append(clones, kept{k, k.Digest()})
				if r.IntN(2) == 0 {
					s = s.Clone() // continue on a clone, as a region re-folding does
				}
			}
		}
		for i, k := range clones {
			if got := fromShardSums(k.s); got != k.want {
				t.Fatalf("seed %d: clone %d's digest moved from %x to %x after later writes elsewhere", seed, i, k.want, got)
			}
		}
		for i, k := range clones {
			if got := freshDigest(k.s); got != k.want {
				t.Fatalf("seed %d: clone %d's digest from nothing is %x, was %x", seed, i, got, k.want)
			}
		}
	}
}
