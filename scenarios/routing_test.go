package scenarios

import (
	"strings"
	"testing"
)

// A request for a regional resource is decided in the resource's region:
// a probe asked of another region, or an upload made "in" another region,
// gets a warning naming the deciding region. Global resources get none.
func TestWarningsNameTheDecidingRegion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace []string
		want    []string
		// stepRegion, when set, is where the last step is committed.
		stepRegion string
	}{
		{name: "probe in the bucket's region"},
		{
			name:    "probe of a bucket object from another region",
			replace: []string{"{name: reader, region: eu-west-1", "{name: reader, region: us-east-2"},
			want:    []string{`t.yaml:15:5: probes[0].region: warning: AWS decides s3:GetObject on arn:aws:s3:::b/k in eu-west-1 (the home region of bucket b), wherever the caller is; us-east-2's view never answers it: set region: eu-west-1`},
		},
		{
			name:    "probe of a regional ARN from another region",
			replace: []string{"region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"", "region: us-east-2, principal: anonymous, action: kms:Decrypt, resource: \"arn:aws:kms:eu-west-1:111122223333:key/k1\""},
			want:    []string{`t.yaml:15:5: probes[0].region: warning: AWS decides kms:Decrypt on arn:aws:kms:eu-west-1:111122223333:key/k1 in eu-west-1 (the region in the resource's ARN), wherever the caller is; us-east-2's view never answers it: set region: eu-west-1`},
		},
		{
			name:    "global resource from any region",
			replace: []string{"region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"", "region: us-east-2, principal: anonymous, action: sts:AssumeRole, resource: \"arn:aws:iam::111122223333:role/r\""},
		},
		{
			name:    "bucket the scenario does not create",
			replace: []string{"{name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"", "{name: reader, region: us-east-2, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::other/k\""},
		},
		{
			name: "bucket created by a step with a location constraint",
			replace: []string{
				"call: s3:DeleteBucketPolicy, with: {bucket: b}}", "call: s3:CreateBucket, with: {bucket: c, location_constraint: eu-west-1}}",
				"{name: reader, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::b/k\"", "{name: reader, region: us-east-2, principal: anonymous, action: s3:GetObject, resource: \"arn:aws:s3:::c/k\"",
			},
			want: []string{`t.yaml:15:5: probes[0].region: warning: AWS decides s3:GetObject on arn:aws:s3:::c/k in eu-west-1 (the home region of bucket c), wherever the caller is; us-east-2's view never answers it: set region: eu-west-1`},
		},
		{
			name:       "upload made from another region",
			replace:    []string{"call: s3:DeleteBucketPolicy, with: {bucket: b}}", "call: s3:PutObject, with: {bucket: b, key: k}}"},
			want:       []string{`t.yaml:13:5: steps[0].region: warning: s3:PutObject is a data-plane write into bucket b, made in its home region eu-west-1 wherever the caller is, and run there: set region: eu-west-1`},
			stepRegion: "eu-west-1",
		},
		{
			name: "upload into a bucket homed outside the scenario's regions",
			replace: []string{
				"- {at: 1s, region: us-east-2, call: s3:DeleteBucketPolicy, with: {bucket: b}}",
				"- {at: 1s, region: us-east-2, call: s3:CreateBucket, with: {bucket: c, location_constraint: sa-east-1}}\n  - {at: 2s, region: us-east-2, call: s3:PutObject, with: {bucket: c, key: k}}",
			},
			stepRegion: "us-east-2",
		},
		{
			name:       "control-plane call from another region",
			stepRegion: "us-east-2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("t.yaml", []byte(edit(t, baseScenario, tc.replace)))
			if err != nil {
				t.Fatal(err)
			}
			got := issueStrings(Warnings(sc))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.stepRegion != "" {
				if r := sc.StepRegion(len(sc.Steps) - 1); r != tc.stepRegion {
					t.Errorf("StepRegion = %q, want %q", r, tc.stepRegion)
				}
			}
		})
	}
}

// Every library scenario asks each request of the region that decides it.
func TestLibraryHasNoWarnings(t *testing.T) {
	names, err := LibraryNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		sc, err := LoadLibrary(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range Warnings(sc) {
			t.Errorf("%s", w)
		}
	}
}
