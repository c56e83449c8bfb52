package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// --propagation FILE takes a scenario's propagation block (or a whole
// scenario file), with every distribution a scenario accepts, and builds
// exactly the model the scenario runner builds, so `scenario run
// --cluster` finds the two equal.
func TestPropagationFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	block := write("block.yaml", `default: {dist: lognormal, median: 4s, p99: 12s}
links: [{from: us-east-2, to: eu-west-1, dist: pareto, scale: 1s, shape: 2.5}]
revoke: {dist: exponential, mean: 3s}
`)
	scenarioFile := filepath.Join("..", "..", "scenarios", "public-s3-bucket.yaml")
	sc, err := scenarios.Load(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	scenarioModel, err := runner.PropagationModel(sc.Propagation)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // the model's description, or the error
		err  bool
	}{
		{"a propagation block", []string{"--propagation", block},
			"default lognormal(median 4s, p99 12s); link us-east-2>eu-west-1 pareto(scale 1s, shape 2.5); revoke exponential(mean 3s)", false},
		{"a whole scenario file", []string{"--propagation", scenarioFile}, scenarioModel.String(), false},
		{"JSON", []string{"--propagation", write("p.json", `{"default": {"dist": "uniform", "min": "1s", "max": "3s"}}`)}, "default uniform(1s, 3s)", false},
		{"an unknown distribution, with its position", []string{"--propagation", write("bad.yaml", "default: {dist: gamma, mean: 2s}\n")},
			`bad.yaml:1:17: propagation.default.dist: unknown distribution "gamma"`, true},
		{"a bad region", []string{"--propagation", write("badregion.yaml", "default: {dist: constant, value: 1s}\nlinks: [{from: US_EAST, to: eu-west-1, dist: constant, value: 2s}]\n")},
			`region "US_EAST"`, true},
		{"no such file", []string{"--propagation", filepath.Join(dir, "nope.yaml")}, "--propagation", true},
		{"with --delay", []string{"--propagation", block, "--delay", "2s"}, "--delay and --propagation exclude each other", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(append([]string{"--region", "eu-west-1"}, tt.args...), func(string) string { return "" }, io.Discard)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.delay == nil || c.delay.String() != tt.want {
				t.Errorf("model = %v, want %q", c.delay, tt.want)
			}
		})
	}
}
