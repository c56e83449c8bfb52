package trail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Snapshot is the IAM state of an account as `aws iam
// get-account-authorization-details` reports it: the state before a trail.
// Every policy document is decoded to JSON (the API returns documents
// URL-encoded; the AWS CLI decodes them to objects).
type Snapshot struct {
	Users    []SnapshotUser
	Groups   []SnapshotGroup
	Roles    []SnapshotRole
	Policies []SnapshotPolicy
}

// InlinePolicy is an inline policy of a user, group or role.
type InlinePolicy struct {
	Name     string
	Document json.RawMessage
}

// SnapshotUser is one entry of UserDetailList.
type SnapshotUser struct {
	Name, Path, ARN string
	Groups          []string       // group names
	Inline          []InlinePolicy // UserPolicyList
	Attached        []string       // managed policy ARNs
	Boundary        string         // permissions boundary policy ARN, "" if none
}

// SnapshotGroup is one entry of GroupDetailList.
type SnapshotGroup struct {
	Name, Path, ARN string
	Inline          []InlinePolicy
	Attached        []string
}

// SnapshotRole is one entry of RoleDetailList.
type SnapshotRole struct {
	Name, Path, ARN string
	Trust           json.RawMessage // AssumeRolePolicyDocument
	Inline          []InlinePolicy
	Attached        []string
	Boundary        string
}

// SnapshotPolicy is one managed policy of Policies, with its versions.
type SnapshotPolicy struct {
	Name, Path, ARN string
	DefaultVersion  string
	Versions        []PolicyVersion
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID       string
	Default  bool
	Document json.RawMessage
}

// Default returns the document of the policy's default version, nil if the
// snapshot lists none.
func (p *SnapshotPolicy) Default() json.RawMessage {
	for _, v := range p.Versions {
		if v.Default || v.ID == p.DefaultVersion {
			return v.Document
		}
	}
	return nil
}

// Account returns the account id the snapshot's ARNs name (the first user,
// group, role or customer-managed policy's), "" when it names none.
func (s *Snapshot) Account() string {
	var arns []string
	for _, u := range s.Users {
		arns = append(arns, u.ARN)
	}
	for _, g := range s.Groups {
		arns = append(arns, g.ARN)
	}
	for _, r := range s.Roles {
		arns = append(arns, r.ARN)
	}
	for _, p := range s.Policies {
		arns = append(arns, p.ARN)
	}
	for _, a := range arns {
		if acct := ARNAccount(a); acct != "" && acct != "aws" {
			return acct
		}
	}
	return ""
}

// ARNAccount returns the account field of an ARN ("" if it is not an ARN).
func ARNAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

type wireSnapshot struct {
	UserDetailList *[]struct {
		UserName, Path, Arn     string
		GroupList               []string
		UserPolicyList          []wireInline
		AttachedManagedPolicies []wireAttached
		PermissionsBoundary     *wireBoundary
	}
	GroupDetailList []struct {
		GroupName, Path, Arn    string
		GroupPolicyList         []wireInline
		AttachedManagedPolicies []wireAttached
	}
	RoleDetailList []struct {
		RoleName, Path, Arn      string
		AssumeRolePolicyDocument json.RawMessage
		RolePolicyList           []wireInline
		AttachedManagedPolicies  []wireAttached
		PermissionsBoundary      *wireBoundary
	}
	Policies []struct {
		PolicyName, Path, Arn, DefaultVersionId string
		PolicyVersionList                       []struct {
			VersionId        string
			IsDefaultVersion bool
			Document         json.RawMessage
		}
	}
	IsTruncated bool
}

type wireInline struct {
	PolicyName     string
	PolicyDocument json.RawMessage
}

type wireAttached struct{ PolicyName, PolicyArn string }

type wireBoundary struct{ PermissionsBoundaryArn string }

// DecodeSnapshot decodes the output of `aws iam
// get-account-authorization-details` read from r. A policy document may be
// a JSON object or a string holding the document URL-encoded (RFC 3986, as
// the API returns it) or plain. Errors are *Error with Record -1 and the
// path of the value in Field ("RoleDetailList[2].AssumeRolePolicyDocument").
func DecodeSnapshot(file string, r io.Reader) (*Snapshot, error) {
	var w wireSnapshot
	dec := json.NewDecoder(r)
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &Error{File: file, Record: -1, Field: te.Field, Reason: fmt.Sprintf("expected %s, got %s", kindName(te.Type.Kind().String()), te.Value)}
		}
		return nil, jsonErr(file, -1, dec, err)
	}
	if w.UserDetailList == nil && w.GroupDetailList == nil && w.RoleDetailList == nil && w.Policies == nil {
		return nil, fileErr(file, "not get-account-authorization-details output: none of UserDetailList, GroupDetailList, RoleDetailList, Policies")
	}
	if w.IsTruncated {
		return nil, fileErr(file, "IsTruncated is true: the output is one page; run the AWS CLI without --max-items or --no-paginate so it fetches every page")
	}
	s := &Snapshot{}
	fail := func(field string, err error) error {
		return &Error{File: file, Record: -1, Field: field, Reason: err.Error()}
	}
	inline := func(path string, list []wireInline) ([]InlinePolicy, error) {
		var out []InlinePolicy
		for i, p := range list {
			doc, err := policyDocument(p.PolicyDocument)
			if err != nil {
				return nil, fail(fmt.Sprintf("%s[%d].PolicyDocument (policy %s)", path, i, p.PolicyName), err)
			}
			out = append(out, InlinePolicy{Name: p.PolicyName, Document: doc})
		}
		return out, nil
	}
	attached := func(list []wireAttached) []string {
		var out []string
		for _, a := range list {
			out = append(out, a.PolicyArn)
		}
		return out
	}
	boundary := func(b *wireBoundary) string {
		if b == nil {
			return ""
		}
		return b.PermissionsBoundaryArn
	}
	if w.UserDetailList != nil {
		for i, u := range *w.UserDetailList {
			if u.UserName == "" {
				return nil, fail(fmt.Sprintf("UserDetailList[%d].UserName", i), errors.New("missing"))
			}
			in, err := inline(fmt.Sprintf("UserDetailList[%d].UserPolicyList", i), u.UserPolicyList)
			if err != nil {
				return nil, err
			}
			s.Users = append(s.Users, SnapshotUser{Name: u.UserName, Path: u.Path, ARN: u.Arn, Groups: u.GroupList, Inline: in, Attached: attached(u.AttachedManagedPolicies), Boundary: boundary(u.PermissionsBoundary)})
		}
	}
	for i, g := range w.GroupDetailList {
		if g.GroupName == "" {
			return nil, fail(fmt.Sprintf("GroupDetailList[%d].GroupName", i), errors.New("missing"))
		}
		in, err := inline(fmt.Sprintf("GroupDetailList[%d].GroupPolicyList", i), g.GroupPolicyList)
		if err != nil {
			return nil, err
		}
		s.Groups = append(s.Groups, SnapshotGroup{Name: g.GroupName, Path: g.Path, ARN: g.Arn, Inline: in, Attached: attached(g.AttachedManagedPolicies)})
	}
	for i, r := range w.RoleDetailList {
		if r.RoleName == "" {
			return nil, fail(fmt.Sprintf("RoleDetailList[%d].RoleName", i), errors.New("missing"))
		}
		trust, err := policyDocument(r.AssumeRolePolicyDocument)
		if err != nil {
			return nil, fail(fmt.Sprintf("RoleDetailList[%d].AssumeRolePolicyDocument (role %s)", i, r.RoleName), err)
		}
		in, err := inline(fmt.Sprintf("RoleDetailList[%d].RolePolicyList", i), r.RolePolicyList)
		if err != nil {
			return nil, err
		}
		s.Roles = append(s.Roles, SnapshotRole{Name: r.RoleName, Path: r.Path, ARN: r.Arn, Trust: trust, Inline: in, Attached: attached(r.AttachedManagedPolicies), Boundary: boundary(r.PermissionsBoundary)})
	}
	for i, p := range w.Policies {
		if p.PolicyName == "" || p.Arn == "" {
			return nil, fail(fmt.Sprintf("Policies[%d]", i), errors.New("missing PolicyName or Arn"))
		}
		sp := SnapshotPolicy{Name: p.PolicyName, Path: p.Path, ARN: p.Arn, DefaultVersion: p.DefaultVersionId}
		for j, v := range p.PolicyVersionList {
			doc, err := policyDocument(v.Document)
			if err != nil {
				return nil, fail(fmt.Sprintf("Policies[%d].PolicyVersionList[%d].Document (policy %s %s)", i, j, p.PolicyName, v.VersionId), err)
			}
			sp.Versions = append(sp.Versions, PolicyVersion{ID: v.VersionId, Default: v.IsDefaultVersion, Document: doc})
		}
		s.Policies = append(s.Policies, sp)
	}
	return s, nil
}

// policyDocument decodes a document given as a JSON object, or as a string
// holding it plain or URL-encoded, and checks that it is a JSON object.
func policyDocument(raw json.RawMessage) (json.RawMessage, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, errors.New("missing")
	}
	doc := []byte(s)
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, fmt.Errorf("not a JSON string: %v", err)
		}
		str = strings.TrimSpace(str)
		if !strings.HasPrefix(str, "{") {
			// RFC 3986 percent-encoding: '+' is a literal plus, not a space.
			dec, err := url.PathUnescape(str)
			if err != nil {
				return nil, fmt.Errorf("not a URL-encoded policy document: %v", err)
			}
			str = dec
		}
		doc = []byte(str)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(doc, &obj); err != nil {
		return nil, fmt.Errorf("policy document does not parse as a JSON object: %v", err)
	}
	return json.RawMessage(doc), nil
}
