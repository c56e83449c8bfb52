package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/wire"
)

// clusterFlags are the options every `scenario cluster` command takes.
type clusterFlags struct {
	nodes  string
	json   bool
	caFile string
}

// Environment variables of `scenario cluster`: the API token (as regionnode
// takes it, so it never shows in a process listing) and a default --nodes.
const (
	envToken  = "IAMPROP_API_TOKEN"
	envNodes  = "IAMPROP_NODES"
	envCAFile = "IAMPROP_CA_FILE"
)

func newClusterCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Talk to running regionnode processes: status, commit, authorize, wait, faults, view",
		Long: `cluster is a client for a cluster of regionnode processes (docs/api.md), for what
would otherwise take curl: see every node's state, commit a mutation, authorize a
request at every region, wait until a mutation is applied everywhere, and switch
injected faults.

--nodes lists the nodes' API URLs, comma-separated (default: $IAMPROP_NODES). Writes
and faults send the token in $IAMPROP_API_TOKEN. For https:// nodes signed by a private
CA, --ca-file (or $IAMPROP_CA_FILE) names its PEM file. Every command prints a table, or JSON
with --json. Exit status: 0 done, 1 a node refused or failed or the wait timed out,
2 invalid input.`,
		Example: `  export IAMPROP_NODES=http://127.0.0.1:8080,http://127.0.0.1:8081,http://127.0.0.1:8082
  export IAMPROP_API_TOKEN=...
  scenario cluster status
  scenario cluster commit iam:CreateUser '{"user_name":"alice"}'
  scenario cluster wait --timeout 60s us-east-2/1
  scenario cluster authorize --principal arn:aws:iam::111122223333:user/alice --action s3:GetObject --resource arn:aws:s3:::b/k
  scenario cluster faults --set partition.json
  scenario cluster view --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return invalidInput(errors.New("cluster needs a command: status, commit, authorize, wait, faults or view (scenario cluster --help)"))
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.nodes, "nodes", "", "the nodes' API URLs, comma-separated (default: $"+envNodes+")")
	pf.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	pf.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the nodes' certificates, for https:// nodes (default: $"+envCAFile+", else the system's roots)")
	cmd.AddCommand(
		newClusterStatusCmd(&f),
		newClusterViewCmd(&f),
		newClusterCommitCmd(&f),
		newClusterAuthorizeCmd(&f),
		newClusterWaitCmd(&f),
		newClusterFaultsCmd(&f),
	)
	return cmd
}

// clients makes one client per --nodes URL; a bad or missing list is
// invalid input.
func (f *clusterFlags) clients() ([]*apiclient.Client, error) {
	list := f.nodes
	if list == "" {
		list = os.Getenv(envNodes)
	}
	if strings.TrimSpace(list) == "" {
		return nil, invalidInput(fmt.Errorf("--nodes is required (or set %s), e.g. --nodes http://127.0.0.1:8080,http://127.0.0.1:8081", envNodes))
	}
	ca := f.caFile
	if ca == "" {
		ca = os.Getenv(envCAFile)
	}
	// Tokens by role from the environment, as regionnode takes them, so
	// they never show in a process listing; the write token also reads.
	opts := apiclient.Options{
		Token: os.Getenv(envToken), ReadToken: os.Getenv("IAMPROP_READ_TOKEN"), AdminToken: os.Getenv("IAMPROP_ADMIN_TOKEN"),
		CAFile: ca, CertFile: os.Getenv("IAMPROP_CLIENT_CERT"), KeyFile: os.Getenv("IAMPROP_CLIENT_KEY"),
	}
	var out []*apiclient.Client
	seen := map[string]bool{}
	for _, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		c, err := apiclient.NewWith(u, opts)
		if err != nil {
			if strings.Contains(err.Error(), "CA file") {
				return nil, invalidInput(fmt.Errorf("--ca-file: %v", strings.TrimPrefix(err.Error(), "apiclient: ")))
			}
			return nil, invalidInput(fmt.Errorf("--nodes: %q: want http://host:port", u))
		}
		if seen[c.URL()] {
			return nil, invalidInput(fmt.Errorf("--nodes: %s given twice", c.URL()))
		}
		seen[c.URL()] = true
		out = append(out, c)
	}
	return out, nil
}

// callTimeout bounds one short API call (not a wait).
const callTimeout = 10 * time.Second

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// errText is a node's error in a table cell.
func errText(err error) string {
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		return ae.Code + ": " + ae.Message
	}
	return err.Error()
}

// --- status ---------------------------------------------------------------

// nodeStatus is one node's line of `cluster status`.
type nodeStatus struct {
	URL     string              `json:"url"`
	Region  string              `json:"region,omitempty"`
	Ready   bool                `json:"ready"`
	Error   string              `json:"error,omitempty"`
	View    *wire.ViewInfo      `json:"view,omitempty"`
	Members []wire.MemberInfo   `json:"members,omitempty"`
	Faults  *wire.FaultSpec     `json:"faults,omitempty"`
	byState map[string][]string // member regions by state, for the table
}

func fetchStatus(ctx context.Context, c *apiclient.Client) nodeStatus {
	ns := nodeStatus{URL: c.URL(), byState: map[string][]string{}}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := c.View(cctx)
	if err != nil {
		ns.Error = errText(err)
		return ns
	}
	ns.Region, ns.View = v.Region, &v
	if cl, err := c.Cluster(cctx); err == nil {
		ns.Members = cl.Members
		for _, m := range cl.Members {
			ns.byState[m.State] = append(ns.byState[m.State], m.Region)
		}
	}
	if fs, err := c.Faults(cctx); err == nil && !fs.Empty() {
		ns.Faults = &fs
	}
	if err := c.Ready(cctx); err != nil {
		ns.Error = errText(err)
	} else {
		ns.Ready = true
	}
	return ns
}

func newClusterStatusCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Each node's readiness, members, view and faults",
		Long: `status asks every node for its view, its members and its faults, and whether it is
ready. Exit status 1 when a node does not answer or is not ready.`,
		Example: `  scenario cluster status --nodes http://127.0.0.1:8080,http://127.0.0.1:8081
  scenario cluster status --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			all := make([]nodeStatus, len(cls))
			for i, c := range cls {
				all[i] = fetchStatus(cmd.Context(), c)
			}
			out := cmd.OutOrStdout()
			if f.json {
				if err := printJSON(out, all); err != nil {
					return err
				}
			} else {
				printStatus(out, all)
			}
			var bad []string
			for _, ns := range all {
				if !ns.Ready {
					bad = append(bad, ns.URL)
				}
			}
			if len(bad) > 0 {
				return failed(fmt.Errorf("%d of %d nodes not ready: %s", len(bad), len(all), strings.Join(bad, ", ")))
			}
			return nil
		},
	}
}

func printStatus(out io.Writer, all []nodeStatus) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tREGION\tREADY\tMEMBERS\tAPPLIED\tPENDING\tLAG\tDIGEST\tFAULTS")
	digests := map[string]bool{}
	for _, ns := range all {
		if ns.View == nil {
			fmt.Fprintf(w, "%s\t-\tno\t-\t-\t-\t-\t-\t%s\n", ns.URL, ns.Error)
			continue
		}
		v := ns.View
		digests[v.Digest] = true
		ready := "yes"
		if !ns.Ready {
			ready = "no: " + ns.Error
		}
		faults := "none"
		if ns.Faults != nil {
			b, _ := json.Marshal(ns.Faults)
			faults = string(b)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", ns.URL, v.Region, ready, membersText(ns.byState),
			v.Applied, v.Pending, fmtSeconds(v.LagSecond), short(v.Digest), faults)
	}
	w.Flush()
	if len(digests) == 1 && len(all) > 1 {
		fmt.Fprintln(out, "views: identical on every node that answered")
	} else if len(digests) > 1 {
		fmt.Fprintf(out, "views: %d different digests (propagation in progress, or a partition)\n", len(digests))
	}
}

// membersText says "3 alive" or "2 alive, 1 dead (ap-southeast-2)".
func membersText(byState map[string][]string) string {
	if len(byState) == 0 {
		return "-"
	}
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(byState)) {
		rs := byState[st]
		p := fmt.Sprintf("%d %s", len(rs), st)
		if st != "alive" {
			slices.Sort(rs)
			p += " (" + strings.Join(rs, ",") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func fmtSeconds(s float64) string {
	if s == 0 {
		return "0s"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// --- view -----------------------------------------------------------------

// nodeView is one node's answer to GET /v1/view.
type nodeView struct {
	URL   string         `json:"url"`
	Error string         `json:"error,omitempty"`
	View  *wire.ViewInfo `json:"view,omitempty"`
}

func newClusterViewCmd(f *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "view",
		Short: "Each node's view: digest, version vector and what it holds",
		Long: `view prints every node's view: its digest (equal digests are equal views), its
version vector (the highest mutation applied from each origin), and how many users,
roles, policies, keys and buckets it holds. Exit status 1 when a node does not answer.`,
		Example: `  scenario cluster view
  scenario cluster view --json | jq '.[].view.digest'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			all := make([]nodeView, len(cls))
			var bad []string
			for i, c := range cls {
				ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
				v, err := c.View(ctx)
				cancel()
				all[i].URL = c.URL()
				if err != nil {
					all[i].Error = errText(err)
					bad = append(bad, c.URL())
					continue
				}
				all[i].View = &v
			}
			out := cmd.OutOrStdout()
			if f.json {
				if err := printJSON(out, all); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "NODE\tREGION\tDIGEST\tVERSION VECTOR\tUSERS\tROLES\tPOLICIES\tKEYS\tBUCKETS (PUBLIC)")
				for _, nv := range all {
					if nv.View == nil {
						fmt.Fprintf(w, "%s\t-\t%s\n", nv.URL, nv.Error)
						continue
					}
					v := nv.View
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d (%d)\n", nv.URL, v.Region, short(v.Digest), vectorText(v.Vector),
						v.Counts.Users, v.Counts.Roles, v.Counts.Policies, v.Counts.AccessKeys, v.Counts.Buckets, v.Counts.PublicBuckets)
				}
				w.Flush()
			}
			if len(bad) > 0 {
				return failed(fmt.Errorf("no answer from %s", strings.Join(bad, ", ")))
			}
			return nil
		},
	}
}

func vectorText(v map[string]uint64) string {
	if len(v) == 0 {
		return "{}"
	}
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(v)) {
		parts = append(parts, fmt.Sprintf("%s:%d", o, v[o]))
	}
	return strings.Join(parts, " ")
}

// --- commit ---------------------------------------------------------------

// pickNode returns the client of the node serving region, or the first
// node that answers when region is empty.
func pickNode(ctx context.Context, cls []*apiclient.Client, region string) (*apiclient.Client, error) {
	var errs []string
	for _, c := range cls {
		if region == "" && len(cls) == 1 {
			return c, nil
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		v, err := c.View(cctx)
		cancel()
		if err != nil {
			errs = append(errs, c.URL()+": "+errText(err))
			continue
		}
		if region == "" || v.Region == region {
			return c, nil
		}
	}
	if region != "" && len(errs) == 0 {
		return nil, invalidInput(fmt.Errorf("--at %s: no node in --nodes serves that region", region))
	}
	what := "no node answered"
	if region != "" {
		what = "no answering node serves " + region
	}
	return nil, failed(fmt.Errorf("%s: %s", what, strings.Join(errs, "; ")))
}

func newClusterCommitCmd(f *clusterFlags) *cobra.Command {
	var at, account, region string
	cmd := &cobra.Command{
		Use:   "commit CALL [ARGS-JSON]",
		Short: "Commit one mutation (an AWS-named call) at a node",
		Long: `commit sends one control-plane call to a node (POST /v1/mutations): the first node
of --nodes that answers, or the one serving --at REGION. ARGS-JSON is the call's
arguments as a JSON object (docs/mutations.md lists the calls). It prints the
mutation id, which is also the consistency token, and the command that waits for it.
Exit status 1 when the node refuses the call (an AWS error such as NoSuchEntity).`,
		Example: `  scenario cluster commit iam:CreateUser '{"user_name":"alice"}'
  scenario cluster commit --at eu-west-1 s3:PutPublicAccessBlock '{"bucket":"b","block_public_policy":true}'
  scenario cluster commit --json iam:DeleteUser '{"user_name":"alice"}' | jq -r .id`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			req := wire.MutationRequest{Call: args[0], Account: account, Region: region}
			if len(args) == 2 {
				with := bytes.TrimSpace([]byte(args[1]))
				if !json.Valid(with) || len(with) == 0 || with[0] != '{' {
					return invalidInput(fmt.Errorf("ARGS-JSON %q: want a JSON object, e.g. '{\"user_name\":\"alice\"}'", args[1]))
				}
				req.With = with
			}
			c, err := pickNode(cmd.Context(), cls, at)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			resp, err := c.Commit(ctx, req)
			if err != nil {
				var ae *apiclient.Error
				if errors.As(err, &ae) && ae.Code == "InvalidRequest" {
					return invalidInput(fmt.Errorf("%s refused the call: %s", c.URL(), errText(err)))
				}
				return failed(fmt.Errorf("%s: commit %s: %s", c.URL(), args[0], errText(err)))
			}
			out := cmd.OutOrStdout()
			if f.json {
				return printJSON(out, resp)
			}
			fmt.Fprintf(out, "committed %s at %s (%s)\n", resp.ID, resp.Region, resp.Timestamp.UTC().Format(time.RFC3339Nano))
			if resp.Revoke {
				fmt.Fprintln(out, "it revokes access: until every region applies it, a stale region may still allow")
			}
			fmt.Fprintf(out, "token: %s\nwait for it: scenario cluster wait %s\n", resp.Token, resp.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&at, "at", "", "commit at the node serving this region (default: the first node that answers)")
	fl.StringVar(&account, "account", "", "the account the call acts in (default: the node's account)")
	fl.StringVar(&region, "region", "", "the AWS region argument of the call, where it matters")
	return cmd
}

// --- authorize ------------------------------------------------------------

// nodeDecision is one region's answer to an authorize request.
type nodeDecision struct {
	URL      string                  `json:"url"`
	Error    string                  `json:"error,omitempty"`
	Code     string                  `json:"code,omitempty"`
	Response *wire.AuthorizeResponse `json:"response,omitempty"`
}

func newClusterAuthorizeCmd(f *clusterFlags) *cobra.Command {
	var (
		req                 wire.AuthorizeRequest
		ctxJSON, at         string
		mode, token, maxLag string
		timeout, endpoint   string
	)
	cmd := &cobra.Command{
		Use:   "authorize --principal P --action A --resource R",
		Short: "Ask every region whether a request is allowed, from its own view",
		Long: `authorize asks every node (or the one serving --at REGION) to decide one request
against its own view (POST /v1/authorize): during propagation the regions may
disagree, which is the exposure window this project measures. --token T waits, at
each region, until the mutation T is applied there before deciding (at_least);
--max-lag fails closed when the region's view lags more than that. Exit status 1
when a node does not answer or fails closed. --endpoint FILE sends the request
through a VPC endpoint with that policy (named after the file).`,
		Example: `  scenario cluster authorize --principal anonymous --action s3:GetObject --resource arn:aws:s3:::b/k
  scenario cluster authorize --principal anonymous --action s3:GetObject --resource arn:aws:s3:::b/k --token us-east-2/4
  scenario cluster authorize --at eu-west-1 --max-lag 1s --principal ... --action ... --resource ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			for _, fl := range []struct{ name, v string }{{"--principal", req.Principal}, {"--action", req.Action}, {"--resource", req.Resource}} {
				if fl.v == "" {
					return invalidInput(fmt.Errorf("%s is required", fl.name))
				}
			}
			if ctxJSON != "" {
				if err := json.Unmarshal([]byte(ctxJSON), &req.Context); err != nil {
					return invalidInput(fmt.Errorf("--context: want a JSON object of condition keys, e.g. '{\"aws:SourceIp\":\"10.0.0.1\"}': %v", err))
				}
			}
			if endpoint != "" {
				doc, err := os.ReadFile(endpoint)
				if err != nil {
					return invalidInput(fmt.Errorf("--endpoint: %w", err))
				}
				// The node validates the policy; only JSON travels.
				if !json.Valid(doc) {
					return invalidInput(fmt.Errorf("--endpoint %s: not a JSON policy document", endpoint))
				}
				req.Endpoint = &wire.Endpoint{Name: strings.TrimSuffix(filepath.Base(endpoint), filepath.Ext(endpoint)), Policy: doc}
			}
			switch {
			case mode != "":
				req.Consistency = &wire.ConsistencyReq{Mode: mode, Token: token, Timeout: timeout, MaxLag: maxLag}
			case token != "" && maxLag != "":
				return invalidInput(errors.New("--token and --max-lag exclude each other"))
			case token != "":
				req.Consistency = &wire.ConsistencyReq{Mode: "at_least", Token: token, Timeout: timeout}
			case maxLag != "":
				req.Consistency = &wire.ConsistencyReq{Mode: "max_lag", MaxLag: maxLag}
			case timeout != "":
				return invalidInput(errors.New("--timeout needs --token (it bounds the wait for that mutation)"))
			}
			if at != "" {
				c, err := pickNode(cmd.Context(), cls, at)
				if err != nil {
					return err
				}
				cls = []*apiclient.Client{c}
			}
			all := make([]nodeDecision, len(cls))
			var bad []string
			for i, c := range cls {
				ctx, cancel := context.WithTimeout(cmd.Context(), wire.MaxWait+callTimeout)
				resp, err := c.Authorize(ctx, req)
				cancel()
				all[i].URL = c.URL()
				if err != nil {
					var ae *apiclient.Error
					if errors.As(err, &ae) && ae.Status == 400 {
						return invalidInput(fmt.Errorf("%s: %s", c.URL(), errText(err)))
					}
					if errors.As(err, &ae) {
						all[i].Code = ae.Code
					}
					all[i].Error = errText(err)
					bad = append(bad, c.URL())
					continue
				}
				all[i].Response = &resp
			}
			out := cmd.OutOrStdout()
			if f.json {
				if err := printJSON(out, all); err != nil {
					return err
				}
			} else {
				printDecisions(out, all)
			}
			if len(bad) > 0 {
				return failed(fmt.Errorf("no decision from %s", strings.Join(bad, ", ")))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&req.Principal, "principal", "", `who asks: an ARN, or "anonymous"`)
	fl.StringVar(&req.Action, "action", "", "the action, e.g. s3:GetObject")
	fl.StringVar(&req.Resource, "resource", "", "the resource ARN, e.g. arn:aws:s3:::bucket/key")
	fl.StringVar(&ctxJSON, "context", "", `condition keys as a JSON object, e.g. '{"aws:SourceIp":"10.0.0.1"}'`)
	fl.StringVar(&at, "at", "", "ask only the node serving this region (default: every node)")
	fl.StringVar(&token, "token", "", "consistency token (a mutation id): decide only once it is applied (at_least)")
	fl.StringVar(&timeout, "timeout", "", "with --token: how long a region may wait for it (default 1s, at most 30s)")
	fl.StringVar(&maxLag, "max-lag", "", "fail closed when the region's view lags more than this, e.g. 1s")
	fl.StringVar(&mode, "consistency", "", "the consistency mode, when not implied by --token or --max-lag: local, at_least or max_lag")
	fl.StringVar(&endpoint, "endpoint", "", "the VPC endpoint policy file (AWS JSON) the request goes through; it must allow the request too")
	return cmd
}

func printDecisions(out io.Writer, all []nodeDecision) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tREGION\tDECISION\tLAG\tDIGEST\tREASON")
	decisions := map[string]bool{}
	for _, d := range all {
		if d.Response == nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%s\n", d.URL, d.Error)
			continue
		}
		r := d.Response
		decisions[r.Decision] = true
		lag := fmtSeconds(r.View.LagSeconds)
		if r.View.Stale {
			lag += " (stale)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.URL, r.View.Region, r.Decision, lag, short(r.View.Digest), r.Reason)
	}
	w.Flush()
	if len(decisions) > 1 {
		fmt.Fprintln(out, "the regions disagree: a change is still propagating")
	}
}

// --- wait -----------------------------------------------------------------

// waitResult is the outcome of `cluster wait`, as printed by --json.
type waitResult struct {
	ID       string  `json:"id"`
	Complete bool    `json:"complete"`
	TimedOut bool    `json:"timed_out"`
	Waited   float64 `json:"waited_seconds"`
	// Node is the node whose answer this is.
	Node   string               `json:"node,omitempty"`
	Status *wire.MutationStatus `json:"status,omitempty"`
	Error  string               `json:"error,omitempty"`
}

// Timing of `cluster wait`: each long poll is short enough that progress
// shows as regions apply; an id no node knows for unknownGrace is a typo
// or a mutation that was never committed, not one still propagating.
const (
	waitPoll     = time.Second
	unknownGrace = 5 * time.Second
)

// errNoSuchMutation: every node that answered said it does not know the id.
var errNoSuchMutation = errors.New("no node knows this mutation")

// waitMutation polls the nodes (moving on from one that fails) until id is
// applied in every region or timeout runs out. progress, if not nil, sees
// every status received.
func waitMutation(ctx context.Context, cls []*apiclient.Client, id string, timeout time.Duration, progress func(wire.MutationStatus)) (waitResult, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	res := waitResult{ID: id}
	var lastErr error
	var firstUnknown time.Time
	seenKnown := false
	i := 0
	failures := 0 // consecutive failed calls
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			break
		}
		c := cls[i%len(cls)]
		poll := min(remaining, waitPoll)
		cctx, cancel := context.WithTimeout(ctx, poll+callTimeout)
		st, err := c.WaitMutation(cctx, id, poll.Round(time.Millisecond))
		cancel()
		if err == nil {
			failures = 0
			seenKnown = true
			res.Node, res.Status = c.URL(), &st
			if progress != nil {
				progress(st)
			}
			if st.Complete {
				res.Complete = true
				break
			}
			continue
		}
		var ae *apiclient.Error
		switch {
		case errors.As(err, &ae) && ae.Code == "NoSuchMutation":
			if firstUnknown.IsZero() {
				firstUnknown = time.Now()
			}
			if !seenKnown && time.Since(firstUnknown) >= min(unknownGrace, timeout) {
				res.Error = errNoSuchMutation.Error()
				res.Waited = time.Since(start).Seconds()
				return res, errNoSuchMutation
			}
		case errors.As(err, &ae) && ae.Status == 400:
			res.Error = errText(err)
			return res, invalidInput(fmt.Errorf("%s: %s", c.URL(), errText(err)))
		}
		lastErr = fmt.Errorf("%s: %s", c.URL(), errText(err))
		i++ // ask the next node
		failures++
		if failures >= len(cls) {
			// Every node failed in a row: pause instead of spinning.
			select {
			case <-ctx.Done():
			case <-time.After(min(200*time.Millisecond, max(0, time.Until(deadline)))):
			}
			failures = 0
		}
	}
	res.Waited = time.Since(start).Seconds()
	if !seenKnown && !firstUnknown.IsZero() {
		res.Error = errNoSuchMutation.Error()
		return res, errNoSuchMutation
	}
	if !res.Complete {
		res.TimedOut = true
		if res.Status == nil && lastErr != nil {
			res.Error = lastErr.Error()
		}
	}
	return res, nil
}

// validMutationID checks the id's form locally (replication's own parser:
// "origin/seq", or "origin@epoch/seq" after a lost log), so a typo is
// invalid input (exit 2) whatever the nodes' state.
func validMutationID(id string) error {
	if _, err := replication.ParseMutationID(id); err != nil {
		return fmt.Errorf("mutation id %q: want ORIGIN/SEQ or ORIGIN@EPOCH/SEQ, e.g. us-east-2/17 (the \"id\" of a commit): %v", id, err)
	}
	return nil
}

// regionProgress prints a line per region whose status changed since the
// last status, so a terminal shows the mutation spreading.
type regionProgress struct {
	w     io.Writer
	start time.Time
	last  map[string]string
}

func (p *regionProgress) update(st wire.MutationStatus) {
	if p.last == nil {
		p.last = map[string]string{}
	}
	for _, r := range slices.Sorted(maps.Keys(st.Regions)) {
		rs := st.Regions[r]
		if p.last[r] == rs.Status {
			continue
		}
		p.last[r] = rs.Status
		line := fmt.Sprintf("%6.1fs  %-16s %s", time.Since(p.start).Seconds(), r, rs.Status)
		if rs.Reason != "" {
			line += " (" + rs.Reason + ")"
		}
		fmt.Fprintln(p.w, line)
	}
	fmt.Fprintf(p.w, "%6.1fs  applied in %d of %d regions\n", time.Since(p.start).Seconds(), len(st.Applied), len(st.Regions))
}

func newClusterWaitCmd(f *clusterFlags) *cobra.Command {
	var (
		timeout  time.Duration
		progress string
	)
	cmd := &cobra.Command{
		Use:   "wait MUTATION_ID",
		Short: "Wait until a mutation is applied in every region",
		Long: `wait follows a mutation (the id a commit returns) until every region of the cluster
has applied it, like 'kubectl rollout status'. It asks one node at a time (long
polls of GET /v1/mutations/{id}?wait=) and moves on to the next when one does not
answer; every node reports every region, so one live node is enough. A region that
is down, suspect or silent is "unknown" and never counts as applied: the wait ends
only when it is back and has applied the mutation, or an operator removes it from
the cluster (DELETE /v1/cluster/members/{region}).

On a terminal it prints each region's progress as it changes (--progress).
Exit status: 0 applied everywhere; 1 timed out (the regions still pending or
unknown are named) or no node answered; 2 invalid input, or no node knows the id.`,
		Example: `  scenario cluster wait us-east-2/17
  scenario cluster wait --timeout 2m --json us-east-2/17
  id=$(scenario cluster commit --json iam:DeleteUser '{"user_name":"alice"}' | jq -r .id) && scenario cluster wait "$id"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			id := strings.TrimSpace(args[0])
			if err := validMutationID(id); err != nil {
				return invalidInput(err)
			}
			if timeout <= 0 {
				return invalidInput(fmt.Errorf("--timeout %v: want a positive duration, e.g. 60s", timeout))
			}
			var show bool
			switch progress {
			case "auto":
				fl, ok := cmd.ErrOrStderr().(*os.File)
				show = ok && term.IsTerminal(int(fl.Fd()))
			case "always":
				show = true
			case "never":
			default:
				return invalidInput(fmt.Errorf("--progress %q: want auto, always or never", progress))
			}
			var onStatus func(wire.MutationStatus)
			if show {
				p := &regionProgress{w: cmd.ErrOrStderr(), start: time.Now()}
				onStatus = p.update
			}
			res, err := waitMutation(cmd.Context(), cls, id, timeout, onStatus)
			out := cmd.OutOrStdout()
			if errors.Is(err, errNoSuchMutation) {
				if f.json {
					_ = printJSON(out, res)
				}
				return invalidInput(fmt.Errorf("%s: %v (a typo, or a commit that failed?)", id, err))
			}
			if err != nil {
				return err
			}
			if f.json {
				if err := printJSON(out, res); err != nil {
					return err
				}
			} else {
				printWait(out, res, timeout)
			}
			if res.Complete {
				return nil
			}
			return failed(errors.New(waitFailure(res, timeout)))
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long (exit 1)")
	fl.StringVar(&progress, "progress", "auto", "print each region's progress on stderr: auto (on a terminal), always or never")
	return cmd
}

// waitFailure is the one-line reason a wait ended without completion.
func waitFailure(res waitResult, timeout time.Duration) string {
	if res.Status == nil {
		return fmt.Sprintf("%s: no node answered within %v: %s", res.ID, timeout, res.Error)
	}
	st := res.Status
	var unknown, pending []string
	for _, r := range st.Pending {
		if rs := st.Regions[r]; rs.Status == wire.StatusUnknown {
			u := r
			if rs.Reason != "" {
				u += " [" + rs.Reason + "]"
			}
			unknown = append(unknown, u)
		} else {
			pending = append(pending, r)
		}
	}
	msg := fmt.Sprintf("%s not applied in every region within %v: applied in %d of %d", res.ID, timeout, len(st.Applied), len(st.Regions))
	if len(pending) > 0 {
		msg += "; pending: " + strings.Join(pending, ", ")
	}
	if len(unknown) > 0 {
		msg += "; unknown: " + strings.Join(unknown, ", ")
	}
	return msg
}

func printWait(out io.Writer, res waitResult, timeout time.Duration) {
	if res.Status == nil {
		fmt.Fprintf(out, "%s: no answer within %v\n", res.ID, timeout)
		return
	}
	st := res.Status
	if res.Complete {
		fmt.Fprintf(out, "%s: applied in every region (%d of %d) after %s\n", res.ID, len(st.Applied), len(st.Regions), fmtSeconds(res.Waited))
	} else {
		fmt.Fprintf(out, "%s: NOT applied everywhere after %v: applied in %d of %d regions\n", res.ID, timeout, len(st.Applied), len(st.Regions))
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tSTATUS\tAPPLIED AFTER COMMIT\tREASON")
	for _, r := range slices.Sorted(maps.Keys(st.Regions)) {
		rs := st.Regions[r]
		after := "-"
		if rs.AppliedAt != nil && st.CommittedAt != nil {
			after = "+" + rs.AppliedAt.Sub(*st.CommittedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r, rs.Status, after, rs.Reason)
	}
	w.Flush()
}

// --- faults ---------------------------------------------------------------

// nodeFaults is one node's faults.
type nodeFaults struct {
	URL    string          `json:"url"`
	Error  string          `json:"error,omitempty"`
	Faults *wire.FaultSpec `json:"faults,omitempty"`
}

func newClusterFaultsCmd(f *clusterFlags) *cobra.Command {
	var (
		set   string
		clear bool
	)
	cmd := &cobra.Command{
		Use:   "faults [--set FILE | --clear]",
		Short: "Show, set or clear the injected network faults of every node",
		Long: `faults shows each node's injected network faults (GET /v1/faults); --set FILE posts a
fault document (JSON, see docs/api.md: partition, partition_oneway, links) to every
node, and --clear removes them. FILE "-" reads standard input. The document names
regions, so the same one goes to every node; it is checked before anything is sent.`,
		Example: `  scenario cluster faults
  echo '{"partition":[["us-east-2"],["eu-west-1","ap-southeast-2"]]}' | scenario cluster faults --set -
  scenario cluster faults --clear`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cls, err := f.clients()
			if err != nil {
				return err
			}
			if set != "" && clear {
				return invalidInput(errors.New("--set and --clear exclude each other"))
			}
			var spec wire.FaultSpec
			if set != "" {
				var b []byte
				if set == "-" {
					b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), wire.MaxBodyBytes+1))
				} else {
					b, err = os.ReadFile(set)
				}
				if err != nil {
					return invalidInput(fmt.Errorf("--set: %w", err))
				}
				if len(bytes.TrimSpace(b)) == 0 {
					return invalidInput(fmt.Errorf("--set %s: empty; want a JSON fault document such as {\"partition\":[[\"us-east-2\"],[\"eu-west-1\"]]}", set))
				}
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&spec); err != nil {
					return invalidInput(fmt.Errorf("--set %s: %v", set, err))
				}
				if err := spec.Validate(); err != nil {
					return invalidInput(fmt.Errorf("--set %s: %v", set, err))
				}
			}
			all := make([]nodeFaults, len(cls))
			var bad []string
			for i, c := range cls {
				ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
				switch {
				case set != "":
					err = c.SetFaults(ctx, spec)
				case clear:
					err = c.ClearFaults(ctx)
				}
				var got wire.FaultSpec
				if err == nil {
					got, err = c.Faults(ctx)
				}
				cancel()
				all[i].URL = c.URL()
				if err != nil {
					all[i].Error = errText(err)
					bad = append(bad, c.URL())
					continue
				}
				all[i].Faults = &got
			}
			out := cmd.OutOrStdout()
			if f.json {
				if err := printJSON(out, all); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "NODE\tFAULTS")
				for _, nf := range all {
					text := nf.Error
					if nf.Faults != nil {
						text = "none"
						if !nf.Faults.Empty() {
							b, _ := json.Marshal(nf.Faults)
							text = string(b)
						}
					}
					fmt.Fprintf(w, "%s\t%s\n", nf.URL, text)
				}
				w.Flush()
			}
			if len(bad) > 0 {
				return failed(fmt.Errorf("%d of %d nodes failed: %s", len(bad), len(all), strings.Join(bad, ", ")))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&set, "set", "", "post this fault document (JSON file, or - for stdin) to every node")
	fl.BoolVar(&clear, "clear", false, "remove every node's injected faults")
	return cmd
}
