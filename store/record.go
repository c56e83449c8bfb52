package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/iamprop/iamprop/replication"
)

// encodeRecord appends the record of one mutation to b.
func encodeRecord(b []byte, m *replication.Mutation) ([]byte, error) {
	payload := replication.Message{Kind: replication.KindRepair, From: m.ID.Origin, Mutations: []replication.Mutation{*m}}.Encode()
	if len(payload) > MaxRecordBytes {
		return b, fmt.Errorf("store: mutation %s encodes to %d bytes, more than %d", m.ID, len(payload), MaxRecordBytes)
	}
	var hdr [headerSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, castagnoli))
	b = append(b, hdr[:]...)
	return append(b, payload...), nil
}

// decodeRecord reads the record at the start of b. On success it returns
// the mutation and the record's size, and bad is "". Otherwise bad says
// what is wrong, and short says b ends inside the record (what an
// interrupted append leaves). It never reads past b and allocates nothing
// beyond what the decoded mutation holds.
func decodeRecord(b []byte) (m replication.Mutation, size int, bad string, short bool) {
	if len(b) < headerSize {
		return m, 0, fmt.Sprintf("torn record header (%d of %d bytes)", len(b), headerSize), true
	}
	length := binary.BigEndian.Uint32(b[0:4])
	sum := binary.BigEndian.Uint32(b[4:8])
	if length == 0 || length > MaxRecordBytes {
		return m, 0, fmt.Sprintf("record length %d out of range", length), false
	}
	if uint64(len(b)-headerSize) < uint64(length) {
		return m, 0, fmt.Sprintf("record length %d runs past the end of the file (%d payload bytes there)", length, len(b)-headerSize), true
	}
	payload := b[headerSize : headerSize+int(length)]
	if crc32.Checksum(payload, castagnoli) != sum {
		return m, 0, "checksum mismatch", false
	}
	msg, err := replication.DecodeMessage(payload)
	if err != nil {
		return m, 0, fmt.Sprintf("undecodable record: %v", err), false
	}
	if msg.Kind != replication.KindRepair || len(msg.Mutations) != 1 {
		return m, 0, fmt.Sprintf("undecodable record: a %s message of %d mutations, want one repair", msg.Kind, len(msg.Mutations)), false
	}
	return msg.Mutations[0], headerSize + int(length), "", false
}

// scanned is what scan found in a log file's bytes.
type scanned struct {
	muts    []replication.Mutation
	intact  [][2]int64 // [start, end) of each intact record, in file order
	damage  []Damage   // SavedAs empty
	kept    int        // intact records after the first damage
	foreign bool       // no header and no intact record where the first should be
	epoch   uint64     // the header's epoch (0 for a damaged header: a rewrite draws a new one)
}

// scan reads every intact record of a log file and locates the damage
// between them. After a bad record it resynchronizes at the next offset
// where an intact record starts (a length in range whose CRC-32C matches a
// payload that decodes to one mutation: a chance of about 2^-32 per offset
// for damaged bytes to pass), so one flipped byte costs one record, not
// every record after it. Damage that no intact record follows and that
// ends the file inside a record is a torn tail.
func scan(data []byte) scanned {
	var sc scanned
	hl, epoch, ok := parseHeader(data)
	off := int64(hl)
	sc.epoch = epoch
	if !ok {
		// The header is damaged: this is our log if a record follows
		// where either header would end.
		off = -1
		for _, n := range []int{header2Len, len(magic)} {
			if len(data) > n {
				if _, _, bad, _ := decodeRecord(data[n:]); bad == "" {
					off = int64(n)
					break
				}
			}
		}
		if off < 0 {
			sc.foreign = true
			return sc
		}
		sc.damage = append(sc.damage, Damage{Record: 1, Offset: 0, Length: off, Reason: "bad file header"})
	}
	for off < int64(len(data)) {
		m, size, bad, short := decodeRecord(data[off:])
		if bad == "" {
			sc.muts = append(sc.muts, m)
			sc.intact = append(sc.intact, [2]int64{off, off + int64(size)})
			if len(sc.damage) > 0 {
				sc.kept++
			}
			off += int64(size)
			continue
		}
		next := resync(data, off+1)
		d := Damage{Record: len(sc.muts) + len(sc.damage) + 1, Offset: off, Reason: bad}
		if next < 0 {
			// Torn only if the file ends inside the record, as an
			// interrupted append leaves it. A last record complete by its
			// length but damaged may have been acknowledged (it was
			// fsynced whole): trimming it would let its id be issued again.
			d.Length, d.Torn = int64(len(data))-off, short
			sc.damage = append(sc.damage, d)
			break
		}
		d.Length = next - off
		sc.damage = append(sc.damage, d)
		off = next
	}
	return sc
}

// resync returns the first offset at or after from where an intact record
// starts, or -1.
func resync(data []byte, from int64) int64 {
	for off := from; off+headerSize <= int64(len(data)); off++ {
		// Cheap tests first: almost every offset fails on the length.
		length := binary.BigEndian.Uint32(data[off : off+4])
		if length == 0 || length > MaxRecordBytes || int64(length) > int64(len(data))-off-headerSize {
			continue
		}
		if _, _, bad, _ := decodeRecord(data[off:]); bad == "" {
			return off
		}
	}
	return -1
}
