// Package bench compares iamprop's IAM evaluator with cedar-go deciding an
// equivalent policy set, in one benchmark run. It is a separate module so
// that iamprop itself never depends on cedar-go.
//
// The policy sets are the realistic request: a user in 3 groups with 10
// managed policies of 10 statements each (some with conditions and policy
// variables), one SCP level, a permissions boundary and a bucket policy; one
// mirrors the evaluator's own benchmark (docs/benchmarks.md ("Evaluator benchmark")), the
// other was designed here. Each is one table of statements rendered twice: to
// AWS JSON for iamprop and to Cedar for cedar-go, so both engines decide the
// same thing.
package bench

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// cond is the subset of IAM conditions the set uses, each with a direct
// Cedar counterpart.
type cond struct {
	sourceCIDR string // IpAddress aws:SourceIp
	team       string // StringEquals aws:PrincipalTag/team
	tls        *bool  // Bool aws:SecureTransport
	region     bool   // StringNotEquals aws:RequestedRegion [us-east-1, eu-west-1] (for an SCP Deny)
	account    string // StringEquals aws:PrincipalAccount
}

type stmt struct {
	sid       string
	deny      bool
	principal string   // resource policies: "*" or an ARN; "" for identity-like policies
	actions   []string // IAM action patterns
	resources []string // IAM resource patterns; "${aws:username}" allowed at the end of a path segment
	cond      cond
}

type policy struct {
	name   string
	attach string // identity policies: "user" or a group name
	stmts  []stmt
}

var (
	yes = true
	no  = false
)

// catalog lists the concrete actions requests may use. Cedar has no action
// wildcards: an IAM pattern becomes the set of catalog actions it matches
// (what an IAM engine would match at run time).
var catalog = []string{
	"s3:GetObject", "s3:GetObjectAcl", "s3:PutObject", "s3:DeleteObject", "s3:DeleteBucket",
	"s3:ListBucket", "s3:ListAllMyBuckets",
	"dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:PutItem", "dynamodb:Query",
	"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:StartInstances", "ec2:StopInstances",
	"sqs:SendMessage", "sqs:ReceiveMessage",
	"iam:CreateUser", "iam:PassRole",
	"organizations:LeaveOrganization",
	"sqs:GetQueueUrl", "sqs:ListQueues", "sns:GetTopicAttributes", "sns:ListTopics",
	"lambda:GetFunction", "lambda:ListFunctions", "iam:GetUser", "iam:ListUsers",
	"kms:GetKeyPolicy", "kms:ListKeys", "logs:GetLogEvents", "logs:ListTagsForResource",
	"cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "ec2:GetConsoleOutput",
}

const (
	account    = "111122223333"
	userName   = "alice"
	userARN    = "arn:aws:iam::" + account + ":user/" + userName
	dataBucket = "data-bucket"
)

// groups of the user, and which managed policies hang where: policies 0-2
// on the user, 3-5 on group dev, 6-7 on group data, 8-9 on group oncall.
var groups = []string{"dev", "data", "oncall"}

func attachment(p int) string {
	switch {
	case p < 3:
		return "user"
	case p < 6:
		return "dev"
	case p < 8:
		return "data"
	}
	return "oncall"
}

// managedPolicies builds the 10 x 10 identity statements. Only the very last
// statement grants the benchmark request, so an engine that scans in order
// does all the work; one Deny (policy 0) must be checked on every request.
func managedPolicies() []policy {
	var out []policy
	for p := 0; p < 10; p++ {
		pol := policy{name: fmt.Sprintf("managed-%d", p), attach: attachment(p)}
		for s := 0; s < 10; s++ {
			st := stmt{sid: fmt.Sprintf("P%dS%d", p, s)}
			switch s % 5 {
			case 0:
				st.actions = []string{"s3:GetObject"}
				st.resources = []string{fmt.Sprintf("arn:aws:s3:::bucket-%d-%d/*", p, s)}
			case 1:
				st.actions = []string{"s3:List*"}
				st.resources = []string{fmt.Sprintf("arn:aws:s3:::bucket-%d-%d", p, s)}
			case 2:
				st.actions = []string{"dynamodb:Get*", "dynamodb:Query"}
				st.resources = []string{fmt.Sprintf("arn:aws:dynamodb:*:%s:table/t-%d-%d", account, p, s)}
			case 3:
				st.actions = []string{"ec2:Describe*", "ec2:StartInstances"}
				st.resources = []string{"*"}
			case 4:
				st.actions = []string{"s3:GetObject", "s3:PutObject"}
				st.resources = []string{fmt.Sprintf("arn:aws:s3:::home-%d/${aws:username}/*", p)}
			}
			if s%3 == 0 {
				st.cond.sourceCIDR = fmt.Sprintf("10.%d.0.0/16", p)
			}
			if s%4 == 1 {
				st.cond.team = fmt.Sprintf("team-%d", p)
			}
			pol.stmts = append(pol.stmts, st)
		}
		out = append(out, pol)
	}
	// The one Deny: nobody deletes buckets.
	out[0].stmts[0] = stmt{sid: "DenyDeleteBucket", deny: true, actions: []string{"s3:DeleteBucket"}, resources: []string{"*"}}
	// The statement that grants the request: the user's home folder in the
	// data bucket, over TLS, from the office.
	out[9].stmts[9] = stmt{
		sid: "HomeFolder", actions: []string{"s3:GetObject", "s3:PutObject"},
		resources: []string{"arn:aws:s3:::" + dataBucket + "/home/${aws:username}/*"},
		cond:      cond{sourceCIDR: "203.0.113.0/24", tls: &yes},
	}
	return out
}

func scp() policy {
	return policy{name: "scp-root", stmts: []stmt{
		{sid: "FullAWSAccess", actions: []string{"*"}, resources: []string{"*"}},
		{sid: "NoLeaving", deny: true, actions: []string{"organizations:LeaveOrganization"}, resources: []string{"*"}},
		{sid: "TwoRegions", deny: true, actions: []string{"*"}, resources: []string{"*"}, cond: cond{region: true}},
	}}
}

func boundary() policy {
	return policy{name: "boundary", stmts: []stmt{
		{sid: "Workloads", actions: []string{"s3:*", "dynamodb:*", "ec2:Describe*", "sqs:*"}, resources: []string{"*"}},
		{sid: "NoIAM", deny: true, actions: []string{"iam:*"}, resources: []string{"*"}},
	}}
}

func bucketPolicy() policy {
	return policy{name: "bucket-policy", stmts: []stmt{
		{sid: "DenyPlainHTTP", deny: true, principal: "*", actions: []string{"s3:*"},
			resources: []string{"arn:aws:s3:::" + dataBucket, "arn:aws:s3:::" + dataBucket + "/*"}, cond: cond{tls: &no}},
		{sid: "PartnerReads", principal: "arn:aws:iam::444455556666:role/etl", actions: []string{"s3:GetObject"},
			resources: []string{"arn:aws:s3:::" + dataBucket + "/exports/*"}},
	}}
}

// awsJSON renders a policy as an AWS policy document.
func (p policy) awsJSON() []byte {
	type doc struct {
		Version   string
		Statement []map[string]any
	}
	d := doc{Version: "2012-10-17"}
	for _, s := range p.stmts {
		m := map[string]any{"Sid": s.sid, "Effect": "Allow", "Action": s.actions, "Resource": s.resources}
		if s.deny {
			m["Effect"] = "Deny"
		}
		if s.principal == "*" {
			m["Principal"] = "*"
		} else if s.principal != "" {
			m["Principal"] = map[string]any{"AWS": s.principal}
		}
		c := map[string]any{}
		if s.cond.sourceCIDR != "" {
			c["IpAddress"] = map[string]any{"aws:SourceIp": s.cond.sourceCIDR}
		}
		if s.cond.team != "" || s.cond.account != "" {
			eq := map[string]any{}
			if s.cond.team != "" {
				eq["aws:PrincipalTag/team"] = s.cond.team
			}
			if s.cond.account != "" {
				eq["aws:PrincipalAccount"] = s.cond.account
			}
			c["StringEquals"] = eq
		}
		if s.cond.tls != nil {
			c["Bool"] = map[string]any{"aws:SecureTransport": fmt.Sprint(*s.cond.tls)}
		}
		if s.cond.region {
			c["StringNotEquals"] = map[string]any{"aws:RequestedRegion": []string{"us-east-1", "eu-west-1"}}
		}
		if len(c) > 0 {
			m["Condition"] = c
		}
		d.Statement = append(d.Statement, m)
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // a fixed table of strings always marshals
	}
	return b
}

// globMatch is IAM's * and ? matching, used only to expand action patterns
// over the catalog when rendering Cedar.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	}
	return s != "" && strings.EqualFold(pattern[:1], s[:1]) && globMatch(pattern[1:], s[1:])
}

func expandActions(patterns []string) []string {
	set := map[string]bool{}
	for _, a := range catalog {
		for _, p := range patterns {
			if globMatch(p, a) {
				set[a] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// actionGroup names the Cedar action group standing for a list of IAM
// action patterns.
func actionGroup(patterns []string) string {
	return "group:" + strings.Join(patterns, ",")
}

// actionGroups returns, for each catalog action, the groups it belongs to.
func (set *Set) actionGroups() map[string][]string {
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, p := range set.all() {
		for _, s := range p.stmts {
			g := actionGroup(s.actions)
			if seen[g] {
				continue
			}
			seen[g] = true
			for _, a := range expandActions(s.actions) {
				out[a] = append(out[a], g)
			}
		}
	}
	return out
}

// cedarResource renders an IAM resource pattern as a Cedar condition on the
// resource entity. `${aws:username}` becomes a comparison with the user's
// name: Cedar has no string concatenation, so the request carries the home
// folder's owner as a resource attribute (the key's segment after home/).
func cedarResource(pattern string) string {
	if pattern == "*" {
		return "true"
	}
	if i := strings.Index(pattern, "${aws:username}"); i >= 0 {
		prefix := pattern[:i]
		return fmt.Sprintf(`(resource has homeOwner && resource.arn like "%s*" && resource.homeOwner == principal.name)`, prefix)
	}
	return fmt.Sprintf(`resource.arn like "%s"`, pattern)
}

// cedar renders the policy as Cedar. scope is the principal clause for
// identity policies ("principal in Group::\"dev\""); mode says how the
// statements combine with the rest:
//   - "grant": Allow -> permit, Deny -> forbid (identity and resource policies);
//   - "limit": the policy is a maximum (SCP, boundary): a request that no
//     Allow statement matches is forbidden, Deny -> forbid.
func (p policy) cedar(scope, mode string) string {
	var b strings.Builder
	var allows []string
	for i, s := range p.stmts {
		// Cedar's idiom for a set of actions is an action group: an action
		// entity that the concrete actions name as parent.
		actionClause := fmt.Sprintf(`action in Action::%q`, actionGroup(s.actions))
		var res []string
		for _, r := range s.resources {
			res = append(res, cedarResource(r))
		}
		conds := []string{"(" + strings.Join(res, " || ") + ")"}
		if s.cond.sourceCIDR != "" {
			conds = append(conds, fmt.Sprintf(`(context has sourceIp && context.sourceIp.isInRange(ip(%q)))`, s.cond.sourceCIDR))
		}
		if s.cond.team != "" {
			conds = append(conds, fmt.Sprintf(`(principal has team && principal.team == %q)`, s.cond.team))
		}
		if s.cond.account != "" {
			conds = append(conds, fmt.Sprintf(`(principal has account && principal.account == %q)`, s.cond.account))
		}
		if s.cond.tls != nil {
			conds = append(conds, fmt.Sprintf(`(context has secureTransport && context.secureTransport == %v)`, *s.cond.tls))
		}
		if s.cond.region {
			// StringNotEquals is true when the key is missing.
			conds = append(conds, `!(context has requestedRegion && ["us-east-1", "eu-west-1"].contains(context.requestedRegion))`)
		}
		principal := scope
		switch {
		case s.principal == "*":
			principal = "principal"
		case strings.HasSuffix(s.principal, ":root") && !s.deny:
			// An account principal in a resource policy delegates to that
			// account's identity policies: it grants nothing by itself,
			// so it has no Cedar permit.
			continue
		case strings.Contains(s.principal, ":role/"):
			principal = fmt.Sprintf(`principal == Role::%q`, s.principal)
		case s.principal != "":
			principal = fmt.Sprintf(`principal == User::%q`, s.principal)
		}
		when := strings.Join(conds, " && ")
		if s.deny || mode == "grant" {
			effect := "permit"
			if s.deny {
				effect = "forbid"
			}
			fmt.Fprintf(&b, "@id(%q)\n%s (%s, %s, resource) when { %s };\n", fmt.Sprintf("%s/%d", p.name, i), effect, principal, actionClause, when)
			continue
		}
		allows = append(allows, "("+actionClause+" && "+when+")")
	}
	if mode == "limit" {
		fmt.Fprintf(&b, "@id(%q)\nforbid (principal, action, resource) unless { %s };\n", p.name+"/max", strings.Join(allows, " || "))
	}
	return b.String()
}

// cedarPolicySet renders the whole set.
func (set *Set) cedarPolicySet() string {
	var b strings.Builder
	for _, p := range set.managed {
		scope := fmt.Sprintf(`principal == User::%q`, userName)
		if p.attach != "user" {
			scope = fmt.Sprintf(`principal in Group::%q`, p.attach)
		}
		b.WriteString(p.cedar(scope, "grant"))
	}
	b.WriteString(set.scp.cedar("principal", "limit"))
	b.WriteString(set.boundary.cedar("principal", "limit"))
	b.WriteString(set.bucket.cedar("principal", "grant"))
	return b.String()
}

// The evaluator's own benchmark set, exactly as docs/benchmarks.md ("Evaluator benchmark")
// describes it, so both documents measure the same thing.

var evalServices = []string{"s3", "ec2", "dynamodb", "sqs", "sns", "lambda", "iam", "kms", "logs", "cloudwatch"}

func evalManagedPolicies() []policy {
	var out []policy
	for i := 0; i < 10; i++ {
		pol := policy{name: fmt.Sprintf("managed-%d", i), attach: attachment(i)}
		for j := 0; j < 10; j++ {
			switch j {
			case 9:
				pol.stmts = append(pol.stmts, stmt{sid: "Home", actions: []string{"s3:GetObject"},
					resources: []string{"arn:aws:s3:::corp-data/home/${aws:username}/*"}, cond: cond{account: account}})
				continue
			case 8:
				pol.stmts = append(pol.stmts, stmt{sid: "NoDelete", deny: true, actions: []string{"s3:DeleteObject"}, resources: []string{"*"}})
				continue
			}
			svc := evalServices[(i+j)%10]
			st := stmt{sid: fmt.Sprintf("S%d", j), actions: []string{svc + ":Get*", svc + ":List*"}}
			if svc == "s3" {
				st.resources = []string{fmt.Sprintf("arn:aws:s3:::team-%d-%d/*", i, j)}
			} else {
				st.resources = []string{fmt.Sprintf("arn:aws:%s:us-east-1:%s:res-%d-%d/*", svc, account, i, j)}
			}
			switch j % 3 {
			case 0:
				st.cond.sourceCIDR = fmt.Sprintf("10.%d.0.0/16", i)
			case 1:
				st.cond.tls = &yes
			}
			pol.stmts = append(pol.stmts, st)
		}
		out = append(out, pol)
	}
	return out
}

func evalSCP() policy {
	return policy{name: "scp-root", stmts: []stmt{
		{sid: "FullAWSAccess", actions: []string{"*"}, resources: []string{"*"}},
		{sid: "RegionLock", deny: true, actions: []string{"*"}, resources: []string{"*"}, cond: cond{region: true}},
	}}
}

func evalBoundary() policy {
	return policy{name: "boundary", stmts: []stmt{
		{sid: "Workloads", actions: []string{"s3:*", "ec2:*", "dynamodb:*"}, resources: []string{"*"}},
		{sid: "NoIAM", deny: true, actions: []string{"iam:*"}, resources: []string{"*"}},
	}}
}

func evalBucketPolicy() policy {
	return policy{name: "bucket-policy", stmts: []stmt{
		{sid: "TLSOnly", deny: true, principal: "*", actions: []string{"s3:*"},
			resources: []string{"arn:aws:s3:::corp-data", "arn:aws:s3:::corp-data/*"}, cond: cond{tls: &no}},
		{sid: "Account", principal: "arn:aws:iam::" + account + ":root", actions: []string{"s3:GetObject"}, resources: []string{"arn:aws:s3:::corp-data/*"}},
		{sid: "Partner", principal: "arn:aws:iam::444455556666:user/bob", actions: []string{"s3:PutObject"}, resources: []string{"arn:aws:s3:::corp-data/inbox/*"}},
	}}
}
