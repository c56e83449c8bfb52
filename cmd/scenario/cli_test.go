package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns its exit status and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// expectRun runs args and checks the exit status and that stdout and stderr
// contain the wanted fragments; it returns both outputs for further checks.
func expectRun(t *testing.T, args []string, wantCode int, wantOut, wantErr []string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(args...)
	if code != wantCode {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, out, errOut)
	}
	for _, w := range wantOut {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	for _, w := range wantErr {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	return out, errOut
}
