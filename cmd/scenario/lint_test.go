package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestLintExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	slow := filepath.Join(dir, "slow.yaml")
	if err := os.WriteFile(slow, []byte("propagation:\n  default: {dist: lognormal, median: 20s, p99: 45s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		out, er []string
	}{
		{"findings", []string{"lint", "public-s3-bucket"}, 1, []string{"step 2: upload-after-narrowing", "fix: "}, nil},
		{"none", []string{"lint", "public-s3-bucket-policy-first"}, 0, []string{"no ordering hazards found"}, nil},
		{"bad scenario", []string{"lint", bad}, 2, nil, []string{"bad.yaml"}},
		{"bad trail", []string{"lint", "../../trail/testdata/bad/no-event-time.json"}, 2, nil, []string{"record 1: eventTime: missing"}},
		{"snapshot without trail", []string{"lint", "--snapshot", snapshotFile, "public-s3-bucket"}, 2, nil, []string{"--snapshot"}},
		// A bucket policy sent to us-east-1's endpoint for a bucket whose
		// data events place it in eu-west-1.
		{"trail: committed away from the bucket", []string{"lint", wrongRegionDir}, 1, []string{"event 00000000-0000-4000-8000-000000000202: committed-away-from-enforcement", "committed in us-east-1 but enforced in eu-west-1", "(window ~10s)"}, nil},
		{"trail: --propagation sets the windows", []string{"lint", "--propagation", slow, wrongRegionDir}, 1, []string{"committed-away-from-enforcement", "(window ~45s)"}, nil},
		{"scenario: --propagation replaces its own", []string{"lint", "--propagation", slow, "public-s3-bucket"}, 1, []string{"committed-away-from-enforcement", "(window ~45s)"}, nil},
		{"bad propagation", []string{"lint", "--propagation", bad, "public-s3-bucket"}, 2, nil, []string{"bad.yaml"}},
		{"trail", []string{"lint", "--snapshot", snapshotFile, incidentDir}, 1, []string{"event 00000000-0000-4000-8000-000000000102: revocation-relied-on-at-once", "fix: do not treat event 00000000-0000-4000-8000-000000000102 as done"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectRun(t, tt.args, tt.code, tt.out, tt.er) })
	}
}

func TestLintJSON(t *testing.T) {
	out, _ := expectRun(t, []string{"lint", "--json", "--snapshot", snapshotFile, incidentDir}, 1, nil, nil)
	var res struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Findings) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"rule", "event_id", "message", "fix", "window_seconds"} {
		if _, ok := res.Findings[0][k]; !ok {
			t.Errorf("finding lacks %q: %v", k, res.Findings[0])
		}
	}
	out, _ = expectRun(t, []string{"lint", "--json", "public-s3-bucket-policy-first"}, 0, nil, nil)
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Findings == nil || len(res.Findings) != 0 {
		t.Errorf("no findings must print an empty list: %s", out)
	}
}

// TestLintTrailDecidingRegion: a read of an eu-west-1 bucket that the
// us-east-1 endpoint logged is still decided in eu-west-1, so relying on
// a us-east-1 revocation for it at once is a hazard there.
func TestLintTrailDecidingRegion(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"111122223333_CloudTrail_us-east-1_20261201T1000Z_iam.json", "111122223333_CloudTrail_eu-west-1_20261201T1000Z_s3.json"} {
		data, err := os.ReadFile(filepath.Join(incidentDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var trail struct{ Records []map[string]any }
		if err := json.Unmarshal(data, &trail); err != nil {
			t.Fatal(err)
		}
		for _, r := range trail.Records {
			if r["eventID"] == "00000000-0000-4000-8000-000000000104" {
				r["awsRegion"] = "us-east-1"
			}
		}
		if data, err = json.Marshal(trail); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expectRun(t, []string{"lint", "--snapshot", snapshotFile, dir}, 1,
		[]string{"event 00000000-0000-4000-8000-000000000102: revocation-relied-on-at-once", "event 00000000-0000-4000-8000-000000000104 (s3:GetObject) in eu-west-1 relies on it"}, nil)
}
