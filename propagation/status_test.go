package propagation

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompute(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := now.Add(-3 * time.Second)
	recent := now.Add(-time.Second)
	self := Region{Name: "us-east-2", State: Alive, LastHeard: now, Self: true, Applied: true, AppliedAt: at}
	type want struct {
		status string
		reason string // substring of the reason; "" = no reason
	}
	cases := []struct {
		name     string
		bound    time.Duration
		regions  []Region
		want     map[string]want
		complete bool
	}{
		{
			name:     "applied everywhere",
			regions:  []Region{self, {Name: "eu-west-1", State: Alive, LastHeard: recent, Applied: true, AppliedAt: at}},
			want:     map[string]want{"us-east-2": {Applied, ""}, "eu-west-1": {Applied, ""}},
			complete: true,
		},
		{
			name:     "alive and recently heard: pending",
			regions:  []Region{self, {Name: "eu-west-1", State: Alive, LastHeard: recent}},
			want:     map[string]want{"us-east-2": {Applied, ""}, "eu-west-1": {Pending, ""}},
			complete: false,
		},
		{
			name:     "left gracefully: unknown, not gone",
			regions:  []Region{self, {Name: "eu-west-1", State: Left, LastHeard: recent}},
			want:     map[string]want{"eu-west-1": {Unknown, "left"}},
			complete: false,
		},
		{
			name:     "dead: unknown",
			regions:  []Region{self, {Name: "eu-west-1", State: Dead, LastHeard: recent}},
			want:     map[string]want{"eu-west-1": {Unknown, "dead"}},
			complete: false,
		},
		{
			name:     "suspect: unknown",
			regions:  []Region{self, {Name: "eu-west-1", State: Suspect, LastHeard: recent}},
			want:     map[string]want{"eu-west-1": {Unknown, "suspect"}},
			complete: false,
		},
		{
			name:     "remembered but unseen since start: unknown",
			regions:  []Region{self, {Name: "eu-west-1", State: Unseen}},
			want:     map[string]want{"eu-west-1": {Unknown, "since this node started"}},
			complete: false,
		},
		{
			name:     "empty state counts as unseen",
			regions:  []Region{self, {Name: "eu-west-1"}},
			want:     map[string]want{"eu-west-1": {Unknown, "since this node started"}},
			complete: false,
		},
		{
			name:     "alive but silent past the default bound: unknown",
			regions:  []Region{self, {Name: "eu-west-1", State: Alive, LastHeard: now.Add(-DefaultSilenceBound - time.Millisecond)}},
			want:     map[string]want{"eu-west-1": {Unknown, "silent"}},
			complete: false,
		},
		{
			name:     "alive, silent exactly the bound: still pending",
			bound:    5 * time.Second,
			regions:  []Region{self, {Name: "eu-west-1", State: Alive, LastHeard: now.Add(-5 * time.Second)}},
			want:     map[string]want{"eu-west-1": {Pending, ""}},
			complete: false,
		},
		{
			name:     "alive, never heard: unknown",
			regions:  []Region{self, {Name: "eu-west-1", State: Alive}},
			want:     map[string]want{"eu-west-1": {Unknown, "never heard"}},
			complete: false,
		},
		{
			name:     "a down region that applied before it went down counts as applied",
			regions:  []Region{self, {Name: "eu-west-1", State: Left, Applied: true, AppliedAt: at}},
			want:     map[string]want{"eu-west-1": {Applied, ""}},
			complete: true,
		},
		{
			name:     "self not applied is pending, never unknown",
			regions:  []Region{{Name: "us-east-2", Self: true}},
			want:     map[string]want{"us-east-2": {Pending, ""}},
			complete: false,
		},
		{
			name:     "applied with the time not known",
			regions:  []Region{{Name: "us-east-2", Self: true, Applied: true}},
			want:     map[string]want{"us-east-2": {Applied, ""}},
			complete: true,
		},
		{
			name:     "no regions is never complete",
			regions:  nil,
			want:     map[string]want{},
			complete: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Compute(Input{Now: now, SilenceBound: tc.bound, Regions: tc.regions})
			if st.Complete != tc.complete {
				t.Errorf("complete = %v, want %v (%+v)", st.Complete, tc.complete, st.Regions)
			}
			if len(st.Regions) != len(tc.regions) {
				t.Fatalf("%d regions out, %d in", len(st.Regions), len(tc.regions))
			}
			for _, rs := range st.Regions {
				w, ok := tc.want[rs.Region]
				if !ok {
					continue
				}
				if rs.Status != w.status {
					t.Errorf("%s: status %q, want %q (reason %q)", rs.Region, rs.Status, w.status, rs.Reason)
				}
				if (w.reason == "") != (rs.Reason == "") || !strings.Contains(rs.Reason, w.reason) {
					t.Errorf("%s: reason %q, want one containing %q", rs.Region, rs.Reason, w.reason)
				}
				if rs.Status == Applied {
					var in Region
					for _, r := range tc.regions {
						if r.Name == rs.Region {
							in = r
						}
					}
					if !rs.AppliedAt.Equal(in.AppliedAt) {
						t.Errorf("%s: applied at %v, want %v", rs.Region, rs.AppliedAt, in.AppliedAt)
					}
				} else if !rs.AppliedAt.IsZero() {
					t.Errorf("%s: %s with an applied time %v", rs.Region, rs.Status, rs.AppliedAt)
				}
			}
		})
	}
}

func TestComputeSortsAndNames(t *testing.T) {
	now := time.Unix(100, 0)
	st := Compute(Input{Now: now, Regions: []Region{
		{Name: "us-east-2", Self: true, Applied: true, AppliedAt: now},
		{Name: "ap-southeast-2", State: Alive, LastHeard: now},
		{Name: "eu-west-1", State: Left},
		{Name: "ca-central-1", State: Dead},
	}})
	var order []string
	for _, r := range st.Regions {
		order = append(order, r.Region)
	}
	if want := []string{"ap-southeast-2", "ca-central-1", "eu-west-1", "us-east-2"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	cases := []struct {
		status string
		want   []string
	}{
		{Applied, []string{"us-east-2"}},
		{Pending, []string{"ap-southeast-2"}},
		{Unknown, []string{"ca-central-1", "eu-west-1"}},
	}
	for _, tc := range cases {
		if got := st.Names(tc.status); !slices.Equal(got, tc.want) {
			t.Errorf("Names(%s) = %v, want %v", tc.status, got, tc.want)
		}
	}
	if got := (Status{}).Names(Pending); got == nil || len(got) != 0 {
		t.Errorf("Names on an empty status = %#v, want an empty, non-nil list (JSON [])", got)
	}
}
