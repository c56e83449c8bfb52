package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sweep runs the scenario once per value; exposure follows the delay:
// doubling every delay roughly doubles the window.
func TestSweep(t *testing.T) {
	html := filepath.Join(t.TempDir(), "sweep.html")
	out, _ := expectRun(t, []string{"sweep", "public-s3-bucket", "--set", "propagation.default.median=1s,2s,4s,8s", "--trials", "20", "--json", "--html", html}, 0, nil, nil)
	var doc sweepJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("sweep --json: %v\n%s", err, out)
	}
	if doc.Parameter != "propagation.default.median" || len(doc.Points) != 4 || doc.Trials != 20 {
		t.Fatalf("sweep --json = %+v", doc)
	}
	prev := -1.0
	for _, pt := range doc.Points {
		p50 := pt.Probes[0].ExposureSeconds.P50
		if p50 <= prev {
			t.Errorf("exposure p50 %v at median %s does not grow (previous %v)", p50, pt.Value, prev)
		}
		prev = p50
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<polyline"); n != 2*len(doc.Points[0].Probes) {
		t.Errorf("%d lines drawn, want p50 and p99 per probe (%d)", n, 2*len(doc.Points[0].Probes))
	}
	if !strings.Contains(string(page), "propagation.default.median=8s: exposure p50") {
		t.Error("the chart's points do not name their value")
	}

	out, _ = expectRun(t, []string{"sweep", "public-s3-bucket", "--set", "propagation.scale=1,2", "--trials", "10", "--json"}, 0, nil, nil)
	doc = sweepJSON{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if a, b := doc.Points[0].Probes[0].ExposureSeconds.P50, doc.Points[1].Probes[0].ExposureSeconds.P50; b < 1.8*a || b > 2.2*a {
		t.Errorf("doubling the delays took the exposure p50 from %v to %v, want about double", a, b)
	}
	expectRun(t, []string{"sweep", "public-s3-bucket", "--set", "gossip.fanout=1,3", "--trials", "5"}, 0, []string{"GOSSIP.FANOUT", "attacker-read"}, nil)
}

func TestSweepBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "public-s3-bucket"}, "--set is required"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.default.median"}, "want PARAM=V1,V2"},
		{[]string{"sweep", "public-s3-bucket", "--set", "duration=1s"}, "want PARAM=V1,V2"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.default.value=1s"}, "a lognormal distribution takes median, p99"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.default.median=20s"}, "not below p99"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.revoke.mean=1s"}, "no propagation.revoke"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.links[3].value=1s"}, "propagation links"},
		{[]string{"sweep", "public-s3-bucket", "--set", "propagation.scale=0,1"}, "positive number"},
		{[]string{"sweep", "public-s3-bucket", "--set", "network.loss=1"}, "probability"},
		{[]string{"sweep", "public-s3-bucket", "--set", "gossip.fanout=1", "--trials", "0"}, "--trials"},
		{[]string{"sweep", "no-such-case", "--set", "gossip.fanout=1"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[2:], " "), func(t *testing.T) {
			expectRun(t, tt.args, 2, nil, []string{tt.want})
		})
	}
}
