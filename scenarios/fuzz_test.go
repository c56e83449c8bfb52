package scenarios

import (
	"errors"
	"io/fs"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, and it
// returns either a scenario whose references all resolve or an error whose
// issues all have a position, never both and never neither. The committed
// corpus is in testdata/fuzz/FuzzLoad; the library files are seeds too.
func FuzzLoad(f *testing.F) {
	names, err := LibraryNames()
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(Library, n+".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(baseScenario))
	noFiles := func(string) ([]byte, string, error) { return nil, "", fs.ErrNotExist }
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := parse("fuzz.yaml", data, noFiles)
		if (sc == nil) == (err == nil) {
			t.Fatalf("want exactly one of scenario and error, got %v and %v", sc, err)
		}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || len(se.Issues) == 0 {
				t.Fatalf("error without issues: %v", err)
			}
			for _, is := range se.Issues {
				if is.Line < 1 || is.Column < 1 || is.Reason == "" || is.File != "fuzz.yaml" {
					t.Fatalf("issue without a position or reason: %+v", is)
				}
			}
			return
		}
		checkInvariants(t, sc)
	})
}

// checkInvariants is what the runner relies on in a loaded scenario.
func checkInvariants(t *testing.T, sc *Scenario) {
	t.Helper()
	regions := map[string]bool{}
	for _, r := range sc.Regions {
		regions[r] = true
	}
	if sc.Name == "" || sc.Duration <= 0 || len(regions) == 0 {
		t.Fatalf("name %q, duration %v, regions %v", sc.Name, sc.Duration, sc.Regions)
	}
	probes := map[string]bool{}
	for _, p := range sc.Probes {
		if !regions[p.Region] || p.Every <= 0 || p.From >= p.Until || p.Until > sc.Duration {
			t.Fatalf("bad probe %+v", p)
		}
		if p.Consistency == "at_least" && (p.AtLeastStep < 1 || p.AtLeastStep > len(sc.Steps)) {
			t.Fatalf("probe waits for step %d of %d", p.AtLeastStep, len(sc.Steps))
		}
		probes[p.Name] = true
	}
	for _, s := range sc.Steps {
		if !regions[s.Region] || s.At < 0 || s.At > sc.Duration || len(s.With) == 0 {
			t.Fatalf("bad step %+v", s)
		}
	}
	for _, f := range sc.Faults {
		if f.At < 0 || f.At > sc.Duration || f.Kind == "" {
			t.Fatalf("bad fault %+v", f)
		}
	}
	for _, e := range sc.Expect {
		switch e.Kind {
		case "converged":
		case "lag":
			if !regions[e.Target] {
				t.Fatalf("lag of unknown region %q", e.Target)
			}
		default:
			if !probes[e.Target] {
				t.Fatalf("expectation on unknown probe %q", e.Target)
			}
		}
	}
	for _, b := range sc.State.Buckets {
		if !regions[b.Region] {
			t.Fatalf("bucket in unknown region %+v", b)
		}
		if b.Policy != "" && sc.Policies[b.Policy] == nil {
			t.Fatalf("bucket policy %q has no document", b.Policy)
		}
	}
}
