package playground

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// The page's run is the CLI's: for an unedited library scenario the JSON
// is byte for byte what `scenario run NAME --seed S --trials N --json`
// prints (LoadLibrary, runner.Run, report.JSON).
func TestRunMatchesTheCLIDocument(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) != 13 {
		t.Errorf("library has %d scenarios, want 13", len(lib))
	}
	for _, tc := range []struct {
		name   string
		seed   uint64
		trials int
	}{
		{"public-s3-bucket", 0, 3},
		{"revoke-race", 7, 2},
	} {
		var e Entry
		for _, x := range lib {
			if x.Name == tc.name {
				e = x
			}
		}
		if e.Title == "" || e.Description == "" || e.Lesson == "" || e.YAML == "" {
			t.Fatalf("%s: entry lacks title, description, lesson or YAML: %+v", tc.name, e)
		}
		calls := 0
		got := Run(context.Background(), e.Name, e.YAML, tc.seed, tc.trials, func(done, total int) { calls++ })
		if len(got.Issues) > 0 {
			t.Fatalf("%s: %v", tc.name, got.Issues)
		}
		sc, err := scenarios.LoadLibrary(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		run, err := runner.Run(context.Background(), sc, runner.Options{Seed: tc.seed, Trials: tc.trials})
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := report.JSON(&want, run); err != nil {
			t.Fatal(err)
		}
		if got.JSON != want.String() {
			t.Errorf("%s: the playground's JSON differs from the CLI's", tc.name)
		}
		if calls != tc.trials || !strings.Contains(got.HTML, "<svg") {
			t.Errorf("%s: %d progress calls (want %d), HTML with a chart: %v", tc.name, calls, tc.trials, strings.Contains(got.HTML, "<svg"))
		}
	}
}

// Errors in edited YAML come back at the line and column the CLI gives.
func TestRunReportsIssuesAtLineAndColumn(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line, col int
		want      string
	}{
		{"bad-duration", "name: public-s3-bucket\nduration: soon\n", 2, 11, "duration"},
		{"bad-yaml", "name: [\n", 0, 0, "invalid YAML"},
		{"wrong-name", "name: other\n", 1, 7, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Run(context.Background(), "public-s3-bucket", tc.src, 0, 1, nil)
			if len(got.Issues) == 0 || got.JSON != "" {
				t.Fatalf("got no issues (JSON %q)", got.JSON)
			}
			found := false
			for _, is := range got.Issues {
				if strings.Contains(is.Message, tc.want) && (tc.line == 0 || is.Line == tc.line && is.Column == tc.col) {
					found = true
				}
				if is.Line < 1 || is.Column < 1 {
					t.Errorf("issue without a position: %+v", is)
				}
			}
			if !found {
				t.Errorf("no issue mentioning %q at %d:%d in %+v", tc.want, tc.line, tc.col, got.Issues)
			}
		})
	}
}

// The knobs edit their own scalars only: every other byte stays.
func TestSetKnobsEditsInPlace(t *testing.T) {
	src := "name: x\nseed: 1\n# the delay\npropagation:\n  default: {dist: lognormal, median: 4s, p99: 10s}\nsteps:\n  - at: 1s # first\n    call: s3:PutBucketPolicy\n  - {at: 2s, call: s3:PutObject, label: upload}\n"
	k, err := ReadKnobs(src)
	if err != nil {
		t.Fatal(err)
	}
	if k.Seed != "1" || k.Median != "4s" || k.P99 != "10s" || len(k.Steps) != 2 || k.Steps[0].At != "1s" || k.Steps[1].Label != "upload" {
		t.Fatalf("read %+v", k)
	}
	for _, tc := range []struct {
		name string
		k    Knobs
		want string
		err  bool
	}{
		{"delay", Knobs{Median: "1500ms", P99: "3s"}, strings.Replace(src, "median: 4s, p99: 10s", "median: 1500ms, p99: 3s", 1), false},
		{"steps", Knobs{Steps: []Step{{At: "500ms"}, {At: "2500ms"}}}, strings.NewReplacer("at: 1s", "at: 500ms", "at: 2s", "at: 2500ms").Replace(src), false},
		{"nothing", Knobs{}, src, false},
		{"injection", Knobs{Median: "1s, p99: 1h"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetKnobs(src, tc.k)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// A case lists its library mitigations (NAME-*), and Compare of the case
// and them is `scenario compare --json`'s document: report.Compare of the
// same runs, each scenario with the same seed and trials.
func TestCompareCaseWithMitigations(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Entry{}
	for _, e := range lib {
		byName[e.Name] = e
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"public-s3-bucket", []string{"public-s3-bucket-block-public-access", "public-s3-bucket-consistency-token",
			"public-s3-bucket-policy-first", "public-s3-bucket-same-region"}},
		{"revoke-race", nil},
		{"public-s3-bucket-same-region", nil},
	} {
		if got := byName[tc.name].Mitigations; strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: mitigations %v, want %v", tc.name, got, tc.want)
		}
	}

	srcs := []Source{{Name: "public-s3-bucket", YAML: byName["public-s3-bucket"].YAML}}
	var runs []*report.Run
	for _, n := range append([]string{"public-s3-bucket"}, byName["public-s3-bucket"].Mitigations...) {
		if n != "public-s3-bucket" {
			srcs = append(srcs, Source{Name: n, YAML: byName[n].YAML})
		}
		sc, err := scenarios.LoadLibrary(n)
		if err != nil {
			t.Fatal(err)
		}
		run, err := runner.Run(context.Background(), sc, runner.Options{Seed: 5, Trials: 4})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	var want bytes.Buffer
	if err := report.CompareJSON(&want, report.Compare(4, runs)); err != nil {
		t.Fatal(err)
	}
	var last [2]int
	res := Compare(context.Background(), srcs, 5, 4, func(done, total int) { last = [2]int{done, total} })
	if len(res.Issues) > 0 {
		t.Fatalf("issues: %+v", res.Issues)
	}
	if res.JSON != want.String() {
		t.Errorf("Compare JSON:\n%s\nwant:\n%s", res.JSON, want.String())
	}
	if !strings.Contains(res.HTML, "Exposure side by side") {
		t.Error("Compare HTML lacks the side-by-side bars")
	}
	if last != [2]int{20, 20} {
		t.Errorf("last progress %v, want [20 20] (all five runs' trials)", last)
	}

	// A broken mitigation is named in the issue; an unbroken case alone is
	// not a comparison.
	bad := append([]Source{}, srcs[:2]...)
	bad[1].YAML = "name: x\n"
	if res := Compare(context.Background(), bad, 5, 4, nil); len(res.Issues) == 0 || !strings.HasPrefix(res.Issues[0].Message, srcs[1].Name+": ") {
		t.Errorf("broken mitigation: issues %+v, want one naming %s", res.Issues, srcs[1].Name)
	}
	if res := Compare(context.Background(), srcs[:1], 5, 4, nil); len(res.Issues) == 0 {
		t.Error("a comparison of one scenario gave no issue")
	}
}

// A run split over workers (a Sharder's shards, then FoldShards) is the
// page's one-worker Run: the same JSON and HTML, the same verdict; and a
// problem in the YAML stops a shard with the same issues Run gives.
func TestShardedRunIsRun(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]string{}
	for _, e := range lib {
		src[e.Name] = e.YAML
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		seed    uint64
		trials  int
		workers int
	}{
		{"public-s3-bucket", 1, 50, 2},
		{"revoke-race", 0, 31, 3},
		{"scp-deny", 9, 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := Run(ctx, tc.name, src[tc.name], tc.seed, tc.trials, nil)
			var shards [][]byte
			sh, is := NewSharder(tc.name, src[tc.name], tc.seed, tc.trials)
			if is != nil {
				t.Fatal(is)
			}
			for w := 0; w < tc.workers; w++ {
				from, to := tc.trials*w/tc.workers, tc.trials*(w+1)/tc.workers
				calls := 0
				b, is := sh.Run(ctx, from, to, func(done, total int) { calls++ })
				if is != nil {
					t.Fatal(is)
				}
				if n := to - max(from, 1); n > 0 && calls != n {
					t.Errorf("shard [%d, %d): %d progress calls, want %d", from, to, calls, n)
				}
				shards = append(shards, b)
			}
			got := FoldShards(ctx, tc.name, src[tc.name], tc.seed, tc.trials, shards)
			if len(got.Issues) > 0 {
				t.Fatal(got.Issues)
			}
			if got.JSON != want.JSON || got.HTML != want.HTML || got.Passed != want.Passed {
				t.Errorf("the sharded run differs from Run (JSON equal: %v, HTML equal: %v)", got.JSON == want.JSON, got.HTML == want.HTML)
			}
		})
	}
	bad := strings.Replace(src["public-s3-bucket"], "p99: 10s", "p99: soon", 1)
	want := Run(ctx, "public-s3-bucket", bad, 1, 10, nil)
	if _, is := NewSharder("public-s3-bucket", bad, 1, 10); len(is) == 0 || len(want.Issues) == 0 || is[0] != want.Issues[0] {
		t.Errorf("a bad delay: shard issues %v, Run's %v", is, want.Issues)
	}
}
