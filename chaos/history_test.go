package chaos

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/iamprop/iamprop/wire"
)

// The history lists each commit as an invocation and a completion (ok,
// fail or info as the client learned it), with the nemesis's events, in
// time order.
func TestBuildHistory(t *testing.T) {
	ms := time.Millisecond
	ops := []Op{
		{Worker: "setup", Region: "us-east-2", Call: "iam:CreateGroup", With: json.RawMessage(`{"group_name":"g"}`), Outcome: Acked, ID: "us-east-2/1"},
		{Worker: "eu-west-1/w0", Region: "eu-west-1", Call: "iam:CreateUser", Start: 10 * ms, End: 30 * ms, Outcome: Acked, ID: "eu-west-1/1"},
		{Worker: "us-east-2/w0", Region: "us-east-2", Call: "iam:DeleteUser", Start: 20 * ms, End: 25 * ms, Outcome: Failed, Code: "NoSuchEntity"},
		{Worker: "us-east-2/w1", Region: "us-east-2", Call: "iam:CreateUser", Start: 40 * ms, End: 90 * ms, Outcome: Unknown, Code: "transport"},
	}
	nem := []nemesisEvent{{at: 15 * ms, f: "partition", value: "us-east-2 | eu-west-1"}, {at: 60 * ms, f: "heal"}}
	h := buildHistory(ops, nem)
	want := []struct {
		process, typ, f string
		time            time.Duration
	}{
		{"setup", "invoke", "iam:CreateGroup", 0},
		{"setup", "ok", "iam:CreateGroup", 0},
		{"eu-west-1/w0", "invoke", "iam:CreateUser", 10 * ms},
		{"nemesis", "info", "partition", 15 * ms},
		{"us-east-2/w0", "invoke", "iam:DeleteUser", 20 * ms},
		{"us-east-2/w0", "fail", "iam:DeleteUser", 25 * ms},
		{"eu-west-1/w0", "ok", "iam:CreateUser", 30 * ms},
		{"us-east-2/w1", "invoke", "iam:CreateUser", 40 * ms},
		{"nemesis", "info", "heal", 60 * ms},
		{"us-east-2/w1", "info", "iam:CreateUser", 90 * ms},
	}
	if len(h) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(h), len(want), h)
	}
	for i, w := range want {
		e := h[i]
		if e.Index != i || e.Process != w.process || e.Type != w.typ || e.F != w.f || e.Time != int64(w.time) {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if h[6].Value != "eu-west-1/1" || h[5].Value != "NoSuchEntity" {
		t.Errorf("completion values: ok %v, fail %v", h[6].Value, h[5].Value)
	}
	b, err := json.Marshal(h[2])
	if err != nil || string(b) != `{"index":2,"process":"eu-west-1/w0","type":"invoke","f":"iam:CreateUser","time":10000000}` {
		t.Errorf("JSON form %s, %v", b, err)
	}
}

func TestFaultTarget(t *testing.T) {
	ms := time.Millisecond
	lat := Fault{Kind: KindLatency, At: 32 * ms, Hold: 599 * ms}
	lat.Spec.Links = []wire.LinkSpec{{From: "*", To: "*", Latency: wire.Duration(255 * ms)}}
	part := Fault{Kind: KindPartition, At: 98 * ms, Hold: 469 * ms}
	part.Spec.Partition = [][]string{{"ap-southeast-2"}, {"eu-west-1", "us-east-2"}}
	tests := []struct {
		f    Fault
		want string
	}{
		{lat, "* -> * latency 255ms jitter 0s loss 0.00"},
		{part, "ap-southeast-2 | eu-west-1,us-east-2"},
	}
	for _, tt := range tests {
		if got := faultTarget(tt.f); got != tt.want {
			t.Errorf("faultTarget(%s) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
