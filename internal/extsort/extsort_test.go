package extsort

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// TestSortedOnceInKeyOrder: whatever the limit (all in memory, or one run
// per few records), Each delivers every key once, in order, with the
// payload of the first record added under it, and a second Each the same.
func TestSortedOnceInKeyOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		runs  bool
	}{
		{"in memory", 1 << 30, false},
		{"many runs", 700, true},
		{"one record per run", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(dir, tc.limit)
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 500
			perm := rng.Perm(n)
			added := 0
			for _, i := range perm {
				k := Key{T: int64(i / 3), ID: fmt.Sprintf("id-%04d", i)}
				if err := s.Add(k, []byte("first-"+k.ID)); err != nil {
					t.Fatal(err)
				}
				added++
				if i%10 == 0 { // a redelivery, added later: dropped
					if err := s.Add(k, []byte("again")); err != nil {
						t.Fatal(err)
					}
					added++
				}
			}
			if (s.Runs() > 0) != tc.runs {
				t.Errorf("%d runs written", s.Runs())
			}
			for pass := 0; pass < 2; pass++ {
				var got []Key
				err := s.Each(func(k Key, p []byte) error {
					if string(p) != "first-"+k.ID {
						t.Fatalf("payload %q for %s", p, k.ID)
					}
					got = append(got, k)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != n {
					t.Fatalf("pass %d: %d records, want %d", pass, len(got), n)
				}
				for i := 1; i < len(got); i++ {
					if !got[i-1].less(got[i]) {
						t.Fatalf("pass %d: %v before %v", pass, got[i-1], got[i])
					}
				}
			}
			if s.Duplicates() != 50 || s.Records() != added {
				t.Errorf("%d duplicates of %d records, want 50 of %d", s.Duplicates(), s.Records(), added)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("Close left %d entries in the temporary directory", len(left))
			}
		})
	}
}
