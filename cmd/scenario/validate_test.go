package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validScenario = `name: NAME
title: A valid scenario
duration: 10s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: constant, value: 2s}
policies:
  public-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::docs-bucket/*"}]}
state:
  accounts: ["111122223333"]
  buckets: [{name: docs-bucket, region: eu-west-1, policy: public-read}]
steps:
  - {at: 1s, region: us-east-2, call: s3:DeleteBucketPolicy, with: {bucket: docs-bucket}}
probes:
  - {name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::docs-bucket/k"}
expect:
  - "exposure(reader).p50 > 0s"
`

func writeScenario(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "NAME", name)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := writeScenario(t, dir, "good", validScenario)
	badRegion := writeScenario(t, dir, "bad-region", strings.Replace(validScenario, "region: us-east-2, call", "region: us-east-9, call", 1))
	twoErrors := writeScenario(t, dir, "two-errors", strings.Replace(strings.Replace(validScenario,
		"duration: 10s", "duration: 10", 1), "exposure(reader)", "exposure(nobody)", 1))
	elsewhere := writeScenario(t, dir, "elsewhere", strings.Replace(validScenario, "{name: reader, region: eu-west-1", "{name: reader, region: us-east-2", 1))

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErrOut []string
		noErrOut   bool
	}{
		{
			name:     "a valid file exits 0",
			args:     []string{"validate", good},
			wantCode: 0,
			wantOut:  []string{good + ": ok (good: 1 steps, 1 probes, 1 expectations)\n"},
			noErrOut: true,
		},
		{
			name:     "library scenarios by name",
			args:     []string{"validate", "public-s3-bucket", "revoke-race"},
			wantCode: 0,
			wantOut:  []string{"public-s3-bucket: ok", "revoke-race: ok"},
			noErrOut: true,
		},
		{
			name:     "a probe asked of a region that does not decide it is valid, with a warning",
			args:     []string{"validate", elsewhere},
			wantCode: 0,
			wantOut:  []string{elsewhere + ": ok"},
			wantErrOut: []string{elsewhere + `:15:5: probes[0].region: warning: AWS decides s3:GetObject on arn:aws:s3:::docs-bucket/k in eu-west-1 ` +
				`(the home region of bucket docs-bucket), wherever the caller is; us-east-2's view never answers it: set region: eu-west-1`},
		},
		{
			name:       "an unknown region exits 2 with file:line:col",
			args:       []string{"validate", badRegion},
			wantCode:   2,
			wantErrOut: []string{badRegion + `:13:22: steps[0].region: unknown region "us-east-9"; expected one of the scenario's regions: us-east-2, eu-west-1`},
		},
		{
			name:     "every error of a file, in order",
			args:     []string{"validate", twoErrors},
			wantCode: 2,
			wantErrOut: []string{
				twoErrors + `:3:11: duration: must be a duration such as 1s, 250ms or 2m, got "10" (add a unit: 10s)` + "\n" +
					twoErrors + `:17:15: expect[0]: unknown probe "nobody"; expected one of: reader`,
			},
		},
		{
			name:       "valid files are still reported when another is invalid",
			args:       []string{"validate", good, badRegion},
			wantCode:   2,
			wantOut:    []string{good + ": ok"},
			wantErrOut: []string{badRegion + ":13:22:"},
		},
		{
			name:     "quiet prints nothing for valid files",
			args:     []string{"validate", "-q", good},
			wantCode: 0,
			noErrOut: true,
		},
		{
			name:       "a missing file exits 2",
			args:       []string{"validate", filepath.Join(dir, "nope.yaml")},
			wantCode:   2,
			wantErrOut: []string{"scenario: open ", "nope.yaml: no such file"},
		},
		{
			name:       "no file is a usage error",
			args:       []string{"validate"},
			wantCode:   2,
			wantErrOut: []string{"requires at least 1 arg"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut := expectRun(t, tt.args, tt.wantCode, tt.wantOut, tt.wantErrOut)
			if tt.wantOut == nil && out != "" {
				t.Errorf("unexpected stdout:\n%s", out)
			}
			if tt.noErrOut && errOut != "" {
				t.Errorf("unexpected stderr:\n%s", errOut)
			}
		})
	}
}

// The whole library validates through the command, as a user would run it.
func TestValidateLibraryFiles(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(files) < 13 {
		t.Fatalf("found %d library files (%v)", len(files), err)
	}
	var out, errOut bytes.Buffer
	if code := run(append([]string{"validate"}, files...), &out, &errOut); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, errOut.String())
	}
	if n := strings.Count(out.String(), ": ok ("); n != len(files) {
		t.Errorf("%d files reported ok, want %d:\n%s", n, len(files), out.String())
	}
}
