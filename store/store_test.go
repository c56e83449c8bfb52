package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
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

// writeLog writes n records to a new log in a temporary directory and
// returns the directory and the byte offset where each record starts (and,
// last, the file's size).
func writeLog(t *testing.T, n int) (string, []int64) {
	t.Helper()
	dir := t.TempDir()
	l, _, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	starts := []int64{l.Size()}
	for i := 1; i <= n; i++ {
		if err := l.Append([]replication.Mutation{mut(uint64(i), fmt.Sprintf(`{"user_name":"u%d"}`, i))}); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, l.Size())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, starts
}

// seqs lists the sequence numbers of ms.
func seqs(ms []replication.Mutation) []uint64 {
	out := make([]uint64, len(ms))
	for i := range ms {
		out[i] = ms[i].ID.Seq
	}
	return out
}

// without returns 1..n without the numbers in drop.
func without(n int, drop ...int) []uint64 {
	var out []uint64
	for i := 1; i <= n; i++ {
		if !slices.Contains(drop, i) {
			out = append(out, uint64(i))
		}
	}
	return out
}

func TestDamage(t *testing.T) {
	// Each case damages a log of five records (record k starts at
	// starts[k-1] and ends at starts[k]).
	const n = 5
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, starts []int64)
		// torn: cut off without Recover; else refused, naming record
		// and offset.
		torn   bool
		record int
		offset func(starts []int64) int64
		reason string
		keep   []uint64 // what replays (with Recover when not torn)
		kept   int      // Recovery.Kept with Recover
	}{
		{"torn payload", func(t *testing.T, p string, s []int64) { truncate(t, p, s[5]-3) },
			true, 5, func(s []int64) int64 { return s[4] }, "past the end of the file", without(n, 5), 0},
		{"torn header", func(t *testing.T, p string, s []int64) { truncate(t, p, s[4]+5) },
			true, 5, func(s []int64) int64 { return s[4] }, "torn record header", without(n, 5), 0},
		// Complete by its length, the last record was fsynced whole and may
		// have been acknowledged: corruption, not a torn tail.
		{"flipped bit in the last record", func(t *testing.T, p string, s []int64) { flip(t, p, s[5]-2) },
			false, 5, func(s []int64) int64 { return s[4] }, "checksum mismatch", without(n, 5), 0},
		{"garbage appended", func(t *testing.T, p string, s []int64) { appendBytes(t, p, []byte("\x00\x00\x00\x10garbage")) },
			true, 6, func(s []int64) int64 { return s[5] }, "past the end of the file", without(n), 0},
		{"flipped bit in a middle record", func(t *testing.T, p string, s []int64) { flip(t, p, s[2]-2) },
			false, 2, func(s []int64) int64 { return s[1] }, "checksum mismatch", without(n, 2), 3},
		{"flipped bit in a checksum", func(t *testing.T, p string, s []int64) { flip(t, p, s[2]+5) },
			false, 3, func(s []int64) int64 { return s[2] }, "checksum mismatch", without(n, 3), 2},
		{"zero length", func(t *testing.T, p string, s []int64) { write(t, p, s[1], []byte{0, 0, 0, 0}) },
			false, 2, func(s []int64) int64 { return s[1] }, "out of range", without(n, 2), 3},
		{"huge length", func(t *testing.T, p string, s []int64) { write(t, p, s[0], []byte{0xff, 0xff, 0xff, 0xff}) },
			false, 1, func(s []int64) int64 { return s[0] }, "out of range", without(n, 1), 4},
		{"length past the end of the file", func(t *testing.T, p string, s []int64) { write(t, p, s[1], []byte{0, 0x10, 0, 0}) },
			false, 2, func(s []int64) int64 { return s[1] }, "past the end of the file", without(n, 2), 3},
		{"flipped bit in the file header", func(t *testing.T, p string, s []int64) { flip(t, p, 3) },
			false, 1, func(s []int64) int64 { return 0 }, "bad file header", without(n), 5},
		{"two damaged records, the second up to a torn tail", func(t *testing.T, p string, s []int64) {
			flip(t, p, s[1]+20)
			flip(t, p, s[3]+20)
			truncate(t, p, s[5]-1)
		}, false, 2, func(s []int64) int64 { return s[1] }, "checksum mismatch", without(n, 2, 4, 5), 1},
	}
	// The second stretch of the last case: record 4 (complete, damaged)
	// and the torn record 5 after it: no intact record follows, but it is
	// no torn tail, as record 4 was whole.
	secondStretch := map[string]Damage{"two damaged records, the second up to a torn tail": {Record: 4, Torn: false}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, starts := writeLog(t, n)
			path := filepath.Join(dir, LogName)
			tc.damage(t, path, starts)
			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			l, got, rec, err := Open(dir, Options{})
			if !tc.torn {
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open = %v, want a *CorruptError", err)
				}
				if ce.First.Record != tc.record || ce.First.Offset != tc.offset(starts) || !strings.Contains(ce.First.Reason, tc.reason) {
					t.Errorf("corruption named record %d at offset %d (%s); want record %d at %d (%s)",
						ce.First.Record, ce.First.Offset, ce.First.Reason, tc.record, tc.offset(starts), tc.reason)
				}
				for _, want := range []string{path, fmt.Sprintf("record %d ", tc.record), fmt.Sprintf("byte offset %d", tc.offset(starts)), tc.reason, "--recover"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, damaged) {
					t.Errorf("a refused log was changed on disk")
				}
				if saved, _ := filepath.Glob(path + ".*"); len(saved) != 0 {
					t.Errorf("a refused log left files: %v", saved)
				}
				l, got, rec, err = Open(dir, Options{Recover: true})
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !slices.Equal(seqs(got), tc.keep) {
				t.Errorf("replayed %v, want %v", seqs(got), tc.keep)
			}
			if rec.Clean() || rec.Damage[0].Record != tc.record || rec.Damage[0].Torn != tc.torn || rec.Kept != tc.kept || rec.Rewritten == tc.torn {
				t.Errorf("recovery = %+v; want first damage at record %d, torn %v, %d kept", rec, tc.record, tc.torn, tc.kept)
			}
			if want, ok := secondStretch[tc.name]; ok && (len(rec.Damage) != 2 || rec.Damage[1].Record != want.Record || rec.Damage[1].Torn != want.Torn) {
				t.Errorf("damage %+v; want a second stretch at record %d, torn %v", rec.Damage, want.Record, want.Torn)
			}
			// Every damaged byte is kept aside, and only damaged bytes.
			for _, d := range rec.Damage {
				b, err := os.ReadFile(d.SavedAs)
				if err != nil || !bytes.Equal(b, damaged[d.Offset:d.Offset+d.Length]) {
					t.Errorf("damage at %d: saved as %q: %v (%d bytes, want %d)", d.Offset, d.SavedAs, err, len(b), d.Length)
				}
			}
			if _, err := os.Stat(path + ".recover-tmp"); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
			// The log is usable again: an append after recovery replays.
			if err := l.Append([]replication.Mutation{mut(9, `{}`)}); err != nil {
				t.Fatal(err)
			}
			if l.Records() != len(tc.keep)+1 {
				t.Errorf("Records = %d, want %d", l.Records(), len(tc.keep)+1)
			}
			l.Close()
			l, got, rec, err = Open(dir, Options{})
			if err != nil || !rec.Clean() || !slices.Equal(seqs(got), append(slices.Clone(tc.keep), 9)) {
				t.Fatalf("after recovery and append: err=%v rec=%v replayed %v", err, rec, seqs(got))
			}
			l.Close()
		})
	}
}

// TestRandomByteFlips flips one byte at a random offset of a log of many
// records, many times: Open either refuses, naming the record the byte is
// in, or (in the last record's length, making it run past the end) cuts
// that record off as a torn tail; with Recover every other record survives.
func TestRandomByteFlips(t *testing.T) {
	const n, flips = 40, 150
	seed := uint64(1)
	if s := os.Getenv("STORE_FLIP_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	r := rand.New(rand.NewPCG(seed, 0))
	dir, starts := writeLog(t, n)
	path := filepath.Join(dir, LogName)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range flips {
		off := int64(len(magic)) + r.Int64N(int64(len(clean)-len(magic)))
		mask := byte(1 + r.IntN(255))
		record := sort.Search(n, func(k int) bool { return starts[k+1] > off }) + 1
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("flip %d (seed %d; rerun with STORE_FLIP_SEED=%d): byte %d of record %d ^ %#x: %s",
				i, seed, seed, off, record, mask, fmt.Sprintf(format, a...))
		}
		b := slices.Clone(clean)
		b[off] ^= mask
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, got, rec, err := Open(dir, Options{})
		// A flip in the last record's length may make it run past the end
		// of the file: a torn tail, cut off. Anywhere else the record is
		// whole and damaged: corruption, like any other record.
		if record == n && err == nil {
			if off >= starts[n-1]+4 || len(rec.Damage) != 1 || !rec.Damage[0].Torn || !slices.Equal(seqs(got), without(n, n)) {
				fail("Open = %v, %v, replayed %v; want a refusal, or (the flip in its length) the last record cut off as a torn tail", err, rec, seqs(got))
			}
			l.Close()
			continue
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.First.Record != record || ce.First.Offset != starts[record-1] {
			fail("Open = %v; want a corruption at record %d, offset %d", err, record, starts[record-1])
		}
		l, got, rec, err = Open(dir, Options{Recover: true})
		if err != nil || !slices.Equal(seqs(got), without(n, record)) || rec.Kept != n-record {
			fail("recover: %v, %v, replayed %v; want every record but %d", err, rec, seqs(got), record)
		}
		l.Close()
		for _, d := range rec.Damage {
			os.Remove(d.SavedAs)
		}
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

// BenchmarkReplay measures Open on a log of 10,000 records: the start of a
// restarted region before it hears from any peer.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	l, _, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]replication.Mutation, 0, 100)
	for i := 1; i <= 10_000; i++ {
		batch = append(batch, mut(uint64(i), fmt.Sprintf(`{"user_name":"user-%d","path":"/engineering/"}`, i)))
		if len(batch) == cap(batch) {
			if err := l.Append(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	l.Close()
	b.SetBytes(l.Size())
	for b.Loop() {
		l, muts, _, err := Open(dir, Options{NoSync: true})
		if err != nil || len(muts) != 10_000 {
			b.Fatalf("replay: %v, %d records", err, len(muts))
		}
		l.Close()
	}
}
