package report

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// update rewrites the golden files from the current renderers:
//
//	go test ./report/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or writes it with -update. A diff
// shows the first differing line so a failure is readable without a tool.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if !bytes.Equal(g, w) {
				t.Fatalf("%s differs at line %d (run with -update if the change is intended):\n got: %q\nwant: %q", path, i+1, g, w)
			}
		}
		t.Fatalf("%s differs", path)
	}
}

// needTool returns the path of an outside program, or skips the test when it
// is missing; under CI=true a missing program fails the test instead, so CI
// never passes by skipping.
func needTool(t *testing.T, name, hint string, candidates ...string) string {
	t.Helper()
	for _, c := range append([]string{name}, candidates...) {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := name + " is not installed (" + hint + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true requires it")
	}
	t.Skip(msg + "; skipping (set CI=true to make this a failure)")
	return ""
}

// fixture is a realistic run of the public bucket case: three regions, one
// probe in the bucket's region, one exposure window in the first trial, a
// 20-trial histogram and t-visibility curves. It is built by hand so the
// renderers are tested without the runner.
func fixture() *Run {
	samples := []ProbeSample{}
	for i := 0; i < 24; i++ {
		at := float64(i) * 0.5
		s := ProbeSample{At: at, Probe: "attacker-read", Region: "eu-west-1", Decision: "Allow", Truth: "Allow"}
		switch {
		case at >= 1 && at < 7.021:
			s.Truth = "Deny"
		case at >= 7.021:
			s.Decision, s.Truth = "Deny", "Deny"
		}
		samples = append(samples, s)
	}
	return &Run{
		Scenario: "public-s3-bucket",
		Title:    "A public bucket stays readable after it was made private",
		Description: "The bucket important-financial-documents in eu-west-1 is publicly readable.\n" +
			"An administrator in us-east-2 replaces its policy with a private one, then uploads q3.pdf.\n" +
			"An anonymous reader in eu-west-1 keeps fetching the document.",
		Lesson: "A policy change is not in force everywhere when the API call returns.\n" +
			"Make a bucket private before you put secrets in it, and turn on Block Public Access in the bucket's own region.",
		Mode:      "sim",
		Seed:      1,
		Trials:    20,
		Converged: true,
		Passed:    true,
		Probes: []Probe{{
			Name: "attacker-read", Region: "eu-west-1",
			Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::important-financial-documents/q3.pdf",
			Requests: 480, StaleAllows: 207, StaleDenies: 0, ConfidentialReads: 181,
			ExposureSeconds: Stats{Min: 0, P50: 5.4, P90: 7.9, P99: 9.41, Max: 9.41, Mean: 5.18405},
			DenialSeconds:   Stats{},
			Histogram: []float64{6.021, 4.87, 7.9, 0, 5.4, 3.2, 6.8, 9.41, 5.02, 4.1,
				6.3, 2.75, 5.9, 7.1, 0, 4.66, 8.2, 5.55, 3.9, 6.6},
		}},
		Regions: []Region{
			{Region: "us-east-2", LagSeconds: Stats{}, ConvergedAtSeconds: Stats{Min: 2, P50: 2, P90: 2, P99: 2, Max: 2, Mean: 2}},
			{Region: "eu-west-1", LagSeconds: Stats{Min: 0.4, P50: 3.1, P90: 5.9, P99: 9.41, Max: 9.41, Mean: 3.6},
				ConvergedAtSeconds: Stats{Min: 3.1, P50: 6.4, P90: 9.2, P99: 10.2, Max: 10.2, Mean: 6.3}},
			{Region: "ap-southeast-2", LagSeconds: Stats{Min: 0.6, P50: 3.3, P90: 6.2, P99: 8.7, Max: 8.7, Mean: 3.5},
				ConvergedAtSeconds: Stats{Min: 3.3, P50: 6.1, P90: 8.9, P99: 9.8, Max: 9.8, Mean: 6.0}},
		},
		Expectations: []Expectation{
			{Expr: "exposure(attacker-read).p50 > 0s", Passed: true, Detail: "p50 = 5.4s"},
			{Expr: "stale_allows(attacker-read) > 0", Passed: true, Detail: "207 stale allows"},
			{Expr: "converged", Passed: true, Detail: "20 of 20 trials converged"},
		},
		Timeline: &Timeline{
			Duration: 12,
			Regions:  []string{"us-east-2", "eu-west-1", "ap-southeast-2"},
			Events: []TimelineEvent{
				{At: 1, Region: "us-east-2", Kind: "commit", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Label: "private-only"},
				{At: 1, Region: "us-east-2", Kind: "apply", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy"},
				// An upload is a data-plane write in the bucket's region: no apply, no lag.
				{At: 2, Region: "eu-west-1", Kind: "write", Mutation: "eu-west-1/1", Call: "s3:PutObject", Label: "upload q3.pdf"},
				{At: 4.312, Region: "ap-southeast-2", Kind: "apply", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Lag: 3.312},
				{At: 7.021, Region: "eu-west-1", Kind: "apply", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Lag: 6.021},
				{At: 8, Region: "ap-southeast-2", Kind: "crash", Label: "crash"},
				{At: 10, Region: "ap-southeast-2", Kind: "restart", Label: "restart"},
			},
			Windows: []Window{{Probe: "attacker-read", Region: "eu-west-1", Kind: "exposure", From: 1, To: 7.021}},
			Samples: samples,
			Completions: []Completion{
				{Step: 1, Mutation: "us-east-2/1", Origin: "us-east-2", CompleteAt: ptr(7.021), KnownCompleteAt: ptr(7.512)},
				{Step: 2, Mutation: "eu-west-1/1", Origin: "eu-west-1", CompleteAt: ptr(2), KnownCompleteAt: ptr(2)},
			},
		},
		Mutations: []Mutation{
			{Step: 1, Call: "s3:PutBucketPolicy", Origin: "us-east-2", Label: "private-only", Committed: 20, Complete: 20, KnownComplete: 20,
				CompleteAtSeconds:         Stats{Min: 2.1, P50: 5.4, P90: 8.2, P99: 10.41, Max: 10.41, Mean: 5.6},
				KnownCompleteAtSeconds:    Stats{Min: 2.5, P50: 5.9, P90: 8.6, P99: 10.9, Max: 10.9, Mean: 6.05},
				KnownAfterCompleteSeconds: Stats{Min: 0.2, P50: 0.45, P90: 0.6, P99: 0.71, Max: 0.71, Mean: 0.45}},
			{Step: 2, Call: "s3:PutObject", Origin: "eu-west-1", Label: "upload q3.pdf", Committed: 20, Complete: 20, KnownComplete: 20,
				CompleteAtSeconds:         Stats{Min: 2, P50: 2, P90: 2, P99: 2, Max: 2, Mean: 2},
				KnownCompleteAtSeconds:    Stats{Min: 2, P50: 2, P90: 2, P99: 2, Max: 2, Mean: 2},
				KnownAfterCompleteSeconds: Stats{}},
		},
		Visibility: []VisibilityCurve{
			{Region: "us-east-2", Points: [][2]float64{{0, 1}, {0.941, 1}, {1.882, 1}, {2.823, 1}, {3.764, 1}, {4.705, 1}, {5.646, 1}, {6.587, 1}, {7.528, 1}, {8.469, 1}, {9.41, 1}}},
			{Region: "eu-west-1", Points: [][2]float64{{0, 0}, {0.941, 0.05}, {1.882, 0.15}, {2.823, 0.4}, {3.764, 0.6}, {4.705, 0.72}, {5.646, 0.85}, {6.587, 0.92}, {7.528, 0.95}, {8.469, 0.98}, {9.41, 1}}},
			{Region: "ap-southeast-2", Points: [][2]float64{{0, 0}, {0.941, 0.03}, {1.882, 0.12}, {2.823, 0.33}, {3.764, 0.55}, {4.705, 0.7}, {5.646, 0.86}, {6.587, 0.94}, {7.528, 0.97}, {8.469, 1}, {9.41, 1}}},
		},
	}
}

func ptr(f float64) *float64 { return &f }
