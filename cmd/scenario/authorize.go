package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/policytest"
)

// authorizeFlags are the request and the policy files of one decision.
type authorizeFlags struct {
	principal, rolePath, action, resource       string
	resourceAccount                             string
	context                                     []string
	identity, scps, rcps                        []string
	resourcePolicy, boundary, session, endpoint string
	managementAccount                           string
	restrictPublicBuckets                       bool
	asJSON                                      bool
}

func newAuthorizeCmd() *cobra.Command {
	var f authorizeFlags
	cmd := &cobra.Command{
		Use:   "authorize --principal P --action A --resource R [policy files]",
		Short: "Decide one request against policy files, and say why",
		Long: `authorize decides one request with iamprop's IAM evaluator against the policy
documents (AWS JSON) given on the command line, like the IAM policy simulator:
it prints the decision, the policy type that blocked it, the statements that
matched, the statements that did not apply and why, and a paragraph a learner
can follow. See docs/policy-tests.md, "One request: scenario authorize".

--scp and --rcp are given once per organization level, root first; a level
with several policies lists them separated by commas. The resource policy is
read as a trust policy when the action is sts:AssumeRole.

Exit status: 0 Allow, 1 ExplicitDeny or ImplicitDeny, 2 invalid input (a
policy file is reported as file:line:col: path: reason on stderr).`,
		Example: `  scenario authorize --principal arn:aws:iam::111122223333:user/alice \
    --action s3:GetObject --resource arn:aws:s3:::docs/a.pdf \
    --identity read-docs.json --boundary ec2-only.json
  scenario authorize --json --principal anonymous --action s3:GetObject \
    --resource arn:aws:s3:::docs/a.pdf --resource-account 111122223333 \
    --resource-policy bucket.json --context aws:SourceIp=203.0.113.5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, in, warnings, err := f.load()
			if err != nil {
				return invalidInput(err)
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			e := evaluator.ExplainRequest(req, in)
			if f.asJSON {
				if e.Matched == nil {
					e.Matched = []evaluator.MatchedStatement{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(e)
			} else {
				_, err = fmt.Fprint(cmd.OutOrStdout(), explanationText(e))
			}
			if err != nil {
				return failed(err)
			}
			if e.Decision != evaluator.Allow.String() {
				return failed(errSilent)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.principal, "principal", "", `who asks: "anonymous", an account id (its root user), a service principal, or a user, role, assumed-role or federated-user ARN (required)`)
	fl.StringVar(&f.rolePath, "role-path", "", `the path of the principal's role ("/team/"), which an assumed-role ARN does not show`)
	fl.StringVar(&f.action, "action", "", "the action, service:Action (required)")
	fl.StringVar(&f.resource, "resource", "", `the resource ARN, or "*" (required)`)
	fl.StringVar(&f.resourceAccount, "resource-account", "", "the account that owns the resource (default: the principal's)")
	fl.StringArrayVar(&f.context, "context", nil, `a request context key, KEY=VALUE (repeat; a JSON list value like '["a","b"]' is a multivalued key)`)
	fl.StringArrayVar(&f.identity, "identity", nil, "an identity-based policy file (repeat)")
	fl.StringVar(&f.resourcePolicy, "resource-policy", "", "the resource-based policy file (the trust policy for sts:AssumeRole)")
	fl.StringVar(&f.boundary, "boundary", "", "the permissions boundary file")
	fl.StringVar(&f.session, "session", "", "the session policy file")
	fl.StringVar(&f.endpoint, "endpoint", "", "the VPC endpoint policy file, when the request goes through an endpoint")
	fl.StringArrayVar(&f.scps, "scp", nil, "the SCP files of one organization level, comma-separated (repeat per level, root first)")
	fl.StringArrayVar(&f.rcps, "rcp", nil, "the RCP files of one organization level, comma-separated (repeat per level, root first)")
	fl.StringVar(&f.managementAccount, "management-account", "", "the organization's management account (SCPs and RCPs never restrict it)")
	fl.BoolVar(&f.restrictPublicBuckets, "restrict-public-buckets", false, "S3 Block Public Access RestrictPublicBuckets is on for the resource")
	fl.BoolVar(&f.asJSON, "json", false, `print {"decision", "matched", "blocked_by", "summary", ...} instead of text`)
	return cmd
}

// load builds the request and the policies; every problem is an error
// naming the flag or the file position.
func (f *authorizeFlags) load() (*evaluator.Request, *evaluator.Input, []string, error) {
	for _, req := range []struct{ name, val string }{{"principal", f.principal}, {"action", f.action}, {"resource", f.resource}} {
		if req.val == "" {
			return nil, nil, nil, fmt.Errorf("--%s is required", req.name)
		}
	}
	p, err := evaluator.ParsePrincipal(f.principal)
	if err != nil {
		return nil, nil, nil, err
	}
	if f.rolePath != "" {
		if f.rolePath[0] != '/' || f.rolePath[len(f.rolePath)-1] != '/' {
			return nil, nil, nil, fmt.Errorf("--role-path %q: an IAM path starts and ends with / (like /team/)", f.rolePath)
		}
		if p.Type != evaluator.PrincipalAssumedRole && p.Type != evaluator.PrincipalRole {
			return nil, nil, nil, fmt.Errorf("--role-path: only a role or an assumed-role session has a role path")
		}
		p.Path = f.rolePath
	}
	if !strings.Contains(f.action, ":") {
		return nil, nil, nil, fmt.Errorf("--action %q has no service prefix (want e.g. s3:GetObject)", f.action)
	}
	req := &evaluator.Request{Principal: p, Action: f.action, Resource: f.resource, ResourceAccount: f.resourceAccount}
	if len(f.context) > 0 {
		values := map[string]any{}
		for _, kv := range f.context {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, nil, nil, fmt.Errorf("--context %q: want KEY=VALUE", kv)
			}
			if _, dup := values[k]; dup {
				return nil, nil, nil, fmt.Errorf("--context %q: the key is given twice", k)
			}
			values[k] = v
			if strings.HasPrefix(v, "[") {
				var list []any
				if err := json.Unmarshal([]byte(v), &list); err != nil {
					return nil, nil, nil, fmt.Errorf("--context %s: a value starting with [ must be a JSON list: %v", k, err)
				}
				values[k] = list
			}
		}
		ctx, err := evaluator.NewContext(values)
		if err != nil {
			return nil, nil, nil, err
		}
		req.Context = ctx
	}
	l := &policyFiles{}
	in := &evaluator.Input{ManagementAccount: f.managementAccount}
	in.BlockPublicAccess.RestrictPublicBuckets = f.restrictPublicBuckets
	for _, file := range f.identity {
		in.Identity = append(in.Identity, l.parse(file, evaluator.KindIdentity))
	}
	if f.resourcePolicy != "" {
		kind := evaluator.KindResource
		if len(f.action) >= 14 && strings.EqualFold(f.action[:14], "sts:AssumeRole") {
			kind = evaluator.KindTrust
		}
		in.ResourcePolicy = l.parse(f.resourcePolicy, kind)
	}
	if f.boundary != "" {
		in.Boundary = l.parse(f.boundary, evaluator.KindBoundary)
	}
	if f.session != "" {
		in.Session = l.parse(f.session, evaluator.KindSession)
	}
	if f.endpoint != "" {
		in.Endpoint = l.parse(f.endpoint, evaluator.KindEndpoint)
	}
	in.SCPs = l.levels(f.scps, evaluator.KindSCP)
	in.RCPs = l.levels(f.rcps, evaluator.KindRCP)
	if len(l.errs) > 0 {
		return nil, nil, nil, errors.New(strings.Join(l.errs, "\n"))
	}
	return req, in, l.warnings, nil
}

// policyFiles parses policy files, collecting every problem of every file.
type policyFiles struct {
	errs, warnings []string
}

func (l *policyFiles) parse(file string, kind evaluator.Kind) *evaluator.Policy {
	data, err := os.ReadFile(file)
	if err != nil {
		l.errs = append(l.errs, err.Error())
		return nil
	}
	p, err := evaluator.Parse(file, kind, data)
	if err != nil {
		var ve *evaluator.ValidationError
		if errors.As(err, &ve) {
			for _, is := range ve.Issues {
				l.errs = append(l.errs, issueLine(file, is))
			}
		} else {
			l.errs = append(l.errs, fmt.Sprintf("%s: %v", file, err))
		}
		return nil
	}
	for _, is := range p.Warnings() {
		l.warnings = append(l.warnings, issueLine(file, is))
	}
	return p
}

func (l *policyFiles) levels(flags []string, kind evaluator.Kind) [][]*evaluator.Policy {
	var out [][]*evaluator.Policy
	for _, level := range flags {
		var pols []*evaluator.Policy
		for _, file := range strings.Split(level, ",") {
			if file = strings.TrimSpace(file); file != "" {
				pols = append(pols, l.parse(file, kind))
			}
		}
		out = append(out, pols)
	}
	return out
}

// issueLine renders one validation issue as file:line:col: path: reason.
func issueLine(file string, is evaluator.Issue) string {
	w := ""
	if is.Warning {
		w = "warning: "
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s%s", file, is.Line, is.Column, is.Path, w, is.Message)
}

// explanationText renders a decision the way test-policy renders a failure:
// the decision, the blocker, the paragraph, then one line per statement.
func explanationText(e evaluator.Explanation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "decision: %s\n", e.Decision)
	if e.BlockedBy != "" {
		fmt.Fprintf(&b, "blocked by: %s\n", e.BlockedBy)
	}
	fmt.Fprintf(&b, "%s\n", e.Summary)
	if len(e.Matched) == 0 {
		b.WriteString("matched: no statement\n")
	}
	for _, m := range e.Matched {
		id := m.Sid
		if id == "" {
			id = fmt.Sprintf("#%d", m.Index)
		}
		fmt.Fprintf(&b, "matched: %s (%s) statement %s: %s\n", m.Policy, m.Kind, id, m.Effect)
	}
	policytest.WriteWhyNot(&b, "", e)
	return b.String()
}
