package controlplane

import (
	"encoding/json"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

// View is a JSON-friendly description of a state's content, for
// GET /v1/view, the CLI's explain command and debugging. Every list is
// sorted, so equal states export equal Views.
type View struct {
	DefaultAccount string          `json:"default_account"`
	Accounts       []AccountView   `json:"accounts"`
	Users          []UserView      `json:"users"`
	Groups         []GroupView     `json:"groups"`
	Roles          []RoleView      `json:"roles"`
	Policies       []PolicyView    `json:"policies"`
	AccessKeys     []KeyView       `json:"access_keys"`
	Buckets        []BucketView    `json:"buckets"`
	OrgUnits       []OrgUnitView   `json:"org_units"`
	OrgPolicies    []OrgPolicyView `json:"org_policies"`
	Tombstones     []string        `json:"tombstones"` // "kind:key", e.g. "key:AKIA..."
	Counts         Counts          `json:"counts"`
}

// AccountView is an account and its place in the organization.
type AccountView struct {
	ID                string                       `json:"id"`
	Name              string                       `json:"name,omitempty"`
	Parent            string                       `json:"parent"`
	Management        bool                         `json:"management,omitempty"`
	BlockPublicAccess *evaluator.BlockPublicAccess `json:"block_public_access,omitempty"`
	OrgPolicies       []string                     `json:"org_policies,omitempty"` // attached SCP/RCP ids
}

// InlineView is an inline policy.
type InlineView struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

// UserView is an IAM user.
type UserView struct {
	ARN      string       `json:"arn"`
	Groups   []string     `json:"groups,omitempty"`
	Attached []string     `json:"attached,omitempty"`
	Inline   []InlineView `json:"inline,omitempty"`
	Boundary string       `json:"boundary,omitempty"`
}

// GroupView is an IAM group.
type GroupView struct {
	ARN      string       `json:"arn"`
	Members  []string     `json:"members,omitempty"`
	Attached []string     `json:"attached,omitempty"`
	Inline   []InlineView `json:"inline,omitempty"`
}

// RoleView is an IAM role.
type RoleView struct {
	ARN      string          `json:"arn"`
	Trust    json.RawMessage `json:"trust"`
	Attached []string        `json:"attached,omitempty"`
	Inline   []InlineView    `json:"inline,omitempty"`
	Boundary string          `json:"boundary,omitempty"`
}

// PolicyView is a customer-managed policy with its versions.
type PolicyView struct {
	ARN      string        `json:"arn"`
	Default  string        `json:"default_version"`
	Versions []VersionView `json:"versions"`
}

// VersionView is one version of a managed policy.
type VersionView struct {
	ID       string          `json:"id"`
	Document json.RawMessage `json:"document"`
}

// KeyView is an access key.
type KeyView struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	User    string `json:"user"`
	Status  string `json:"status"`
}

// BucketView is an S3 bucket.
type BucketView struct {
	Name              string                       `json:"name"`
	Region            string                       `json:"region"`
	Account           string                       `json:"account"`
	Policy            json.RawMessage              `json:"policy,omitempty"`
	Public            bool                         `json:"public"` // the policy is public in S3's sense
	BlockPublicAccess *evaluator.BlockPublicAccess `json:"block_public_access,omitempty"`
	Effective         evaluator.BlockPublicAccess  `json:"effective_block_public_access"` // bucket OR account
	Objects           []string                     `json:"objects,omitempty"`
}

// OrgUnitView is an organizational unit.
type OrgUnitView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Parent      string   `json:"parent"`
	OrgPolicies []string `json:"org_policies,omitempty"`
}

// OrgPolicyView is an SCP or RCP.
type OrgPolicyView struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	AWSManaged bool            `json:"aws_managed,omitempty"`
	Document   json.RawMessage `json:"document"`
	Targets    []string        `json:"targets,omitempty"`
}

func docOf(p *evaluator.Policy) json.RawMessage {
	if p == nil {
		return nil
	}
	d := p.Document()
	if !json.Valid(d) {
		b, _ := json.Marshal(string(d))
		return b
	}
	return append(json.RawMessage(nil), d...)
}

// cp copies a slice so callers cannot reach the state's immutable records.
func cp(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return append([]string(nil), list...)
}

func cpBPA(b *evaluator.BlockPublicAccess) *evaluator.BlockPublicAccess {
	if b == nil {
		return nil
	}
	c := *b
	return &c
}

func inlineViews(list []inlinePolicy) []InlineView {
	var out []InlineView
	for _, p := range list {
		out = append(out, InlineView{Name: p.Name, Document: docOf(p.Policy)})
	}
	return out
}

// Export describes the view's content.
func (s *State) Export() View {
	v := View{DefaultAccount: s.first, Counts: s.Counts()}
	for _, id := range s.accounts.keys() {
		a := s.accounts.at(id)
		v.Accounts = append(v.Accounts, AccountView{ID: id, Name: a.Name, Parent: a.Parent, Management: id == s.first, BlockPublicAccess: cpBPA(a.BPA), OrgPolicies: cp(s.attachments.at(id))})
	}
	for _, k := range s.users.keys() {
		u := s.users.at(k)
		v.Users = append(v.Users, UserView{ARN: iamARN(u.Account, "user", u.Path, u.Name), Groups: cp(u.Groups), Attached: cp(u.Attached), Inline: inlineViews(u.Inline), Boundary: u.Boundary})
	}
	for _, k := range s.groups.keys() {
		g := s.groups.at(k)
		v.Groups = append(v.Groups, GroupView{ARN: iamARN(g.Account, "group", g.Path, g.Name), Members: s.groupMembers(g.Account, strings.ToLower(g.Name)), Attached: cp(g.Attached), Inline: inlineViews(g.Inline)})
	}
	for _, k := range s.roles.keys() {
		r := s.roles.at(k)
		v.Roles = append(v.Roles, RoleView{ARN: iamARN(r.Account, "role", r.Path, r.Name), Trust: docOf(r.Trust), Attached: cp(r.Attached), Inline: inlineViews(r.Inline), Boundary: r.Boundary})
	}
	for _, k := range s.policies.keys() {
		p := s.policies.at(k)
		pv := PolicyView{ARN: p.ARN, Default: p.Default}
		for _, ver := range p.Versions {
			pv.Versions = append(pv.Versions, VersionView{ID: ver.ID, Document: docOf(ver.Policy)})
		}
		v.Policies = append(v.Policies, pv)
	}
	for _, id := range s.keys.keys() {
		k := s.keys.at(id)
		v.AccessKeys = append(v.AccessKeys, KeyView{ID: id, Account: k.Account, User: k.User, Status: k.Status})
	}
	objects := s.objects.keys()
	for _, name := range s.buckets.keys() {
		b := s.buckets.at(name)
		bv := BucketView{Name: name, Region: b.Region, Account: b.Account, Policy: docOf(b.Policy), Public: b.Policy != nil && b.Policy.IsPublic(),
			BlockPublicAccess: cpBPA(b.BPA), Effective: s.effectiveBPA(b)}
		for _, o := range objects {
			if key, ok := strings.CutPrefix(o, name+"/"); ok {
				bv.Objects = append(bv.Objects, key)
			}
		}
		v.Buckets = append(v.Buckets, bv)
	}
	for _, id := range s.ous.keys() {
		o := s.ous.at(id)
		v.OrgUnits = append(v.OrgUnits, OrgUnitView{ID: id, Name: o.Name, Parent: o.Parent, OrgPolicies: cp(s.attachments.at(id))})
	}
	for _, id := range s.orgPolicies.keys() {
		p := s.orgPolicies.at(id)
		v.OrgPolicies = append(v.OrgPolicies, OrgPolicyView{ID: id, Name: p.Name, Type: p.Type, AWSManaged: p.AWSManaged, Document: docOf(p.Policy), Targets: s.orgPolicyTargets(id)})
	}
	v.Tombstones = s.tombstones.keys()
	return v
}
