package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

func mut(seq uint64, args string) replication.Mutation {
	return replication.Mutation{
		ID:   replication.MutationID{Origin: "us-east-2", Seq: seq},
		TS:   replication.Timestamp{Wall: 1_700_000_000_000_000_000 + int64(seq), Logical: uint32(seq % 3)},
		Call: controlplane.Call{Action: "iam:CreateUser", Account: "111122223333", Region: "us-east-2", Args: json.RawMessage(args)},
	}
}

func TestAppendReplayRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l, got, rec, err := Open(dir, Options{})
	if err != nil || len(got) != 0 || !rec.Clean() {
		t.Fatalf("fresh Open = %v, %d mutations, %v", err, len(got), rec)
	}
	// Argument bytes with odd spacing must come back byte for byte.
	want := []replication.Mutation{mut(1, `{"user_name":  "alice"}`), mut(2, `{"user_name":"bob" }`), mut(3, `{}`)}
	if err := l.Append(want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, got, rec, err = Open(dir, Options{})
	if err != nil || !rec.Clean() {
		t.Fatalf("reopen: %v %v", err, rec)
	}
	defer l.Close()
	if len(got) != len(want) {
		t.Fatalf("replayed %d mutations, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].TS != want[i].TS || string(got[i].Call.Args) != string(want[i].Call.Args) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if l.Records() != 3 {
		t.Errorf("Records = %d, want 3", l.Records())
	}
}

func TestBadTailDetectedAndCut(t *testing.T) {
	// Each case damages a log of three good records; replay must return only
	// the records before the damage and report it.
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, ends []int64)
		keep   int
		reason string
	}{
		{"torn payload", func(t *testing.T, p string, ends []int64) { truncate(t, p, ends[2]-3) }, 2, "torn record"},
		{"torn header", func(t *testing.T, p string, ends []int64) { truncate(t, p, ends[1]+5) }, 2, "torn record header"},
		{"flipped bit in last payload", func(t *testing.T, p string, ends []int64) { flip(t, p, ends[2]-2) }, 2, "checksum mismatch"},
		{"flipped bit in middle record", func(t *testing.T, p string, ends []int64) { flip(t, p, ends[1]-2) }, 1, "checksum mismatch"},
		{"zero length", func(t *testing.T, p string, ends []int64) { write(t, p, ends[0], []byte{0, 0, 0, 0}) }, 1, "out of range"},
		{"huge length", func(t *testing.T, p string, ends []int64) { write(t, p, ends[0], []byte{0xff, 0xff, 0xff, 0xff}) }, 1, "out of range"},
		{"garbage appended", func(t *testing.T, p string, ends []int64) { appendBytes(t, p, []byte("\x00\x00\x00\x10garbage")) }, 3, "torn record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _, _, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ends []int64
			for i := uint64(1); i <= 3; i++ {
				if err := l.Append([]replication.Mutation{mut(i, `{"user_name":"u"}`)}); err != nil {
					t.Fatal(err)
				}
				ends = append(ends, l.Size())
			}
			l.Close()
			path := filepath.Join(dir, LogName)
			tc.damage(t, path, ends)

			l, got, rec, err := Open(dir, Options{})
			if err != nil {
				t.Fatalf("Open after damage: %v", err)
			}
			if len(got) != tc.keep {
				t.Errorf("replayed %d, want %d", len(got), tc.keep)
			}
			if rec.Clean() || !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("recovery = %v, want reason containing %q", rec, tc.reason)
			}
			if _, err := os.Stat(rec.SavedAs); err != nil {
				t.Errorf("bad tail not saved: %v", err)
			}
			// The log is usable again: an append after recovery replays.
			if err := l.Append([]replication.Mutation{mut(9, `{}`)}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l, got, rec, err = Open(dir, Options{})
			if err != nil || !rec.Clean() || len(got) != tc.keep+1 || got[len(got)-1].ID.Seq != 9 {
				t.Fatalf("after recovery and append: err=%v rec=%v n=%d", err, rec, len(got))
			}
			l.Close()
		})
	}
}

func TestRefusesForeignFileAndSecondOpener(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LogName), []byte("not a log at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "bad header") {
		t.Errorf("foreign file: err = %v, want bad header", err)
	}
	dir2 := t.TempDir()
	l, _, _, err := Open(dir2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, _, err := Open(dir2, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: err = %v, want ErrLocked", err)
	}
}

func truncate(t *testing.T, p string, n int64) {
	t.Helper()
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, p string, off int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, p, off, []byte{b[off] ^ 0x40})
}

func appendBytes(t *testing.T, p string, b []byte) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	write(t, p, st.Size(), b)
}

func BenchmarkAppendFsync(b *testing.B) {
	l, _, _, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	m := []replication.Mutation{mut(1, `{"user_name":"alice"}`)}
	for i := 0; b.Loop(); i++ {
		m[0].ID.Seq = uint64(i + 1)
		if err := l.Append(m); err != nil {
			b.Fatal(err)
		}
	}
}
