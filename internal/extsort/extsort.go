// Package extsort sorts keyed records that may not fit in memory: records
// are buffered up to a byte limit, each full buffer is sorted and written
// to a temporary file (a run), and reading merges the runs with a heap.
// Memory is the buffer plus one read buffer per run, whatever the number
// of records. Records with equal keys are delivered once (the first
// added), so the sort also deduplicates.
//
// The trail replay uses it to order CloudTrail records by (eventTime,
// eventID) and drop redelivered records without holding the trail.
package extsort

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultLimit is the buffer size, in bytes of keys and payloads, beyond
// which a sorter writes a run: 32 MiB keeps the heap small and the number
// of runs (open files while merging) low for trails of tens of millions
// of records.
const DefaultLimit = 32 << 20

// Key orders records: by T, then by ID.
type Key struct {
	T  int64 // a time in nanoseconds
	ID string
}

func (a Key) less(b Key) bool {
	if a.T != b.T {
		return a.T < b.T
	}
	return a.ID < b.ID
}

type record struct {
	key     Key
	payload []byte
	seq     int // order of Add: the first of equal keys wins
}

// Sorter collects records with Add and delivers them in key order with
// Each. The zero value is not usable: use New.
type Sorter struct {
	dir     string // parent of the temporary directory; "" = os.TempDir
	limit   int
	tmp     string // created on the first spill
	buf     []record
	bytes   int
	seq     int
	runs    []string
	records int
	sorted  bool
	dups    int
	counted bool
}

// New returns a sorter that buffers up to limit bytes (DefaultLimit when
// limit <= 0) before writing a run in a temporary directory under dir
// ("" = the system's). Close removes the directory.
func New(dir string, limit int) *Sorter {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Sorter{dir: dir, limit: limit}
}

// Add buffers one record; payload is copied.
func (s *Sorter) Add(k Key, payload []byte) error {
	s.buf = append(s.buf, record{key: Key{k.T, strings.Clone(k.ID)}, payload: slices.Clone(payload), seq: s.seq})
	s.seq++
	s.records++
	s.sorted = false
	s.bytes += len(k.ID) + len(payload) + 64 // 64: the record's own header
	if s.bytes >= s.limit {
		return s.spill()
	}
	return nil
}

// Records is the number of records added, duplicates included.
func (s *Sorter) Records() int { return s.records }

// Runs is the number of runs written to disk so far (0: all in memory).
func (s *Sorter) Runs() int { return len(s.runs) }

// Duplicates is the number of records Each skipped because an earlier
// record had the same key; known once Each has run.
func (s *Sorter) Duplicates() int { return s.dups }

func (s *Sorter) sortBuf() {
	if !s.sorted {
		slices.SortFunc(s.buf, func(a, b record) int {
			switch {
			case a.key.less(b.key):
				return -1
			case b.key.less(a.key):
				return 1
			}
			return a.seq - b.seq
		})
		s.sorted = true
	}
}

// spill writes the buffer as a sorted run.
func (s *Sorter) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	if s.tmp == "" {
		d, err := os.MkdirTemp(s.dir, "iamprop-sort-")
		if err != nil {
			return fmt.Errorf("sorting the trail: %w", err)
		}
		s.tmp = d
	}
	s.sortBuf()
	name := filepath.Join(s.tmp, fmt.Sprintf("run-%d", len(s.runs)))
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("sorting the trail: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var hdr [3 * binary.MaxVarintLen64]byte
	for _, r := range s.buf {
		n := binary.PutVarint(hdr[:], r.key.T)
		n += binary.PutUvarint(hdr[n:], uint64(len(r.key.ID)))
		n += binary.PutUvarint(hdr[n:], uint64(len(r.payload)))
		w.Write(hdr[:n])
		w.WriteString(r.key.ID)
		w.Write(r.payload)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("sorting the trail: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sorting the trail: %w", err)
	}
	s.runs = append(s.runs, name)
	// nil, not buf[:0:0]: an empty slice of the old array would keep the
	// array, and every payload it points to, alive.
	s.buf, s.bytes = nil, 0
	return nil
}

// Each calls fn with every record in key order, once per key (the first
// added of equal keys). It may be called again, to read the records once
// more: the runs stay on disk until Close. The payload is valid only
// during the call. An error from fn stops it and is returned.
func (s *Sorter) Each(fn func(k Key, payload []byte) error) error {
	dups := 0
	defer func() {
		if !s.counted {
			s.dups, s.counted = dups, true
		}
	}()
	var last Key
	first := true
	emit := func(k Key, p []byte) error {
		if !first && k == last {
			dups++
			return nil
		}
		first, last = false, Key{k.T, k.ID}
		return fn(k, p)
	}
	if len(s.runs) == 0 {
		s.sortBuf()
		for _, r := range s.buf {
			if err := emit(r.key, r.payload); err != nil {
				return err
			}
		}
		return nil
	}
	// Everything goes to disk, so that memory while merging is the
	// runs' read buffers only.
	if err := s.spill(); err != nil {
		return err
	}
	h := make(mergeHeap, 0, len(s.runs))
	defer func() {
		for _, c := range h {
			c.f.Close()
		}
	}()
	for i, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("sorting the trail: %w", err)
		}
		c := &cursor{f: f, r: bufio.NewReaderSize(f, 64<<10), run: i}
		ok, err := c.next()
		if err != nil {
			f.Close()
			return err
		}
		if !ok {
			f.Close()
			continue
		}
		h = append(h, c)
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := h[0]
		if err := emit(c.key, c.payload); err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			c.f.Close()
			heap.Pop(&h)
		}
	}
	return nil
}

// Close removes the runs.
func (s *Sorter) Close() error {
	s.buf = nil
	if s.tmp == "" {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	s.tmp, s.runs = "", nil
	return err
}

type cursor struct {
	f       *os.File
	r       *bufio.Reader
	run     int
	key     Key
	payload []byte
	idBuf   []byte
}

var errCorrupt = errors.New("sorting the trail: a temporary run file is corrupt")

func (c *cursor) next() (bool, error) {
	t, err := binary.ReadVarint(c.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, errCorrupt
	}
	idLen, err := binary.ReadUvarint(c.r)
	if err != nil {
		return false, errCorrupt
	}
	pLen, err := binary.ReadUvarint(c.r)
	if err != nil || idLen > 1<<20 || pLen > 1<<30 {
		return false, errCorrupt
	}
	c.idBuf = slices.Grow(c.idBuf[:0], int(idLen))[:idLen]
	if _, err := io.ReadFull(c.r, c.idBuf); err != nil {
		return false, errCorrupt
	}
	c.payload = slices.Grow(c.payload[:0], int(pLen))[:pLen]
	if _, err := io.ReadFull(c.r, c.payload); err != nil {
		return false, errCorrupt
	}
	c.key = Key{T: t, ID: string(c.idBuf)}
	return true, nil
}

// mergeHeap orders cursors by their current key; equal keys by run, so
// that the record added first (runs are written in Add order) wins.
type mergeHeap []*cursor

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key.less(h[j].key)
	}
	return h[i].run < h[j].run
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
