package bench

import (
	"fmt"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/iamprop/iamprop/evaluator"
)

// Request is one benchmark request in engine-neutral terms.
type Request struct {
	Name      string
	Action    string
	Resource  string // an S3 ARN
	HomeOwner string // the user whose home folder the key is in ("" if none)
	Want      string // "allow", "explicit-deny" or "implicit-deny"
}

// Requests are the decisions the benchmark measures: the granting statement
// is the last of 100; a request no statement grants scans them all; a
// request hitting the one Deny.
var Requests = []Request{
	{Name: "allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::" + dataBucket + "/home/alice/report.csv", HomeOwner: "alice", Want: "allow"},
	{Name: "implicit-deny", Action: "s3:GetObject", Resource: "arn:aws:s3:::" + dataBucket + "/home/bob/report.csv", HomeOwner: "bob", Want: "implicit-deny"},
	{Name: "explicit-deny", Action: "s3:DeleteBucket", Resource: "arn:aws:s3:::" + dataBucket, Want: "explicit-deny"},
}

// context is the request context both engines see.
var context = map[string]any{
	"aws:SourceIp":          "203.0.113.5",
	"aws:SecureTransport":   true,
	"aws:RequestedRegion":   "eu-west-1",
	"aws:PrincipalTag/team": "team-blue",
}

// IAMProp is the policy set compiled by iamprop's evaluator.
type IAMProp struct {
	Input    evaluator.Input
	Requests []evaluator.Request
}

// NewIAMProp parses and compiles the policy set and the requests.
func NewIAMProp() (*IAMProp, error) {
	e := &IAMProp{}
	for _, p := range managedPolicies() {
		pol, err := evaluator.Parse(p.name, evaluator.KindIdentity, p.awsJSON())
		if err != nil {
			return nil, err
		}
		e.Input.Identity = append(e.Input.Identity, pol)
	}
	s, err := evaluator.Parse("scp-root", evaluator.KindSCP, scp().awsJSON())
	if err != nil {
		return nil, err
	}
	e.Input.SCPs = [][]*evaluator.Policy{{s}}
	if e.Input.Boundary, err = evaluator.Parse("boundary", evaluator.KindBoundary, boundary().awsJSON()); err != nil {
		return nil, err
	}
	if e.Input.ResourcePolicy, err = evaluator.Parse("bucket-policy", evaluator.KindResource, bucketPolicy().awsJSON()); err != nil {
		return nil, err
	}
	principal, err := evaluator.ParsePrincipal(userARN)
	if err != nil {
		return nil, err
	}
	ctx, err := evaluator.NewContext(context)
	if err != nil {
		return nil, err
	}
	for _, r := range Requests {
		e.Requests = append(e.Requests, evaluator.Request{Principal: principal, Action: r.Action, Resource: r.Resource, ResourceAccount: account, Context: ctx})
	}
	return e, nil
}

// Decide decides request i and returns the test-file spelling of the effect.
func (e *IAMProp) Decide(i int) string {
	switch evaluator.Evaluate(&e.Requests[i], &e.Input).Effect {
	case evaluator.Allow:
		return "allow"
	case evaluator.ExplicitDeny:
		return "explicit-deny"
	}
	return "implicit-deny"
}

// Cedar is the equivalent policy set compiled by cedar-go, with the entities
// (the user, its groups, the objects) it needs.
type Cedar struct {
	Policies *cedar.PolicySet
	Entities types.EntityMap
	Requests []cedar.Request
}

// NewCedar parses the Cedar rendering of the policy set.
func NewCedar() (*Cedar, error) {
	ps, err := cedar.NewPolicySetFromBytes("iamprop-bench.cedar", []byte(cedarPolicySet()))
	if err != nil {
		return nil, err
	}
	c := &Cedar{Policies: ps, Entities: types.EntityMap{}}
	var parents []types.EntityUID
	for _, g := range groups {
		uid := cedar.NewEntityUID("Group", types.String(g))
		parents = append(parents, uid)
		c.Entities[uid] = types.Entity{UID: uid}
	}
	groupsOf := actionGroups()
	for a, gs := range groupsOf {
		uid := cedar.NewEntityUID("Action", types.String(a))
		var ps []types.EntityUID
		for _, g := range gs {
			ps = append(ps, cedar.NewEntityUID("Action", types.String(g)))
		}
		c.Entities[uid] = types.Entity{UID: uid, Parents: cedar.NewEntityUIDSet(ps...)}
	}
	user := cedar.NewEntityUID("User", userName)
	c.Entities[user] = types.Entity{
		UID:        user,
		Parents:    cedar.NewEntityUIDSet(parents...),
		Attributes: cedar.NewRecord(cedar.RecordMap{"name": types.String(userName), "team": types.String("team-blue")}),
	}
	ip, err := types.ParseIPAddr(context["aws:SourceIp"].(string))
	if err != nil {
		return nil, err
	}
	ctx := cedar.NewRecord(cedar.RecordMap{
		"sourceIp":        ip,
		"secureTransport": types.True,
		"requestedRegion": types.String(context["aws:RequestedRegion"].(string)),
	})
	for _, r := range Requests {
		res := cedar.NewEntityUID("S3Object", types.String(r.Resource))
		attrs := cedar.RecordMap{"arn": types.String(r.Resource)}
		if r.HomeOwner != "" {
			attrs["homeOwner"] = types.String(r.HomeOwner)
		}
		c.Entities[res] = types.Entity{UID: res, Attributes: cedar.NewRecord(attrs)}
		c.Requests = append(c.Requests, cedar.Request{
			Principal: user,
			Action:    cedar.NewEntityUID("Action", types.String(r.Action)),
			Resource:  res,
			Context:   ctx,
		})
	}
	return c, nil
}

// Decide decides request i. Cedar has two outcomes: a forbid that matched
// (explicit-deny) or no permit (implicit-deny) are told apart by the
// diagnostic's reasons.
func (c *Cedar) Decide(i int) string {
	d, diag := c.Policies.IsAuthorized(c.Entities, c.Requests[i])
	if d == cedar.Allow {
		return "allow"
	}
	if len(diag.Reasons) > 0 {
		// Reasons of a Deny are the forbids that matched; the SCP and
		// boundary maximums are forbids too but stand for implicit denies.
		for _, r := range diag.Reasons {
			id := string(r.PolicyID)
			if len(id) < 4 || id[len(id)-4:] != "/max" {
				return "explicit-deny"
			}
		}
	}
	return "implicit-deny"
}

// String describes the policy set, for the benchmark document.
func Describe() string {
	n := 0
	for _, p := range managedPolicies() {
		n += len(p.stmts)
	}
	return fmt.Sprintf("%d identity statements in %d managed policies (user + groups %v), SCP %d statements, boundary %d, bucket policy %d",
		n, len(managedPolicies()), groups, len(scp().stmts), len(boundary().stmts), len(bucketPolicy().stmts))
}
