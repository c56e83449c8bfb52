package replication

import (
	"bytes"
	"fmt"
	"time"
)

// Anti-entropy that compares content. Version vectors say how many
// mutations of an origin epoch two regions hold, not which: two regions
// holding different mutations under one id (forged, corrupted, or an id
// reused by a bug) show equal vectors, and push/pull alone never exchanges
// them. So every push/pull also carries, per origin epoch, a digest of the
// received prefix (Message.Sums: the sum of the content hashes of
// mutations 1..recv). A region that holds the same prefix length with
// another digest sends its whole prefix of that origin epoch: the mismatch
// is narrowed to the origin epoch, and the receiver meets each differing
// mutation as a conflict.
//
// A conflict is two different mutations under one id. It is counted
// (Stats.Conflicts), remembered (Node.Conflicts) and resolved the same way
// in every region that meets both (wins): a commit over a lost-commit
// filler, then the earlier timestamp, then the smaller content hash. The
// loser is replaced in the view (a re-fold), in the log (the winner is
// persisted again: Restore applies the same rule) and in gossip.

// contentHash is a 64-bit FNV-1a hash of a mutation's id and content: the
// same in every region, whatever its memory layout.
func contentHash(m *Mutation) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	str := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ 0xff) * prime // separator: "ab"+"c" differs from "a"+"bc"
	}
	u64 := func(x uint64) {
		for i := 0; i < 8; i++ {
			h = (h ^ (x & 0xff)) * prime
			x >>= 8
		}
	}
	str(m.ID.Origin)
	u64(m.ID.Epoch)
	u64(m.ID.Seq)
	u64(uint64(m.TS.Wall))
	u64(uint64(m.TS.Logical))
	if m.Revoke {
		u64(1)
	} else {
		u64(0)
	}
	str(m.Call.Action)
	str(m.Call.Account)
	str(m.Call.Region)
	for _, c := range m.Call.Args {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// wins reports whether a is kept over b, two different mutations under one
// id: a commit beats a filler of a lost commit (the commit turned up after
// all), then the earlier timestamp wins, then the smaller content hash,
// then the smaller encoding. Every region decides alike.
func wins(a, b *Mutation) bool {
	if ag, bg := a.Call.Action == GapAction, b.Call.Action == GapAction; ag != bg {
		return bg
	}
	if c := a.TS.Compare(b.TS); c != 0 {
		return c < 0
	}
	if ha, hb := contentHash(a), contentHash(b); ha != hb {
		return ha < hb
	}
	return bytes.Compare(appendMutationBody(nil, a), appendMutationBody(nil, b)) < 0
}

// Conflict is one id met with two different mutations.
type Conflict struct {
	ID MutationID
	// Kept and Dropped are the content hashes of the winner and the loser
	// (hex in the API): regions that met the same conflict name the same.
	Kept, Dropped uint64
	// At is when this region met it.
	At time.Time
	// From is the peer whose message carried the other mutation ("" for
	// the log, at Restore).
	From string
}

// maxConflicts bounds Node.Conflicts; Stats.Conflicts counts them all.
const maxConflicts = 16

// Conflicts returns the latest conflicts this region met (at most 16,
// oldest first); Stats.Conflicts counts every one.
func (n *Node) Conflicts() []Conflict { return append([]Conflict(nil), n.conflicts...) }

// conflict handles mu, received from `from`, whose id e holds with other
// content: it counts and remembers it and keeps the winner.
func (n *Node) conflict(e *entry, mu *Mutation, from string) error {
	kept := "the known one is kept"
	if n.noteConflict(e, mu, from) {
		n.replace(e, *mu)
		kept = "it replaces the known one"
	}
	return fmt.Errorf("%w: %s differs from the mutation known under that id; %s", ErrConflict, mu.ID, kept)
}

// noteConflict counts and remembers a conflict between e and mu, and
// reports whether mu wins.
func (n *Node) noteConflict(e *entry, mu *Mutation, from string) bool {
	n.stats.Conflicts++
	win := wins(mu, &e.m)
	keep, drop := &e.m, mu
	if win {
		keep, drop = mu, &e.m
	}
	c := Conflict{ID: mu.ID, Kept: contentHash(keep), Dropped: contentHash(drop), At: time.Unix(0, n.now).UTC(), From: from}
	if len(n.conflicts) == maxConflicts {
		n.conflicts = append(n.conflicts[:0], n.conflicts[1:]...)
	}
	n.conflicts = append(n.conflicts, c)
	return win
}

// replace gives entry e the content m (same id): in the digest of its
// origin epoch, the view (re-folded), the log and gossip.
func (n *Node) replace(e *entry, m Mutation) {
	if o := n.logOf(e.m.ID); o != nil && e.m.ID.Seq <= o.recv {
		o.sum += contentHash(&m) - contentHash(&e.m)
	}
	if e.applied {
		n.fold.replace(e, m)
		n.digestOK = false
	} else {
		e.m = m
	}
	n.ready.Persist = append(n.ready.Persist, e.m)
	n.ready.Replaced = append(n.ready.Replaced, e.m)
	n.enqueue(e)
}

// recvSums returns, per origin epoch, the digest of the received prefix
// that recvVector summarises.
func (n *Node) recvSums() VersionVector {
	v := make(VersionVector, len(n.origins))
	for name, o := range n.origins {
		if o.recv > 0 {
			v[name] = o.sum
		}
	}
	return v
}

// RecvState returns the received vector and its per-origin-epoch digests:
// what a driver's own push/pull (memberlist's LocalState) carries.
func (n *Node) RecvState() (vector, sums VersionVector) { return n.recvVector(), n.recvSums() }

// compareSums sends `to` the whole received prefix of every origin epoch
// whose prefix has the length of theirs but another digest.
func (n *Node) compareSums(to string, theirs, sums VersionVector) {
	if len(sums) == 0 {
		return
	}
	var send []*entry
	for _, name := range n.names {
		o := n.origins[name]
		s, ok := sums[name]
		if !ok || o.recv == 0 || theirs[name] != o.recv || s == o.sum {
			continue
		}
		n.stats.DigestMismatches++
		for seq := uint64(1); seq <= o.recv; seq++ {
			send = append(send, o.seqs.get(seq))
		}
	}
	n.sendEntries(to, send, KindRepair, nil, nil)
}
