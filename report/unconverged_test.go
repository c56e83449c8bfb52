package report

import (
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// unconvergedFixture is the fixture run with two of its 20 trials ending
// not converged, as the runner explains them.
func unconvergedFixture() *Run {
	r := fixture()
	r.Converged, r.Passed = false, false
	r.Expectations[2] = Expectation{Expr: "converged", Passed: false,
		Detail: "converged = false in 2 of 20 trials; seed 1: ap-southeast-2 lacks us-east-2/2 (rumor died out)"}
	r.Unconverged = &Unconverged{
		Trials:  2,
		Reasons: []ReasonCount{{Reason: "rumor_died_out", Count: 1}, {Reason: "pending_apply", Count: 1}},
		Examples: []UnconvergedTrial{
			{Trial: 0, Seed: 1, Missing: []MissingMutation{{
				Region: "ap-southeast-2", Mutation: "us-east-2/2", Call: "s3:PutObject", Label: "upload q3.pdf",
				Reason: "rumor_died_out", NextPushPullSeconds: 47.25,
				Detail: "its rumor died out before reaching ap-southeast-2 (each region that had it sent it 4 times, the retransmit limit at 3 regions); only push/pull repairs that, and the next push/pull of ap-southeast-2 is at 47.3s, after the run ended at 12.0s",
			}}},
			{Trial: 6, Seed: 7, Missing: []MissingMutation{{
				Region: "eu-west-1", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Label: "private-only",
				Reason: "pending_apply", ApplyAtSeconds: 12.4, NextPushPullSeconds: 40,
				Detail: "received, but its propagation delay makes it visible only at 12.4s, after the run ended at 12.0s",
			}}},
		},
	}
	return r
}

// TestUnconvergedIsShown: every human-facing output of a run that did not
// converge says which region lacked which mutation, why, and the seed that
// replays the trial; a converged run shows none of it.
func TestUnconvergedIsShown(t *testing.T) {
	outputs := []struct {
		name   string
		render func(io.Writer, *Run) error
		want   []string
	}{
		{"terminal", func(w io.Writer, r *Run) error { return Terminal(w, r, TerminalOptions{}) },
			[]string{"Not converged in 2 of 20 trials: 1 rumor died out, 1 pending apply",
				"seed 1: ap-southeast-2 lacks us-east-2/2 (upload q3.pdf): rumor died out, next push/pull 47.3s",
				"seed 7: eu-west-1 lacks us-east-2/1 (private-only): received, applies at 12.4s"}},
		{"terminal-ascii", func(w io.Writer, r *Run) error { return Terminal(w, r, TerminalOptions{ASCII: true}) },
			[]string{"Not converged in 2 of 20 trials", "seed 1: ap-southeast-2 lacks us-east-2/2"}},
		{"json", JSON, []string{`"unconverged": {`, `"reason": "rumor_died_out"`, `"next_push_pull_seconds": 47.25`}},
		{"html", HTML, []string{`id="unconverged"`, `<td data-label="region">ap-southeast-2</td>`, "rumor died out", "its rumor died out before reaching ap-southeast-2", "--seed 7"}},
		{"narrate", Narrate, []string{"At the end ap-southeast-2 still lacked s3:PutObject (upload q3.pdf): its rumor died out before reaching ap-southeast-2",
			"2 of 20 trials ended not converged"}},
	}
	for _, o := range outputs {
		t.Run(o.name, func(t *testing.T) {
			out := string(render(t, o.render, unconvergedFixture()))
			for _, s := range o.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if strings.HasPrefix(o.name, "terminal") {
				for i, line := range strings.Split(out, "\n") {
					if n := utf8.RuneCountInString(line); n > DefaultWidth {
						t.Errorf("line %d has %d columns: %q", i+1, n, line)
					}
				}
			}
			conv := string(render(t, o.render, fixture()))
			for _, s := range []string{"Not converged in", `"unconverged"`, `id="unconverged"`, "still lacked"} {
				if strings.Contains(conv, s) {
					t.Errorf("a converged run shows %q", s)
				}
			}
		})
	}
}

// TestUnconvergedWithoutExplanation: a live run knows a trial ended not
// converged but not why (no reasons, no examples); the outputs say so
// without an empty list.
func TestUnconvergedWithoutExplanation(t *testing.T) {
	r := fixture()
	r.Mode, r.Trials, r.Converged = "live", 1, false
	r.Unconverged = &Unconverged{Trials: 1, Reasons: []ReasonCount{}}
	tests := []struct {
		name   string
		render func(io.Writer, *Run) error
		want   string
	}{
		{"terminal", func(w io.Writer, r *Run) error { return Terminal(w, r, TerminalOptions{}) }, "Not converged in 1 of 1 trial.\n"},
		{"html", HTML, "1 of 1 trials ended with a region whose view differed from the truth. "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(render(t, tc.render, r))
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q", tc.want)
			}
			for _, bad := range []string{"truth ()", "trial: .", "Replay a trial"} {
				if strings.Contains(out, bad) {
					t.Errorf("output has %q", bad)
				}
			}
		})
	}
}
