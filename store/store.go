// Package store is a region's durable mutation log: a checksummed,
// append-only file that is fsynced before a commit is acknowledged and
// replayed when the region restarts. A torn or corrupt tail (a crash in the
// middle of a write, a flipped bit) is detected by length and CRC, reported,
// moved aside and never applied.
package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// File layout:
//
//	file   = magic record*
//	magic  = "IAMPLOG1"
//	record = length(uint32 BE) crc32c(uint32 BE, of payload) payload
//	payload = replication wire form of a one-mutation KindRepair message
//
// The payload reuses replication's codec rather than JSON because the
// mutation's argument bytes must survive exactly: peers compare a known
// mutation byte for byte, and a re-encoded JSON document would look forged.
const (
	magic      = "IAMPLOG1"
	headerSize = 8
	// MaxRecordBytes bounds one record, so a corrupt length field cannot
	// make replay allocate gigabytes.
	MaxRecordBytes = replication.MaxMessageBytes
	// LogName is the log's file name inside the data directory.
	LogName  = "mutations.log"
	lockName = "LOCK"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrLocked is returned by Open when another process holds the directory.
var ErrLocked = errors.New("store: data directory is in use by another process")

// Recovery describes what Open found wrong at the end of the log and did
// about it. A zero Recovery means the log was clean.
type Recovery struct {
	// Offset is the byte offset of the first record that could not be
	// read; the log was truncated there.
	Offset int64
	// Discarded is how many bytes followed that offset; they were moved
	// to SavedAs for inspection, never applied.
	Discarded int64
	// Reason says what was wrong: a torn record (the file ends inside it),
	// a checksum mismatch, an oversized length or an undecodable payload.
	Reason string
	// SavedAs is the file the discarded bytes were copied to ("" if none).
	SavedAs string
}

// Clean reports whether nothing was discarded.
func (r Recovery) Clean() bool { return r.Reason == "" }

// String describes the recovery for a log line.
func (r Recovery) String() string {
	if r.Clean() {
		return "clean"
	}
	return fmt.Sprintf("discarded %d bytes at offset %d (%s); saved as %s", r.Discarded, r.Offset, r.Reason, r.SavedAs)
}

// Log is an open mutation log. It is safe for concurrent use, though the
// live driver appends from one goroutine.
type Log struct {
	mu       sync.Mutex
	f        *os.File
	lock     *os.File
	size     int64
	records  int
	buf      []byte
	noSync   bool
	closed   bool
	syncHook func(time.Duration)
}

// Options tunes Open.
type Options struct {
	// NoSync skips fsync. Only for benchmarks that measure everything but
	// the disk; a crash may then lose acknowledged mutations.
	NoSync bool
	// OnSync, when set, is called with the duration of every fsync (for the
	// store's latency metric).
	OnSync func(time.Duration)
}

// Open opens (creating if needed) the log in dir, replays it and returns
// the mutations it holds in append order, with a Recovery that says whether
// a bad tail was cut off. The directory is locked against a second process.
func Open(dir string, opts Options) (*Log, []replication.Mutation, Recovery, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("store: create data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("store: lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, nil, Recovery{}, fmt.Errorf("%w (%s): %v", ErrLocked, dir, err)
	}
	path := filepath.Join(dir, LogName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		lock.Close()
		return nil, nil, Recovery{}, fmt.Errorf("store: open log: %w", err)
	}
	l := &Log{f: f, lock: lock, noSync: opts.NoSync, syncHook: opts.OnSync}
	muts, rec, err := l.replay(path)
	if err != nil {
		f.Close()
		lock.Close()
		return nil, nil, Recovery{}, err
	}
	return l, muts, rec, nil
}

// replay reads every good record and cuts the log at the first bad one.
func (l *Log) replay(path string) ([]replication.Mutation, Recovery, error) {
	st, err := l.f.Stat()
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("store: stat log: %w", err)
	}
	if st.Size() == 0 {
		// New log: write the magic and make the file's existence durable.
		if _, err := l.f.Write([]byte(magic)); err != nil {
			return nil, Recovery{}, fmt.Errorf("store: write header: %w", err)
		}
		if err := l.sync(); err != nil {
			return nil, Recovery{}, err
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			return nil, Recovery{}, err
		}
		l.size = int64(len(magic))
		return nil, Recovery{}, nil
	}
	r := bufio.NewReaderSize(l.f, 64<<10)
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:len(magic)]); err != nil || string(hdr[:len(magic)]) != magic {
		// Not our file (or its first bytes are gone): refuse rather than
		// overwrite something we do not understand.
		return nil, Recovery{}, fmt.Errorf("store: %s is not an iamprop mutation log (bad header)", path)
	}
	off := int64(len(magic))
	var muts []replication.Mutation
	var bad string
	for {
		n, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			break
		}
		if err != nil {
			bad = fmt.Sprintf("torn record header (%d of %d bytes)", n, headerSize)
			break
		}
		length := binary.BigEndian.Uint32(hdr[0:4])
		sum := binary.BigEndian.Uint32(hdr[4:8])
		if length == 0 || length > MaxRecordBytes {
			bad = fmt.Sprintf("record length %d out of range", length)
			break
		}
		payload := make([]byte, length)
		if n, err := io.ReadFull(r, payload); err != nil {
			bad = fmt.Sprintf("torn record (%d of %d payload bytes)", n, length)
			break
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			bad = "checksum mismatch"
			break
		}
		msg, err := replication.DecodeMessage(payload)
		if err != nil || len(msg.Mutations) != 1 {
			bad = fmt.Sprintf("undecodable record: %v", err)
			break
		}
		muts = append(muts, msg.Mutations[0])
		off += headerSize + int64(length)
		l.records++
	}
	l.size = off
	if bad == "" {
		if _, err := l.f.Seek(off, io.SeekStart); err != nil {
			return nil, Recovery{}, fmt.Errorf("store: seek: %w", err)
		}
		return muts, Recovery{}, nil
	}
	rec := Recovery{Offset: off, Discarded: st.Size() - off, Reason: bad}
	// Keep the bad bytes for a human, then cut them off so the next append
	// does not follow garbage (which would hide it from every later replay).
	saved := fmt.Sprintf("%s.corrupt-%d", path, off)
	if err := copyTail(l.f, off, saved); err != nil {
		return nil, Recovery{}, err
	}
	rec.SavedAs = saved
	if err := l.f.Truncate(off); err != nil {
		return nil, Recovery{}, fmt.Errorf("store: truncate bad tail: %w", err)
	}
	if err := l.sync(); err != nil {
		return nil, Recovery{}, err
	}
	if _, err := l.f.Seek(off, io.SeekStart); err != nil {
		return nil, Recovery{}, fmt.Errorf("store: seek: %w", err)
	}
	return muts, rec, nil
}

func copyTail(f *os.File, off int64, to string) error {
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: save bad tail: %w", err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, off, 1<<62)); err != nil {
		out.Close()
		return fmt.Errorf("store: save bad tail: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("store: save bad tail: %w", err)
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: fsync directory: %w", err)
	}
	return nil
}

func (l *Log) sync() error {
	if l.noSync {
		return nil
	}
	start := time.Now()
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("store: fsync: %w", err)
	}
	if l.syncHook != nil {
		l.syncHook(time.Since(start))
	}
	return nil
}

// Append writes the mutations as one batch and fsyncs once: when it
// returns nil they survive a crash. On error the log is cut back to its
// size before the call, so a failed batch leaves nothing half-written
// behind (and the caller must not acknowledge any of it).
func (l *Log) Append(muts []replication.Mutation) error {
	if len(muts) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("store: append to a closed log")
	}
	b := l.buf[:0]
	for i := range muts {
		payload := replication.Message{Kind: replication.KindRepair, From: muts[i].ID.Origin, Mutations: muts[i : i+1]}.Encode()
		if len(payload) > MaxRecordBytes {
			return fmt.Errorf("store: mutation %s encodes to %d bytes, more than %d", muts[i].ID, len(payload), MaxRecordBytes)
		}
		var hdr [headerSize]byte
		binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
		binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, castagnoli))
		b = append(b, hdr[:]...)
		b = append(b, payload...)
	}
	if cap(b) <= 1<<20 {
		l.buf = b
	}
	if _, err := l.f.WriteAt(b, l.size); err != nil {
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("store: append: %w", err)
	}
	if err := l.sync(); err != nil {
		_ = l.f.Truncate(l.size)
		return err
	}
	l.size += int64(len(b))
	l.records += len(muts)
	return nil
}

// Records returns how many mutations the log holds.
func (l *Log) Records() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records
}

// Size returns the log's size in bytes.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Close flushes and closes the log and releases the directory lock.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.sync()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: close: %w", cerr)
	}
	l.lock.Close() // closing the descriptor releases the flock
	return err
}
