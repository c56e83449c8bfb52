package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func edit(t *testing.T, src string, replace []string) string {
	t.Helper()
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(src, replace[i]) {
			t.Fatalf("test bug: %q is not in the scenario", replace[i])
		}
		src = strings.Replace(src, replace[i], replace[i+1], 1)
	}
	return src
}

func TestBaseScenarioIsValid(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(baseScenario))
	if err != nil {
		t.Fatalf("the base of the bad cases must be valid: %v", err)
	}
	if sc.Name != "t" || sc.Duration != 10*time.Second || len(sc.Steps) != 1 || len(sc.Probes) != 1 || len(sc.Expect) != 1 {
		t.Errorf("base scenario decoded as %+v", sc)
	}
}

// Each bad input yields exactly one issue, with the exact position and
// reason, and never a scenario.
func TestBadInputs(t *testing.T) {
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			src := edit(t, baseScenario, c.replace)
			sc, err := Parse("t.yaml", []byte(src))
			if sc != nil {
				t.Errorf("got a scenario along with the error")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %T %v", err, err)
			}
			if len(se.Issues) != 1 {
				t.Errorf("want exactly one issue, got %d:\n%v", len(se.Issues), se)
			}
			if got := se.Issues[0].String(); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if se.Error() != strings.Join(issueStrings(se.Issues), "\n") {
				t.Errorf("Error() is not the issues one per line: %q", se.Error())
			}
		})
	}
}

func issueStrings(is []Issue) []string {
	var out []string
	for _, i := range is {
		out = append(out, i.String())
	}
	return out
}

// All problems of a file come back at once, sorted by position, whatever
// order the loader found them in.
func TestAllErrorsSortedByPosition(t *testing.T) {
	src := edit(t, baseScenario, []string{
		"s3:GetObject, resource", "s3:GetObject, resource", // keep
		`"exposure(reader).p50 > 0s"`, `"exposure(nobody).p50 > 0s"`,
		"duration: 10s", "duration: 10",
		"region: us-east-2, call", "region: nowhere, call",
	})
	_, err := Parse("t.yaml", []byte(src))
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("want *Error, got %v", err)
	}
	var lines []int
	for _, is := range se.Issues {
		lines = append(lines, is.Line)
	}
	want := []int{3, 13, 17}
	if len(lines) != len(want) {
		t.Fatalf("issues on lines %v, want %v:\n%v", lines, want, se)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("issues on lines %v, want %v:\n%v", lines, want, se)
		}
	}
}

func TestPolicyNameIsReplacedByTheDocument(t *testing.T) {
	src := edit(t, baseScenario, []string{
		"call: s3:DeleteBucketPolicy, with: {bucket: b}}",
		"call: s3:PutBucketPolicy, with: {bucket: b, policy: public-read}, label: reopen, account: \"111122223333\"}",
	})
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	st := sc.Steps[0]
	var with struct {
		Bucket string          `json:"bucket"`
		Policy json.RawMessage `json:"policy"`
	}
	if err := json.Unmarshal(st.With, &with); err != nil {
		t.Fatalf("With is not JSON: %v: %s", err, st.With)
	}
	if with.Bucket != "b" || string(with.Policy) != string(sc.Policies["public-read"]) {
		t.Errorf("With = %s, want the bucket and the public-read document", st.With)
	}
	if st.Label != "reopen" || st.Account != "111122223333" || st.Line != 13 || st.Column != 5 || st.Call != "s3:PutBucketPolicy" {
		t.Errorf("step decoded as %+v", st)
	}
}

func TestPolicyJSONKeepsOrderAndTypes(t *testing.T) {
	src := edit(t, baseScenario, []string{
		"policies:\n",
		"policies:\n  cond: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"s3:*\", Resource: \"*\", Condition: {Bool: {\"aws:SecureTransport\": true}, NumericLessThan: {\"s3:max-keys\": 10}, StringEquals: {\"aws:PrincipalAccount\": \"111122223333\"}}}]}\n",
	})
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10},"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}]}`
	if got := string(sc.Policies["cond"]); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// YAML would read an unquoted 2012-10-17 as a date; it must stay the string
// IAM expects.
func TestUnquotedVersionStaysAString(t *testing.T) {
	src := edit(t, baseScenario, []string{`public-read: {Version: "2012-10-17",`, `public-read: {Version: 2012-10-17,`})
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(sc.Policies["public-read"]), `{"Version":"2012-10-17",`) {
		t.Errorf("document = %s", sc.Policies["public-read"])
	}
}

func TestPolicyFileRelativeToTheScenario(t *testing.T) {
	dir := t.TempDir()
	doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}`
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies", "public.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies", "broken.json"), []byte("{\n  \"Version\": \n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, wantErr string
	}{
		{"json file is kept byte for byte", "policies/public.json", ""},
		{"invalid json names the policy file's line", "policies/broken.json", filepath.Join(dir, "policies", "broken.json") + ":3:1: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, baseScenario, []string{
				`  public-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*"}]}`,
				"  public-read: {file: " + tt.ref + "}",
			})
			path := filepath.Join(dir, "t.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			sc, err := Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), path+":8:23: policies.public-read.file: "+tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(sc.Policies["public-read"]) != doc {
				t.Errorf("document = %s, want the file's bytes", sc.Policies["public-read"])
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	sc, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if sc != nil || err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, %v; want a not-exist error", sc, err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		_, err := Parse("t.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), "t.yaml:1:1: ") {
			t.Errorf("%q: got %v, want an error at t.yaml:1:1", src, err)
		}
	}
}

func TestDistributions(t *testing.T) {
	tests := []struct {
		yaml string
		want Distribution
	}{
		{"{dist: constant, value: 250ms}", Distribution{Dist: "constant", Value: 250 * time.Millisecond}},
		{"{dist: uniform, min: 1s, max: 2m}", Distribution{Dist: "uniform", Min: time.Second, Max: 2 * time.Minute}},
		{"{dist: normal, mean: 4s, stddev: 1s}", Distribution{Dist: "normal", Mean: 4 * time.Second, Stddev: time.Second}},
		{"{dist: lognormal, median: 4s, p99: 12s}", Distribution{Dist: "lognormal", Median: 4 * time.Second, P99: 12 * time.Second}},
		{"{dist: exponential, mean: 3s}", Distribution{Dist: "exponential", Mean: 3 * time.Second}},
		{"{dist: pareto, scale: 1s, shape: 1.5}", Distribution{Dist: "pareto", Scale: time.Second, Shape: 1.5}},
		{"{dist: empirical, points: [[0.5, 0.2], [4, 0.9], [12, 1]]}", Distribution{Dist: "empirical", Points: [][2]float64{{0.5, 0.2}, {4, 0.9}, {12, 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.want.Dist, func(t *testing.T) {
			src := edit(t, baseScenario, []string{"{dist: constant, value: 2s}", tt.yaml})
			sc, err := Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(sc.Propagation.Default)
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestOptionalSections(t *testing.T) {
	src := baseScenario + `network:
  latency: {dist: uniform, min: 20ms, max: 120ms}
  loss: 0.01
gossip: {interval: 200ms, fanout: 3, retransmit_mult: 4, push_pull_interval: 30s}
faults:
  - {at: 5s, partition: [[us-east-2], [eu-west-1]], for: 3s}
  - {at: 5s, partition_oneway: {from: us-east-2, to: eu-west-1}, for: 3s}
  - {at: 8s, crash: eu-west-1, for: 1s, lose_state: true}
  - {at: 2s, loss: 0.5}
  - {at: 2s, latency: {dist: constant, value: 1s}, for: 1s}
`
	src = edit(t, src, []string{
		`resource: "arn:aws:s3:::b/k"}`,
		`resource: "arn:aws:s3:::b/k", every: 250ms, from: 1s, until: 9s, context: {"aws:SourceIp": 203.0.113.5, "aws:SecureTransport": true, "aws:MultiValued": [a, 2]}, consistency: {mode: at_least, step: 1, timeout: 2s}}`,
	})
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Network.Latency == nil || sc.Network.Latency.Max != 120*time.Millisecond || sc.Network.Loss != 0.01 {
		t.Errorf("network = %+v", sc.Network)
	}
	if sc.Gossip != (Gossip{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: 30 * time.Second}) {
		t.Errorf("gossip = %+v", sc.Gossip)
	}
	kinds := []string{}
	for _, f := range sc.Faults {
		kinds = append(kinds, f.Kind)
	}
	if strings.Join(kinds, ",") != "partition,partition_oneway,crash,loss,latency" {
		t.Errorf("fault kinds = %v", kinds)
	}
	if f := sc.Faults[2]; f.Region != "eu-west-1" || !f.LoseState || f.For != time.Second {
		t.Errorf("crash = %+v", f)
	}
	p := sc.Probes[0]
	if p.Every != 250*time.Millisecond || p.From != time.Second || p.Until != 9*time.Second ||
		p.Consistency != "at_least" || p.AtLeastStep != 1 || p.Timeout != 2*time.Second {
		t.Errorf("probe = %+v", p)
	}
	if p.Context["aws:SourceIp"] != "203.0.113.5" || p.Context["aws:SecureTransport"] != true || len(p.Context["aws:MultiValued"].([]any)) != 2 {
		t.Errorf("context = %#v", p.Context)
	}
}

func TestProbeDefaults(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(baseScenario))
	if err != nil {
		t.Fatal(err)
	}
	p := sc.Probes[0]
	if p.Every != DefaultProbeEvery || p.From != 0 || p.Until != sc.Duration || p.Consistency != "local" {
		t.Errorf("defaults: %+v", p)
	}
	if sc.Seed != 1 {
		t.Errorf("default seed = %d, want 1", sc.Seed)
	}
}

func TestParseExpectation(t *testing.T) {
	tests := []struct {
		expr    string
		want    Expectation
		wantErr string
	}{
		{expr: "exposure(attacker-read).p50 > 0s", want: Expectation{Kind: "exposure", Target: "attacker-read", Stat: "p50", Op: ">"}},
		{expr: "denial(app).max<=1.5s", want: Expectation{Kind: "denial", Target: "app", Stat: "max", Op: "<=", Duration: 1500 * time.Millisecond}},
		{expr: "lag(eu-west-1).p99 != 250ms", want: Expectation{Kind: "lag", Target: "eu-west-1", Stat: "p99", Op: "!=", Duration: 250 * time.Millisecond}},
		{expr: "stale_allows(r) >= 3", want: Expectation{Kind: "stale_allows", Target: "r", Op: ">=", Count: 3}},
		{expr: "stale_denies(r) == 0", want: Expectation{Kind: "stale_denies", Target: "r", Op: "=="}},
		{expr: "confidential_reads(r) < 10", want: Expectation{Kind: "confidential_reads", Target: "r", Op: "<", Count: 10}},
		{expr: "converged", want: Expectation{Kind: "converged"}},
		{expr: "  not   converged ", want: Expectation{Kind: "converged", Negated: true}},
		{expr: "", wantErr: "column 1: expected an expectation"},
		{expr: "not", wantErr: "column 4: expected converged after not at the end"},
		{expr: "exposure(a)", wantErr: "column 12: expected .min|p50|p90|p99|max|mean after exposure(...) at the end"},
		{expr: "exposure a.p50 > 0s", wantErr: `column 10: expected ( after exposure, got "a.p50 > 0s"`},
		{expr: "exposure().p50 > 0s", wantErr: `column 10: expected a probe name, got ").p50 > 0s"`},
		{expr: "exposure(a@eu-west-1).p50 > 0s", wantErr: "column 10: \"a@eu-west-1\": PROBE@REGION is not supported"},
		{expr: "exposure(a).p50 > -1s", wantErr: `column 19: expected a duration such as 0s, 500ms or 6s, got "-1s"`},
		{expr: "stale_allows(a).p50 > 1", wantErr: `column 16: expected a comparison (<, <=, >, >=, ==, !=), got ".p50 > 1"`},
		{expr: "stale_allows(a) > 1 and more", wantErr: `column 21: expected the end of the expectation, got "and more"`},
		{expr: "stale_allows(a) > ", wantErr: "column 19: expected a whole number at the end"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseExpectation(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Expr = tt.expr
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// An expectation's error column points into the YAML line, for quoted and
// plain scalars alike.
func TestExpectationErrorColumns(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{`  - "lag(eu-west-1).p5 < 1s"`, "t.yaml:17:21: expect[0]: expected a statistic"},
		{`  - 'lag(eu-west-1).p5 < 1s'`, "t.yaml:17:21: expect[0]: expected a statistic"},
		{`  - lag(eu-west-1).p5 < 1s`, "t.yaml:17:20: expect[0]: expected a statistic"},
	} {
		src := edit(t, baseScenario, []string{`  - "exposure(reader).p50 > 0s"`, tt.line})
		_, err := Parse("t.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestFindPath(t *testing.T) {
	src := `Version: "2012-10-17"
Statement:
  - Effect: Allow
    Action: s3:GetObject
  - Effect: Alow
    Condition:
      StringEquals: {"aws:username.x": bob}
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	for _, tt := range []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"Statement[1].Effect", 5, 13},
		{"$.Statement[1].Effect", 5, 13},
		{"/Statement/1/Effect", 5, 13},
		{"Statement[1].Condition.StringEquals.aws:username.x", 7, 40},
		{"Statement[7].Effect", 3, 3},
		{"Statement[0].Nope", 3, 5},
	} {
		n := findPath(root, cleanPolicyPath(tt.path))
		if n.Line != tt.line || n.Column != tt.col {
			t.Errorf("%q: at %d:%d, want %d:%d", tt.path, n.Line, n.Column, tt.line, tt.col)
		}
	}
}

// Aliases are resolved like the nodes they name; a nested alias bomb fails
// with an error instead of exhausting memory.
func TestAliases(t *testing.T) {
	src := edit(t, baseScenario, []string{
		"  default: {dist: constant, value: 2s}", "  default: &d {dist: constant, value: 2s}\n  revoke: *d",
	})
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Propagation.Revoke == nil || sc.Propagation.Revoke.Value != 2*time.Second || sc.Propagation.Revoke.Dist != "constant" {
		t.Errorf("revoke = %+v, want the aliased default", sc.Propagation.Revoke)
	}
	// Each level lists the previous one ten times: 10^8 values once expanded.
	bomb := `  bomb: {Version: "2012-10-17", K0: &a0 [x, x, x, x, x, x, x, x, x, x]`
	for i := 1; i < 8; i++ {
		prev := fmt.Sprintf("*a%d", i-1)
		bomb += fmt.Sprintf(", K%d: &a%d [%s]", i, i, strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", "))
	}
	bomb += "}\n"
	src = strings.Replace(baseScenario, "policies:\n", "policies:\n"+bomb, 1)
	start := time.Now()
	_, err = Parse("t.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("alias bomb: got %v, want a too-large error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("alias bomb took %v", time.Since(start))
	}
}

// A document is checked by the IAM evaluator as the kind each use makes it,
// and the issue points into the document at the path the evaluator names.
// The evaluator words the message and picks the path (the statement or its
// offending key); this test pins position, field and use for each.
func TestPolicyCheckedAsItsKind(t *testing.T) {
	for _, tt := range []struct {
		name    string
		replace []string
		line    int
		columns map[string]int // acceptable field -> its exact column
		suffix  string
	}{
		{
			"a bucket policy used as an identity policy",
			[]string{"  buckets:", "  users: [{name: alice, policies: [public-read]}]\n  buckets:"},
			8, map[string]int{"policies.public-read.Statement[0]": 52, "policies.public-read.Statement[0].Principal": 79},
			" (as an identity-based policy, used by state.users[0].policies[0])",
		},
		{
			"a bucket policy without a principal",
			[]string{`Principal: "*", `, ""},
			8, map[string]int{"policies.public-read.Statement[0]": 52},
			" (as a resource-based (bucket) policy, used by state.buckets[0].policy)",
		},
		{
			"an inline document in a step",
			[]string{"call: s3:DeleteBucketPolicy, with: {bucket: b}}", "call: s3:PutBucketPolicy, with: {bucket: b, policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"s3:*\", Resource: \"*\"}]}}}"},
			13, map[string]int{"steps[0].with.policy.Statement[0]": 121},
			" (as a resource-based (bucket) policy)",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(edit(t, baseScenario, tt.replace)))
			var se *Error
			if !errors.As(err, &se) || len(se.Issues) != 1 {
				t.Fatalf("want one issue, got %v", err)
			}
			is := se.Issues[0]
			col, ok := tt.columns[is.Field]
			if !ok || is.Line != tt.line || is.Column != col || !strings.HasSuffix(is.Reason, tt.suffix) || len(is.Reason) <= len(tt.suffix) {
				t.Errorf("got %s\nwant line %d, one of %v, reason ending %q", is, tt.line, tt.columns, tt.suffix)
			}
		})
	}
}
