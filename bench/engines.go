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

// Set is one policy set with its requests: the same user, groups and
// policy types, decided by both engines.
type Set struct {
	Name     string
	managed  []policy
	scp      policy
	boundary policy
	bucket   policy
	Requests []Request
	Context  map[string]any // string or bool values, IAM key names
}

func (set *Set) all() []policy {
	return append(append([]policy{}, set.managed...), set.scp, set.boundary, set.bucket)
}

// Sets are the two policy sets measured: "evaluator" mirrors
// docs/benchmarks.md ("Evaluator benchmark") exactly; "bench" is this module's own set
// (written before that document), where the granting statement is the last
// of 100 and conditions include principal tags.
var Sets = []*Set{
	{
		Name: "evaluator", managed: evalManagedPolicies(), scp: evalSCP(), boundary: evalBoundary(), bucket: evalBucketPolicy(),
		Requests: []Request{
			{Name: "allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::corp-data/home/alice/report.csv", HomeOwner: "alice", Want: "allow"},
			{Name: "implicit-deny", Action: "s3:PutObject", Resource: "arn:aws:s3:::corp-data/home/alice/report.csv", HomeOwner: "alice", Want: "implicit-deny"},
			{Name: "explicit-deny", Action: "s3:DeleteObject", Resource: "arn:aws:s3:::corp-data/home/alice/report.csv", HomeOwner: "alice", Want: "explicit-deny"},
		},
		Context: map[string]any{"aws:SourceIp": "10.3.4.5", "aws:SecureTransport": true, "aws:RequestedRegion": "eu-west-1"},
	},
	{
		Name: "bench", managed: managedPolicies(), scp: scp(), boundary: boundary(), bucket: bucketPolicy(),
		Requests: []Request{
			{Name: "allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::" + dataBucket + "/home/alice/report.csv", HomeOwner: "alice", Want: "allow"},
			{Name: "implicit-deny", Action: "s3:GetObject", Resource: "arn:aws:s3:::" + dataBucket + "/home/bob/report.csv", HomeOwner: "bob", Want: "implicit-deny"},
			{Name: "explicit-deny", Action: "s3:DeleteBucket", Resource: "arn:aws:s3:::" + dataBucket, Want: "explicit-deny"},
		},
		Context: map[string]any{"aws:SourceIp": "203.0.113.5", "aws:SecureTransport": true, "aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "team-blue"},
	},
}

// IAMProp is a policy set compiled by iamprop's evaluator.
type IAMProp struct {
	Input    evaluator.Input
	Requests []evaluator.Request
}

// NewIAMProp parses and compiles the set and its requests.
func (set *Set) NewIAMProp() (*IAMProp, error) {
	e := &IAMProp{}
	for _, p := range set.managed {
		pol, err := evaluator.Parse(p.name, evaluator.KindIdentity, p.awsJSON())
		if err != nil {
			return nil, err
		}
		e.Input.Identity = append(e.Input.Identity, pol)
	}
	s, err := evaluator.Parse(set.scp.name, evaluator.KindSCP, set.scp.awsJSON())
	if err != nil {
		return nil, err
	}
	e.Input.SCPs = [][]*evaluator.Policy{{s}}
	if e.Input.Boundary, err = evaluator.Parse(set.boundary.name, evaluator.KindBoundary, set.boundary.awsJSON()); err != nil {
		return nil, err
	}
	if e.Input.ResourcePolicy, err = evaluator.Parse(set.bucket.name, evaluator.KindResource, set.bucket.awsJSON()); err != nil {
		return nil, err
	}
	principal, err := evaluator.ParsePrincipal(userARN)
	if err != nil {
		return nil, err
	}
	ctx, err := evaluator.NewContext(set.Context)
	if err != nil {
		return nil, err
	}
	for _, r := range set.Requests {
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
// (the user, its groups, the action groups, the objects) it needs.
type Cedar struct {
	Policies *cedar.PolicySet
	Entities types.EntityMap
	Requests []cedar.Request
}

// NewCedar parses the Cedar rendering of the set.
func (set *Set) NewCedar() (*Cedar, error) {
	ps, err := cedar.NewPolicySetFromBytes(set.Name+".cedar", []byte(set.cedarPolicySet()))
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
	for a, gs := range set.actionGroups() {
		uid := cedar.NewEntityUID("Action", types.String(a))
		var ps []types.EntityUID
		for _, g := range gs {
			ps = append(ps, cedar.NewEntityUID("Action", types.String(g)))
		}
		c.Entities[uid] = types.Entity{UID: uid, Parents: cedar.NewEntityUIDSet(ps...)}
	}
	user := cedar.NewEntityUID("User", userName)
	attrs := cedar.RecordMap{"name": types.String(userName), "account": types.String(account)}
	if team, ok := set.Context["aws:PrincipalTag/team"].(string); ok {
		attrs["team"] = types.String(team)
	}
	c.Entities[user] = types.Entity{UID: user, Parents: cedar.NewEntityUIDSet(parents...), Attributes: cedar.NewRecord(attrs)}
	ctx := cedar.RecordMap{}
	if s, ok := set.Context["aws:SourceIp"].(string); ok {
		ip, err := types.ParseIPAddr(s)
		if err != nil {
			return nil, err
		}
		ctx["sourceIp"] = ip
	}
	if b, ok := set.Context["aws:SecureTransport"].(bool); ok {
		ctx["secureTransport"] = types.Boolean(b)
	}
	if s, ok := set.Context["aws:RequestedRegion"].(string); ok {
		ctx["requestedRegion"] = types.String(s)
	}
	record := cedar.NewRecord(ctx)
	for _, r := range set.Requests {
		res := cedar.NewEntityUID("S3Object", types.String(r.Resource))
		rattrs := cedar.RecordMap{"arn": types.String(r.Resource)}
		if r.HomeOwner != "" {
			rattrs["homeOwner"] = types.String(r.HomeOwner)
		}
		c.Entities[res] = types.Entity{UID: res, Attributes: cedar.NewRecord(rattrs)}
		c.Requests = append(c.Requests, cedar.Request{Principal: user, Action: cedar.NewEntityUID("Action", types.String(r.Action)), Resource: res, Context: record})
	}
	return c, nil
}

// Decide decides request i. Cedar has two outcomes; an explicit deny is a
// Deny whose reasons include a forbid that stands for an IAM Deny statement
// (the SCP and boundary maximums, ids ending in /max, stand for implicit
// denies).
func (c *Cedar) Decide(i int) string {
	d, diag := c.Policies.IsAuthorized(c.Entities, c.Requests[i])
	if d == cedar.Allow {
		return "allow"
	}
	for _, r := range diag.Reasons {
		id := string(r.PolicyID)
		if len(id) < 4 || id[len(id)-4:] != "/max" {
			return "explicit-deny"
		}
	}
	return "implicit-deny"
}

// Describe summarizes a set, for the benchmark document.
func (set *Set) Describe() string {
	n := 0
	for _, p := range set.managed {
		n += len(p.stmts)
	}
	return fmt.Sprintf("%s: %d identity statements in %d managed policies (user + groups %v), SCP %d statements, boundary %d, bucket policy %d",
		set.Name, n, len(set.managed), groups, len(set.scp.stmts), len(set.boundary.stmts), len(set.bucket.stmts))
}
