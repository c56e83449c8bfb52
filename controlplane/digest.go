package controlplane

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
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
}

// digestBuf is the size of the digester's write buffer.
const digestBuf = 8 << 10

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

func (s *State) computeDigest() [32]byte {
	d := &digester{h: sha256.New(), buf: make([]byte, 0, digestBuf)}
	d.str("iamprop-state-v1")
	d.str("accounts")
	d.num(s.nextAccount)
	for _, k := range s.accounts.keys() {
		a := s.accounts.at(k)
		d.str(k)
		d.str(a.Name)
		d.str(a.Email)
		d.num(a.Seq)
		d.str(a.Parent)
		d.bpa(a.BPA)
	}
	d.str("users")
	for _, k := range s.users.keys() {
		u := s.users.at(k)
		d.str(k)
		d.common(&u.principalCommon)
		d.strs(u.Groups)
		d.str(u.Boundary)
	}
	d.str("groups")
	for _, k := range s.groups.keys() {
		d.str(k)
		d.common(&s.groups.at(k).principalCommon)
	}
	d.str("roles")
	for _, k := range s.roles.keys() {
		r := s.roles.at(k)
		d.str(k)
		d.common(&r.principalCommon)
		d.policy(r.Trust)
		d.str(r.Boundary)
	}
	d.str("policies")
	for _, k := range s.policies.keys() {
		p := s.policies.at(k)
		d.str(k)
		d.str(p.ARN)
		d.str(p.Description)
		d.str(p.Default)
		d.num(p.Next)
		d.num(len(p.Versions))
		for _, v := range p.Versions {
			d.str(v.ID)
			d.policy(v.Policy)
		}
	}
	d.str("keys")
	for _, k := range s.keys.keys() {
		a := s.keys.at(k)
		d.str(k)
		d.str(a.Account)
		d.str(a.User)
		d.str(a.Status)
	}
	d.str("buckets")
	for _, k := range s.buckets.keys() {
		b := s.buckets.at(k)
		d.str(k)
		d.str(b.Region)
		d.str(b.Account)
		d.policy(b.Policy)
		d.bpa(b.BPA)
	}
	d.str("objects")
	d.strs(s.objects.keys())
	d.str("ous")
	for _, k := range s.ous.keys() {
		o := s.ous.at(k)
		d.str(k)
		d.str(o.Name)
		d.str(o.Parent)
	}
	d.str("org-policies")
	for _, k := range s.orgPolicies.keys() {
		p := s.orgPolicies.at(k)
		d.str(k)
		d.str(p.Name)
		d.str(p.Type)
		d.str(p.Description)
		d.bool(p.AWSManaged)
		d.policy(p.Policy)
	}
	d.str("attachments")
	for _, k := range s.attachments.keys() {
		d.str(k)
		d.strs(s.attachments.at(k))
	}
	d.str("enabled")
	d.strs(s.enabled.keys())
	d.str("tombstones")
	for _, k := range s.tombstones.keys() {
		d.str(k)
		d.num(s.tombstones.at(k))
	}
	d.flush()
	var out [32]byte
	d.h.Sum(out[:0])
	return out
}
