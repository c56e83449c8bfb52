package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/report"
)

// An S3 upload is a data-plane write in the bucket's region: the object is
// there, and readable there, at the step's instant (S3's read-after-write
// consistency). It does not travel with IAM's propagation delay, so no
// region "applies" it with a lag, it adds no lag sample, and the story says
// where it was written.
func TestUploadIsADataPlaneWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stepRegion is where the scenario says the upload is made; the
		// write happens in the bucket's region (eu-west-1) anyway.
		stepRegion string
	}{
		{"in-bucket-region", "eu-west-1"},
		{"from-another-region", "us-east-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := loadCase(t, "upload", "6s")
			sc.Steps[1].Region = tc.stepRegion
			run, err := Run(context.Background(), sc, Options{Trials: 1})
			if err != nil {
				t.Fatal(err)
			}
			var writes []report.TimelineEvent
			for _, e := range run.Timeline.Events {
				if e.Call != "s3:PutObject" {
					continue
				}
				if e.Kind != "write" {
					t.Errorf("s3:PutObject shows as a %q event in %s (lag %vs); want only a data-plane write", e.Kind, e.Region, e.Lag)
					continue
				}
				writes = append(writes, e)
			}
			if len(writes) != 1 || writes[0].Region != "eu-west-1" || writes[0].At != 2 {
				t.Errorf("writes = %+v, want one at 2s in eu-west-1, the bucket's region", writes)
			}
			for _, r := range run.Regions {
				// us-east-2 committed the policy itself: only the upload
				// could give it a lag sample.
				if r.Region == "us-east-2" && r.LagSeconds.Max != 0 {
					t.Errorf("us-east-2 lag max = %vs; an upload is no control-plane mutation and adds no lag", r.LagSeconds.Max)
				}
			}
			var story bytes.Buffer
			if err := report.Narrate(&story, run); err != nil {
				t.Fatal(err)
			}
			if s := story.String(); strings.Contains(s, "applies s3:PutObject") || !strings.Contains(s, "eu-west-1 writes s3:PutObject") {
				t.Errorf("the story must tell the upload as a write in eu-west-1, not an apply with a lag:\n%s", s)
			}
			for _, p := range run.Probes {
				// Written at 2s, readable in eu-west-1 at once, while the
				// old public policy is still in force there until 7s.
				if p.Name == "attacker-read" && p.ConfidentialReads != 50 {
					t.Errorf("confidential reads = %d, want 50 (2s to 7s at 100ms)", p.ConfidentialReads)
				}
			}
		})
	}
}
