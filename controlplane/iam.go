package controlplane

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

// IAM quotas (AWS defaults; see "IAM and AWS STS quotas").
const (
	maxPolicyVersions   = 5  // versions of one managed policy
	maxAttachedPolicies = 10 // managed policies attached to one user, group or role
	maxGroupsPerUser    = 10 // groups one user can belong to
	maxKeysPerUser      = 2  // access keys, active or inactive, per user
)

var (
	iamNameRE    = regexp.MustCompile(`^[\w+=,.@-]+$`) // what isIAMName checks; kept for its test
	accessKeyRE  = regexp.MustCompile(`^\w{1,128}$`)
	inlineNameRE = regexp.MustCompile(`^[\x21-\x7E]+$`)
)

// Entity kinds, as used in messages, tombstones and the principal resolver.
const (
	kindUser  = "user"
	kindGroup = "group"
	kindRole  = "role"
)

func checkIAMName(action, arg, v string, max int) *APIError {
	if len(v) > max {
		return validationErr("%s: argument %q is %d characters long; the maximum is %d", action, arg, len(v), max)
	}
	if !isIAMName(v) {
		return validationErr("%s: argument %q (%q) may contain only letters, digits and +=,.@_-", action, arg, v)
	}
	return nil
}

// isIAMName is iamNameRE.MatchString without the regexp engine: every
// applied IAM call checks a name, in every region and re-fold.
func isIAMName(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '+', c == '=', c == ',', c == '.', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

func checkInlineName(action, v string) *APIError {
	if len(v) > 128 {
		return validationErr("%s: argument \"policy_name\" is %d characters long; the maximum is 128", action, len(v))
	}
	if !inlineNameRE.MatchString(v) || strings.ContainsAny(v, `\/*?`) {
		return validationErr("%s: argument \"policy_name\" (%q) must be printable ASCII without spaces or any of \\ / * ?", action, v)
	}
	return nil
}

// normPath validates an IAM path argument; "" means "/".
func normPath(action, v string) (string, *APIError) {
	if v == "" {
		return "/", nil
	}
	if len(v) > 512 || !strings.HasPrefix(v, "/") || !strings.HasSuffix(v, "/") || strings.ContainsAny(v, " \t\n") {
		return "", validationErr("%s: argument \"path\" (%q) must begin and end with / and contain no spaces, at most 512 characters", action, v)
	}
	return v, nil
}

// callerAccount resolves the calling account: the call's, or the default.
func (s *State) callerAccount(x *callCtx) (string, *APIError) {
	a := x.account
	if a == "" {
		a = s.DefaultAccount()
		if a == "" {
			return "", apiErr(ErrNoSuchEntity, "%s: no account exists yet; create one with organizations:CreateAccount first", x.call.Action)
		}
	}
	if _, ok := s.accounts.get(a); !ok {
		return "", apiErr(ErrNoSuchEntity, "%s: calling account %q does not exist in this view; create it with organizations:CreateAccount", x.call.Action, a)
	}
	return a, nil
}

func iamARN(acct, typ, path, name string) string {
	return "arn:aws:iam::" + acct + ":" + typ + path + name
}

// parsePolicyARN splits arn:aws:iam::ACCOUNT:policy/PATH/NAME.
func parsePolicyARN(arn string) (acct, path, name string, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:aws:iam::")
	if !found {
		return "", "", "", false
	}
	acct, rest, found = strings.Cut(rest, ":policy/")
	if !found || acct == "" || rest == "" {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, "/")
	return acct, "/" + rest[:i+1], rest[i+1:], true
}

// managedPolicyByARN finds a managed policy; arg names the argument.
func (s *State) managedPolicyByARN(action, arg, arn string) (*managedPolicy, *APIError) {
	acct, _, name, ok := parsePolicyARN(arn)
	if !ok {
		return nil, validationErr("%s: argument %q (%q) is not a managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)", action, arg, arn)
	}
	p, found := s.policies.get(entityKey(acct, name))
	if !found || p.ARN != arn {
		return nil, apiErr(ErrNoSuchEntity, "%s: %s: policy %s does not exist or is not attachable", action, arg, arn)
	}
	return p, nil
}

// getCommon returns the shared part of a user, group or role.
func (s *State) getCommon(kind, key string) (principalCommon, bool) {
	switch kind {
	case kindUser:
		if u, ok := s.users.get(key); ok {
			return u.principalCommon, true
		}
	case kindGroup:
		if g, ok := s.groups.get(key); ok {
			return g.principalCommon, true
		}
	case kindRole:
		if r, ok := s.roles.get(key); ok {
			return r.principalCommon, true
		}
	}
	return principalCommon{}, false
}

// setCommon replaces the shared part of an existing user, group or role
// (records are immutable: the record is copied).
func (s *State) setCommon(kind, key string, pc principalCommon) {
	switch kind {
	case kindUser:
		u, _ := s.users.get(key)
		n := *u
		n.principalCommon = pc
		s.users.set(key, &n)
	case kindGroup:
		g, _ := s.groups.get(key)
		n := *g
		n.principalCommon = pc
		s.groups.set(key, &n)
	case kindRole:
		r, _ := s.roles.get(key)
		n := *r
		n.principalCommon = pc
		s.roles.set(key, &n)
	}
}

// entity resolves a user, group or role of the calling account by name.
func (s *State) entity(x *callCtx, kind, arg, name string) (string, principalCommon, *APIError) {
	acct, err := s.callerAccount(x)
	if err != nil {
		return "", principalCommon{}, err
	}
	key := entityKey(acct, name)
	pc, ok := s.getCommon(kind, key)
	if !ok {
		return "", principalCommon{}, apiErr(ErrNoSuchEntity, "%s: %s: the %s with name %s cannot be found in account %s", x.call.Action, arg, kind, name, acct)
	}
	return key, pc, nil
}

func inlineLimit(kind string) int {
	switch kind {
	case kindUser:
		return evaluator.MaxUserInlineSize
	case kindGroup:
		return evaluator.MaxGroupInlineSize
	default:
		return evaluator.MaxRoleInlineSize
	}
}

// policyUsers lists (as "kind name") every user, group and role that has
// arn attached or uses it as permissions boundary.
func (s *State) policyUsers(arn string) []string {
	var out []string
	for _, k := range s.users.keys() {
		u := s.users.at(k)
		if containsSorted(u.Attached, arn) {
			out = append(out, "user "+u.Name)
		}
		if u.Boundary == arn {
			out = append(out, "user "+u.Name+" (permissions boundary)")
		}
	}
	for _, k := range s.groups.keys() {
		if g := s.groups.at(k); containsSorted(g.Attached, arn) {
			out = append(out, "group "+g.Name)
		}
	}
	for _, k := range s.roles.keys() {
		r := s.roles.at(k)
		if containsSorted(r.Attached, arn) {
			out = append(out, "role "+r.Name)
		}
		if r.Boundary == arn {
			out = append(out, "role "+r.Name+" (permissions boundary)")
		}
	}
	return out
}

// userKeys lists the access key ids of a user (by entity key), sorted.
func (s *State) userKeys(acct, lowerName string) []string {
	var out []string
	for _, id := range s.keys.keys() {
		k := s.keys.at(id)
		if k.Account == acct && k.User == lowerName {
			out = append(out, id)
		}
	}
	return out
}

// ---- argument structs (their tags generate docs/mutations.md) ----

type createUserArgs struct {
	UserName            string `arg:"user_name,required" doc:"Name of the user (UserName); unique in the account regardless of case."`
	Path                string `arg:"path" doc:"Path of the user (Path); default /."`
	PermissionsBoundary string `arg:"permissions_boundary" doc:"ARN of a managed policy to set as the user's permissions boundary (PermissionsBoundary)."`
}

type userNameArgs struct {
	UserName string `arg:"user_name,required" doc:"Name of the user (UserName)."`
}

type groupArgs struct {
	GroupName string `arg:"group_name,required" doc:"Name of the group (GroupName)."`
	Path      string `arg:"path" doc:"Path of the group (Path); default /."`
}

type groupNameArgs struct {
	GroupName string `arg:"group_name,required" doc:"Name of the group (GroupName)."`
}

type membershipArgs struct {
	GroupName string `arg:"group_name,required" doc:"Name of the group (GroupName)."`
	UserName  string `arg:"user_name,required" doc:"Name of the user (UserName)."`
}

type createRoleArgs struct {
	RoleName                 string   `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	AssumeRolePolicyDocument Document `arg:"assume_role_policy_document,required" doc:"Trust policy: who may call sts:AssumeRole on the role (AssumeRolePolicyDocument)."`
	Path                     string   `arg:"path" doc:"Path of the role (Path); default /."`
	Description              string   `arg:"description" doc:"Description (Description)."`
	PermissionsBoundary      string   `arg:"permissions_boundary" doc:"ARN of a managed policy to set as the role's permissions boundary (PermissionsBoundary)."`
}

type roleNameArgs struct {
	RoleName string `arg:"role_name,required" doc:"Name of the role (RoleName)."`
}

type updateTrustArgs struct {
	RoleName       string   `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The new trust policy (PolicyDocument)."`
}

type createPolicyArgs struct {
	PolicyName     string   `arg:"policy_name,required" doc:"Name of the managed policy (PolicyName); its ARN is arn:aws:iam::ACCOUNT:policy/PATH/NAME."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The policy document of version v1 (PolicyDocument)."`
	Path           string   `arg:"path" doc:"Path of the policy (Path); default /."`
	Description    string   `arg:"description" doc:"Description (Description)."`
}

type policyArnArgs struct {
	PolicyArn string `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
}

type createVersionArgs struct {
	PolicyArn      string   `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The new version's document (PolicyDocument)."`
	SetAsDefault   bool     `arg:"set_as_default" doc:"Make the new version the default, the one that takes effect (SetAsDefault); default false."`
}

type versionArgs struct {
	PolicyArn string `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
	VersionID string `arg:"version_id,required" doc:"Version id, like v2 (VersionId)."`
}

type attachUserArgs struct {
	UserName  string `arg:"user_name,required" doc:"Name of the user (UserName)."`
	PolicyArn string `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
}

type attachGroupArgs struct {
	GroupName string `arg:"group_name,required" doc:"Name of the group (GroupName)."`
	PolicyArn string `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
}

type attachRoleArgs struct {
	RoleName  string `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	PolicyArn string `arg:"policy_arn,required" doc:"ARN of the managed policy (PolicyArn)."`
}

type putUserPolicyArgs struct {
	UserName       string   `arg:"user_name,required" doc:"Name of the user (UserName)."`
	PolicyName     string   `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName); an existing one of that name is replaced."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The policy document (PolicyDocument)."`
}

type putGroupPolicyArgs struct {
	GroupName      string   `arg:"group_name,required" doc:"Name of the group (GroupName)."`
	PolicyName     string   `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName); an existing one of that name is replaced."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The policy document (PolicyDocument)."`
}

type putRolePolicyArgs struct {
	RoleName       string   `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	PolicyName     string   `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName); an existing one of that name is replaced."`
	PolicyDocument Document `arg:"policy_document,required" doc:"The policy document (PolicyDocument)."`
}

type deleteUserPolicyArgs struct {
	UserName   string `arg:"user_name,required" doc:"Name of the user (UserName)."`
	PolicyName string `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName)."`
}

type deleteGroupPolicyArgs struct {
	GroupName  string `arg:"group_name,required" doc:"Name of the group (GroupName)."`
	PolicyName string `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName)."`
}

type deleteRolePolicyArgs struct {
	RoleName   string `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	PolicyName string `arg:"policy_name,required" doc:"Name of the inline policy (PolicyName)."`
}

type userBoundaryArgs struct {
	UserName            string `arg:"user_name,required" doc:"Name of the user (UserName)."`
	PermissionsBoundary string `arg:"permissions_boundary,required" doc:"ARN of the managed policy that bounds the user's permissions (PermissionsBoundary)."`
}

type roleBoundaryArgs struct {
	RoleName            string `arg:"role_name,required" doc:"Name of the role (RoleName)."`
	PermissionsBoundary string `arg:"permissions_boundary,required" doc:"ARN of the managed policy that bounds the role's permissions (PermissionsBoundary)."`
}

type createKeyArgs struct {
	UserName    string `arg:"user_name,required" doc:"Name of the user that owns the key (UserName)."`
	AccessKeyID string `arg:"access_key_id,required" doc:"The key id (AWS generates it; iamprop takes it as an argument so runs are deterministic). Key ids are never reused, even after deletion."`
}

type updateKeyArgs struct {
	AccessKeyID string `arg:"access_key_id,required" doc:"The key id (AccessKeyId)."`
	Status      string `arg:"status,required" doc:"Active or Inactive (Status). An inactive key no longer authenticates."`
	UserName    string `arg:"user_name" doc:"Owner of the key (UserName); when given it must match."`
}

type deleteKeyArgs struct {
	AccessKeyID string `arg:"access_key_id,required" doc:"The key id (AccessKeyId)."`
	UserName    string `arg:"user_name" doc:"Owner of the key (UserName); when given it must match."`
}

// ---- calls ----

func iamCalls() []*callDef {
	return []*callDef{
		def("iam:CreateUser", "Creates an IAM user in the calling account.",
			[]string{ErrEntityAlreadyExists, ErrNoSuchEntity}, "", nil, checkCreateUser),
		def("iam:DeleteUser", "Deletes a user. Its access keys, inline policies, attached policies and group memberships must be removed first.",
			[]string{ErrNoSuchEntity, ErrDeleteConflict}, "revoke", always[userNameArgs], checkDeleteUser),
		def("iam:CreateGroup", "Creates an IAM group.",
			[]string{ErrEntityAlreadyExists, ErrNoSuchEntity}, "", nil, checkCreateGroup),
		def("iam:DeleteGroup", "Deletes a group. It must have no members, inline policies or attached policies.",
			[]string{ErrNoSuchEntity, ErrDeleteConflict}, "revoke", always[groupNameArgs], checkDeleteGroup),
		def("iam:AddUserToGroup", "Adds a user to a group: the group's policies apply to the user.",
			[]string{ErrNoSuchEntity, ErrLimitExceeded}, "", nil, checkAddUserToGroup),
		def("iam:RemoveUserFromGroup", "Removes a user from a group.",
			[]string{ErrNoSuchEntity}, "revoke", always[membershipArgs], checkRemoveUserFromGroup),
		def("iam:CreateRole", "Creates a role with a trust policy.",
			[]string{ErrEntityAlreadyExists, ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "", nil, checkCreateRole),
		def("iam:DeleteRole", "Deletes a role. Its inline and attached policies must be removed first.",
			[]string{ErrNoSuchEntity, ErrDeleteConflict}, "revoke", always[roleNameArgs], checkDeleteRole),
		def("iam:UpdateAssumeRolePolicy", "Replaces a role's trust policy.",
			[]string{ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "revoke (replaces a document)", always[updateTrustArgs], checkUpdateTrust),
		def("iam:CreatePolicy", "Creates a customer-managed policy with version v1 as its default.",
			[]string{ErrEntityAlreadyExists, ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "", nil, checkCreatePolicy),
		def("iam:DeletePolicy", "Deletes a managed policy. It must be detached from every user, group and role, not used as a permissions boundary, and have no version other than the default.",
			[]string{ErrNoSuchEntity, ErrDeleteConflict}, "revoke", always[policyArnArgs], checkDeletePolicy),
		def("iam:CreatePolicyVersion", "Adds a version to a managed policy (at most 5), optionally making it the default.",
			[]string{ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "revoke when set_as_default (replaces the effective document), else grant (no effect)",
			func(a *createVersionArgs) bool { return a.SetAsDefault }, checkCreatePolicyVersion),
		def("iam:SetDefaultPolicyVersion", "Makes a version the policy's default, the one that takes effect.",
			[]string{ErrNoSuchEntity}, "revoke (replaces the effective document)", always[versionArgs], checkSetDefaultVersion),
		def("iam:DeletePolicyVersion", "Deletes a non-default version of a managed policy.",
			[]string{ErrNoSuchEntity, ErrDeleteConflict}, "revoke", always[versionArgs], checkDeletePolicyVersion),
		def("iam:AttachUserPolicy", "Attaches a managed policy to a user.",
			[]string{ErrNoSuchEntity, ErrLimitExceeded}, "", nil, func(s *State, x *callCtx, a *attachUserArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindUser, "user_name", a.UserName, a.PolicyArn, true)
			}),
		def("iam:AttachGroupPolicy", "Attaches a managed policy to a group.",
			[]string{ErrNoSuchEntity, ErrLimitExceeded}, "", nil, func(s *State, x *callCtx, a *attachGroupArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindGroup, "group_name", a.GroupName, a.PolicyArn, true)
			}),
		def("iam:AttachRolePolicy", "Attaches a managed policy to a role.",
			[]string{ErrNoSuchEntity, ErrLimitExceeded}, "", nil, func(s *State, x *callCtx, a *attachRoleArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindRole, "role_name", a.RoleName, a.PolicyArn, true)
			}),
		def("iam:DetachUserPolicy", "Detaches a managed policy from a user.",
			[]string{ErrNoSuchEntity}, "revoke", always[attachUserArgs], func(s *State, x *callCtx, a *attachUserArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindUser, "user_name", a.UserName, a.PolicyArn, false)
			}),
		def("iam:DetachGroupPolicy", "Detaches a managed policy from a group.",
			[]string{ErrNoSuchEntity}, "revoke", always[attachGroupArgs], func(s *State, x *callCtx, a *attachGroupArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindGroup, "group_name", a.GroupName, a.PolicyArn, false)
			}),
		def("iam:DetachRolePolicy", "Detaches a managed policy from a role.",
			[]string{ErrNoSuchEntity}, "revoke", always[attachRoleArgs], func(s *State, x *callCtx, a *attachRoleArgs) (applyFn, *APIError) {
				return s.checkAttach(x, kindRole, "role_name", a.RoleName, a.PolicyArn, false)
			}),
		def("iam:PutUserPolicy", "Adds or replaces an inline policy of a user (aggregate limit 2,048 characters, white space excluded).",
			[]string{ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "revoke (replaces a document)", always[putUserPolicyArgs],
			func(s *State, x *callCtx, a *putUserPolicyArgs) (applyFn, *APIError) {
				return s.checkPutInline(x, kindUser, "user_name", a.UserName, a.PolicyName, a.PolicyDocument)
			}),
		def("iam:PutGroupPolicy", "Adds or replaces an inline policy of a group (aggregate limit 5,120 characters, white space excluded).",
			[]string{ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "revoke (replaces a document)", always[putGroupPolicyArgs],
			func(s *State, x *callCtx, a *putGroupPolicyArgs) (applyFn, *APIError) {
				return s.checkPutInline(x, kindGroup, "group_name", a.GroupName, a.PolicyName, a.PolicyDocument)
			}),
		def("iam:PutRolePolicy", "Adds or replaces an inline policy of a role (aggregate limit 10,240 characters, white space excluded).",
			[]string{ErrNoSuchEntity, ErrMalformedPolicyDocument, ErrLimitExceeded}, "revoke (replaces a document)", always[putRolePolicyArgs],
			func(s *State, x *callCtx, a *putRolePolicyArgs) (applyFn, *APIError) {
				return s.checkPutInline(x, kindRole, "role_name", a.RoleName, a.PolicyName, a.PolicyDocument)
			}),
		def("iam:DeleteUserPolicy", "Deletes an inline policy of a user.",
			[]string{ErrNoSuchEntity}, "revoke", always[deleteUserPolicyArgs], func(s *State, x *callCtx, a *deleteUserPolicyArgs) (applyFn, *APIError) {
				return s.checkDeleteInline(x, kindUser, "user_name", a.UserName, a.PolicyName)
			}),
		def("iam:DeleteGroupPolicy", "Deletes an inline policy of a group.",
			[]string{ErrNoSuchEntity}, "revoke", always[deleteGroupPolicyArgs], func(s *State, x *callCtx, a *deleteGroupPolicyArgs) (applyFn, *APIError) {
				return s.checkDeleteInline(x, kindGroup, "group_name", a.GroupName, a.PolicyName)
			}),
		def("iam:DeleteRolePolicy", "Deletes an inline policy of a role.",
			[]string{ErrNoSuchEntity}, "revoke", always[deleteRolePolicyArgs], func(s *State, x *callCtx, a *deleteRolePolicyArgs) (applyFn, *APIError) {
				return s.checkDeleteInline(x, kindRole, "role_name", a.RoleName, a.PolicyName)
			}),
		def("iam:PutUserPermissionsBoundary", "Sets or replaces the managed policy that bounds a user's permissions.",
			[]string{ErrNoSuchEntity}, "revoke (adds a restriction)", always[userBoundaryArgs], func(s *State, x *callCtx, a *userBoundaryArgs) (applyFn, *APIError) {
				return s.checkBoundary(x, kindUser, "user_name", a.UserName, a.PermissionsBoundary)
			}),
		def("iam:DeleteUserPermissionsBoundary", "Removes a user's permissions boundary.",
			[]string{ErrNoSuchEntity}, "grant (removes a restriction)", nil, func(s *State, x *callCtx, a *userNameArgs) (applyFn, *APIError) {
				return s.checkBoundary(x, kindUser, "user_name", a.UserName, "")
			}),
		def("iam:PutRolePermissionsBoundary", "Sets or replaces the managed policy that bounds a role's permissions.",
			[]string{ErrNoSuchEntity}, "revoke (adds a restriction)", always[roleBoundaryArgs], func(s *State, x *callCtx, a *roleBoundaryArgs) (applyFn, *APIError) {
				return s.checkBoundary(x, kindRole, "role_name", a.RoleName, a.PermissionsBoundary)
			}),
		def("iam:DeleteRolePermissionsBoundary", "Removes a role's permissions boundary.",
			[]string{ErrNoSuchEntity}, "grant (removes a restriction)", nil, func(s *State, x *callCtx, a *roleNameArgs) (applyFn, *APIError) {
				return s.checkBoundary(x, kindRole, "role_name", a.RoleName, "")
			}),
		def("iam:CreateAccessKey", "Creates an active access key for a user (at most 2 per user).",
			[]string{ErrNoSuchEntity, ErrEntityAlreadyExists, ErrLimitExceeded}, "", nil, checkCreateKey),
		def("iam:UpdateAccessKey", "Activates or deactivates an access key.",
			[]string{ErrNoSuchEntity}, "revoke when status is Inactive, grant when Active",
			func(a *updateKeyArgs) bool { return a.Status == KeyInactive }, checkUpdateKey),
		def("iam:DeleteAccessKey", "Deletes an access key for good: its id can never be used again.",
			[]string{ErrNoSuchEntity}, "revoke", always[deleteKeyArgs], checkDeleteKey),
	}
}

func checkCreateUser(s *State, x *callCtx, a *createUserArgs) (applyFn, *APIError) {
	if err := checkIAMName(x.call.Action, "user_name", a.UserName, 64); err != nil {
		return nil, err
	}
	path, err := normPath(x.call.Action, a.Path)
	if err != nil {
		return nil, err
	}
	acct, err := s.callerAccount(x)
	if err != nil {
		return nil, err
	}
	key := entityKey(acct, a.UserName)
	if u, ok := s.users.get(key); ok {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: user_name: user with name %s already exists in account %s", x.call.Action, u.Name, acct)
	}
	if a.PermissionsBoundary != "" {
		if _, err := s.managedPolicyByARN(x.call.Action, "permissions_boundary", a.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	return func(s *State) {
		s.users.set(key, &user{principalCommon: principalCommon{Account: acct, Name: a.UserName, Path: path}, Boundary: a.PermissionsBoundary})
	}, nil
}

func checkDeleteUser(s *State, x *callCtx, a *userNameArgs) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kindUser, "user_name", a.UserName)
	if err != nil {
		return nil, err
	}
	u := s.users.at(key)
	var held []string
	if ks := s.userKeys(pc.Account, strings.ToLower(pc.Name)); len(ks) > 0 {
		held = append(held, fmt.Sprintf("access keys %s (iam:DeleteAccessKey)", strings.Join(ks, ", ")))
	}
	if len(pc.Inline) > 0 {
		held = append(held, fmt.Sprintf("%d inline policies (iam:DeleteUserPolicy)", len(pc.Inline)))
	}
	if len(pc.Attached) > 0 {
		held = append(held, fmt.Sprintf("attached policies %s (iam:DetachUserPolicy)", strings.Join(pc.Attached, ", ")))
	}
	if len(u.Groups) > 0 {
		held = append(held, fmt.Sprintf("membership of groups %s (iam:RemoveUserFromGroup)", strings.Join(u.Groups, ", ")))
	}
	if len(held) > 0 {
		return nil, apiErr(ErrDeleteConflict, "%s: cannot delete user %s: it still has %s", x.call.Action, pc.Name, strings.Join(held, "; "))
	}
	return func(s *State) {
		s.users.del(key)
		s.tomb(kindUser, key)
	}, nil
}

func checkCreateGroup(s *State, x *callCtx, a *groupArgs) (applyFn, *APIError) {
	if err := checkIAMName(x.call.Action, "group_name", a.GroupName, 128); err != nil {
		return nil, err
	}
	path, err := normPath(x.call.Action, a.Path)
	if err != nil {
		return nil, err
	}
	acct, err := s.callerAccount(x)
	if err != nil {
		return nil, err
	}
	key := entityKey(acct, a.GroupName)
	if g, ok := s.groups.get(key); ok {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: group_name: group with name %s already exists in account %s", x.call.Action, g.Name, acct)
	}
	return func(s *State) {
		s.groups.set(key, &group{principalCommon{Account: acct, Name: a.GroupName, Path: path}})
	}, nil
}

// groupMembers lists the names of a group's members, sorted by key.
func (s *State) groupMembers(acct, lowerGroup string) []string {
	var out []string
	for _, k := range s.users.keys() {
		u := s.users.at(k)
		if u.Account == acct && containsSorted(u.Groups, lowerGroup) {
			out = append(out, u.Name)
		}
	}
	return out
}

func checkDeleteGroup(s *State, x *callCtx, a *groupNameArgs) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kindGroup, "group_name", a.GroupName)
	if err != nil {
		return nil, err
	}
	var held []string
	if m := s.groupMembers(pc.Account, strings.ToLower(pc.Name)); len(m) > 0 {
		held = append(held, "members "+strings.Join(m, ", ")+" (iam:RemoveUserFromGroup)")
	}
	if len(pc.Inline) > 0 {
		held = append(held, fmt.Sprintf("%d inline policies (iam:DeleteGroupPolicy)", len(pc.Inline)))
	}
	if len(pc.Attached) > 0 {
		held = append(held, "attached policies "+strings.Join(pc.Attached, ", ")+" (iam:DetachGroupPolicy)")
	}
	if len(held) > 0 {
		return nil, apiErr(ErrDeleteConflict, "%s: cannot delete group %s: it still has %s", x.call.Action, pc.Name, strings.Join(held, "; "))
	}
	return func(s *State) {
		s.groups.del(key)
		s.tomb(kindGroup, key)
	}, nil
}

func (s *State) membership(x *callCtx, a *membershipArgs) (ukey, gkey, lowerGroup string, u *user, err *APIError) {
	ukey, _, err = s.entity(x, kindUser, "user_name", a.UserName)
	if err != nil {
		return
	}
	gkey, gpc, err := s.entity(x, kindGroup, "group_name", a.GroupName)
	if err != nil {
		return
	}
	return ukey, gkey, strings.ToLower(gpc.Name), s.users.at(ukey), nil
}

func checkAddUserToGroup(s *State, x *callCtx, a *membershipArgs) (applyFn, *APIError) {
	ukey, _, g, u, err := s.membership(x, a)
	if err != nil {
		return nil, err
	}
	if containsSorted(u.Groups, g) {
		return func(*State) {}, nil // AWS accepts a repeated add
	}
	if len(u.Groups) >= maxGroupsPerUser {
		return nil, apiErr(ErrLimitExceeded, "%s: user %s already belongs to %d groups, the maximum", x.call.Action, u.Name, maxGroupsPerUser)
	}
	return func(s *State) {
		n := *s.users.at(ukey)
		n.Groups = insertSorted(n.Groups, g)
		s.users.set(ukey, &n)
	}, nil
}

func checkRemoveUserFromGroup(s *State, x *callCtx, a *membershipArgs) (applyFn, *APIError) {
	ukey, _, g, u, err := s.membership(x, a)
	if err != nil {
		return nil, err
	}
	if !containsSorted(u.Groups, g) {
		return nil, apiErr(ErrNoSuchEntity, "%s: user %s is not a member of group %s", x.call.Action, u.Name, a.GroupName)
	}
	return func(s *State) {
		n := *s.users.at(ukey)
		n.Groups = removeSorted(n.Groups, g)
		s.users.set(ukey, &n)
		s.tomb("membership", ukey+"/"+g)
	}, nil
}

func compileTrust(x *callCtx, arg, role string, doc Document) (*evaluator.Policy, *APIError) {
	if n := evaluator.Size(evaluator.KindTrust, doc); n > evaluator.MaxTrustSize {
		return nil, apiErr(ErrLimitExceeded, "%s: %s: cannot exceed quota for ACLSizePerRole: %d (the document has %d %s)", x.call.Action, arg, evaluator.MaxTrustSize, n, evaluator.SizeUnit(evaluator.KindTrust))
	}
	return compile(ErrMalformedPolicyDocument, x.call.Action+": "+arg, "trust policy of role "+role, evaluator.KindTrust, doc)
}

func checkCreateRole(s *State, x *callCtx, a *createRoleArgs) (applyFn, *APIError) {
	if err := checkIAMName(x.call.Action, "role_name", a.RoleName, 64); err != nil {
		return nil, err
	}
	path, err := normPath(x.call.Action, a.Path)
	if err != nil {
		return nil, err
	}
	acct, err := s.callerAccount(x)
	if err != nil {
		return nil, err
	}
	key := entityKey(acct, a.RoleName)
	if r, ok := s.roles.get(key); ok {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: role_name: role with name %s already exists in account %s", x.call.Action, r.Name, acct)
	}
	trust, err := compileTrust(x, "assume_role_policy_document", a.RoleName, a.AssumeRolePolicyDocument)
	if err != nil {
		return nil, err
	}
	if a.PermissionsBoundary != "" {
		if _, err := s.managedPolicyByARN(x.call.Action, "permissions_boundary", a.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	return func(s *State) {
		s.roles.set(key, &role{principalCommon: principalCommon{Account: acct, Name: a.RoleName, Path: path}, Trust: trust, Boundary: a.PermissionsBoundary})
	}, nil
}

func checkDeleteRole(s *State, x *callCtx, a *roleNameArgs) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kindRole, "role_name", a.RoleName)
	if err != nil {
		return nil, err
	}
	var held []string
	if len(pc.Inline) > 0 {
		held = append(held, fmt.Sprintf("%d inline policies (iam:DeleteRolePolicy)", len(pc.Inline)))
	}
	if len(pc.Attached) > 0 {
		held = append(held, "attached policies "+strings.Join(pc.Attached, ", ")+" (iam:DetachRolePolicy)")
	}
	if len(held) > 0 {
		return nil, apiErr(ErrDeleteConflict, "%s: cannot delete role %s: it still has %s", x.call.Action, pc.Name, strings.Join(held, "; "))
	}
	return func(s *State) {
		s.roles.del(key)
		s.tomb(kindRole, key)
	}, nil
}

func checkUpdateTrust(s *State, x *callCtx, a *updateTrustArgs) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kindRole, "role_name", a.RoleName)
	if err != nil {
		return nil, err
	}
	trust, err := compileTrust(x, "policy_document", pc.Name, a.PolicyDocument)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		n := *s.roles.at(key)
		n.Trust = trust
		s.roles.set(key, &n)
	}, nil
}

func compileManaged(x *callCtx, name, version string, doc Document) (*evaluator.Policy, *APIError) {
	if n := evaluator.Size(evaluator.KindIdentity, doc); n > evaluator.MaxManagedSize {
		return nil, apiErr(ErrLimitExceeded, "%s: policy_document: cannot exceed quota for PolicySize: %d (the document has %d %s)", x.call.Action, evaluator.MaxManagedSize, n, evaluator.SizeUnit(evaluator.KindIdentity))
	}
	return compile(ErrMalformedPolicyDocument, x.call.Action+": policy_document", name+" "+version, evaluator.KindIdentity, doc)
}

func checkCreatePolicy(s *State, x *callCtx, a *createPolicyArgs) (applyFn, *APIError) {
	if err := checkIAMName(x.call.Action, "policy_name", a.PolicyName, 128); err != nil {
		return nil, err
	}
	path, err := normPath(x.call.Action, a.Path)
	if err != nil {
		return nil, err
	}
	acct, err := s.callerAccount(x)
	if err != nil {
		return nil, err
	}
	key := entityKey(acct, a.PolicyName)
	if p, ok := s.policies.get(key); ok {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: policy_name: a policy called %s already exists (%s); duplicate names are not allowed", x.call.Action, p.Name, p.ARN)
	}
	pol, err := compileManaged(x, a.PolicyName, "v1", a.PolicyDocument)
	if err != nil {
		return nil, err
	}
	arn := iamARN(acct, "policy", path, a.PolicyName)
	return func(s *State) {
		s.policies.set(key, &managedPolicy{Account: acct, Name: a.PolicyName, Path: path, ARN: arn, Description: a.Description,
			Versions: []policyVersion{{ID: "v1", Policy: pol}}, Default: "v1", Next: 2})
	}, nil
}

func checkDeletePolicy(s *State, x *callCtx, a *policyArnArgs) (applyFn, *APIError) {
	p, err := s.managedPolicyByARN(x.call.Action, "policy_arn", a.PolicyArn)
	if err != nil {
		return nil, err
	}
	if users := s.policyUsers(p.ARN); len(users) > 0 {
		return nil, apiErr(ErrDeleteConflict, "%s: cannot delete policy %s: it is still attached to %s", x.call.Action, p.ARN, strings.Join(users, ", "))
	}
	if len(p.Versions) > 1 {
		return nil, apiErr(ErrDeleteConflict, "%s: cannot delete policy %s: it has %d versions; delete every non-default version first (iam:DeletePolicyVersion)", x.call.Action, p.ARN, len(p.Versions))
	}
	key := entityKey(p.Account, p.Name)
	return func(s *State) {
		s.policies.del(key)
		s.tomb("policy", key)
	}, nil
}

func checkCreatePolicyVersion(s *State, x *callCtx, a *createVersionArgs) (applyFn, *APIError) {
	p, err := s.managedPolicyByARN(x.call.Action, "policy_arn", a.PolicyArn)
	if err != nil {
		return nil, err
	}
	if len(p.Versions) >= maxPolicyVersions {
		return nil, apiErr(ErrLimitExceeded, "%s: policy %s already has %d versions, the maximum; delete one with iam:DeletePolicyVersion first", x.call.Action, p.ARN, maxPolicyVersions)
	}
	id := fmt.Sprintf("v%d", p.Next)
	pol, err := compileManaged(x, p.Name, id, a.PolicyDocument)
	if err != nil {
		return nil, err
	}
	key := entityKey(p.Account, p.Name)
	return func(s *State) {
		n := *s.policies.at(key)
		n.Versions = append(append([]policyVersion(nil), n.Versions...), policyVersion{ID: id, Policy: pol})
		n.Next++
		if a.SetAsDefault {
			n.Default = id
		}
		s.policies.set(key, &n)
	}, nil
}

func findVersion(p *managedPolicy, id string) (int, bool) {
	for i, v := range p.Versions {
		if v.ID == id {
			return i, true
		}
	}
	return -1, false
}

func checkSetDefaultVersion(s *State, x *callCtx, a *versionArgs) (applyFn, *APIError) {
	p, err := s.managedPolicyByARN(x.call.Action, "policy_arn", a.PolicyArn)
	if err != nil {
		return nil, err
	}
	if _, ok := findVersion(p, a.VersionID); !ok {
		return nil, apiErr(ErrNoSuchEntity, "%s: version_id: policy %s has no version %s", x.call.Action, p.ARN, a.VersionID)
	}
	key := entityKey(p.Account, p.Name)
	return func(s *State) {
		n := *s.policies.at(key)
		n.Default = a.VersionID
		s.policies.set(key, &n)
	}, nil
}

func checkDeletePolicyVersion(s *State, x *callCtx, a *versionArgs) (applyFn, *APIError) {
	p, err := s.managedPolicyByARN(x.call.Action, "policy_arn", a.PolicyArn)
	if err != nil {
		return nil, err
	}
	i, ok := findVersion(p, a.VersionID)
	if !ok {
		return nil, apiErr(ErrNoSuchEntity, "%s: version_id: policy %s has no version %s", x.call.Action, p.ARN, a.VersionID)
	}
	if p.Default == a.VersionID {
		return nil, apiErr(ErrDeleteConflict, "%s: version_id: %s is the default version of %s; make another version the default first (iam:SetDefaultPolicyVersion)", x.call.Action, a.VersionID, p.ARN)
	}
	key := entityKey(p.Account, p.Name)
	return func(s *State) {
		n := *s.policies.at(key)
		n.Versions = append(append([]policyVersion(nil), n.Versions[:i]...), n.Versions[i+1:]...)
		s.policies.set(key, &n)
		s.tomb("policy-version", key+"/"+a.VersionID)
	}, nil
}

// checkAttach handles Attach*Policy (attach=true) and Detach*Policy.
func (s *State) checkAttach(x *callCtx, kind, arg, name, arn string, attach bool) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kind, arg, name)
	if err != nil {
		return nil, err
	}
	p, err := s.managedPolicyByARN(x.call.Action, "policy_arn", arn)
	if err != nil {
		return nil, err
	}
	if p.Account != pc.Account {
		return nil, apiErr(ErrNoSuchEntity, "%s: policy_arn: policy %s belongs to account %s and is not attachable in account %s", x.call.Action, p.ARN, p.Account, pc.Account)
	}
	has := containsSorted(pc.Attached, p.ARN)
	if attach {
		if has {
			return func(*State) {}, nil // AWS accepts a repeated attach
		}
		if len(pc.Attached) >= maxAttachedPolicies {
			return nil, apiErr(ErrLimitExceeded, "%s: cannot exceed quota for PoliciesPerEntity: %s %s already has %d managed policies attached", x.call.Action, kind, pc.Name, maxAttachedPolicies)
		}
		return func(s *State) {
			n, _ := s.getCommon(kind, key)
			n.Attached = insertSorted(n.Attached, p.ARN)
			s.setCommon(kind, key, n)
		}, nil
	}
	if !has {
		return nil, apiErr(ErrNoSuchEntity, "%s: policy %s is not attached to %s %s", x.call.Action, p.ARN, kind, pc.Name)
	}
	return func(s *State) {
		n, _ := s.getCommon(kind, key)
		n.Attached = removeSorted(n.Attached, p.ARN)
		s.setCommon(kind, key, n)
		s.tomb("attachment", kind+"/"+key+"/"+p.ARN)
	}, nil
}

func (s *State) checkPutInline(x *callCtx, kind, arg, name, policyName string, doc Document) (applyFn, *APIError) {
	if err := checkInlineName(x.call.Action, policyName); err != nil {
		return nil, err
	}
	key, pc, err := s.entity(x, kind, arg, name)
	if err != nil {
		return nil, err
	}
	total := evaluator.Size(evaluator.KindIdentity, doc)
	for _, q := range pc.Inline {
		if !strings.EqualFold(q.Name, policyName) {
			total += evaluator.Size(evaluator.KindIdentity, q.Policy.Document())
		}
	}
	if limit := inlineLimit(kind); total > limit {
		return nil, apiErr(ErrLimitExceeded, "%s: policy_document: maximum policy size of %d bytes exceeded for %s %s (its inline policies would total %d %s)", x.call.Action, limit, kind, pc.Name, total, evaluator.SizeUnit(evaluator.KindIdentity))
	}
	pol, err := compile(ErrMalformedPolicyDocument, x.call.Action+": policy_document", "inline policy "+policyName+" of "+kind+" "+pc.Name, evaluator.KindIdentity, doc)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		n, _ := s.getCommon(kind, key)
		n.Inline = withInline(n.Inline, inlinePolicy{Name: policyName, Policy: pol})
		s.setCommon(kind, key, n)
	}, nil
}

func (s *State) checkDeleteInline(x *callCtx, kind, arg, name, policyName string) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kind, arg, name)
	if err != nil {
		return nil, err
	}
	if _, ok := findInline(pc.Inline, policyName); !ok {
		return nil, apiErr(ErrNoSuchEntity, "%s: policy_name: the %s %s has no inline policy named %s", x.call.Action, kind, pc.Name, policyName)
	}
	return func(s *State) {
		n, _ := s.getCommon(kind, key)
		n.Inline = withoutInline(n.Inline, policyName)
		s.setCommon(kind, key, n)
		s.tomb("inline", kind+"/"+key+"/"+strings.ToLower(policyName))
	}, nil
}

// checkBoundary sets (arn != "") or removes (arn == "") a boundary.
func (s *State) checkBoundary(x *callCtx, kind, arg, name, arn string) (applyFn, *APIError) {
	key, pc, err := s.entity(x, kind, arg, name)
	if err != nil {
		return nil, err
	}
	if arn != "" {
		p, err := s.managedPolicyByARN(x.call.Action, "permissions_boundary", arn)
		if err != nil {
			return nil, err
		}
		if p.Account != pc.Account {
			return nil, apiErr(ErrNoSuchEntity, "%s: permissions_boundary: policy %s belongs to account %s, not %s", x.call.Action, p.ARN, p.Account, pc.Account)
		}
		arn = p.ARN
	}
	return func(s *State) {
		switch kind {
		case kindUser:
			n := *s.users.at(key)
			n.Boundary = arn
			s.users.set(key, &n)
		case kindRole:
			n := *s.roles.at(key)
			n.Boundary = arn
			s.roles.set(key, &n)
		}
	}, nil
}

func checkCreateKey(s *State, x *callCtx, a *createKeyArgs) (applyFn, *APIError) {
	if !accessKeyRE.MatchString(a.AccessKeyID) {
		return nil, validationErr("%s: argument \"access_key_id\" (%q) must be 1 to 128 letters, digits or underscores", x.call.Action, a.AccessKeyID)
	}
	_, pc, err := s.entity(x, kindUser, "user_name", a.UserName)
	if err != nil {
		return nil, err
	}
	if k, ok := s.keys.get(a.AccessKeyID); ok {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: access_key_id: access key %s already exists (it belongs to user %s)", x.call.Action, a.AccessKeyID, k.User)
	}
	if s.tombstoned("key", a.AccessKeyID) {
		return nil, apiErr(ErrEntityAlreadyExists, "%s: access_key_id: access key %s was deleted; access key ids are never reused", x.call.Action, a.AccessKeyID)
	}
	lower := strings.ToLower(pc.Name)
	if n := len(s.userKeys(pc.Account, lower)); n >= maxKeysPerUser {
		return nil, apiErr(ErrLimitExceeded, "%s: cannot exceed quota for AccessKeysPerUser: %d (user %s already has %d keys; delete one first)", x.call.Action, maxKeysPerUser, pc.Name, n)
	}
	return func(s *State) {
		s.keys.set(a.AccessKeyID, &accessKey{ID: a.AccessKeyID, Account: pc.Account, User: lower, Status: KeyActive})
	}, nil
}

// keyOf finds a key by id and checks the optional owner argument.
func (s *State) keyOf(x *callCtx, id, userName string) (*accessKey, *APIError) {
	k, ok := s.keys.get(id)
	if !ok {
		why := "does not exist"
		if s.tombstoned("key", id) {
			why = "was deleted"
		}
		return nil, apiErr(ErrNoSuchEntity, "%s: access_key_id: the access key with id %s %s", x.call.Action, id, why)
	}
	if x.account != "" && x.account != k.Account {
		return nil, apiErr(ErrNoSuchEntity, "%s: access_key_id: the access key with id %s does not belong to account %s", x.call.Action, id, x.account)
	}
	if userName != "" && !strings.EqualFold(userName, k.User) {
		return nil, apiErr(ErrNoSuchEntity, "%s: user_name: the access key %s does not belong to user %s", x.call.Action, id, userName)
	}
	return k, nil
}

func checkUpdateKey(s *State, x *callCtx, a *updateKeyArgs) (applyFn, *APIError) {
	if a.Status != KeyActive && a.Status != KeyInactive {
		return nil, validationErr("%s: argument \"status\" must be Active or Inactive, got %q", x.call.Action, a.Status)
	}
	k, err := s.keyOf(x, a.AccessKeyID, a.UserName)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		n := *k
		n.Status = a.Status
		s.keys.set(k.ID, &n)
	}, nil
}

func checkDeleteKey(s *State, x *callCtx, a *deleteKeyArgs) (applyFn, *APIError) {
	k, err := s.keyOf(x, a.AccessKeyID, a.UserName)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		s.keys.del(k.ID)
		s.tomb("key", k.ID)
	}, nil
}
