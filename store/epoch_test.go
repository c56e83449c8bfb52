package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/iamprop/iamprop/replication"
)

// TestEpochs: a new log starts a new epoch and keeps it across reopens; a
// log from before epochs reads as epoch 0 and stays so; a log rewritten by
// Recover starts a new epoch; a flipped byte in the epoch is a damaged
// header, not a silently different epoch.
func TestEpochs(t *testing.T) {
	oldLog := func(t *testing.T, dir string) {
		// The format before epochs: the old magic and records.
		b := []byte(magic)
		for i := 1; i <= 3; i++ {
			m := mut(uint64(i), fmt.Sprintf(`{"user_name":"u%d"}`, i))
			var err error
			if b, err = encodeRecord(b, &m); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, LogName), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		setup    func(t *testing.T, dir string) // before the first Open (with NewEpoch 7)
		recover  bool
		want     uint64 // the first Open's epoch
		wantMuts int
	}{
		{"new log", func(*testing.T, string) {}, false, 7, 0},
		{"log from before epochs", oldLog, false, 0, 3},
		{"log from before epochs, corrupt, recovered", func(t *testing.T, dir string) {
			oldLog(t, dir)
			flip(t, filepath.Join(dir, LogName), int64(len(magic))+10)
		}, true, 7, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			l, muts, _, err := Open(dir, Options{NoSync: true, NewEpoch: 7, Recover: tc.recover})
			if err != nil {
				t.Fatal(err)
			}
			if l.Epoch() != tc.want || len(muts) != tc.wantMuts {
				t.Errorf("epoch %d with %d mutations, want %d with %d", l.Epoch(), len(muts), tc.want, tc.wantMuts)
			}
			m := mut(9, `{"user_name":"later"}`)
			m.ID.Epoch = l.Epoch()
			if err := l.Append([]replication.Mutation{m}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			// Reopened (another NewEpoch offered): the same epoch, the
			// appended mutation with its epoch.
			l, muts, rec, err := Open(dir, Options{NoSync: true, NewEpoch: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Epoch() != tc.want || !rec.Clean() || len(muts) != tc.wantMuts+1 || muts[len(muts)-1].ID != m.ID {
				t.Errorf("reopened: epoch %d, %d mutations (last %v), damage %v; want epoch %d, %d mutations, last %v",
					l.Epoch(), len(muts), muts[len(muts)-1].ID, rec, tc.want, tc.wantMuts+1, m.ID)
			}
		})
	}
	t.Run("random epochs differ", func(t *testing.T) {
		a, _, _, err := Open(t.TempDir(), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, _, _, err := Open(t.TempDir(), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if a.Epoch() == 0 || a.Epoch() == b.Epoch() {
			t.Errorf("two new logs drew epochs %d and %d", a.Epoch(), b.Epoch())
		}
	})
	t.Run("flipped epoch byte", func(t *testing.T) {
		dir, _ := writeLog(t, 2)
		flip(t, filepath.Join(dir, LogName), 12)
		if _, _, _, err := Open(dir, Options{}); err == nil {
			t.Fatal("a log whose epoch changed opened")
		}
	})
}
