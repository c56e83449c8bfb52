package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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

// explain, validate and compare take --json; explain of one trial does not
// speak of "all trials"; compare runs each scenario from its own seed and
// shows what a consistency token costs beside the exposure it removes.
func TestJSONOutputs(t *testing.T) {
	out, _ := expectRun(t, []string{"explain", "public-s3-bucket"}, 0, []string{"In this trial"}, nil)
	if strings.Contains(strings.ToLower(out), "over all trials") {
		t.Errorf("explain of one trial speaks of all trials:\n%s", out)
	}

	out, _ = expectRun(t, []string{"explain", "public-s3-bucket", "--json"}, 0, nil, nil)
	var ex struct {
		Scenario  string
		Seed      uint64
		Narration struct{ Story, Summary []string }
		Timeline  *struct{ Events []any }
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
	if ex.Scenario != "public-s3-bucket" || ex.Seed == 0 || len(ex.Narration.Story) == 0 || len(ex.Narration.Summary) == 0 || ex.Timeline == nil || len(ex.Timeline.Events) == 0 {
		t.Errorf("explain --json = %+v", ex)
	}

	dir := t.TempDir()
	bad := writeScenario(t, dir, "bad", strings.Replace(validScenario, "region: us-east-2, call", "region: us-east-9, call", 1))
	out, _ = expectRun(t, []string{"validate", "--json", "public-s3-bucket", bad}, 2, nil, nil)
	var val []struct {
		File   string
		Valid  bool
		Name   string
		Issues []struct {
			Line   int
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(out), &val); err != nil {
		t.Fatalf("validate --json: %v\n%s", err, out)
	}
	if len(val) != 2 || !val[0].Valid || val[0].Name != "public-s3-bucket" || val[1].Valid || len(val[1].Issues) == 0 || val[1].Issues[0].Line == 0 ||
		!strings.Contains(val[1].Issues[0].Reason, "us-east-9") {
		t.Errorf("validate --json = %+v", val)
	}

	out, _ = expectRun(t, []string{"compare", "public-s3-bucket", "public-s3-bucket-consistency-token", "--trials", "5", "--json"}, 0, nil, nil)
	var cmp struct {
		Trials    int
		Scenarios []struct {
			Scenario string
			Seed     uint64
			Probes   []struct {
				Probe               string
				StaleAllowsPerTrial float64                     `json:"stale_allows_per_trial"`
				WaitSeconds         *struct{ P50, P99 float64 } `json:"wait_seconds"`
				ExposureSeconds     struct{ P50 float64 }       `json:"exposure_seconds"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, out)
	}
	if cmp.Trials != 5 || len(cmp.Scenarios) != 2 {
		t.Fatalf("compare --json = %+v", cmp)
	}
	for _, s := range cmp.Scenarios {
		sc, err := loadScenario(s.Scenario)
		if err != nil {
			t.Fatal(err)
		}
		if s.Seed != sc.Seed {
			t.Errorf("%s ran from seed %d, want its own %d", s.Scenario, s.Seed, sc.Seed)
		}
		waited := false
		for _, p := range s.Probes {
			waited = waited || p.WaitSeconds != nil
		}
		if want := strings.Contains(s.Scenario, "consistency-token"); waited != want {
			t.Errorf("%s: a wait price shown = %v, want %v", s.Scenario, waited, want)
		}
	}
	expectRun(t, []string{"compare", "public-s3-bucket", "public-s3-bucket-consistency-token", "--trials", "5"}, 0, []string{"WAIT p50", "5 trials each"}, nil)
}

// compare --html puts each probe's exposure bars and the token's wait side
// by side for every scenario.
func TestCompareHTML(t *testing.T) {
	page := filepath.Join(t.TempDir(), "compare.html")
	expectRun(t, []string{"compare", "public-s3-bucket", "public-s3-bucket-consistency-token", "--trials", "5", "--html", page}, 0, []string{"5 trials each"}, nil)
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"<h2>attacker-read</h2>", "<td>public-s3-bucket-consistency-token</td>", `style="width:100.0%"`, `class="n wait">-</td>`} {
		if !strings.Contains(out, want) {
			t.Errorf("compare page lacks %q", want)
		}
	}
	for _, bad := range []string{"%%", "http:", "https:", "src="} {
		if strings.Contains(out, bad) {
			t.Errorf("compare page has %q", bad)
		}
	}
}
