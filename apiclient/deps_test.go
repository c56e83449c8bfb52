package apiclient

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestClientsDoNotLinkTheNode checks that the packages which drive a cluster
// from outside import neither memberlist nor the node: a client must stay
// small and must not start (or need) the gossip machinery.
func TestClientsDoNotLinkTheNode(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("no go binary to run `go list -deps` with")
			}
			t.Skip("no go binary in GOROOT or PATH: cannot run `go list -deps`")
		}
	}
	node := []string{
		"github.com/hashicorp/memberlist",
		"github.com/iamprop/iamprop/live",
		"github.com/iamprop/iamprop/api",
	}
	for pkg, forbidden := range map[string][]string{
		"github.com/iamprop/iamprop/wire":      append(node, "github.com/iamprop/iamprop/store"),
		"github.com/iamprop/iamprop/apiclient": append(node, "github.com/iamprop/iamprop/store"),
		// The chaos harness reads stopped nodes' logs with the store's own
		// reader (one definition of the format), but never links the node.
		"github.com/iamprop/iamprop/chaos": node,
	} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 || deps[len(deps)-1] != pkg {
				t.Fatalf("go list -deps %s printed no dependency list: %q", pkg, out)
			}
			for _, d := range deps {
				for _, f := range forbidden {
					if d == f {
						t.Errorf("%s depends on %s", pkg, f)
					}
				}
			}
		})
	}
}

// TestWireIsStdlibOnly: the wire package may import the standard library
// only, so any client can take it.
func TestWireIsStdlibOnly(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			t.Skip("no go binary in GOROOT or PATH: cannot run `go list -deps`")
		}
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/iamprop/iamprop/wire").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "github.com/iamprop/iamprop/wire" {
		t.Errorf("wire's non-standard dependencies: %v, want only itself", got)
	}
}
