package main

import (
	"fmt"
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

// --delay takes every distribution a scenario's propagation block takes
// (delay.ParseModel): each line here builds, from the flag, exactly the
// model the block builds, so the runner finds the two equal.
func TestDelayFlagMatchesPropagationBlock(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, flag, block string
	}{
		{"constant", "2s", "default: {dist: constant, value: 2s}"},
		{"uniform", "1s..3s", "default: {dist: uniform, min: 1s, max: 3s}"},
		{"normal", "normal(mean 4s, stddev 1s)", "default: {dist: normal, mean: 4s, stddev: 1s}"},
		{"lognormal", "lognormal(median 4s, p99 10s)", "default: {dist: lognormal, median: 4s, p99: 10s}"},
		{"minute-scale lognormal", "lognormal(median=4m30s, p99=10m)", "default: {dist: lognormal, median: 4m30s, p99: 10m}"},
		{"exponential", "exponential(3s)", "default: {dist: exponential, mean: 3s}"},
		{"pareto", "pareto(scale 1s, shape 2.5)", "default: {dist: pareto, scale: 1s, shape: 2.5}"},
		{"empirical", "empirical(0s:0 2s:0.5 10s:1)", "default: {dist: empirical, points: [[0, 0], [2, 0.5], [10, 1]]}"},
		{"links and revoke", "lognormal(median 4s, p99 10s),us-east-2>eu-west-1=pareto(scale 1s, shape 2.5),revoke=exponential(mean 3s)",
			"default: {dist: lognormal, median: 4s, p99: 10s}\nlinks: [{from: us-east-2, to: eu-west-1, dist: pareto, scale: 1s, shape: 2.5}]\nrevoke: {dist: exponential, mean: 3s}"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
			if err := os.WriteFile(file, []byte(tt.block+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fromFlag, err := loadConfig([]string{"--region", "eu-west-1", "--delay", tt.flag}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatalf("--delay %q: %v", tt.flag, err)
			}
			fromFile, err := loadConfig([]string{"--region", "eu-west-1", "--propagation", file}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatalf("--propagation with %s: %v", tt.block, err)
			}
			if got, want := fromFlag.delay.String(), fromFile.delay.String(); got != want {
				t.Errorf("--delay %q builds %s; the block builds %s", tt.flag, got, want)
			}
		})
	}
	// A refused --delay says what it takes.
	_, err := loadConfig([]string{"--region", "eu-west-1", "--delay", "gamma(2s)"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown distribution") || !strings.Contains(err.Error(), "lognormal") {
		t.Errorf("--delay gamma(2s): err = %v, want one naming the distributions", err)
	}
}
