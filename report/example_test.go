package report_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/iamprop/iamprop/report"
)

// smallRun is a one-trial run: a policy committed in us-east-2 reaches
// eu-west-1 4.2 s later, and a probe there is exposed meanwhile.
func smallRun() *report.Run {
	return &report.Run{
		Scenario: "public-s3-bucket", Title: "A public bucket stays readable", Mode: "sim", Seed: 7, Trials: 1,
		Converged: true, Passed: true,
		Probes: []report.Probe{{
			Name: "attacker-read", Region: "eu-west-1", Principal: "anonymous", Action: "s3:GetObject",
			Resource: "arn:aws:s3:::docs/q3.pdf", Requests: 3, StaleAllows: 2,
			ExposureSeconds: report.Stats{Min: 4.2, P50: 4.2, P90: 4.2, P99: 4.2, Max: 4.2, Mean: 4.2},
		}},
		Expectations: []report.Expectation{{Expr: "exposure(attacker-read).p50 > 0s", Passed: true, Detail: "p50 = 4.2s"}},
		Timeline: &report.Timeline{
			Duration: 6, Regions: []string{"us-east-2", "eu-west-1"},
			Events: []report.TimelineEvent{
				{At: 1, Region: "us-east-2", Kind: "commit", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Label: "private-only"},
				{At: 5.2, Region: "eu-west-1", Kind: "apply", Mutation: "us-east-2/1", Call: "s3:PutBucketPolicy", Lag: 4.2},
			},
			Windows: []report.Window{{Probe: "attacker-read", Region: "eu-west-1", Kind: "exposure", From: 1, To: 5.2}},
			Samples: []report.ProbeSample{
				{At: 2, Probe: "attacker-read", Region: "eu-west-1", Decision: "Allow", Truth: "Deny"},
				{At: 4, Probe: "attacker-read", Region: "eu-west-1", Decision: "Allow", Truth: "Deny"},
				{At: 6, Probe: "attacker-read", Region: "eu-west-1", Decision: "Deny", Truth: "Deny"},
			},
		},
	}
}

func ExampleFormatSeconds() {
	for _, s := range []float64{0, 0.00085, 0.85, 4.2, 125} {
		fmt.Println(report.FormatSeconds(s))
	}
	// Output:
	// 0s
	// 850µs
	// 850ms
	// 4.2s
	// 2m05s
}

func ExampleTerminal() {
	report.Terminal(os.Stdout, smallRun(), report.TerminalOptions{ASCII: true})
	// Output:
	// public-s3-bucket: A public bucket stays readable
	// mode sim | seed 7 | 1 trial | converged yes | expectations 1/1 passed
	//
	// PROBE          REGION     EXPOSURE p50   p99   max  STALE ALLOWS  DENIAL p50
	// attacker-read  eu-west-1          4.2s  4.2s  4.2s             2          0s
	//
	// PASS exposure(attacker-read).p50 > 0s  (p50 = 4.2s)
	//
	// Exposure: per-trial time a region allowed what the truth denied. Stale allows: such answers served.
}

func ExampleNarrate() {
	report.Narrate(os.Stdout, smallRun())
	// Output:
	// public-s3-bucket: A public bucket stays readable
	// One trial in the simulator (seed 7), 6.000s of virtual time, regions us-east-2, eu-west-1.
	// The probe attacker-read asks eu-west-1: anonymous s3:GetObject arn:aws:s3:::docs/q3.pdf.
	//
	// t=1.000s us-east-2 commits s3:PutBucketPolicy (private-only).
	// t=1.000s attacker-read in eu-west-1 turns stale: the truth already denies, eu-west-1 still allows (exposure window opens).
	// t=2.000s to 4.000s eu-west-1, attacker-read: anonymous s3:GetObject q3.pdf, 2 requests -> all ALLOWED, stale: eu-west-1 has not applied s3:PutBucketPolicy (private-only) yet (exposure).
	// t=5.200s eu-west-1 applies s3:PutBucketPolicy (private-only) (lag 4.200s); from now on it denies like the truth: the exposure window of attacker-read closes after 4.200s.
	// t=6.000s eu-west-1, attacker-read: anonymous s3:GetObject q3.pdf -> DENIED, as the truth answers (not stale).
	//
	// In this trial attacker-read in eu-west-1 was exposed for 4.200s; its 3 requests got 2 stale allows.
	// At the end every region held the same view as the truth (converged).
}

func ExampleOpenMetrics() {
	var buf bytes.Buffer
	report.OpenMetrics(&buf, smallRun(), time.Unix(1793534400, 0))
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "iamprop_stale_decisions_total") || strings.HasPrefix(line, "#") && strings.Contains(line, "stale_decisions") || line == "# EOF" {
			fmt.Println(line)
		}
	}
	// Output:
	// # TYPE iamprop_stale_decisions counter
	// # HELP iamprop_stale_decisions Stale decisions served by probes, summed over trials; kind is exposure (stale allow) or denial (stale deny).
	// iamprop_stale_decisions_total{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1",kind="exposure"} 2.0 1793534400.000
	// iamprop_stale_decisions_total{scenario="public-s3-bucket",probe="attacker-read",region="eu-west-1",kind="denial"} 0.0 1793534400.000
	// # EOF
}

func ExampleHTML() {
	var buf bytes.Buffer
	if err := report.HTML(&buf, smallRun()); err != nil {
		panic(err)
	}
	page := buf.String()
	fmt.Println(strings.HasPrefix(page, "<!DOCTYPE html>"), strings.Count(page, `<g class="lane"`), strings.Contains(page, "https:"))
	// Output: true 2 false
}
