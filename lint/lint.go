// Package lint finds orderings of control-plane changes that open
// propagation windows, in a scenario or in a replayed trail, before they
// happen again: each finding names the step (or CloudTrail event), the
// rule, the window the propagation model predicts, and the fix.
//
// It is pure: it reads a loaded scenario and a delay model.
package lint

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/scenarios"
)

// The rules. docs/replay.md ("scenario lint") describes each.
const (
	// RuleUploadAfterNarrowing: data written into a bucket right after a
	// change that narrowed access to it, before the change can have reached
	// every region.
	RuleUploadAfterNarrowing = "upload-after-narrowing"
	// RuleReachableBeforeRestricted: a resource made reachable (objects
	// written, a role or user created, Block Public Access removed) before
	// the policy that restricts it.
	RuleReachableBeforeRestricted = "reachable-before-restricted"
	// RuleCommittedAwayFromEnforcement: a bucket's configuration committed
	// in a region other than the bucket's, where it is enforced.
	RuleCommittedAwayFromEnforcement = "committed-away-from-enforcement"
	// RuleRevocationReliedOnAtOnce: a revocation followed, within its
	// window, by use of what it revoked in another region.
	RuleRevocationReliedOnAtOnce = "revocation-relied-on-at-once"
	// RuleGrantUsedAtOnce: a grant used in another region before it can
	// have arrived there.
	RuleGrantUsedAtOnce = "grant-used-at-once"
)

// Finding is one ordering hazard.
type Finding struct {
	File          string  `json:"file"`
	Rule          string  `json:"rule"`
	Step          int     `json:"step,omitempty"`     // 1-based step of a scenario
	EventID       string  `json:"event_id,omitempty"` // CloudTrail eventID of a replayed trail's change
	Message       string  `json:"message"`
	Fix           string  `json:"fix"`
	WindowSeconds float64 `json:"window_seconds"`
}

// Use is a request that relies on the state: a scenario's probe, or a
// trail's successful request.
type Use struct {
	Ref         string // "probe attacker-read" or "event EVENTID"
	Region      string
	Principal   string
	Action      string
	Resource    string
	From, Until time.Duration // active interval; a trail request has From == Until
	WaitsFor    int           // 1-based step an at_least probe waits for; 0 none
	// Context holds the request's condition keys; may be nil.
	Context map[string]any
	// Endpoint is the policy of the VPC endpoint the request goes
	// through, nil when it goes straight to the service. A step that
	// removes access the endpoint never lets through revokes nothing from
	// this use; one that removes access it lets through does.
	Endpoint *evaluator.Policy
}

// Input is what Check reads.
type Input struct {
	File     string
	Scenario *scenarios.Scenario
	Model    *delay.Model
	// EventIDs, when set, holds the CloudTrail eventID of each step (a
	// replayed trail); findings then name events instead of steps.
	EventIDs []string
	// Uses are requests besides the scenario's probes (a trail's).
	Uses []Use
	// Initial is the state before the first step (runner.InitialState);
	// without it the two rules that need decisions are not checked.
	Initial *controlplane.State
}

type step struct {
	index  int // 0-based
	s      *scenarios.Step
	args   map[string]any
	revoke bool
	scope  map[string]bool // entities: bucket:B, user:U, role:R, group:G, key:K
}

// Check returns the findings of one scenario, ordered by step.
func Check(in Input) []Finding {
	sc := in.Scenario
	l := &linter{in: in, bucketRegion: map[string]string{}, keyOwner: map[string]string{}, groupMembers: map[string][]string{}}
	for _, b := range sc.State.Buckets {
		l.bucketRegion[b.Name] = b.Region
	}
	for _, u := range sc.State.Users {
		for _, k := range u.AccessKeys {
			l.keyOwner[k] = u.Name
		}
		for _, g := range u.Groups {
			l.groupMembers[g] = append(l.groupMembers[g], u.Name)
		}
	}
	for i := range sc.Steps {
		st := &sc.Steps[i]
		var args map[string]any
		_ = json.Unmarshal(st.With, &args)
		s := step{index: i, s: st, args: args,
			revoke: controlplane.IsRevoke(controlplane.Call{Action: st.Call, Region: st.Region, Args: st.With})}
		str := func(k string) string { v, _ := args[k].(string); return v }
		switch st.Call {
		case "s3:CreateBucket":
			region := str("location_constraint")
			if region == "" {
				region = st.Region
			}
			l.bucketRegion[str("bucket")] = region
		case "iam:CreateAccessKey":
			l.keyOwner[str("access_key_id")] = str("user_name")
		case "iam:AddUserToGroup":
			l.groupMembers[str("group_name")] = append(l.groupMembers[str("group_name")], str("user_name"))
		}
		s.scope = l.scopeOf(args)
		l.steps = append(l.steps, s)
	}
	uses := append([]Use(nil), in.Uses...)
	for _, p := range sc.Probes {
		u := Use{Ref: "probe " + p.Name, Region: p.Region, Principal: p.Principal, Action: p.Action, Resource: p.Resource, From: p.From, Until: p.Until, Context: p.Context}
		if p.Endpoint != "" {
			// The loader has checked it as an endpoint policy; a
			// document that still fails leaves the use without one.
			u.Endpoint, _ = evaluator.Parse(p.Endpoint, evaluator.KindEndpoint, sc.Policies[p.Endpoint])
		}
		if p.Consistency == "at_least" {
			u.WaitsFor = p.AtLeastStep
		}
		uses = append(uses, u)
	}
	l.uses = uses
	l.uploadAfterNarrowing()
	l.reachableBeforeRestricted()
	l.committedAway()
	l.reliedOnAtOnce()
	sort.SliceStable(l.out, func(i, j int) bool { return l.out[i].Step < l.out[j].Step })
	for i := range l.out {
		if in.EventIDs != nil && l.out[i].Step > 0 && l.out[i].Step <= len(in.EventIDs) {
			l.out[i].EventID = in.EventIDs[l.out[i].Step-1]
			l.out[i].Step = 0
		}
	}
	return l.out
}

type linter struct {
	in           Input
	steps        []step
	uses         []Use
	bucketRegion map[string]string
	keyOwner     map[string]string
	groupMembers map[string][]string
	out          []Finding
}

func (l *linter) add(rule string, st int, window time.Duration, fix, format string, a ...any) {
	l.out = append(l.out, Finding{File: l.in.File, Rule: rule, Step: st + 1, Message: fmt.Sprintf(format, a...), Fix: fix,
		WindowSeconds: float64(window.Round(time.Millisecond)) / float64(time.Second)})
}

// ref names step i (0-based) as the report does: "step N", or the
// CloudTrail event of a replayed trail.
func (l *linter) ref(i int) string {
	if l.in.EventIDs != nil && i < len(l.in.EventIDs) {
		return "event " + l.in.EventIDs[i]
	}
	return fmt.Sprintf("step %d", i+1)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// scopeOf is the set of entities a call names.
func (l *linter) scopeOf(args map[string]any) map[string]bool {
	out := map[string]bool{}
	for arg, kind := range map[string]string{"bucket": "bucket", "user_name": "user", "role_name": "role", "group_name": "group", "access_key_id": "key"} {
		if v, ok := args[arg].(string); ok && v != "" {
			out[kind+":"+v] = true
		}
	}
	for e := range out {
		if g, ok := strings.CutPrefix(e, "group:"); ok {
			for _, u := range l.groupMembers[g] {
				out["user:"+u] = true
			}
		}
		if k, ok := strings.CutPrefix(e, "key:"); ok && l.keyOwner[k] != "" {
			out["user:"+l.keyOwner[k]] = true
		}
	}
	return out
}

// window is the p99 delay of a step's change from its origin to region
// (to the slowest other region when region is "").
func (l *linter) window(s step, region string) time.Duration {
	var w time.Duration
	for _, r := range l.in.Scenario.Regions {
		if r == s.s.Region || (region != "" && r != region) {
			continue
		}
		w = max(w, l.in.Model.Distribution(s.s.Region, r, s.revoke).Quantile(0.99))
	}
	return w
}

// enforced is where step s's change is enforced, and the p99 delay until
// it is in force there: a bucket's configuration in the bucket's home
// region, which decides every request for the bucket (0 when committed
// there); anything else in every region.
func (l *linter) enforced(s step) (where string, w time.Duration) {
	if home := l.bucketRegion[s.bucket()]; home != "" && (bucketConfig[s.s.Call] || s.s.Call == "s3:DeleteBucket") {
		where = "in " + home + ", the bucket's region"
		if home == s.s.Region {
			return where, 0
		}
		return where, l.window(s, home)
	}
	return "in every region", l.window(s, "")
}

func (s step) bucket() string { v, _ := s.args["bucket"].(string); return v }

// narrowsBucket: calls that restrict access to a bucket's contents.
func (s step) narrowsBucket() bool {
	switch s.s.Call {
	case "s3:PutBucketPolicy", "s3:PutPublicAccessBlock", "s3:DeleteBucketPolicy":
		return s.revoke
	}
	return false
}

func (l *linter) uploadAfterNarrowing() {
	for j, put := range l.steps {
		if put.s.Call != "s3:PutObject" {
			continue
		}
		for i := j - 1; i >= 0; i-- {
			c := l.steps[i]
			if !c.narrowsBucket() || c.bucket() != put.bucket() {
				continue
			}
			gap := put.s.At - c.s.At
			if where, w := l.enforced(c); gap < w {
				l.add(RuleUploadAfterNarrowing, j, w-gap,
					fmt.Sprintf("write into %s only once %s is applied %s (wait for it: GET /v1/mutations/{id}, or about %s under the model), or restrict the bucket before the data exists", put.bucket(), l.ref(i), where, w.Round(time.Millisecond)),
					"%s writes %s/%v %s after %s (%s) narrowed access to the bucket; until it is applied %s, the object is served under the old access, for up to %s more",
					put.s.Call, put.bucket(), put.args["key"], gap, l.ref(i), c.s.Call, where, (w - gap).Round(time.Millisecond))
			}
			break // the latest narrowing decides
		}
	}
}

// restricts: calls that restrict an entity that already exists.
var restricts = map[string]bool{
	"s3:PutBucketPolicy": true, "s3:PutPublicAccessBlock": true,
	"iam:PutUserPermissionsBoundary": true, "iam:PutRolePermissionsBoundary": true, "iam:UpdateAssumeRolePolicy": true,
}

// exposes: calls that make an entity reachable.
var exposes = map[string]string{
	"s3:PutObject": "bucket", "s3:DeletePublicAccessBlock": "bucket",
	"iam:CreateUser": "user", "iam:CreateRole": "role", "iam:CreateAccessKey": "user",
	"iam:AttachUserPolicy": "user", "iam:AttachRolePolicy": "role", "iam:PutUserPolicy": "user", "iam:PutRolePolicy": "role",
}

func (l *linter) reachableBeforeRestricted() {
	sc := l.in.Scenario
	for j, r := range l.steps {
		if !restricts[r.s.Call] || !r.revoke {
			continue
		}
		where, w := l.enforced(r)
		first := -1
		what := ""
		for i := 0; i < j; i++ {
			e := l.steps[i]
			kind, ok := exposes[e.s.Call]
			if !ok || e.s.Call == r.s.Call {
				continue
			}
			for ent := range r.scope {
				if strings.HasPrefix(ent, kind+":") && e.scope[ent] {
					first, what = i, fmt.Sprintf("%s (%s) made %s reachable", l.ref(i), e.s.Call, ent)
				}
			}
			if first >= 0 {
				break
			}
		}
		if first < 0 && r.bucket() != "" {
			for _, b := range sc.State.Buckets {
				if b.Name == r.bucket() && len(b.Objects) > 0 {
					first, what = -2, fmt.Sprintf("bucket %s already holds %s", b.Name, plural(len(b.Objects), "object"))
				}
			}
		}
		if first == -1 {
			continue
		}
		open := w
		if first >= 0 {
			open += r.s.At - l.steps[first].s.At
		} else {
			open += r.s.At
		}
		l.add(RuleReachableBeforeRestricted, j, open,
			"policy first: create the restriction before what it restricts (a boundary or trust policy in the Create call, the bucket policy or Block Public Access before any object is written)",
			"%s restricts what is already reachable: %s before it; it stays reachable until the restriction is applied %s (up to %s after it)",
			r.s.Call, what, where, w.Round(time.Millisecond))
	}
}

// bucketConfig: calls enforced where the bucket lives.
var bucketConfig = map[string]bool{
	"s3:PutBucketPolicy": true, "s3:DeleteBucketPolicy": true, "s3:PutPublicAccessBlock": true, "s3:DeletePublicAccessBlock": true,
}

func (l *linter) committedAway() {
	for j, s := range l.steps {
		if !bucketConfig[s.s.Call] {
			continue
		}
		home := l.bucketRegion[s.bucket()]
		if home == "" || home == s.s.Region {
			continue
		}
		w := l.window(s, home)
		l.add(RuleCommittedAwayFromEnforcement, j, w,
			fmt.Sprintf("commit it in %s, the bucket's region: its own region applies it at once", home),
			"%s on %s is committed in %s but enforced in %s, which applies it up to %s later",
			s.s.Call, s.bucket(), s.s.Region, home, w.Round(time.Millisecond))
	}
}

// reliedOnAtOnce replays the steps on the truth and, for each step, asks
// every use in another region that is active before the step can have
// arrived there whether the step changed its decision: allow to deny is a
// revocation relied on at once, deny to allow a grant used at once.
func (l *linter) reliedOnAtOnce() {
	if l.in.Initial == nil {
		return
	}
	st := l.in.Initial.Clone()
	decide := func(u Use) bool {
		// Decided as the runner decides the probe: with its context and
		// through its endpoint.
		return st.Decide(controlplane.Probe{Principal: u.Principal, Action: u.Action, Resource: u.Resource, Context: u.Context, Endpoint: u.Endpoint}).Effect == evaluator.Allow
	}
	for i, c := range l.steps {
		var active []Use
		var before []bool
		for _, u := range l.uses {
			if u.Region == c.s.Region || u.WaitsFor == i+1 || u.Action == "" {
				continue
			}
			w := l.window(c, u.Region)
			from, until := c.s.At, c.s.At+w
			// The use's active interval must meet the window.
			if u.Until < from || u.From >= until || (u.From == u.Until && u.From < from) {
				continue
			}
			active = append(active, u)
			before = append(before, decide(u))
		}
		call := controlplane.Call{Action: c.s.Call, Account: c.s.Account, Region: c.s.Region, Args: c.s.With}
		if st.Validate(call) != nil {
			continue // refused at its origin: it changes nothing
		}
		st.Apply(call)
		for k, u := range active {
			after := decide(u)
			if after == before[k] {
				continue
			}
			w := l.window(c, u.Region)
			what := fmt.Sprintf("%s %s on %s", u.Principal, u.Action, u.Resource)
			if !after {
				l.add(RuleRevocationReliedOnAtOnce, i, w,
					fmt.Sprintf("do not treat %s as done everywhere at once: contain in the region where the use happens (a deny in the resource's policy there), wait until it is applied in every region (GET /v1/mutations/{id}), or make readers wait for it (at_least consistency)", l.ref(i)),
					"%s revokes %s, but %s in %s relies on it within %s, before the change can have reached %s",
					c.s.Call, what, u.Ref, u.Region, w.Round(time.Millisecond), u.Region)
			} else {
				l.add(RuleGrantUsedAtOnce, i, w,
					fmt.Sprintf("retry with backoff in %s, or wait until %s is applied there (at_least consistency, GET /v1/mutations/{id})", u.Region, l.ref(i)),
					"%s grants %s, and %s in %s uses it within %s, before the grant can have reached %s: expect access denied meanwhile",
					c.s.Call, what, u.Ref, u.Region, w.Round(time.Millisecond), u.Region)
			}
		}
	}
}
