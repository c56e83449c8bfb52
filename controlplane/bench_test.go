package controlplane

import (
	"fmt"
	"testing"
)

func BenchmarkClone(b *testing.B) {
	s := authWorld(&testing.T{})
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Clone()
	}
}

// BenchmarkCloneApply is the re-fold step of a region: clone, apply one call.
func BenchmarkCloneApply(b *testing.B) {
	s := authWorld(&testing.T{})
	c := mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)
	b.ReportAllocs()
	for b.Loop() {
		v := s.Clone()
		v.Apply(c)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	s := authWorld(&testing.T{})
	for _, p := range []Probe{
		{Principal: "anonymous", Action: "s3:GetObject", Resource: getB},
		{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3},
		{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3},
	} {
		b.Run(p.Principal, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Authorize(p)
			}
		})
		b.Run("Decide/"+p.Principal, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Decide(p)
			}
		})
	}
}

func BenchmarkDigest(b *testing.B) {
	s := authWorld(&testing.T{})
	for i := 0; i < 100; i++ {
		mustApply(b, s, mk("s3:PutObject", fmt.Sprintf(`{"bucket":"docs","key":"k%d"}`, i)))
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Digest()
		}
	})
	b.Run("from-nothing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			freshDigest(s)
		}
	})
	// A view's digest after one change: what a region node pays per
	// commit, the other shards' and tables' digests cached.
	b.Run("after-one-change", func(b *testing.B) {
		b.ReportAllocs()
		put := [2]Call{mk("s3:PutObject", `{"bucket":"docs","key":"churn"}`), mk("s3:DeleteObject", `{"bucket":"docs","key":"churn"}`)}
		i := 0
		for b.Loop() {
			s.Apply(put[i%2])
			i++
			s.Digest()
		}
	})
}
