package runner

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// driverTraits lists what only driver code uses: a backend's packages and
// the wall clock.
func driverTraits(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{
		"github.com/iamprop/iamprop/sim":  true,
		"github.com/iamprop/iamprop/live": true,
		"github.com/iamprop/iamprop/api":  true,
		"github.com/hashicorp/memberlist": true,
		"net/http":                        true,
	}
	var found []string
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		if forbidden[path] {
			found = append(found, "imports "+path)
		}
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, clock := range []string{"time.Now(", "time.Since(", "time.Until(", "time.After("} {
		if strings.Contains(string(src), clock) {
			found = append(found, "calls "+clock)
		}
	}
	return found
}

// The measurement is the same for every backend, so it must not reach into
// one: measure.go imports no driver package and reads no clock. The
// backends' files, which must, show that the check sees such code.
func TestMeasureImportsNoDriver(t *testing.T) {
	for _, tc := range []struct {
		file   string
		driver bool
	}{
		{"measure.go", false},
		{"simulator.go", true},
		{"realtime.go", true},
		{"realtime/live.go", true},
	} {
		found := driverTraits(t, tc.file)
		if tc.driver != (len(found) > 0) {
			t.Errorf("%s: driver code %v, want driver code: %v", tc.file, found, tc.driver)
		}
	}
}
