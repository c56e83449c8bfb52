package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/loopback"
)

const testToken = "authload-test-token-0123456789"

// startNode builds regionnode and runs it on free loopback ports; it is
// stopped when the test ends.
func startNode(t *testing.T) (addr string, pid int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "regionnode")
	if out, err := exec.Command("go", "build", "-o", bin, "../regionnode").CombinedOutput(); err != nil {
		t.Fatalf("go build regionnode: %v\n%s", err, out)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
	cmd := exec.Command(bin, "--region", "eu-west-1", "--http", addr,
		"--gossip", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)), "--data-dir", filepath.Join(dir, "data"),
		"--gossip-preset", "local", "--log-level", "warn", "--expect-peers=false") // a one-region cluster
	cmd.Env = append(os.Environ(), "IAMPROP_API_TOKEN="+testToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("regionnode output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := dial(addr); err == nil {
			c.close()
			return addr, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("regionnode not serving on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgainstRegionNode runs the load generator for a fraction of a
// second against a real regionnode process: the setup builds the
// realistic request's world, every answer is a 200 Allow, the commit load
// commits, and a fixed rate never sends more than it was asked to.
func TestAgainstRegionNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs regionnode")
	}
	addr, pid := startNode(t)
	getenv := func(k string) string {
		if k == "IAMPROP_API_TOKEN" {
			return testToken
		}
		return ""
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, s Summary)
	}{
		{"closed loop with commits", []string{"--conns", "4", "--warmup", "100ms", "--duration", "400ms", "--commit-rate", "50", "--commit-conns", "3", "--pid", fmt.Sprint(pid)},
			func(t *testing.T, s Summary) {
				if s.Commits == nil || s.Commits.Committed == 0 || s.Commits.Failed != 0 {
					t.Errorf("commits: %+v", s.Commits)
				}
				if s.Server == nil || s.Server.MicrosPerReq <= 0 {
					t.Errorf("server CPU: %+v", s.Server)
				}
				// Both share the cores: their estimate is at most the
				// server's alone.
				if g := s.Generator; g == nil || g.CPUSeconds < 0 || g.IdleEstimate2Both <= 0 || (s.Server != nil && g.IdleEstimate2Both > s.Server.IdleEstimate2) {
					t.Errorf("generator CPU: %+v (server %+v)", s.Generator, s.Server)
				}
			}},
		{"fixed rate", []string{"--conns", "2", "--rate", "200", "--warmup", "0s", "--duration", "500ms", "--setup=false"},
			func(t *testing.T, s Summary) {
				// Request k of a connection is due at k*interval: in 0.5 s at
				// 200/s, at most 100 (plus the one due at each start).
				if s.Requests > 102 {
					t.Errorf("sent %d requests, the rate allows at most 102", s.Requests)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := runCLI(context.Background(), append([]string{"--addr", addr, "--json"}, tt.args...), getenv, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			var s Summary
			if err := json.Unmarshal(out.Bytes(), &s); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if s.Answered == 0 || s.Answered != s.Status["200"] || s.Failed != 0 || s.Unexpected != 0 {
				t.Errorf("want only 200 Allow answers: %s", out.String())
			}
			if s.P50MS <= 0 || s.P99MS < s.P50MS || s.P999MS < s.P99MS {
				t.Errorf("quantiles out of order: %s", out.String())
			}
			tt.check(t, s)
		})
	}
}

// TestCommandLine: bad flags exit with a usage error, and a node that is
// not there is a plain failure.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--conns", "x"}, true, "invalid value"},
		{[]string{"--duration", "0s"}, true, "--duration"},
		{[]string{"--body", "{"}, true, "--body"},
		{[]string{"extra"}, true, "unexpected argument"},
		{[]string{"--commit-conns", "0"}, true, "--commit-conns"},
		{[]string{"--addr", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)), "--setup=false", "--duration", "100ms"}, false, "connect"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runCLI(context.Background(), tt.args, func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.usage != isUsage(err)) {
			t.Errorf("%v: err %v, want one containing %q (usage error: %v)", tt.args, err, tt.want, tt.usage)
		}
	}
}

func isUsage(err error) bool { return errors.Is(err, errUsage) }
