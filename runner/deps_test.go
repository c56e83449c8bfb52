package runner

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSimulatorPathLinksNoNetwork: package runner (the simulator path, and
// the WebAssembly playground built on it) must not link memberlist, the
// live nodes, the HTTP API, Prometheus or net/http; the real-time backends
// live in runner/realtime, the metrics server in runner/runmetrics. Both
// drag in megabytes the browser's module would download for nothing.
func TestSimulatorPathLinksNoNetwork(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH; cannot list runner's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
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
	for _, banned := range []string{
		"github.com/hashicorp/memberlist",
		"github.com/iamprop/iamprop/live",
		"github.com/iamprop/iamprop/api",
		"github.com/iamprop/iamprop/runner/realtime",
		"github.com/iamprop/iamprop/runner/runmetrics",
		"github.com/iamprop/iamprop/metrics",
		"github.com/prometheus/client_golang/prometheus",
		"net/http",
	} {
		if deps[banned] {
			t.Errorf("runner links %s; the real-time backends belong in runner/realtime, the metrics server in runner/runmetrics", banned)
		}
	}
}
