package store

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"slices"
	"testing"
)

// FuzzDecodeRecord feeds the log's record decoder, and the scan that
// resynchronizes after damage, arbitrary bytes. With fix set, the header's
// length and checksum are made to match the rest, so the fuzzer reaches
// the payload decoder instead of stopping at the CRC. Neither may panic,
// read past its input or accept a record that does not round-trip.
func FuzzDecodeRecord(f *testing.F) {
	m := mut(7, `{"user_name":"alice"}`)
	rec, err := encodeRecord(nil, &m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec, false)
	f.Add(rec[:len(rec)-1], false)
	f.Add(append([]byte(magic), rec...), false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix && len(b) >= headerSize {
			binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-headerSize))
			binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[headerSize:], castagnoli))
		}
		m, size, bad, short := decodeRecord(b)
		if bad == "" {
			if size < headerSize || size > len(b) || short {
				t.Fatalf("intact record of size %d in %d bytes (short %v)", size, len(b), short)
			}
			// What decodes re-encodes to a record that decodes the same.
			again, err := encodeRecord(nil, &m)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			m2, size2, bad2, _ := decodeRecord(again)
			if bad2 != "" || size2 != len(again) || !reflect.DeepEqual(m, m2) {
				t.Fatalf("re-decode: %q, size %d of %d, same %v", bad2, size2, len(again), reflect.DeepEqual(m, m2))
			}
		} else if short && len(b) >= headerSize && binary.BigEndian.Uint32(b[0:4]) <= uint32(len(b)-headerSize) {
			t.Fatalf("short reported, but the record's %d bytes are all there", len(b))
		}
		// The scan covers the file exactly: intact records and damage,
		// in order, without overlap.
		file := append([]byte(magic), b...)
		sc := scan(file)
		if sc.foreign {
			return
		}
		var spans [][2]int64
		for _, r := range sc.intact {
			spans = append(spans, r)
		}
		for _, d := range sc.damage {
			spans = append(spans, [2]int64{d.Offset, d.Offset + d.Length})
		}
		slices.SortFunc(spans, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		at := int64(len(magic))
		for _, s := range spans {
			if s[0] != at || s[1] <= s[0] {
				t.Fatalf("span %v: want one starting at %d (spans %v)", s, at, spans)
			}
			at = s[1]
		}
		if at != int64(len(file)) {
			t.Fatalf("spans end at %d of %d bytes", at, len(file))
		}
		if len(sc.muts) != len(sc.intact) {
			t.Fatalf("%d mutations from %d intact records", len(sc.muts), len(sc.intact))
		}
	})
}
