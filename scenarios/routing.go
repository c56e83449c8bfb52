package scenarios

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/iamprop/iamprop/controlplane"
)

// BucketRegion returns the home region of the bucket name: from
// state.buckets, else from the first s3:CreateBucket step that creates it
// (its location_constraint, else the step's region); "" when the scenario
// does not say.
func (sc *Scenario) BucketRegion(name string) string {
	for _, b := range sc.State.Buckets {
		if b.Name == name {
			return b.Region
		}
	}
	for _, st := range sc.Steps {
		if st.Call != "s3:CreateBucket" {
			continue
		}
		var a struct {
			Bucket             string `json:"bucket"`
			LocationConstraint string `json:"location_constraint"`
		}
		if json.Unmarshal(st.With, &a) != nil || a.Bucket != name {
			continue
		}
		if a.LocationConstraint != "" {
			return a.LocationConstraint
		}
		return st.Region
	}
	return ""
}

// DecidingRegion returns the region whose view decides a request for
// resource, and why, or "" for a global resource (IAM, STS, "*") and for a
// bucket whose home the scenario does not give. AWS evaluates a request
// for a regional resource where the resource lives, wherever the caller
// is: an S3 bucket or object in the bucket's home region, any other ARN
// in the region it names.
func (sc *Scenario) DecidingRegion(resource string) (region, why string) {
	if rest, ok := strings.CutPrefix(resource, "arn:aws:s3:::"); ok {
		bucket, _, _ := strings.Cut(rest, "/")
		if r := sc.BucketRegion(bucket); r != "" {
			return r, "the home region of bucket " + bucket
		}
		return "", ""
	}
	// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[3] != "" {
		return parts[3], "the region in the resource's ARN"
	}
	return "", ""
}

// stepBucket returns the `bucket` argument of a step, or "".
func stepBucket(st Step) string {
	var a struct {
		Bucket string `json:"bucket"`
	}
	if json.Unmarshal(st.With, &a) != nil {
		return ""
	}
	return a.Bucket
}

// StepRegion returns the region where step i takes effect first: its own
// region for a control-plane call, the bucket's home region for a
// data-plane write (controlplane.IsDataPlane) when the scenario gives it
// and simulates that region.
func (sc *Scenario) StepRegion(i int) string {
	st := sc.Steps[i]
	if controlplane.IsDataPlane(st.Call) {
		if r := sc.BucketRegion(stepBucket(st)); r != "" && slices.Contains(sc.Regions, r) {
			return r
		}
	}
	return st.Region
}

// Warnings lists what in a valid scenario AWS would do differently from
// what the file seems to say, each at its place in the file: a probe asked
// of a region that does not decide the request (it would teach that
// routing requests elsewhere changes the answer), and a data-plane write
// made "in" a region other than its bucket's. A scenario with warnings
// still runs; `scenario validate` prints them.
func Warnings(sc *Scenario) []Issue {
	var out []Issue
	for i, p := range sc.Probes {
		r, why := sc.DecidingRegion(p.Resource)
		if r == "" || r == p.Region {
			continue
		}
		out = append(out, Issue{File: sc.File, Line: p.Line, Column: p.Column, Field: index("probes", i) + ".region",
			Reason: fmt.Sprintf("warning: AWS decides %s on %s in %s (%s), wherever the caller is; %s's view never answers it: set region: %s",
				p.Action, p.Resource, r, why, p.Region, r)})
	}
	for i, st := range sc.Steps {
		if !controlplane.IsDataPlane(st.Call) {
			continue
		}
		if r := sc.StepRegion(i); r != st.Region {
			out = append(out, Issue{File: sc.File, Line: st.Line, Column: st.Column, Field: index("steps", i) + ".region",
				Reason: fmt.Sprintf("warning: %s is a data-plane write into bucket %s, made in its home region %s wherever the caller is, and run there: set region: %s",
					st.Call, stepBucket(st), r, r)})
		}
	}
	return sortIssues(out)
}
