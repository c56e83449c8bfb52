package main

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLineConventions: regionnode follows scenario's conventions:
// --help on stdout with examples and exit 0, --version, exit 2 with one
// line on stderr for a bad flag or setting, exit 1 for a failure at run
// time (a port in use).
func TestCommandLineConventions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the regionnode binary")
	}
	bin := buildBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    []string
		wantErr    []string
		errLinesLE int // at most this many stderr lines (0: no check)
	}{
		{"help", []string{"--help"}, 0, []string{"usage: regionnode --region NAME", "Examples:", "  --gossip-preset string", "IAMPROP_DATA_DIR"}, nil, 0},
		{"short help", []string{"-h"}, 0, []string{"usage: regionnode"}, nil, 0},
		{"version", []string{"--version"}, 0, []string{"regionnode "}, nil, 0},
		{"unknown flag", []string{"--no-such-flag"}, 2, nil, []string{"regionnode: unknown flag --no-such-flag (see regionnode --help)", "regionnode --help"}, 1},
		{"bad value", []string{"--region", "a", "--gossip-nodes", "x"}, 2, nil, []string{"for flag --gossip-nodes"}, 1},
		{"missing region", nil, 2, nil, []string{"--region is required"}, 1},
		{"bad delay", []string{"--region", "a", "--delay", "soon"}, 2, nil, []string{"--delay"}, 0},
		{"arguments", []string{"--region", "a", "extra"}, 2, nil, []string{"unexpected arguments"}, 1},
		{"bad log level", []string{"--region", "a", "--log-level", "loud", "--data-dir", filepath.Join(dir, "a")}, 2, nil, []string{"--log-level"}, 1},
		{"port in use", []string{"--region", "a", "--http", busy.Addr().String(), "--data-dir", filepath.Join(dir, "b")}, 1, nil, []string{"address already in use"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if n := strings.Count(strings.TrimRight(errb.String(), "\n"), "\n") + 1; tt.errLinesLE > 0 && n > tt.errLinesLE {
				t.Errorf("stderr has %d lines, want at most %d:\n%s", n, tt.errLinesLE, errb.String())
			}
			if tt.code == 0 && errb.Len() > 0 {
				t.Errorf("stderr not empty: %s", errb.String())
			}
		})
	}
}
