package runner

import (
	"context"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

// Every scenario of the library runs, converges where it says so, and meets
// its own expectations: the lessons the library teaches are measured, not
// asserted by hand.
func TestLibraryExpectationsHold(t *testing.T) {
	names, err := scenarios.LibraryNames()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 13 {
		t.Errorf("library has %d scenarios, want at least 13", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sc, err := scenarios.LoadLibrary(name)
			if err != nil {
				t.Fatal(err)
			}
			// A thousand trials: a lesson whose expectation fails one trial in a
			// few hundred (a delay tail beyond the run's end) must fail here, not
			// in front of a learner. The simulator runs them in well under a second.
			trials := 1000
			if testing.Short() {
				trials = 20
			}
			run, err := Run(context.Background(), sc, Options{Trials: trials})
			if err != nil {
				t.Fatalf("seed %d: %v", sc.Seed, err)
			}
			for _, e := range run.Expectations {
				if !e.Passed {
					t.Errorf("seed %d, %d trials: expectation %q failed: %s", run.Seed, trials, e.Expr, e.Detail)
				}
			}
		})
	}
}
