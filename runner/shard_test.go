package runner

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

// shardedJSON runs sc in shards of the given sizes (the last takes the
// rest), folds them handed over in reverse order, and returns the report JSON.
func shardedJSON(t *testing.T, sc *scenarios.Scenario, opts Options, sizes []int) string {
	t.Helper()
	var shards [][]byte
	from := 0
	for i := 0; from < opts.Trials; i++ {
		to := opts.Trials
		if i < len(sizes) {
			to = min(from+sizes[i], opts.Trials)
		}
		b, err := RunShard(context.Background(), sc, opts, from, to)
		if err != nil {
			t.Fatal(err)
		}
		shards = append([][]byte{b}, shards...)
		from = to
	}
	run, err := FoldShards(context.Background(), sc, opts, shards)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A run split into shards and folded back is Run's report byte for byte:
// every library scenario, runs that did not converge (their examples and
// reasons), and shards of every size, one trial included.
func TestShardsFoldIntoRunsReport(t *testing.T) {
	type tc struct {
		name   string
		sc     *scenarios.Scenario
		trials int
		seed   uint64
		sizes  []int
	}
	var cases []tc
	names, err := scenarios.LibraryNames()
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		sc, err := scenarios.LoadLibrary(n)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{n, sc, 40, uint64(i * 7), []int{13, 1, 9}})
	}
	cases = append(cases,
		tc{"ended early (unconverged)", endedEarly(t), 60, 3, []int{20, 20}},
		tc{"cut-off region (unconverged)", cutOffRegion(t), 30, 0, []int{1, 2, 3}},
		tc{"one trial", names0(t), 1, 5, nil},
		tc{"two trials", names0(t), 2, 5, []int{1}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Seed: c.seed, Trials: c.trials}
			run, err := Run(context.Background(), c.sc, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := report.JSON(&want, run); err != nil {
				t.Fatal(err)
			}
			if got := shardedJSON(t, c.sc, opts, c.sizes); got != want.String() {
				t.Errorf("the folded shards' report differs from Run's:\n%s\nwant:\n%s", got, want.String())
			}
		})
	}
}

func names0(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// FoldShards refuses shards that do not tile the trials, or that are not
// shards, rather than report on trials it does not have.
func TestFoldShardsRefusesGapsAndDamage(t *testing.T) {
	sc := names0(t)
	opts := Options{Seed: 1, Trials: 10}
	ctx := context.Background()
	a, err := RunShard(ctx, sc, opts, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunShard(ctx, sc, opts, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	c, err := RunShard(ctx, sc, opts, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		shards  [][]byte
		wantErr string
	}{
		{"a gap", [][]byte{a}, "no shard holds trial 5 of 10"},
		{"twice the same", [][]byte{a, a, b}, "two shards start at trial 1"},
		{"overlapping", [][]byte{a, c, b}, "two shards hold trial 3"},
		{"cut short", [][]byte{a, b[:len(b)-3]}, "cut short"},
		{"not a shard", [][]byte{a, []byte("{}")}, "not a shard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FoldShards(ctx, sc, opts, tc.shards)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// A Folder folds each trial as soon as every trial before it is in, so
// the page's first worker folds shards while the others still run theirs;
// its report is FoldShards's, and Run's, whatever order the shards came in.
func TestFolderFoldsShardsAsTheyCome(t *testing.T) {
	sc := names0(t)
	opts := Options{Seed: 3, Trials: 40}
	ctx := context.Background()
	run, err := Run(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := report.JSON(&want, run); err != nil {
		t.Fatal(err)
	}
	// Shards [0,10) [10,20) [20,30) [30,40); trial 0 is the Folder's own.
	var shards [][]byte
	for from := 0; from < opts.Trials; from += 10 {
		b, err := RunShard(ctx, sc, opts, from, from+10)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, b)
	}
	for _, tc := range []struct {
		name  string
		order []int
		// folded is the next trial to fold after each Add.
		folded []int
	}{
		{"in order", []int{0, 1, 2, 3}, []int{10, 20, 30, 40}},
		{"the last first", []int{3, 0, 1, 2}, []int{1, 10, 20, 40}},
		{"two waiting", []int{0, 2, 3, 1}, []int{10, 10, 10, 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFolder(sc, opts)
			if err != nil {
				t.Fatal(err)
			}
			for k, i := range tc.order {
				if err := f.Add(ctx, shards[i]); err != nil {
					t.Fatal(err)
				}
				if f.next != tc.folded[k] {
					t.Errorf("after shard %d: trials folded up to %d, want %d", i, f.next, tc.folded[k])
				}
			}
			got, err := f.Finish()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := report.JSON(&buf, got); err != nil {
				t.Fatal(err)
			}
			if buf.String() != want.String() {
				t.Errorf("the Folder's report differs from Run's:\n%s\nwant:\n%s", buf.String(), want.String())
			}
		})
	}
}

// The shard encoding names every field aggregate.add can read; a field
// added to a trial's result must be added to appendTrial and
// shardReader.trial too (and here), or shards would drop it silently.
func TestShardEncodingCoversTrialFields(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{trialResult{}, []string{"index", "seed", "probes", "lags", "converged", "convergedAt", "rejected", "timeline", "err", "missing", "completions"}},
		{probeResult{}, []string{"exposure", "denial", "regionAgainstIntent", "truthAgainstIntent", "requests", "staleAllows", "staleDenies", "confidentialReads", "waits"}},
		{completion{}, []string{"committed", "complete", "known", "committedAt", "completeAt", "knownAt"}},
		{report.MissingMutation{}, []string{"Region", "Mutation", "Call", "Label", "Reason", "ApplyAtSeconds", "NextPushPullSeconds", "Detail"}},
	} {
		typ := reflect.TypeOf(tc.v)
		var got []string
		for i := 0; i < typ.NumField(); i++ {
			got = append(got, typ.Field(i).Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s has fields %v; the shard encoding knows %v", typ, got, tc.want)
		}
	}
}
