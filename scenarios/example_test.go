package scenarios_test

import (
	"fmt"

	"github.com/iamprop/iamprop/scenarios"
)

func ExampleParse() {
	src := `name: tiny
title: One bucket, one reader
duration: 10s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: lognormal, median: 4s, p99: 10s}
policies:
  public-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*"}]}
state:
  accounts: ["111122223333"]
  buckets: [{name: b, region: eu-west-1, policy: public-read, objects: [k]}]
steps:
  - {at: 1s, region: us-east-2, call: s3:DeleteBucketPolicy, with: {bucket: b}}
probes:
  - {name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::b/k"}
expect:
  - "exposure(reader).p50 > 0s"
`
	sc, err := scenarios.Parse("tiny.yaml", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	st := sc.Steps[0]
	fmt.Printf("%s: %s at %v in %s with %s\n", sc.Name, st.Call, st.At, st.Region, st.With)
	e := sc.Expect[0]
	fmt.Printf("expect %s of probe %s %s %v\n", e.Stat, e.Target, e.Op, e.Duration)
	// Output:
	// tiny: s3:DeleteBucketPolicy at 1s in us-east-2 with {"bucket":"b"}
	// expect p50 of probe reader > 0s
}

func ExampleParse_errors() {
	src := `name: typo
title: Mistakes are reported all at once, by position
duration: 10s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: lognormal, median: 4s}
steps:
  - {at: 12s, region: eu-west-3, call: s3:PutBucketPolicy, with: {bucket: b, policy: private-only}}
`
	_, err := scenarios.Parse("typo.yaml", []byte(src))
	fmt.Println(err)
	// Output:
	// typo.yaml:6:12: propagation.default.p99: missing required key "p99" (lognormal takes median, p99)
	// typo.yaml:8:10: steps[0].at: 12s is after the scenario's duration (10s); expected at most 10s
	// typo.yaml:8:23: steps[0].region: unknown region "eu-west-3"; expected one of the scenario's regions: us-east-2, eu-west-1 (did you mean "eu-west-1"?)
	// typo.yaml:8:86: steps[0].with.policy: unknown policy "private-only"; the scenario's `policies` section defines none
}

func ExampleLoadLibrary() {
	sc, err := scenarios.LoadLibrary("public-s3-bucket")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sc.Title)
	fmt.Println(sc.Regions, sc.Duration)
	// Output:
	// A public bucket stays readable after it was made private
	// [us-east-2 eu-west-1 ap-southeast-2] 30s
}

func ExampleParseExpectation() {
	e, err := scenarios.ParseExpectation("stale_allows(attacker-read) >= 1")
	fmt.Println(e.Kind, e.Target, e.Op, e.Count, err)
	_, err = scenarios.ParseExpectation("exposure(attacker-read).p95 > 0s")
	fmt.Println(err)
	// Output:
	// stale_allows attacker-read >= 1 <nil>
	// column 25: expected a statistic (min, p50, p90, p99, max, mean), got "p95 > 0s"
}
