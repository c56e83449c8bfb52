package main

import (
	"strings"
	"testing"
)

// A scenario that is neither a file nor a library name is one line on
// stderr, without a doubled "scenario:", with the close library names.
func TestMissingScenarioIsOneClearLine(t *testing.T) {
	tests := []struct {
		arg     string
		want    []string
		notWant []string
	}{
		{"no-such-file", []string{"scenario: open no-such-file: no such file, and no library scenario of that name"}, []string{"did you mean"}},
		{"public-s3-buckett", []string{`did you mean "public-s3-bucket"`}, nil},
		{"public-s3", []string{"public-s3-bucket", "public-s3-bucket-policy-first"}, nil},
		{"revoke_race", []string{`"revoke-race"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			for _, cmd := range []string{"run", "explain", "validate"} {
				_, errOut := expectRun(t, []string{cmd, tt.arg}, 2, nil, tt.want)
				if strings.Contains(errOut, "scenario: scenario:") {
					t.Errorf("%s: doubled prefix: %q", cmd, errOut)
				}
				if n := strings.Count(strings.TrimRight(errOut, "\n"), "\n"); n != 0 {
					t.Errorf("%s: %d lines on stderr, want 1: %q", cmd, n+1, errOut)
				}
				for _, nw := range tt.notWant {
					if strings.Contains(errOut, nw) {
						t.Errorf("%s: stderr has %q: %q", cmd, nw, errOut)
					}
				}
			}
		})
	}
}

// Missing or extra arguments print the command's usage line.
func TestMissingArgumentsPrintUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "usage: scenario run FILE [flags]"},
		{[]string{"explain"}, "usage: scenario explain FILE [flags]"},
		{[]string{"validate"}, "usage: scenario validate"},
		{[]string{"compare"}, "usage: scenario compare"},
		{[]string{"run", "a", "b"}, "usage: scenario run FILE [flags]"},
		{[]string{"cluster", "wait"}, "usage: scenario cluster wait MUTATION_ID [flags]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			expectRun(t, tt.args, 2, nil, []string{tt.want})
		})
	}
}
