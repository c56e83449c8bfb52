package runner

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/scenarios"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite runner/testdata/golden/*.json from the current code")

// goldenTrials is enough trials for every library scenario to exercise
// faults, acks and probes in several orders, few enough to keep the test short.
const goldenTrials = 50

// The library's reports at their own seeds are byte-identical to the
// committed ones: a speed change must not change what any trial measures.
// After an intended change of behaviour, regenerate with
// go test ./runner -run TestLibraryReportsGolden -update-golden
// and say why in the commit.
func TestLibraryReportsGolden(t *testing.T) {
	names, err := scenarios.LibraryNames()
	if err != nil {
		t.Fatal(err)
	}
	// One case at all 35 regions, where acks and relays dominate.
	names = append(names, "public-s3-bucket@35")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sc, err := scenarios.LoadLibrary(name)
			trials := goldenTrials
			if name == "public-s3-bucket@35" {
				sc, err = withRegions("public-s3-bucket", 35)
				trials = 5
			}
			if err != nil {
				t.Fatal(err)
			}
			run, err := Run(context.Background(), sc, Options{Trials: trials})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := report.JSON(&got, run); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (generate with -update-golden)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("report of %s (seed %d, %d trials) differs from %s:\n%s", name, sc.Seed, trials, path, firstDiff(got.Bytes(), want))
			}
		})
	}
}

// firstDiff shows the first differing line of two reports.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "(lengths differ)"
}
