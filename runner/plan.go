package runner

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/sim"
)

// plan is everything about a scenario that does not change between trials,
// built once: the initial state, the delay model, the calls of the steps and
// the probes' requests. Trials only read it.
type plan struct {
	scenario  *scenarios.Scenario
	initial   *controlplane.State
	delay     replication.DelayModel
	gossip    replication.GossipConfig
	network   sim.Network
	stepCalls []controlplane.Call
	// stepRegion is, per step, the region that commits it: the step's own,
	// or the bucket's home region for a data-plane write
	// (scenarios.Scenario.StepRegion).
	stepRegion    []string
	probeRequests []controlplane.Probe
	// probePrepared are probeRequests with their contexts built once
	// (controlplane.Prepare), shared read-only by every trial.
	probePrepared []*controlplane.PreparedProbe
	faultLatency  map[*scenarios.Fault]delay.Distribution
	// maxLag: a probe reads with max_lag consistency, so simulated trials
	// follow the regions' BoundSince (sim.Sim.OnBound, simulator.go) and
	// the regions send heartbeat acks.
	maxLag bool
	// sims holds simulations between trials: a trial resets one
	// (sim.Sim.Reset, the same as a new one) instead of building it, so
	// trials allocate little and the collector seldom runs.
	sims sync.Pool
}

// PropagationModel builds the delay model of a scenario's `propagation:`
// block: what the simulator samples, and what `regionnode --propagation`
// runs, so both take the same distributions.
func PropagationModel(pr scenarios.Propagation) (*delay.Model, error) {
	def, err := toDistribution(pr.Default)
	if err != nil {
		return nil, fmt.Errorf("propagation.default: %w", err)
	}
	model := delay.NewModel(def)
	for i, l := range pr.Links {
		d, err := toDistribution(l.Distribution)
		if err != nil {
			return nil, fmt.Errorf("propagation.links[%d]: %w", i, err)
		}
		model.SetLink(l.From, l.To, d)
	}
	if pr.Revoke != nil {
		d, err := toDistribution(*pr.Revoke)
		if err != nil {
			return nil, fmt.Errorf("propagation.revoke: %w", err)
		}
		model.SetRevoke(d)
	}
	return model, nil
}

// newPlan compiles a loaded scenario into a plan. Errors here are errors of
// the scenario (for example an initial state that AWS would reject).
func newPlan(sc *scenarios.Scenario) (*plan, error) {
	p := &plan{scenario: sc, faultLatency: map[*scenarios.Fault]delay.Distribution{}}
	for i := range sc.Probes {
		p.maxLag = p.maxLag || sc.Probes[i].Consistency == replication.ModeMaxLag
	}
	initial, err := buildInitialState(sc)
	if err != nil {
		return nil, err
	}
	p.initial = initial

	model, err := PropagationModel(sc.Propagation)
	if err != nil {
		return nil, err
	}
	p.delay = model

	p.gossip = replication.DefaultLANGossip()
	if g := sc.Gossip; g.Interval > 0 {
		p.gossip.Interval = g.Interval
	}
	if g := sc.Gossip; g.Fanout > 0 {
		p.gossip.Fanout = g.Fanout
	}
	if g := sc.Gossip; g.RetransmitMult > 0 {
		p.gossip.RetransmitMult = g.RetransmitMult
	}
	if g := sc.Gossip; g.PushPullInterval > 0 {
		p.gossip.PushPullInterval = g.PushPullInterval
	}

	if sc.Network.Latency != nil {
		d, err := toDistribution(*sc.Network.Latency)
		if err != nil {
			return nil, fmt.Errorf("network.latency: %w", err)
		}
		p.network.Latency = d
	}
	p.network.Loss = sc.Network.Loss
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if f.Latency != nil {
			d, err := toDistribution(*f.Latency)
			if err != nil {
				return nil, fmt.Errorf("faults[%d].latency: %w", i, err)
			}
			p.faultLatency[f] = d
		}
	}

	for _, st := range sc.Steps {
		// An empty account lets the control plane pick the caller AWS
		// would: the bucket's owner for bucket calls, the default account
		// for IAM, the management account for the organization.
		p.stepCalls = append(p.stepCalls, controlplane.Call{Action: st.Call, Account: st.Account, Region: st.Region, Args: st.With})
	}
	for i := range sc.Steps {
		p.stepRegion = append(p.stepRegion, sc.StepRegion(i))
	}
	for i, pr := range sc.Probes {
		req := controlplane.Probe{Principal: pr.Principal, Action: pr.Action, Resource: pr.Resource, Context: pr.Context}
		if pr.Endpoint != "" {
			// Compiled once: the endpoint's policy is the probe's network
			// path, the same in every view and at every instant.
			ep, err := evaluator.Parse(pr.Endpoint, evaluator.KindEndpoint, sc.Policies[pr.Endpoint])
			if err != nil {
				return nil, fmt.Errorf("probes[%d].endpoint: %w", i, err)
			}
			req.Endpoint = ep
		}
		p.probeRequests = append(p.probeRequests, req)
		p.probePrepared = append(p.probePrepared, controlplane.Prepare(req))
	}
	return p, nil
}

func defaultAccount(sc *scenarios.Scenario) string {
	if len(sc.State.Accounts) > 0 {
		return sc.State.Accounts[0]
	}
	return ""
}

// toDistribution turns the scenario's distribution into a sampler.
func toDistribution(d scenarios.Distribution) (delay.Distribution, error) {
	switch d.Dist {
	case "constant":
		return delay.Constant(d.Value)
	case "uniform":
		return delay.Uniform(d.Min, d.Max)
	case "normal":
		return delay.Normal(d.Mean, d.Stddev)
	case "lognormal":
		return delay.LogNormal(d.Median, d.P99)
	case "exponential":
		return delay.Exponential(d.Mean)
	case "pareto":
		return delay.Pareto(d.Scale, d.Shape)
	case "empirical":
		return delay.Empirical(d.Points)
	}
	return nil, fmt.Errorf("unknown distribution %q", d.Dist)
}

// buildInitialState turns the scenario's `state` into the calls an operator
// would have made, applied in order to an empty control plane. Going through
// the same calls as steps means the initial state obeys the same rules.
func buildInitialState(sc *scenarios.Scenario) (*controlplane.State, error) {
	calls, err := initialCalls(sc)
	if err != nil {
		return nil, err
	}
	s := controlplane.NewState()
	for _, c := range calls {
		if err := s.Validate(c.Call); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", sc.File, c.where, err)
		}
		s.Apply(c.Call)
	}
	return s, nil
}

// initialCall is one call that builds the initial state, with the place
// in the scenario's `state` it comes from, for errors.
type initialCall struct {
	controlplane.Call
	where string
}

type callList struct {
	calls []initialCall
	where string // the state entry being turned into calls
	err   error
}

func (l *callList) add(action, account, region string, args map[string]any) {
	if l.err != nil {
		return
	}
	b, err := json.Marshal(args)
	if err != nil {
		l.err = err
		return
	}
	l.calls = append(l.calls, initialCall{controlplane.Call{Action: action, Account: account, Region: region, Args: b}, l.where})
}

// policyArn is the ARN of a customer-managed policy made from a named
// document of the scenario.
func policyArn(account, name string) string {
	return "arn:aws:iam::" + account + ":policy/" + name
}

func initialCalls(sc *scenarios.Scenario) ([]initialCall, error) {
	l := &callList{}
	doc := func(name string) (json.RawMessage, error) {
		d, ok := sc.Policies[name]
		if !ok {
			return nil, fmt.Errorf("state: unknown policy %q", name)
		}
		return d, nil
	}
	def := defaultAccount(sc)
	acct := func(a string) string {
		if a == "" {
			return def
		}
		return a
	}
	for i, a := range sc.State.Accounts {
		l.where = fmt.Sprintf("state.accounts[%d] (%s)", i, a)
		l.add("organizations:CreateAccount", a, "", map[string]any{"account_id": a})
	}
	// Managed policies are created once per account that uses them.
	created := map[string]bool{}
	managed := func(account, name string) string {
		arn := policyArn(account, name)
		if created[arn] {
			return arn
		}
		created[arn] = true
		d, err := doc(name)
		if err != nil {
			l.err = err
			return arn
		}
		l.add("iam:CreatePolicy", account, "", map[string]any{"policy_name": name, "policy_document": d})
		return arn
	}
	inline := func(action, account, key, entity, name string) {
		d, err := doc(name)
		if err != nil {
			l.err = err
			return
		}
		l.add(action, account, "", map[string]any{key: entity, "policy_name": name, "policy_document": d})
	}
	for i, g := range sc.State.Groups {
		l.where = fmt.Sprintf("state.groups[%d] (%s)", i, g.Name)
		a := acct(g.Account)
		l.add("iam:CreateGroup", a, "", map[string]any{"group_name": g.Name})
		for _, p := range g.Policies {
			l.add("iam:AttachGroupPolicy", a, "", map[string]any{"group_name": g.Name, "policy_arn": managed(a, p)})
		}
		for _, p := range g.Inline {
			inline("iam:PutGroupPolicy", a, "group_name", g.Name, p)
		}
	}
	for i, u := range sc.State.Users {
		l.where = fmt.Sprintf("state.users[%d] (%s)", i, u.Name)
		a := acct(u.Account)
		l.add("iam:CreateUser", a, "", map[string]any{"user_name": u.Name})
		for _, p := range u.Policies {
			l.add("iam:AttachUserPolicy", a, "", map[string]any{"user_name": u.Name, "policy_arn": managed(a, p)})
		}
		for _, p := range u.Inline {
			inline("iam:PutUserPolicy", a, "user_name", u.Name, p)
		}
		for _, g := range u.Groups {
			l.add("iam:AddUserToGroup", a, "", map[string]any{"user_name": u.Name, "group_name": g})
		}
		for _, k := range u.AccessKeys {
			l.add("iam:CreateAccessKey", a, "", map[string]any{"user_name": u.Name, "access_key_id": k})
		}
		if u.Boundary != "" {
			l.add("iam:PutUserPermissionsBoundary", a, "", map[string]any{"user_name": u.Name, "permissions_boundary": managed(a, u.Boundary)})
		}
	}
	for i, r := range sc.State.Roles {
		l.where = fmt.Sprintf("state.roles[%d] (%s)", i, r.Name)
		a := acct(r.Account)
		trust, err := doc(r.Trust)
		if err != nil {
			return nil, err
		}
		l.add("iam:CreateRole", a, "", map[string]any{"role_name": r.Name, "assume_role_policy_document": trust})
		for _, p := range r.Policies {
			l.add("iam:AttachRolePolicy", a, "", map[string]any{"role_name": r.Name, "policy_arn": managed(a, p)})
		}
		for _, p := range r.Inline {
			inline("iam:PutRolePolicy", a, "role_name", r.Name, p)
		}
		if r.Boundary != "" {
			l.add("iam:PutRolePermissionsBoundary", a, "", map[string]any{"role_name": r.Name, "permissions_boundary": managed(a, r.Boundary)})
		}
	}
	for i, b := range sc.State.Buckets {
		l.where = fmt.Sprintf("state.buckets[%d] (%s)", i, b.Name)
		a := acct(b.Account)
		l.add("s3:CreateBucket", a, b.Region, map[string]any{"bucket": b.Name})
		if b.Policy != "" {
			d, err := doc(b.Policy)
			if err != nil {
				return nil, err
			}
			l.add("s3:PutBucketPolicy", a, b.Region, map[string]any{"bucket": b.Name, "policy": d})
		}
		if c := b.BlockPublicAccess; c != nil {
			l.add("s3:PutPublicAccessBlock", a, b.Region, map[string]any{
				"bucket": b.Name, "block_public_acls": c.BlockPublicAcls, "ignore_public_acls": c.IgnorePublicAcls,
				"block_public_policy": c.BlockPublicPolicy, "restrict_public_buckets": c.RestrictPublicBuckets,
			})
		}
		for _, o := range b.Objects {
			l.add("s3:PutObject", a, b.Region, map[string]any{"bucket": b.Name, "key": o})
		}
	}
	if org := sc.State.Org; org != nil {
		for i, ou := range org.OUs {
			l.where = fmt.Sprintf("state.org.ous[%d] (%s)", i, ou.Name)
			parent := ou.Parent
			if parent == "" {
				parent = "root"
			}
			l.add("organizations:CreateOrganizationalUnit", def, "", map[string]any{"name": ou.Name, "parent_id": parent})
			for _, a := range ou.Accounts {
				l.add("organizations:MoveAccount", def, "", map[string]any{
					"account_id": a, "source_parent_id": "root", "destination_parent_id": "ou:" + ou.Name,
				})
			}
		}
		l.where = "state.org"
		for _, kind := range []struct {
			typ  string
			list []scenarios.OrgAttachment
		}{{"SERVICE_CONTROL_POLICY", org.SCPs}, {"RESOURCE_CONTROL_POLICY", org.RCPs}} {
			made := map[string]bool{}
			for _, at := range kind.list {
				if !made[at.Policy] {
					made[at.Policy] = true
					d, err := doc(at.Policy)
					if err != nil {
						return nil, err
					}
					l.add("organizations:CreatePolicy", def, "", map[string]any{"name": at.Policy, "type": kind.typ, "content": d})
				}
				l.add("organizations:AttachPolicy", def, "", map[string]any{"policy_id": at.Policy, "target_id": at.Target})
			}
		}
	}
	return l.calls, l.err
}
