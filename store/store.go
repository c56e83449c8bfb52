// Package store is a region's durable mutation log: a checksummed,
// append-only file that is fsynced before a commit is acknowledged and
// replayed when the region restarts. Damage is detected by length and CRC
// and never applied. A torn tail (a crash in the middle of an append) is
// saved aside and cut off; damage before the end (a flipped bit with intact
// records after it) is corruption: the log is refused unless the caller
// asks to recover, which keeps every intact record (docs/store.md).
package store

import (
	"bufio"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iamprop/iamprop/replication"
)

// File layout:
//
//	file   = header record*
//	header = "IAMPLOG1"                                  (a log from before epochs: epoch 0)
//	       | "IAMPLOG2" epoch(uint64 BE) crc32c(uint32 BE, of the 16 bytes before it)
//	record = length(uint32 BE) crc32c(uint32 BE, of payload) payload
//	payload = replication wire form of a one-mutation KindRepair message
//
// The payload reuses replication's codec rather than JSON because the
// mutation's argument bytes must survive exactly: peers compare a known
// mutation byte for byte, and a re-encoded JSON document would look forged.
const (
	magic      = "IAMPLOG1" // epoch 0, read and appended to as it is
	magic2     = "IAMPLOG2" // with the log's epoch
	header2Len = len(magic2) + 8 + 4
	headerSize = 8 // of a record
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

// ErrCorrupt is wrapped by the *CorruptError Open returns for a log damaged
// before its end.
var ErrCorrupt = errors.New("store: mutation log is corrupt")

// Damage is one damaged stretch of the log that Open found: bytes that do
// not form an intact record, from Offset up to the next intact record or
// the end of the file.
type Damage struct {
	// Record is the number (from 1) of the stretch's first record in the
	// log, counting each earlier damaged stretch as one record (exact for
	// the first stretch, and for any damage within a single record).
	Record int
	// Offset and Length locate the stretch in the log, in bytes.
	Offset, Length int64
	// Reason says what was wrong with its first record: a checksum
	// mismatch, a length out of range, an undecodable payload, or a record
	// the file ends inside.
	Reason string
	// Torn says the stretch is the end of the file and no intact record
	// follows it: what an interrupted append leaves. Only a torn tail is
	// cut off without Options.Recover.
	Torn bool
	// SavedAs is the file the stretch's bytes were copied to, next to the
	// log, before the log was cut or rewritten ("" if neither happened).
	SavedAs string
}

// Recovery says what Open found wrong in the log and did about it. A zero
// Recovery means the log was clean.
type Recovery struct {
	// Damage lists the damaged stretches, in file order. Their bytes were
	// saved (Damage.SavedAs) and are not in the log any more.
	Damage []Damage
	// Kept is how many intact records followed the first damaged stretch
	// and were kept (Options.Recover).
	Kept int
	// Rewritten says the log was rewritten without the damaged stretches
	// (Options.Recover), rather than only cut at a torn tail.
	Rewritten bool
}

// Clean reports whether the log had no damage.
func (r Recovery) Clean() bool { return len(r.Damage) == 0 }

// Corrupt is how many damaged stretches were not a torn tail: corruption,
// set aside by Options.Recover.
func (r Recovery) Corrupt() int {
	n := 0
	for _, d := range r.Damage {
		if !d.Torn {
			n++
		}
	}
	return n
}

// String describes the recovery for a log line.
func (r Recovery) String() string {
	if r.Clean() {
		return "clean"
	}
	var b strings.Builder
	for i, d := range r.Damage {
		if i > 0 {
			b.WriteString("; ")
		}
		what := "corrupt"
		if d.Torn {
			what = "torn tail"
		}
		fmt.Fprintf(&b, "%s at record %d, byte offset %d, %d bytes (%s), saved as %s", what, d.Record, d.Offset, d.Length, d.Reason, d.SavedAs)
	}
	if r.Rewritten {
		fmt.Fprintf(&b, "; log rewritten keeping %d intact records that followed the damage", r.Kept)
	}
	return b.String()
}

// CorruptError is Open's error for a log with damage before its end: intact
// records follow a bad one, so it is not an interrupted append, and cutting
// the log there would silently drop acknowledged mutations. Nothing was
// changed on disk. Options.Recover keeps every intact record instead.
type CorruptError struct {
	Path string
	// First is the first damaged stretch (Damage.SavedAs is empty).
	First Damage
	// Stretches is how many damaged stretches the log holds; Following is
	// how many intact records follow the first one.
	Stretches, Following int
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: %s is corrupt: record %d at byte offset %d: %s; %s follow it, %s in all. "+
		"Nothing was changed. Start with --recover (store.Options.Recover) to keep every intact record, set the damaged bytes aside next to the log and rewrite it",
		e.Path, e.First.Record, e.First.Offset, e.First.Reason, plural(e.Following, "intact record"), plural(e.Stretches, "damaged stretch"))
}

func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case strings.HasSuffix(what, "ch"):
		return fmt.Sprintf("%d %ses", n, what)
	default:
		return fmt.Sprintf("%d %ss", n, what)
	}
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

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
	epoch    uint64
	newEpoch uint64 // Options.NewEpoch
}

// Options tunes Open.
type Options struct {
	// NoSync skips fsync. Only for benchmarks that measure everything but
	// the disk; a crash may then lose acknowledged mutations.
	NoSync bool
	// OnSync, when set, is called with the duration of every fsync (for the
	// store's latency metric).
	OnSync func(time.Duration)
	// Recover makes Open accept a log damaged before its end: every intact
	// record is kept, each damaged stretch is copied to a file next to the
	// log (mutations.log.corrupt-OFFSET), and the log is rewritten without
	// them atomically (temporary file, fsync, rename, directory fsync).
	// Without it such a log is refused with a *CorruptError. A torn tail
	// is cut off either way. A rewritten log starts a new epoch: the
	// damaged records may have been this region's own commits, whose
	// sequence numbers it must not issue again.
	Recover bool
	// NewEpoch is the epoch written into a new log's header, and into a
	// log rewritten by Recover (replication.MutationID.Epoch). 0 draws a
	// random one (crypto/rand): a wiped disk must never come back with an
	// epoch it had, whatever the seed of the node's other randomness.
	NewEpoch uint64
}

// newEpoch returns e, or a random non-zero epoch when e is 0.
func newEpoch(e uint64) (uint64, error) {
	for e == 0 {
		var b [8]byte
		if _, err := cryptorand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("store: draw an epoch: %w", err)
		}
		e = binary.BigEndian.Uint64(b[:])
	}
	return e, nil
}

// appendHeader appends the header of a log of the given epoch.
func appendHeader(b []byte, epoch uint64) []byte {
	b = append(b, magic2...)
	b = binary.BigEndian.AppendUint64(b, epoch)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[len(b)-16:], castagnoli))
}

// MaxHeaderLen is the longest log header (docs/store.md).
const MaxHeaderLen = header2Len

// HeaderLen returns the length of the log header data starts with, ok
// false if data does not start with an intact header: what a tool that
// damages logs on purpose (the chaos harness) must leave alone.
func HeaderLen(data []byte) (n int, ok bool) {
	n, _, ok = parseHeader(data)
	return n, ok
}

// parseHeader reads a log's header: its length and epoch, ok false if the
// bytes are no intact header.
func parseHeader(data []byte) (n int, epoch uint64, ok bool) {
	switch {
	case len(data) >= len(magic) && string(data[:len(magic)]) == magic:
		return len(magic), 0, true
	case len(data) >= header2Len && string(data[:len(magic2)]) == magic2:
		if crc32.Checksum(data[:16], castagnoli) != binary.BigEndian.Uint32(data[16:header2Len]) {
			return 0, 0, false
		}
		return header2Len, binary.BigEndian.Uint64(data[8:16]), true
	}
	return 0, 0, false
}

// Epoch returns the log's epoch: the epoch of the region's own commits
// while it runs on this log (0 for a log from before epochs).
func (l *Log) Epoch() uint64 { return l.epoch }

// Open opens (creating if needed) the log in dir, replays it and returns
// the mutations it holds in append order, with a Recovery that says what
// damage was found and set aside. A torn tail (the file ends inside a
// record, or in a bad record no intact one follows: an interrupted append)
// is saved aside and cut off. Damage before the end is corruption: Open
// returns a *CorruptError naming the file, record and offset, and changes
// nothing, unless opts.Recover. The directory is locked against a second
// process.
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
	l := &Log{f: f, lock: lock, noSync: opts.NoSync, syncHook: opts.OnSync, newEpoch: opts.NewEpoch}
	muts, rec, err := l.replay(path, opts.Recover)
	if err != nil {
		l.f.Close()
		lock.Close()
		return nil, nil, Recovery{}, err
	}
	return l, muts, rec, nil
}

// replay reads the log, sets damage aside as Open describes and leaves the
// file positioned for appends.
func (l *Log) replay(path string, recoverDamage bool) ([]replication.Mutation, Recovery, error) {
	st, err := l.f.Stat()
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("store: stat log: %w", err)
	}
	if st.Size() == 0 {
		// New log: a new epoch. Write the header and make the file's
		// existence durable.
		ep, err := newEpoch(l.newEpoch)
		if err != nil {
			return nil, Recovery{}, err
		}
		hdr := appendHeader(nil, ep)
		if _, err := l.f.Write(hdr); err != nil {
			return nil, Recovery{}, fmt.Errorf("store: write header: %w", err)
		}
		if err := l.sync(); err != nil {
			return nil, Recovery{}, err
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			return nil, Recovery{}, err
		}
		l.size, l.epoch = int64(len(hdr)), ep
		return nil, Recovery{}, nil
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(io.NewSectionReader(l.f, 0, st.Size()), data); err != nil {
		return nil, Recovery{}, fmt.Errorf("store: read log: %w", err)
	}
	sc := scan(data)
	if sc.foreign {
		// Not our file (or its first bytes are gone and nothing after them
		// reads as a record): refuse rather than overwrite something we do
		// not understand.
		return nil, Recovery{}, fmt.Errorf("store: %s is not an iamprop mutation log (bad header)", path)
	}
	rec := Recovery{Damage: sc.damage, Kept: sc.kept}
	corrupt := rec.Corrupt() > 0
	if corrupt && !recoverDamage {
		return nil, Recovery{}, &CorruptError{Path: path, First: sc.damage[0], Stretches: len(sc.damage), Following: sc.kept}
	}
	// Keep the damaged bytes for a human before the log loses them.
	for i := range rec.Damage {
		d := &rec.Damage[i]
		saved, err := saveAside(path, data[d.Offset:d.Offset+d.Length], d.Offset)
		if err != nil {
			return nil, Recovery{}, err
		}
		d.SavedAs = saved
	}
	muts := sc.muts
	l.records = len(muts)
	l.epoch = sc.epoch
	switch {
	case corrupt:
		if err := l.rewrite(path, data, sc); err != nil {
			return nil, Recovery{}, err
		}
		rec.Rewritten = true
	case len(rec.Damage) > 0:
		// Only a torn tail: cut it off, so the next append does not follow
		// garbage (which would hide it from every later replay).
		off := rec.Damage[0].Offset
		if err := l.f.Truncate(off); err != nil {
			return nil, Recovery{}, fmt.Errorf("store: truncate torn tail: %w", err)
		}
		if err := l.sync(); err != nil {
			return nil, Recovery{}, err
		}
		l.size = off
	default:
		l.size = st.Size()
	}
	if _, err := l.f.Seek(l.size, io.SeekStart); err != nil {
		return nil, Recovery{}, fmt.Errorf("store: seek: %w", err)
	}
	return muts, rec, nil
}

// rewrite replaces the log with its header and intact records, atomically:
// a crash leaves either the old log (damage and all, so recovery runs
// again) or the new one, never a mixture.
func (l *Log) rewrite(path string, data []byte, sc scanned) error {
	tmp := path + ".recover-tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: rewrite log: %w", err)
	}
	w := bufio.NewWriterSize(out, 64<<10)
	ep, err := newEpoch(l.newEpoch)
	if err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	l.epoch = ep
	hdr := appendHeader(nil, ep)
	_, err = w.Write(hdr)
	size := int64(len(hdr))
	for _, r := range sc.intact {
		if err == nil {
			_, err = w.Write(data[r[0]:r[1]])
			size += r[1] - r[0]
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil && !l.noSync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: rewrite log: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	// The open descriptor still names the old file: switch to the new one.
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("store: reopen rewritten log: %w", err)
	}
	l.f.Close()
	l.f = f
	l.size = size
	return nil
}

// saveAside copies damaged bytes to a new file next to the log, named after
// their offset (mutations.log.corrupt-OFFSET, with .2, .3, ... if an earlier
// recovery used that name), and makes it durable.
func saveAside(path string, b []byte, off int64) (string, error) {
	base := fmt.Sprintf("%s.corrupt-%d", path, off)
	name := base
	for i := 2; ; i++ {
		out, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			name = fmt.Sprintf("%s.%d", base, i)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("store: save damaged bytes: %w", err)
		}
		_, err = out.Write(b)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("store: save damaged bytes: %w", err)
		}
		return name, syncDir(filepath.Dir(path))
	}
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
		var err error
		if b, err = encodeRecord(b, &muts[i]); err != nil {
			return err
		}
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
