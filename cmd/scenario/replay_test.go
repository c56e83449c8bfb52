package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

const (
	incidentDir  = "../../replay/testdata/incident"
	snapshotFile = "../../trail/testdata/snapshot/authorization-details.json"
	trailDir     = "../../trail/testdata/trail"
	// wrongRegionDir: a bucket policy sent to another region's endpoint.
	wrongRegionDir = "../../replay/testdata/wrong-region"
	// homeRegionDir: the incident in a trail that also spans
	// ap-southeast-2, where the revoked bucket is not hosted.
	homeRegionDir = "../../replay/testdata/home-region"
)

func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	emit := filepath.Join(dir, "payroll-incident.yaml")
	html := filepath.Join(dir, "replay.html")
	out, _ := expectRun(t, []string{"replay", "--snapshot", snapshotFile, "--trials", "20", "--json", "--emit-scenario", emit, "--html", html, incidentDir}, 0, nil, nil)
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	fields := map[string][]string{
		"changes":          {"event_id", "event_name", "region", "time", "applied"},
		"skipped":          {"event_id", "reason"},
		"windows":          {"event_id", "region", "principal", "action", "resource", "exposure_seconds"},
		"suspect_requests": {"event_id", "change_event_id", "region", "principal", "action", "resource", "probability"},
	}
	for list, keys := range fields {
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(res[list], &items); err != nil || len(items) == 0 {
			t.Errorf("%s: %v (%s)", list, err, res[list])
			continue
		}
		for _, k := range keys {
			if _, ok := items[0][k]; !ok {
				t.Errorf("%s[0] lacks %q: %s", list, k, res[list])
			}
		}
	}
	sc, err := scenarios.Load(emit)
	if err != nil {
		t.Fatalf("--emit-scenario wrote a scenario that does not load: %v", err)
	}
	if sc.Name != "payroll-incident" || len(sc.Steps) != 2 {
		t.Errorf("emitted scenario %s with %d steps", sc.Name, len(sc.Steps))
	}
	if data, err := os.ReadFile(html); err != nil || !strings.Contains(string(data), "<html") {
		t.Errorf("--html: %v", err)
	}
	// The emitted file is an ordinary scenario: run takes it.
	expectRun(t, []string{"run", emit}, 0, nil, nil)
}

// TestReplayHomeRegion: an IAM revocation committed in us-east-1 of
// reads of a bucket in eu-west-1 opens its window in eu-west-1 alone,
// though the trail also spans ap-southeast-2: no other region decides the
// bucket's requests.
func TestReplayHomeRegion(t *testing.T) {
	out, _ := expectRun(t, []string{"replay", "--snapshot", snapshotFile, "--trials", "20", "--json", homeRegionDir}, 0, nil, nil)
	var res struct {
		Regions []string `json:"regions"`
		Windows []struct {
			EventID string `json:"event_id"`
			Region  string `json:"region"`
		} `json:"windows"`
		Suspects []struct {
			EventID string `json:"event_id"`
			Region  string `json:"region"`
		} `json:"suspect_requests"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if strings.Join(res.Regions, ",") != "ap-southeast-2,eu-west-1,us-east-1" {
		t.Fatalf("regions %v", res.Regions)
	}
	if len(res.Windows) != 1 || res.Windows[0].Region != "eu-west-1" || res.Windows[0].EventID != "00000000-0000-4000-8000-000000000102" {
		t.Errorf("windows %+v, want one, in eu-west-1, from the deletion", res.Windows)
	}
	if len(res.Suspects) != 1 || res.Suspects[0].Region != "eu-west-1" {
		t.Errorf("suspects %+v, want one in eu-west-1", res.Suspects)
	}
}

func TestReplaySummary(t *testing.T) {
	expectRun(t, []string{"replay", "--trials", "5", trailDir}, 0,
		[]string{"8 records (1 duplicates dropped)", "ec2:RunInstances x1", "failed: DeleteConflict", "still allowed", "still denied"}, nil)
}

func TestReplayBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"truncated gzip", []string{"replay", trailDir, "../../trail/testdata/bad/truncated.json.gz"}, "truncated.json.gz: record 1: truncated"},
		{"record without eventTime", []string{"replay", "../../trail/testdata/bad/no-event-time.json"}, "no-event-time.json: record 1: eventTime: missing"},
		{"snapshot that does not parse", []string{"replay", "--snapshot", "../../trail/testdata/bad/snapshot-bad-trust.json", trailDir}, "AssumeRolePolicyDocument (role ops)"},
		{"missing file", []string{"replay", "no-such-trail.json"}, "no-such-trail.json"},
		{"bad trials", []string{"replay", "--trials", "0", trailDir}, "--trials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			emit := filepath.Join(dir, "x.yaml")
			expectRun(t, append(tt.args, "--emit-scenario", emit), 2, nil, []string{tt.err})
			// Nothing half-runs: no scenario is written.
			if _, err := os.Stat(emit); err == nil {
				t.Error("a scenario was written despite bad input")
			}
		})
	}
}

func TestReplayPropagation(t *testing.T) {
	dir := t.TempDir()
	block := filepath.Join(dir, "constant.yaml")
	if err := os.WriteFile(block, []byte("propagation:\n  default: {dist: constant, value: 30s}\nsources: [\"https://example.com/measured\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emit := filepath.Join(dir, "constant-incident.yaml")
	out, _ := expectRun(t, []string{"replay", "--snapshot", snapshotFile, "--propagation", block, "--trials", "3", "--json", "--emit-scenario", emit, incidentDir}, 0, nil, nil)
	var res struct {
		Windows []struct {
			Exposure struct{ P50, Max float64 } `json:"exposure_seconds"`
		} `json:"windows"`
		Suspects []struct{ Probability float64 } `json:"suspect_requests"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	// Every change reaches eu-west-1 exactly 30 s after its commit.
	if len(res.Windows) != 1 || res.Windows[0].Exposure.P50 != 30 || res.Windows[0].Exposure.Max != 30 {
		t.Errorf("windows %+v, want one of exactly 30 s", res.Windows)
	}
	if len(res.Suspects) != 1 || res.Suspects[0].Probability != 1 {
		t.Errorf("suspects %+v, want probability 1", res.Suspects)
	}
	sc, err := scenarios.Load(emit)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Propagation.Default.Dist != "constant" || len(sc.Sources) != 1 {
		t.Errorf("emitted propagation %+v, sources %v", sc.Propagation.Default, sc.Sources)
	}
}
