package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad flags are refused before anything is built or started.
func TestChaosRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"chaos", "--nodes", "2"}, "--nodes 2: need at least 3"},
		{[]string{"chaos", "--nodes", "40"}, "--nodes 40: at most 16"},
		{[]string{"chaos", "--duration", "200ms"}, "--duration 200ms: at least 1s"},
		{[]string{"chaos", "--schedules", "0"}, "--schedules 0: at least 1"},
		{[]string{"chaos", "--replay", "x"}, "invalid argument"},
	}
	for _, tt := range tests {
		expectRun(t, tt.args, 2, nil, []string{tt.want})
	}
}

// A setup error (no regionnode binary, a node that cannot bind its port, a
// node refusing its flags) is not a finding: exit 2, one message, no
// "schedules failed", and no temporary folder left behind.
func TestChaosSetupErrorsAreNotFindings(t *testing.T) {
	bin := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	portTaken := script("port-taken", `echo "regionnode: listen tcp 127.0.0.1:8080: bind: address already in use" >&2; exit 1`)
	badFlags := script("bad-flags", `echo "regionnode: unknown flag --gossip-preset (see regionnode --help)" >&2; exit 2`)
	notExec := filepath.Join(bin, "not-executable")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, binary string
		want         []string
	}{
		{"no binary", filepath.Join(bin, "missing"), []string{"--regionnode", "missing"}},
		{"not executable", notExec, []string{"--regionnode", "not executable"}},
		{"port in use", portTaken, []string{"address already in use"}},
		{"node refuses its flags", badFlags, []string{"unknown flag --gossip-preset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			_, errOut := expectRun(t, []string{"chaos", "--regionnode", tt.binary, "--schedules", "2", "--nodes", "3"}, 2, nil, append([]string{"setup"}, tt.want...))
			for _, bad := range []string{"schedules failed", "not converged", "FAIL"} {
				if strings.Contains(errOut, bad) {
					t.Errorf("stderr reports a finding (%q):\n%s", bad, errOut)
				}
			}
			left, _ := os.ReadDir(tmp)
			for _, e := range left {
				t.Errorf("left behind in TMPDIR: %s", e.Name())
			}
		})
	}
}
