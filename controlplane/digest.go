package controlplane

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"slices"
	"strconv"

	"github.com/iamprop/iamprop/evaluator"
)

// digester writes a canonical, unambiguous encoding: every string is
// length-prefixed, every table is written in sorted key order and each
// section is tagged, so two different states can never encode alike.
//
// Writes gather in buf and reach the hash in large blocks: one hash write
// per length prefix and per string cost more than the hashing itself (and
// the string's conversion allocated), and a region node digests its view
// at every change. The bytes hashed are the same.
type digester struct {
	h   hash.Hash
	buf []byte
	// Scratch of tableSum and shardSum, reused across tables.
	keys []string
	tab  []byte
}

// digestBuf is the size of the digester's write buffer.
const digestBuf = 2 << 10

func (d *digester) str(s string) {
	if len(d.buf)+8+len(s) > cap(d.buf) {
		d.flush()
		if 8+len(s) > cap(d.buf) {
			d.buf = binary.BigEndian.AppendUint64(d.buf, uint64(len(s)))
			d.flush()
			_, _ = io.WriteString(d.h, s)
			return
		}
	}
	d.buf = binary.BigEndian.AppendUint64(d.buf, uint64(len(s)))
	d.buf = append(d.buf, s...)
}

// flush hashes what buf holds.
func (d *digester) flush() {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
}

func (d *digester) num(n int) { d.str(strconv.Itoa(n)) }

func (d *digester) bool(b bool) {
	if b {
		d.str("1")
	} else {
		d.str("0")
	}
}

func (d *digester) strs(list []string) {
	d.num(len(list))
	for _, s := range list {
		d.str(s)
	}
}

func (d *digester) policy(p *evaluator.Policy) {
	if p == nil {
		d.str("-")
		return
	}
	d.str("+")
	d.str(string(p.Document()))
}

func (d *digester) bpa(b *evaluator.BlockPublicAccess) {
	if b == nil {
		d.str("-")
		return
	}
	d.str("+")
	d.bool(b.BlockPublicAcls)
	d.bool(b.IgnorePublicAcls)
	d.bool(b.BlockPublicPolicy)
	d.bool(b.RestrictPublicBuckets)
}

func (d *digester) common(pc *principalCommon) {
	d.str(pc.Account)
	d.str(pc.Name)
	d.str(pc.Path)
	d.strs(pc.Attached)
	d.num(len(pc.Inline))
	for _, p := range pc.Inline {
		d.str(p.Name)
		d.policy(p.Policy)
	}
}

// Digest is the sha256 of a canonical encoding of the view's content:
// states that hold the same accounts, entities, policies, keys, buckets,
// objects, organization and tombstones have equal digests, and any
// difference in content changes it. Counters (Applied, Conflicts) are not
// content and are left out.
//
// The encoding is a tree, so that a change costs what it wrote rather than
// the whole state: each table's digest covers its count and, in shard
// order, the digest of every non-empty shard's entries in key order
// (tableSum), and the state's digest covers the tables' digests. Shards
// and tables cache theirs, and a write clears only the shard it writes
// and its table: a region node digests its view at every change.
func (s *State) Digest() [32]byte {
	if s.digest != nil {
		if p := s.digest.v.Load(); p != nil {
			return *p
		}
	}
	out := s.computeDigest()
	if s.digest != nil {
		s.digest.v.Store(&out)
	}
	return out
}

// digestVersion names the encoding; a change to it changes every digest.
const digestVersion = "iamprop-state-v2"

func (s *State) computeDigest() [32]byte {
	d := &digester{} // its hash and buffers come with the first shard to hash
	top := make([]byte, 0, 512)
	section := func(name string, sum [32]byte) {
		top = binary.BigEndian.AppendUint64(top, uint64(len(name)))
		top = append(top, name...)
		top = append(top, sum[:]...)
	}
	top = binary.BigEndian.AppendUint64(top, uint64(len(digestVersion)))
	top = append(top, digestVersion...)
	top = binary.BigEndian.AppendUint64(top, uint64(s.nextAccount))
	section("accounts", tableSum(d, &s.accounts, func(d *digester, a *account) {
		d.str(a.Name)
		d.str(a.Email)
		d.num(a.Seq)
		d.str(a.Parent)
		d.bpa(a.BPA)
	}))
	section("users", tableSum(d, &s.users, func(d *digester, u *user) {
		d.common(&u.principalCommon)
		d.strs(u.Groups)
		d.str(u.Boundary)
	}))
	section("groups", tableSum(d, &s.groups, func(d *digester, g *group) {
		d.common(&g.principalCommon)
	}))
	section("roles", tableSum(d, &s.roles, func(d *digester, r *role) {
		d.common(&r.principalCommon)
		d.policy(r.Trust)
		d.str(r.Boundary)
	}))
	section("policies", tableSum(d, &s.policies, func(d *digester, p *managedPolicy) {
		d.str(p.ARN)
		d.str(p.Description)
		d.str(p.Default)
		d.num(p.Next)
		d.num(len(p.Versions))
		for _, v := range p.Versions {
			d.str(v.ID)
			d.policy(v.Policy)
		}
	}))
	section("keys", tableSum(d, &s.keys, func(d *digester, a *accessKey) {
		d.str(a.Account)
		d.str(a.User)
		d.str(a.Status)
	}))
	section("buckets", tableSum(d, &s.buckets, func(d *digester, b *bucket) {
		d.str(b.Region)
		d.str(b.Account)
		d.policy(b.Policy)
		d.bpa(b.BPA)
	}))
	section("objects", tableSum(d, &s.objects, nil))
	section("ous", tableSum(d, &s.ous, func(d *digester, o *orgUnit) {
		d.str(o.Name)
		d.str(o.Parent)
	}))
	section("org-policies", tableSum(d, &s.orgPolicies, func(d *digester, p *orgPolicy) {
		d.str(p.Name)
		d.str(p.Type)
		d.str(p.Description)
		d.bool(p.AWSManaged)
		d.policy(p.Policy)
	}))
	section("attachments", tableSum(d, &s.attachments, func(d *digester, ids []string) {
		d.strs(ids)
	}))
	section("enabled", tableSum(d, &s.enabled, nil))
	section("tombstones", tableSum(d, &s.tombstones, func(d *digester, n int) {
		d.num(n)
	}))
	return sha256.Sum256(top)
}

// emptyTable is the digest of a table without entries.
var emptyTable = sha256.Sum256(binary.BigEndian.AppendUint64(nil, 0))

// tableSum is t's digest: its count, then each non-empty shard's index and
// digest in shard order, cached on t's shard set until a write. enc writes
// an entry's value after its key (nil: keys only). d is scratch.
func tableSum[V any](d *digester, t *table[V], enc func(*digester, V)) [32]byte {
	if t.sh == nil || t.sh.n == 0 {
		return emptyTable
	}
	if p := t.sh.sum.Load(); p != nil {
		return *p
	}
	if d.tab == nil {
		d.tab = make([]byte, 0, 8+tableShards*33)
	}
	b := binary.BigEndian.AppendUint64(d.tab[:0], uint64(t.sh.n))
	for i, p := range t.sh.s {
		if p == nil || len(p.m) == 0 {
			continue
		}
		sum := shardSum(d, p, enc)
		b = append(b, byte(i))
		b = append(b, sum[:]...)
	}
	d.tab = b
	out := sha256.Sum256(b)
	t.sh.sum.Store(&out)
	return out
}

// shardSum is the digest of p's entries in key order, each its key then
// enc's encoding of its value, cached on p until a write.
func shardSum[V any](d *digester, p *shard[V], enc func(*digester, V)) [32]byte {
	if s := p.sum.Load(); s != nil {
		return *s
	}
	if d.h == nil {
		d.h = sha256.New()
		d.buf = make([]byte, 0, digestBuf)
	}
	keys := d.keys[:0]
	for k := range p.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d.keys = keys[:0]
	d.h.Reset()
	d.buf = d.buf[:0]
	for _, k := range keys {
		d.str(k)
		if enc != nil {
			enc(d, p.m[k])
		}
	}
	d.flush()
	var out [32]byte
	d.h.Sum(out[:0])
	p.sum.Store(&out)
	return out
}
