package controlplane

import (
	"fmt"
	"strings"
)

// catalogHeader introduces docs/mutations.md. It is part of the rendered
// document, so edit it here, not in the file.
const catalogHeader = `# Mutation catalog

<!-- Generated from the code by package controlplane. Do not edit by hand:
     run ` + "`go test ./controlplane -run TestCatalogDoc -update`" + ` to rewrite this file.
     TestCatalogDocUpToDate fails when it differs from what Catalog() renders. -->

Every control-plane mutation iamprop accepts, in a scenario step (` + "`call`" + ` and ` + "`with`" + `),
in the initial ` + "`state`" + ` (which the runner turns into these calls) and in
` + "`POST /v1/mutations`" + ` (` + "`call`" + ` and ` + "`with`" + `). Calls are named after the AWS API action;
arguments are the AWS request parameters in snake_case (UserName -> ` + "`user_name`" + `,
PolicyArn -> ` + "`policy_arn`" + `). A policy-document argument takes the document as a JSON
object, or serialized in a JSON string as the AWS CLI does; in a scenario it may also name a
document of the scenario's ` + "`policies`" + `.

## How calls are checked and applied

- **At the origin** (commit), a call is validated against the origin region's view with AWS's own
  error codes, listed per call below. A rejected call is never committed. An unknown argument, a
  missing required one or a wrong type is a ` + "`ValidationError`" + ` naming the argument.
- **In every region** (apply), the committed calls are folded in the total order (HLC timestamp,
  origin, sequence). Each call runs the same checks against the view at its place in the fold; a
  call that no longer passes (another region committed a conflicting call that comes first, e.g.
  both created user ` + "`alice`" + `) is a no-op, counted as a conflict. So every region that applied the
  same calls holds the same view, and a call is applied whole or not at all.
- **Deletes leave tombstones**: a view that created and deleted a user differs (in its digest) from
  one that never saw it, and an access key id, once deleted, can never be created again (AWS never
  reuses key ids).
- **Accounts and the organization**: ` + "`organizations:CreateAccount`" + ` registers an account (its id is an
  argument, so runs are deterministic). The first account created is the default account (the
  caller of a call that names none) and the organization's management account; every account
  is a member of the one organization, under the root unless moved to an OU. Only the management
  account may change the organization, and SCPs and RCPs never restrict it or its resources.
  The first SCP (or RCP) created enables that policy type: like AWS, iamprop then attaches the
  AWS-managed FullAWSAccess (RCPFullAWSAccess) policy to the root, every OU and every account, so a
  Deny SCP attached anywhere takes effect and an allow-list SCP needs FullAWSAccess detached.
- **Names**: IAM user, group, role and policy names are unique per account regardless of case.
  Organization policies and OUs are referred to by id or by name (` + "`ou:NAME`" + ` for an OU, ` + "`root`" + ` for the root).
- **Grant or revoke**: each call is classified for the propagation delay models (` + "`revoke`" + ` in a
  scenario's ` + "`propagation`" + `). The rule is by call, not by document content: deleting or detaching
  what grants is a revoke; removing a restriction (a boundary, Block Public Access, an SCP) is a
  grant; replacing a document in place (PutBucketPolicy, Put*Policy, a new default version) is a
  revoke, because tightening is why documents are rewritten and exposure comes from revokes;
  adding a restriction is a revoke; creating, attaching and adding are grants.
- **Data-plane writes**: ` + "`s3:PutObject`" + ` and ` + "`s3:DeleteObject`" + ` are not control-plane changes. A
  scenario runs them in the bucket's home region, where they are in force at once (S3's
  read-after-write consistency); the other regions' views take their copy on receipt, with no
  propagation delay, only so that every view converges: no request for an object is decided
  outside its bucket's region (docs/scenario-format.md).

`

// RenderCatalog renders Catalog() as the Markdown of docs/mutations.md.
func RenderCatalog() string {
	var b strings.Builder
	b.WriteString(catalogHeader)
	specs := Catalog()
	b.WriteString("## Calls\n\n| call | grant or revoke | what it does |\n| --- | --- | --- |\n")
	for _, c := range specs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", c.Action, anchor(c.Action), c.Revoke, c.Description)
	}
	for _, c := range specs {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", c.Action, c.Description)
		if len(c.Args) == 0 {
			b.WriteString("No arguments.\n")
		} else {
			b.WriteString("| argument | type | required | meaning |\n| --- | --- | --- | --- |\n")
			for _, a := range c.Args {
				req := "no"
				if a.Required {
					req = "yes"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, a.Type, req, strings.ReplaceAll(a.Description, "|", "\\|"))
			}
		}
		fmt.Fprintf(&b, "\nErrors: %s.\n\nClassified as: %s.\n", "`"+strings.Join(c.Errors, "`, `")+"`", c.Revoke)
	}
	return b.String()
}

// anchor is the GitHub heading anchor of an action name.
func anchor(action string) string {
	return strings.ToLower(strings.ReplaceAll(action, ":", ""))
}
