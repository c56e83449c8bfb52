package replay_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/trail"
)

// TestMeasureConstantDelay: with a constant delay every trial is the
// same, so the windows and probabilities are exact: a region decides the
// old way for exactly the delay after each change, and a suspect request
// is stale only while the change is in flight.
func TestMeasureConstantDelay(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admin := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin", AccountID: "111122223333", UserName: "admin"}
	alice := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", UserName: "alice", AccessKeyID: "AKIAALICE"}
	ev := func(id string, sec int, src, name, region string, who trail.Identity, params string) trail.Event {
		return trail.Event{EventID: id, EventTime: t0.Add(time.Duration(sec) * time.Second), EventSource: src, EventName: name, AWSRegion: region,
			Recipient: "111122223333", Identity: who, RequestParameters: json.RawMessage(params)}
	}
	get := `{"bucketName": "example-reports", "key": "a.csv"}`
	events := []trail.Event{
		ev("e01", 0, "s3.amazonaws.com", "CreateBucket", "eu-west-1", admin, `{"bucketName": "example-reports", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}`),
		ev("e02", 1, "iam.amazonaws.com", "CreateUser", "us-east-1", admin, `{"userName": "alice"}`),
		ev("e03", 2, "iam.amazonaws.com", "PutUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}`),
		ev("e04", 30, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get),
		ev("e05", 40, "iam.amazonaws.com", "DeleteUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r"}`),
		ev("e06", 42, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get),
		ev("e07", 46, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get),
	}
	p := replay.Map(events, nil)
	base, err := scenarios.Parse("replay.yaml", p.BaseScenario(replay.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		delay            time.Duration
		probE06, probE07 float64 // 2 s and 6 s after the deletion
	}{
		{5 * time.Second, 1, 0},
		{time.Second, 0, 0},
		{10 * time.Second, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.delay.String(), func(t *testing.T) {
			d, err := delay.Constant(tt.delay)
			if err != nil {
				t.Fatal(err)
			}
			m := a.Measure(delay.NewModel(d), 20, 1)
			r := a.Result(m, 0, "constant")
			if err := a.Collect(m, r); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]float64{}
			for _, w := range r.Windows {
				s := w.Exposure
				if s == nil {
					s = w.Denial
				}
				if s.P50 != s.Max || s.P50 != s.P99 {
					t.Errorf("window %s %s: %+v, want one value in every trial", w.EventID, w.Kind, s)
				}
				kinds[w.EventID+" "+w.Kind] = s.Max
			}
			want := map[string]float64{"e03 denial": tt.delay.Seconds(), "e05 exposure": tt.delay.Seconds()}
			if len(kinds) != len(want) || kinds["e03 denial"] != want["e03 denial"] || kinds["e05 exposure"] != want["e05 exposure"] {
				t.Errorf("windows %v, want %v", kinds, want)
			}
			probs := map[string]float64{}
			for _, s := range r.Suspects {
				probs[s.EventID] = s.Probability
			}
			if len(probs) != 2 || probs["e06"] != tt.probE06 || probs["e07"] != tt.probE07 {
				t.Errorf("suspects %v, want e06 %v and e07 %v", probs, tt.probE06, tt.probE07)
			}
		})
	}
}
