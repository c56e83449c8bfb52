package realtime

// The external backend (--cluster): regionnode processes reached over
// their HTTP API, driven in real time by the runner.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/wire"
)

// external drives regionnode processes through their HTTP API (--cluster).
// Their propagation delay is their own (--delay or --propagation on each
// node); connectCluster refuses nodes whose model is not the scenario's
// unless the run accepts the nodes' model.
type external struct {
	byRegion map[string]*apiclient.Client
}

// ModelMismatchError: the nodes of a --cluster run do not run the
// scenario's propagation model (or not all the same one).
type ModelMismatchError struct {
	Scenario string            // the scenario's model, delay.Model's String
	Nodes    map[string]string // region -> its model
}

func (e *ModelMismatchError) Error() string {
	want := strings.Split(e.Scenario, "; ")
	var lines []string
	for _, r := range slices.Sorted(maps.Keys(e.Nodes)) {
		got := strings.Split(e.Nodes[r], "; ")
		var diff []string
		for _, g := range got {
			if !slices.Contains(want, g) {
				diff = append(diff, "node has "+g)
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				diff = append(diff, "scenario has "+w)
			}
		}
		if len(diff) > 0 {
			lines = append(lines, r+": "+strings.Join(diff, ", "))
		}
	}
	// The model's description is also a --delay value (delay.ParseModel
	// reads it back), so the hint can be pasted as it is.
	return fmt.Sprintf("--cluster: the nodes' propagation delay model is not the scenario's (%s); start the nodes with --propagation SCENARIO-FILE or --delay %s, or accept the nodes' model (--accept-node-model), whose windows then measure their delays, not the scenario's",
		strings.Join(lines, "; "), shellQuote(e.Scenario))
}

// nodeModel is a node's model as it reports it; a node without one
// applies at once, which is a constant zero delay.
func nodeModel(reported string) string {
	if reported == "" {
		return (*delay.Model)(nil).String()
	}
	return reported
}

// connectCluster finds which region each URL serves and checks that every
// region of the scenario has a node, that the nodes start empty (the
// scenario's initial state is committed by the run itself), and, unless
// acceptNodeModel, that every node runs the scenario's delay model want.
func connectCluster(ctx context.Context, urls []string, co apiclient.Options, regions []string, want string, acceptNodeModel bool) (*external, error) {
	e := &external{byRegion: map[string]*apiclient.Client{}}
	mismatch := &ModelMismatchError{Scenario: want, Nodes: map[string]string{}}
	var served []string
	for _, u := range urls {
		cl, err := apiclient.NewWith(strings.TrimSpace(u), co)
		if err != nil {
			return nil, fmt.Errorf("--cluster %s: %w", u, err)
		}
		v, err := cl.View(ctx)
		if err != nil {
			return nil, fmt.Errorf("--cluster %s: %w", u, err)
		}
		if v.Applied > 0 {
			return nil, fmt.Errorf("--cluster %s: region %s already holds %d mutations; a cluster run needs fresh nodes (empty --data-dir), since it commits the scenario's initial state itself", u, v.Region, v.Applied)
		}
		if _, dup := e.byRegion[v.Region]; dup {
			return nil, fmt.Errorf("--cluster: two URLs serve region %s", v.Region)
		}
		e.byRegion[v.Region] = cl
		served = append(served, v.Region)
		if got := nodeModel(v.Propagation); got != want {
			mismatch.Nodes[v.Region] = got
		}
	}
	for _, r := range regions {
		if _, ok := e.byRegion[r]; !ok {
			slices.Sort(served)
			return nil, fmt.Errorf("--cluster: no node serves region %s of the scenario (the URLs serve %s)", r, strings.Join(served, ", "))
		}
	}
	if len(mismatch.Nodes) > 0 && !acceptNodeModel {
		return nil, mismatch
	}
	return e, nil
}

func (e *external) client(region string) (*apiclient.Client, error) {
	cl, ok := e.byRegion[region]
	if !ok {
		return nil, fmt.Errorf("no node for region %s", region)
	}
	return cl, nil
}

func (e *external) Commit(ctx context.Context, region string, c controlplane.Call) (replication.Mutation, error) {
	cl, err := e.client(region)
	if err != nil {
		return replication.Mutation{}, err
	}
	resp, err := cl.Commit(ctx, wire.MutationRequest{Account: c.Account, Call: c.Action, With: c.Args, Region: c.Region})
	if err != nil {
		return replication.Mutation{}, err
	}
	id, err := replication.ParseMutationID(resp.ID)
	if err != nil {
		return replication.Mutation{}, fmt.Errorf("%s answered a bad mutation id %q: %w", region, resp.ID, err)
	}
	ts, err := replication.ParseTimestamp(resp.HLC)
	if err != nil {
		return replication.Mutation{}, fmt.Errorf("%s answered a bad hlc %q: %w", region, resp.HLC, err)
	}
	return replication.Mutation{ID: id, TS: ts, Call: c, Revoke: resp.Revoke}, nil
}

func (e *external) Authorize(ctx context.Context, region string, p controlplane.Probe, c replication.Consistency) (bool, error) {
	cl, err := e.client(region)
	if err != nil {
		return false, err
	}
	req := wire.AuthorizeRequest{Principal: p.Principal, Action: p.Action, Resource: p.Resource, Context: p.Context}
	if p.Endpoint != nil {
		// The node compiles it again: it is the probe's network path,
		// not state the node holds.
		req.Endpoint = &wire.Endpoint{Name: p.Endpoint.Name(), Policy: p.Endpoint.Document()}
	}
	if c.Mode != "" && c.Mode != "local" {
		req.Consistency = &wire.ConsistencyReq{Mode: c.Mode, Token: c.Token}
		if c.Timeout > 0 {
			req.Consistency.Timeout = c.Timeout.String()
		}
		if c.MaxLag > 0 {
			req.Consistency.MaxLag = c.MaxLag.String()
		}
	}
	resp, err := cl.Authorize(ctx, req)
	if err != nil {
		return false, err
	}
	return resp.Decision == "Allow", nil
}

func (e *external) AppliedAt(ctx context.Context, region string, id replication.MutationID) (time.Time, bool) {
	cl, err := e.client(region)
	if err != nil {
		return time.Time{}, false
	}
	st, err := cl.Mutation(ctx, id.String())
	if err != nil {
		return time.Time{}, false
	}
	at, ok := st.Applied[region]
	return at, ok
}

func (e *external) KnownApplied(ctx context.Context, id replication.MutationID) map[string]time.Time {
	cl, err := e.client(id.Origin)
	if err != nil {
		return nil
	}
	st, err := cl.Mutation(ctx, id.String())
	if err != nil {
		return nil
	}
	return st.Applied
}

func (e *external) SetFaults(ctx context.Context, s runner.FaultSpec) error {
	// The API refuses an empty spec (DELETE clears), and the end of the
	// last fault is one: without this a cluster run never healed.
	if s.Empty() {
		return e.clearFaults(ctx)
	}
	var errs []error
	for _, cl := range e.byRegion {
		errs = append(errs, cl.SetFaults(ctx, s))
	}
	return errors.Join(errs...)
}

func (e *external) clearFaults(ctx context.Context) error {
	var errs []error
	for _, cl := range e.byRegion {
		errs = append(errs, cl.ClearFaults(ctx))
	}
	return errors.Join(errs...)
}

var errNoCrash = errors.New("cluster mode cannot crash a node it does not own; use the chaos tooling or run --live")

func (e *external) Crash(context.Context, string) error         { return errNoCrash }
func (e *external) Restart(context.Context, string, bool) error { return errNoCrash }

// WaitConverged polls every node until their view digests agree and none
// has pending mutations.
func (e *external) WaitConverged(ctx context.Context) error {
	for {
		digests := map[string]bool{}
		pending := 0
		var err error
		for _, cl := range e.byRegion {
			v, verr := cl.View(ctx)
			if verr != nil {
				err = verr
				break
			}
			digests[v.Digest] = true
			pending += v.Pending
		}
		if err == nil && len(digests) == 1 && pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seed commits the scenario's initial state on the cluster, at its first
// region, and waits until every node has it.
func (e *external) seed(ctx context.Context, p runner.Trial) error {
	calls, err := p.InitialCalls()
	if err != nil {
		return err
	}
	first := p.Scenario.Regions[0]
	for _, c := range calls {
		if _, err := e.Commit(ctx, first, c.Call); err != nil {
			// A node starts with its --account already in place.
			var apiErr *apiclient.Error
			if c.Action == "organizations:CreateAccount" && errors.As(err, &apiErr) && apiErr.Code == "DuplicateAccountException" {
				continue
			}
			return fmt.Errorf("%s: %s: committing the initial state: %w", p.Scenario.File, c.Where, err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, liveSettle)
	defer cancel()
	if err := e.WaitConverged(wait); err != nil {
		return fmt.Errorf("the cluster did not converge on the initial state within %s: %w", liveSettle, err)
	}
	return nil
}

// Cluster connects to the external nodes for the one trial a cluster run
// has (the nodes keep their state, so there is no second), checks that they
// run the scenario's delay model (unless AcceptNodeModel) and seeds them.
func (b Backends) Cluster(ctx context.Context, p runner.Trial, urls []string) (runner.Driver, error) {
	want := ""
	if m, ok := p.Delay.(fmt.Stringer); ok {
		want = m.String()
	}
	e, err := connectCluster(ctx, urls, b.clientOptions(), p.Scenario.Regions, want, b.AcceptNodeModel)
	if err == nil && len(p.Scenario.Faults) > 0 {
		// The trial sets faults without checking each answer (it cannot
		// stop midway), so check up front that every node takes them:
		// a run whose faults were refused would report a partition that
		// never happened.
		if ferr := e.clearFaults(ctx); ferr != nil {
			err = fmt.Errorf("--cluster: the scenario injects faults and a node refused them (start the nodes with --enable-fault-api and give the runner their admin token, IAMPROP_ADMIN_TOKEN): %w", ferr)
		}
	}
	if err == nil {
		err = e.seed(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// shellQuote quotes s for a POSIX shell: a model's description has spaces,
// parentheses and semicolons.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
