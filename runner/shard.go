package runner

// Shards: a simulator run split over processes that share no memory (the
// playground's Web Workers), folded back into the report Run would give,
// byte for byte. Each shard runs a contiguous range of trials and encodes
// their measurements exactly (durations as integers, seconds as float64
// bits); FoldShards decodes them and folds every trial in trial order, as
// Run does, so even the floating-point sums are added in the same order.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// shardFormat is the first byte of an encoded shard: a shard from another
// build of the encoding is refused rather than misread.
const shardFormat = 1

// RunShard runs trials [from, to) of the run opts describes (opts.Trials
// in all, in the simulator) and returns their measurements for
// FoldShards: NewSharder(sc, opts) and its Run.
func RunShard(ctx context.Context, sc *scenarios.Scenario, opts Options, from, to int) ([]byte, error) {
	s, err := NewSharder(sc, opts)
	if err != nil {
		return nil, err
	}
	return s.Run(ctx, from, to, opts.Progress)
}

// Sharder runs shards of one run. It builds the scenario's plan once for
// all the shards it runs, and keeps its simulations between them: a worker
// that takes several shards of a run does not pay for that again.
type Sharder struct {
	sc     *scenarios.Scenario
	p      *plan
	seed   uint64
	trials int
}

// NewSharder prepares shards of the run opts describes (opts.Trials in
// all, in the simulator). Only Seed and Trials are read.
func NewSharder(sc *scenarios.Scenario, opts Options) (*Sharder, error) {
	p, seed, err := prepare(sc, &opts)
	if err != nil {
		return nil, err
	}
	return &Sharder{sc: sc, p: p, seed: seed, trials: opts.Trials}, nil
}

// Run runs trials [from, to) and returns their measurements for
// FoldShards. Trial 0 is left out: FoldShards runs it itself, since it
// carries the run's timeline. A trial that fails ends the shard; its error
// is in the encoding, and FoldShards returns it when it reaches that
// trial, as Run would. progress, when set, is called after each trial
// with the shard's count and size.
func (s *Sharder) Run(ctx context.Context, from, to int, progress func(done, total int)) ([]byte, error) {
	from, to = max(from, 1), min(to, s.trials)
	buf := []byte{shardFormat}
	buf = binary.AppendUvarint(buf, uint64(from))
	buf = binary.AppendUvarint(buf, uint64(max(to-from, 0)))
	for i := from; i < to; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := runTrial(s.p, i, s.seed+uint64(i), false)
		buf = appendTrial(buf, r)
		if r.err != nil {
			break
		}
		if progress != nil {
			progress(i-from+1, to-from)
		}
	}
	return buf, nil
}

// FoldShards folds shards from RunShard, which together cover trials 1 to
// opts.Trials-1 (in any order), into the report Run(ctx, sc, opts) gives in
// the simulator. opts.Progress, when set, is called after each trial is
// folded.
func FoldShards(ctx context.Context, sc *scenarios.Scenario, opts Options, shards [][]byte) (*report.Run, error) {
	f, err := NewFolder(sc, opts)
	if err != nil {
		return nil, err
	}
	for _, b := range shards {
		if err := f.Add(ctx, b); err != nil {
			return nil, err
		}
	}
	return f.Finish()
}

// Folder folds the shards of one run as they come, in any order: each
// trial is folded as soon as every trial before it is in. The page's
// first worker folds the shards between its own rather than all at the
// end, when the other workers would wait for it. The report is
// FoldShards's.
type Folder struct {
	f      *folder
	seed   uint64
	trials int
	// next is the first trial not folded yet; waiting holds the shards
	// that start after it, by their first trial.
	next    int
	waiting map[int]*shardReader
	starts  map[int]bool // every shard's first trial, to name a duplicate
	err     error
}

// NewFolder prepares the fold of the run opts describes (opts.Trials in
// all, in the simulator) and folds its trial 0, which it runs itself
// with its timeline (RunShard leaves it out).
func NewFolder(sc *scenarios.Scenario, opts Options) (*Folder, error) {
	p, seed, err := prepare(sc, &opts)
	if err != nil {
		return nil, err
	}
	f := newFolder(sc, p, seed, ModeSim, opts)
	if err := f.fold(runTrial(p, 0, seed, true)); err != nil {
		return nil, err
	}
	return &Folder{f: f, seed: seed, trials: opts.Trials, next: 1, waiting: map[int]*shardReader{}, starts: map[int]bool{}}, nil
}

// Add takes one shard from RunShard and folds every trial it makes
// foldable. After an error the Folder keeps it and refuses the rest.
func (fo *Folder) Add(ctx context.Context, shard []byte) error {
	if fo.err == nil {
		fo.err = fo.add(ctx, shard)
	}
	return fo.err
}

func (fo *Folder) add(ctx context.Context, shard []byte) error {
	r, err := newShardReader(shard)
	if err != nil {
		return err
	}
	if r.count == 0 {
		return nil
	}
	if fo.starts[r.from] {
		return fmt.Errorf("two shards start at trial %d", r.from)
	}
	if r.from < fo.next {
		return fmt.Errorf("two shards hold trial %d", r.from)
	}
	fo.starts[r.from] = true
	fo.waiting[r.from] = r
	for {
		sr, ok := fo.waiting[fo.next]
		if !ok {
			return nil
		}
		delete(fo.waiting, fo.next)
		for k := 0; k < sr.count; k++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := sr.trial(fo.next, fo.seed+uint64(fo.next))
			if err != nil {
				return fmt.Errorf("shard from trial %d: %w", sr.from, err)
			}
			if err := fo.f.fold(r); err != nil {
				return err
			}
			fo.next++
		}
	}
}

// Finish completes the report once shards covering every trial are in.
func (fo *Folder) Finish() (*report.Run, error) {
	if fo.err != nil {
		return nil, fo.err
	}
	if fo.next < fo.trials {
		return nil, fmt.Errorf("no shard holds trial %d of %d", fo.next, fo.trials)
	}
	return fo.f.finish(), nil
}

// appendTrial encodes what aggregate.add reads of a trial (a trial run
// without its timeline).
func appendTrial(b []byte, r *trialResult) []byte {
	if r.err != nil {
		b = append(b, 1)
		return appendString(b, r.err.Error())
	}
	b = append(b, 0)
	b = appendBool(b, r.converged)
	b = binary.AppendUvarint(b, uint64(len(r.probes)))
	for _, pr := range r.probes {
		for _, d := range []time.Duration{pr.exposure, pr.denial, pr.regionAgainstIntent, pr.truthAgainstIntent} {
			b = binary.AppendVarint(b, int64(d))
		}
		for _, n := range []int{pr.requests, pr.staleAllows, pr.staleDenies, pr.confidentialReads} {
			b = binary.AppendVarint(b, int64(n))
		}
		b = appendFloats(b, pr.waits)
	}
	b = binary.AppendUvarint(b, uint64(len(r.lags)))
	for _, l := range r.lags {
		b = appendFloats(b, l)
	}
	b = appendFloats(b, r.convergedAt)
	b = binary.AppendUvarint(b, uint64(len(r.completions)))
	for _, c := range r.completions {
		b = appendBool(b, c.committed)
		b = appendBool(b, c.complete)
		b = appendBool(b, c.known)
		b = binary.AppendVarint(b, int64(c.committedAt))
		b = binary.AppendVarint(b, int64(c.completeAt))
		b = binary.AppendVarint(b, int64(c.knownAt))
	}
	// Missing, like a float list, tells nil from empty: an example's
	// missing list is in the report as it is.
	if r.missing == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.missing))+1)
	for _, m := range r.missing {
		for _, s := range []string{m.Region, m.Mutation, m.Call, m.Label, m.Reason, m.Detail} {
			b = appendString(b, s)
		}
		b = appendFloat(b, m.ApplyAtSeconds)
		b = appendFloat(b, m.NextPushPullSeconds)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// appendFloats keeps nil and empty apart: the report tells them apart in
// places (an omitted list), so the fold must see what the trial had.
func appendFloats(b []byte, vs []float64) []byte {
	if vs == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(vs))+1)
	for _, v := range vs {
		b = appendFloat(b, v)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// shardReader decodes one shard's trials in order.
type shardReader struct {
	from, count int
	b           []byte
	err         error
}

var errShortShard = errors.New("the shard's encoding is cut short")

func newShardReader(b []byte) (*shardReader, error) {
	if len(b) == 0 || b[0] != shardFormat {
		return nil, errors.New("not a shard of this build's encoding")
	}
	r := &shardReader{b: b[1:]}
	r.from, r.count = int(r.uvarint()), int(r.uvarint())
	return r, r.err
}

func (r *shardReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *shardReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *shardReader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *shardReader) float() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// length reads a count and checks it against the bytes left (each item
// takes at least one), so a damaged count cannot allocate without bound.
func (r *shardReader) length() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *shardReader) floats() []float64 {
	n := r.length()
	if n == 0 || r.err != nil {
		return nil
	}
	vs := make([]float64, n-1)
	for i := range vs {
		vs[i] = r.float()
	}
	return vs
}

func (r *shardReader) string() string {
	n := r.length()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *shardReader) fail() {
	if r.err == nil {
		r.err = errShortShard
	}
	r.b = nil
}

// trial decodes the next trial, whose index and seed are given.
func (r *shardReader) trial(index int, seed uint64) (*trialResult, error) {
	res := &trialResult{index: index, seed: seed}
	if r.byte() == 1 {
		res.err = errors.New(r.string())
		return res, r.err
	}
	res.converged = r.byte() == 1
	if n := r.length(); n > 0 {
		res.probes = make([]probeResult, n)
		for i := range res.probes {
			pr := &res.probes[i]
			pr.exposure, pr.denial = time.Duration(r.varint()), time.Duration(r.varint())
			pr.regionAgainstIntent, pr.truthAgainstIntent = time.Duration(r.varint()), time.Duration(r.varint())
			pr.requests, pr.staleAllows = int(r.varint()), int(r.varint())
			pr.staleDenies, pr.confidentialReads = int(r.varint()), int(r.varint())
			pr.waits = r.floats()
		}
	}
	if n := r.length(); n > 0 {
		res.lags = make([][]float64, n)
		for i := range res.lags {
			res.lags[i] = r.floats()
		}
	}
	res.convergedAt = r.floats()
	if n := r.length(); n > 0 {
		res.completions = make([]completion, n)
		for i := range res.completions {
			c := &res.completions[i]
			c.committed, c.complete, c.known = r.byte() == 1, r.byte() == 1, r.byte() == 1
			c.committedAt = time.Duration(r.varint())
			c.completeAt, c.knownAt = time.Duration(r.varint()), time.Duration(r.varint())
		}
	}
	if n := r.length(); n > 0 {
		res.missing = make([]report.MissingMutation, n-1)
		for i := range res.missing {
			m := &res.missing[i]
			m.Region, m.Mutation, m.Call = r.string(), r.string(), r.string()
			m.Label, m.Reason, m.Detail = r.string(), r.string(), r.string()
			m.ApplyAtSeconds, m.NextPushPullSeconds = r.float(), r.float()
		}
	}
	return res, r.err
}
