package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/chaos"
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

// The chaos timeline draws each commit from invocation to completion in
// its outcome's colour, each fault while in force (until the heal when
// never stopped), the heal and the convergence, with names escaped.
func TestChaosTimelineHTML(t *testing.T) {
	ms := int64(1e6)
	rep := &chaos.Report{Nodes: 3, Duration: "2s", Seed: 1, SchedulesRun: 1, Schedules: []chaos.ScheduleReport{{
		Index: 0, Seed: 7, Passed: true, HealSeconds: 0.1,
		History: []chaos.Event{
			{Process: "us-east-2/w0", Type: "invoke", F: "iam:CreateUser", Time: 0},
			{Process: "nemesis", Type: "info", F: "partition", Value: "us-east-2 | <eu-west-1>", Time: 5 * ms},
			{Process: "us-east-2/w0", Type: "ok", F: "iam:CreateUser", Value: "us-east-2/1", Time: 10 * ms},
			{Process: "eu-west-1/w0", Type: "invoke", F: "iam:DeleteUser", Time: 20 * ms},
			{Process: "nemesis", Type: "info", F: "kill9", Value: "ap-southeast-2", Time: 30 * ms},
			{Process: "eu-west-1/w0", Type: "info", F: "iam:DeleteUser", Value: "transport", Time: 60 * ms},
			{Process: "nemesis", Type: "info", F: "stop-partition", Value: "us-east-2 | <eu-west-1>", Time: 70 * ms},
			{Process: "nemesis", Type: "info", F: "heal", Time: 100 * ms},
			{Process: "nemesis", Type: "info", F: "converged", Value: "every region holds the truth", Time: 150 * ms},
		},
	}}}
	var buf strings.Builder
	renderChaosHTML(&buf, rep)
	out := buf.String()
	for _, want := range []string{
		`fill="` + colOK + `"><title>us-east-2/w0 iam:CreateUser: ok us-east-2/1 (0.000s to 0.010s)`,
		`fill="` + colInfo + `"><title>eu-west-1/w0 iam:DeleteUser: info transport (0.020s to 0.060s)`,
		`<title>partition us-east-2 | &lt;eu-west-1&gt; from 0.005s to 0.070s</title>`,
		`<title>process ap-southeast-2 from 0.030s until the heal</title>`,
		`<title>heal at 0.100s</title>`,
		`<title>every region holds the truth at 0.150s</title>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if strings.Contains(out, "<eu-west-1>") {
		t.Error("a fault target is not escaped")
	}
}
