package playground

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The WebAssembly module every learner downloads must not carry net/http or
// Prometheus: they made it about 15 MB while the simulator needs neither
// (package runner reaches them only through interfaces it is given). Nor
// protobuf, which DDSketch's packages link for encodings the runner never
// uses (2-3 MB of the module).
func TestWasmModuleLinksNoHTTPPrometheusOrProtobuf(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH; cannot list the module's dependencies")
	}
	cmd := exec.Command("go", "list", "-deps", "github.com/iamprop/iamprop/cmd/playground-wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	if !deps["github.com/iamprop/iamprop/sim"] {
		t.Fatalf("go list -deps listed no simulator; got %d packages", len(deps))
	}
	for d := range deps {
		if d == "net/http" || strings.HasPrefix(d, "github.com/prometheus/") || strings.HasPrefix(d, "google.golang.org/protobuf/") {
			t.Errorf("the WebAssembly module links %s", d)
		}
	}
}
