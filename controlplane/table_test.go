package controlplane

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestTableCopyOnWrite: tables cloned from one another at random and then
// written independently each keep exactly their own contents (checked
// against plain maps after every operation), for small and large tables.
func TestTableCopyOnWrite(t *testing.T) {
	for _, keys := range []int{3, 50, 2000} {
		t.Run(fmt.Sprint("keys=", keys), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(keys), 9))
			tabs := []table[int]{{}}
			refs := []map[string]int{{}}
			for op := 0; op < 20000; op++ {
				i := r.IntN(len(tabs))
				k := fmt.Sprint("k", r.IntN(keys))
				switch r.IntN(10) {
				case 0:
					if len(tabs) < 8 {
						tabs[i].share()
						tabs = append(tabs, tabs[i])
						refs = append(refs, maps.Clone(refs[i]))
					}
				case 1, 2:
					tabs[i].del(k)
					delete(refs[i], k)
				default:
					tabs[i].set(k, op)
					refs[i][k] = op
				}
				if op%500 == 0 || op == 19999 {
					for j := range tabs {
						if tabs[j].len() != len(refs[j]) {
							t.Fatalf("op %d: table %d holds %d, want %d", op, j, tabs[j].len(), len(refs[j]))
						}
						for k, v := range tabs[j].all() {
							if refs[j][k] != v {
								t.Fatalf("op %d: table %d: %s = %d, want %d", op, j, k, v, refs[j][k])
							}
						}
					}
				}
				if v, ok := tabs[i].get(k); ok != hasKey(refs[i], k) || v != refs[i][k] {
					t.Fatalf("op %d: table %d: get(%s) = %d, %v; want %d", op, i, k, v, ok, refs[i][k])
				}
			}
		})
	}
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }
