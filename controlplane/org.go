package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

// The documents of the AWS-managed policies attached everywhere when a
// policy type is enabled. Without them every level of an organization with
// SCPs would deny everything, as it would in AWS if they were detached.
const (
	fullAWSAccessDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	rcpFullAccessDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`
)

var accountIDRE = regexp.MustCompile(`^\d{12}$`)

type createAccountArgs struct {
	AccountID   string `arg:"account_id,required" doc:"The 12-digit id of the new account. AWS generates it; iamprop takes it as an argument so runs are deterministic. The first account created is the default account and the organization's management account."`
	AccountName string `arg:"account_name" doc:"Friendly name (AccountName)."`
	Email       string `arg:"email" doc:"Email of the account's root user (Email)."`
}

type createOUArgs struct {
	ParentID string `arg:"parent_id" doc:"Parent (ParentId): root (or r-root), an OU id, or ou:NAME; default root."`
	Name     string `arg:"name,required" doc:"Name of the OU (Name); iamprop requires OU names to be unique in the organization, so ou:NAME can name it. Its id is ou-root-HASH."`
}

type moveAccountArgs struct {
	AccountID           string `arg:"account_id,required" doc:"The account to move (AccountId)."`
	SourceParentID      string `arg:"source_parent_id,required" doc:"Its current parent (SourceParentId): root, an OU id or ou:NAME."`
	DestinationParentID string `arg:"destination_parent_id,required" doc:"Its new parent (DestinationParentId): root, an OU id or ou:NAME."`
}

type createOrgPolicyArgs struct {
	Name        string   `arg:"name,required" doc:"Name of the policy (Name), unique in the organization; AttachPolicy accepts it in place of the id."`
	Type        string   `arg:"type,required" doc:"SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY (Type). The first policy of a type enables the type: FullAWSAccess (or RCPFullAWSAccess) is attached to the root, every OU and every account, as AWS does."`
	Content     Document `arg:"content,required" doc:"The policy document (Content), at most 5,120 bytes, white space included (Organizations keeps the text as sent)."`
	Description string   `arg:"description" doc:"Description (Description)."`
}

type updateOrgPolicyArgs struct {
	PolicyID string   `arg:"policy_id,required" doc:"The policy (PolicyId), by id or name."`
	Content  Document `arg:"content,required" doc:"The new document (Content)."`
}

type orgPolicyIDArgs struct {
	PolicyID string `arg:"policy_id,required" doc:"The policy (PolicyId), by id or name."`
}

type orgAttachArgs struct {
	PolicyID string `arg:"policy_id,required" doc:"The policy (PolicyId), by id (p-...) or name."`
	TargetID string `arg:"target_id,required" doc:"The target (TargetId): root (or r-root), an OU id, ou:NAME, or a 12-digit account id."`
}

func orgCalls() []*callDef {
	return []*callDef{
		def("organizations:CreateAccount", "Creates an account and places it under the organization's root.",
			[]string{ErrOrgInvalidInput, ErrDuplicateAccount}, "", nil, checkCreateAccount),
		def("organizations:CreateOrganizationalUnit", "Creates an organizational unit (OU) under the root or another OU.",
			[]string{ErrOrgAccessDenied, ErrOrgInvalidInput, ErrDuplicateOU, ErrParentNotFound}, "", nil, checkCreateOU),
		def("organizations:MoveAccount", "Moves an account to another parent (root or OU): the SCPs and RCPs it inherits change.",
			[]string{ErrOrgAccessDenied, ErrAccountNotFound, "SourceParentNotFoundException", "DestinationParentNotFoundException", ErrDuplicateAccount},
			"revoke (may add restrictions)", always[moveAccountArgs], checkMoveAccount),
		def("organizations:CreatePolicy", "Creates a service control policy (SCP) or resource control policy (RCP); it has no effect until attached.",
			[]string{ErrOrgAccessDenied, ErrOrgInvalidInput, ErrDuplicatePolicy, ErrOrgMalformedPolicy, ErrConstraintViolation}, "", nil, checkCreateOrgPolicy),
		def("organizations:UpdatePolicy", "Replaces the document of an SCP or RCP.",
			[]string{ErrOrgAccessDenied, ErrPolicyNotFound, ErrOrgMalformedPolicy, ErrConstraintViolation}, "revoke (replaces a document)", always[updateOrgPolicyArgs], checkUpdateOrgPolicy),
		def("organizations:DeletePolicy", "Deletes an SCP or RCP that is attached nowhere.",
			[]string{ErrOrgAccessDenied, ErrPolicyNotFound, ErrPolicyInUse}, "grant (it is attached nowhere)", nil, checkDeleteOrgPolicy),
		def("organizations:AttachPolicy", "Attaches an SCP or RCP to the root, an OU or an account.",
			[]string{ErrOrgAccessDenied, ErrPolicyNotFound, ErrTargetNotFound, ErrDuplicatePolicyAttach}, "revoke (adds a restriction)", always[orgAttachArgs], checkOrgAttach),
		def("organizations:DetachPolicy", "Detaches an SCP or RCP. A target keeps at least one SCP, and RCPFullAWSAccess cannot be detached.",
			[]string{ErrOrgAccessDenied, ErrPolicyNotFound, ErrTargetNotFound, ErrPolicyNotAttached, ErrConstraintViolation}, "grant (removes a restriction)", nil, checkOrgDetach),
	}
}

func shortHash(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

// orgCaller checks that the caller is the management account: only it may
// change the organization.
func (s *State) orgCaller(x *callCtx) *APIError {
	mgmt := s.ManagementAccount()
	if mgmt == "" {
		return apiErr(ErrOrgAccessDenied, "%s: there is no organization yet: create an account with organizations:CreateAccount first", x.call.Action)
	}
	if x.account != "" && x.account != mgmt {
		return apiErr(ErrOrgAccessDenied, "%s: only the management account %s can change the organization, not account %s", x.call.Action, mgmt, x.account)
	}
	return nil
}

// parentID resolves a root or OU reference.
func (s *State) parentID(ref string) (string, bool) {
	switch {
	case ref == "" || ref == "root" || ref == rootID:
		return rootID, true
	case strings.HasPrefix(ref, "ou:"):
		name := strings.TrimPrefix(ref, "ou:")
		for _, id := range s.ous.keys() {
			if s.ous.at(id).Name == name {
				return id, true
			}
		}
		return "", false
	default:
		_, ok := s.ous.get(ref)
		return ref, ok
	}
}

// targetID resolves a root, OU or account reference.
func (s *State) targetID(ref string) (string, bool) {
	if accountIDRE.MatchString(ref) {
		_, ok := s.accounts.get(ref)
		return ref, ok
	}
	if ref == "" {
		return "", false
	}
	return s.parentID(ref)
}

// orgPolicyRef resolves a policy by id, or else by name.
func (s *State) orgPolicyRef(x *callCtx, ref string) (*orgPolicy, *APIError) {
	if p, ok := s.orgPolicies.get(ref); ok {
		return p, nil
	}
	for _, id := range s.orgPolicies.keys() {
		if p := s.orgPolicies.at(id); p.Name == ref {
			return p, nil
		}
	}
	return nil, apiErr(ErrPolicyNotFound, "%s: policy_id: no SCP or RCP has id or name %q", x.call.Action, ref)
}

// attachDefaults attaches the AWS-managed full-access policy of every
// enabled type to a new target, as AWS does for new OUs and accounts.
func (s *State) attachDefaults(target string) {
	if _, ok := s.enabled.get(TypeSCP); ok {
		s.attachments.set(target, insertSorted(s.attachments.at(target), fullAWSAccessID))
	}
	if _, ok := s.enabled.get(TypeRCP); ok {
		s.attachments.set(target, insertSorted(s.attachments.at(target), rcpFullAccessID))
	}
}

// enableType turns a policy type on: its AWS-managed full-access policy is
// created and attached to the root, every OU and every account.
func (s *State) enableType(typ string) {
	if _, ok := s.enabled.get(typ); ok {
		return
	}
	id, name, doc, kind := fullAWSAccessID, "FullAWSAccess", fullAWSAccessDoc, evaluator.KindSCP
	if typ == TypeRCP {
		id, name, doc, kind = rcpFullAccessID, "RCPFullAWSAccess", rcpFullAccessDoc, evaluator.KindRCP
	}
	pol, err := parsePolicy(name, kind, []byte(doc))
	if err != nil {
		// The evaluator rejects AWS's own document: leave the type
		// disabled rather than deny everything.
		return
	}
	s.enabled.set(typ, struct{}{})
	s.orgPolicies.set(id, &orgPolicy{ID: id, Name: name, Type: typ, Description: "Allows access to every operation (AWS managed)", Policy: pol, AWSManaged: true})
	targets := append([]string{rootID}, s.ous.keys()...)
	targets = append(targets, s.accounts.keys()...)
	for _, t := range targets {
		s.attachments.set(t, insertSorted(s.attachments.at(t), id))
	}
}

func checkCreateAccount(s *State, x *callCtx, a *createAccountArgs) (applyFn, *APIError) {
	if !accountIDRE.MatchString(a.AccountID) {
		return nil, apiErr(ErrOrgInvalidInput, "%s: account_id: %q must be exactly 12 digits", x.call.Action, a.AccountID)
	}
	if _, ok := s.accounts.get(a.AccountID); ok {
		return nil, apiErr(ErrDuplicateAccount, "%s: account_id: account %s already exists", x.call.Action, a.AccountID)
	}
	return func(s *State) {
		s.accounts.set(a.AccountID, &account{ID: a.AccountID, Name: a.AccountName, Email: a.Email, Seq: s.nextAccount, Parent: rootID})
		if s.nextAccount == 0 {
			s.first = a.AccountID
		}
		s.nextAccount++
		s.attachDefaults(a.AccountID)
	}, nil
}

func checkCreateOU(s *State, x *callCtx, a *createOUArgs) (applyFn, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, err
	}
	if len(a.Name) > 128 || strings.ContainsAny(a.Name, "\n\t") {
		return nil, apiErr(ErrOrgInvalidInput, "%s: name: %q must be 1 to 128 characters without tabs or newlines", x.call.Action, a.Name)
	}
	parent, ok := s.parentID(a.ParentID)
	if !ok {
		return nil, apiErr(ErrParentNotFound, "%s: parent_id: no root or OU %q", x.call.Action, a.ParentID)
	}
	if _, ok := s.parentID("ou:" + a.Name); ok {
		return nil, apiErr(ErrDuplicateOU, "%s: name: an OU named %s already exists", x.call.Action, a.Name)
	}
	id := "ou-root-" + shortHash(a.Name, 8)
	if _, ok := s.ous.get(id); ok {
		return nil, apiErr(ErrDuplicateOU, "%s: name: the id %s derived from %s is taken; choose another name", x.call.Action, id, a.Name)
	}
	return func(s *State) {
		s.ous.set(id, &orgUnit{ID: id, Name: a.Name, Parent: parent})
		s.attachDefaults(id)
	}, nil
}

func checkMoveAccount(s *State, x *callCtx, a *moveAccountArgs) (applyFn, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, err
	}
	acct, ok := s.accounts.get(a.AccountID)
	if !ok {
		return nil, apiErr(ErrAccountNotFound, "%s: account_id: no account %q", x.call.Action, a.AccountID)
	}
	src, ok := s.parentID(a.SourceParentID)
	if !ok || src != acct.Parent {
		return nil, apiErr("SourceParentNotFoundException", "%s: source_parent_id: %q is not the parent of account %s", x.call.Action, a.SourceParentID, a.AccountID)
	}
	dst, ok := s.parentID(a.DestinationParentID)
	if !ok {
		return nil, apiErr("DestinationParentNotFoundException", "%s: destination_parent_id: no root or OU %q", x.call.Action, a.DestinationParentID)
	}
	if dst == src {
		return nil, apiErr(ErrDuplicateAccount, "%s: destination_parent_id: account %s is already in %s", x.call.Action, a.AccountID, dst)
	}
	return func(s *State) {
		n := *acct
		n.Parent = dst
		s.accounts.set(n.ID, &n)
	}, nil
}

func orgKind(typ string) (evaluator.Kind, bool) {
	switch typ {
	case TypeSCP:
		return evaluator.KindSCP, true
	case TypeRCP:
		return evaluator.KindRCP, true
	}
	return 0, false
}

func compileOrg(x *callCtx, name string, kind evaluator.Kind, doc Document) (*evaluator.Policy, *APIError) {
	if n, max := evaluator.Size(kind, doc), evaluator.MaxSize(kind); n > max {
		return nil, apiErr(ErrConstraintViolation, "%s: content: POLICY_CONTENT_LIMIT_EXCEEDED: the document has %d %s, the maximum is %d", x.call.Action, n, evaluator.SizeUnit(kind), max)
	}
	label := "SCP "
	if kind == evaluator.KindRCP {
		label = "RCP "
	}
	return compile(ErrOrgMalformedPolicy, x.call.Action+": content", label+name, kind, doc)
}

func checkCreateOrgPolicy(s *State, x *callCtx, a *createOrgPolicyArgs) (applyFn, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, err
	}
	kind, ok := orgKind(a.Type)
	if !ok {
		return nil, apiErr(ErrOrgInvalidInput, "%s: type: must be SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY, got %q", x.call.Action, a.Type)
	}
	if len(a.Name) > 128 {
		return nil, apiErr(ErrOrgInvalidInput, "%s: name: at most 128 characters", x.call.Action)
	}
	for _, id := range s.orgPolicies.keys() {
		if s.orgPolicies.at(id).Name == a.Name {
			return nil, apiErr(ErrDuplicatePolicy, "%s: name: a policy named %s already exists (%s)", x.call.Action, a.Name, id)
		}
	}
	id := "p-" + shortHash(a.Name, 12)
	if _, ok := s.orgPolicies.get(id); ok {
		return nil, apiErr(ErrDuplicatePolicy, "%s: name: the id %s derived from %s is taken; choose another name", x.call.Action, id, a.Name)
	}
	pol, err := compileOrg(x, a.Name, kind, a.Content)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		s.enableType(a.Type)
		s.orgPolicies.set(id, &orgPolicy{ID: id, Name: a.Name, Type: a.Type, Description: a.Description, Policy: pol})
	}, nil
}

func checkUpdateOrgPolicy(s *State, x *callCtx, a *updateOrgPolicyArgs) (applyFn, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, err
	}
	p, err := s.orgPolicyRef(x, a.PolicyID)
	if err != nil {
		return nil, err
	}
	if p.AWSManaged {
		return nil, apiErr(ErrOrgAccessDenied, "%s: policy_id: %s is managed by AWS and cannot be changed", x.call.Action, p.Name)
	}
	kind, _ := orgKind(p.Type)
	pol, err := compileOrg(x, p.Name, kind, a.Content)
	if err != nil {
		return nil, err
	}
	return func(s *State) {
		n := *p
		n.Policy = pol
		s.orgPolicies.set(n.ID, &n)
	}, nil
}

// orgPolicyTargets lists where a policy is attached.
func (s *State) orgPolicyTargets(id string) []string {
	var out []string
	for _, t := range s.attachments.keys() {
		if containsSorted(s.attachments.at(t), id) {
			out = append(out, t)
		}
	}
	return out
}

func checkDeleteOrgPolicy(s *State, x *callCtx, a *orgPolicyIDArgs) (applyFn, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, err
	}
	p, err := s.orgPolicyRef(x, a.PolicyID)
	if err != nil {
		return nil, err
	}
	if p.AWSManaged {
		return nil, apiErr(ErrOrgAccessDenied, "%s: policy_id: %s is managed by AWS and cannot be deleted", x.call.Action, p.Name)
	}
	if ts := s.orgPolicyTargets(p.ID); len(ts) > 0 {
		return nil, apiErr(ErrPolicyInUse, "%s: policy_id: %s is still attached to %s; detach it first", x.call.Action, p.Name, strings.Join(ts, ", "))
	}
	return func(s *State) {
		s.orgPolicies.del(p.ID)
		s.tomb("org-policy", p.ID)
	}, nil
}

func (s *State) orgAttachTarget(x *callCtx, a *orgAttachArgs) (*orgPolicy, string, *APIError) {
	if err := s.orgCaller(x); err != nil {
		return nil, "", err
	}
	p, err := s.orgPolicyRef(x, a.PolicyID)
	if err != nil {
		return nil, "", err
	}
	t, ok := s.targetID(a.TargetID)
	if !ok {
		return nil, "", apiErr(ErrTargetNotFound, "%s: target_id: no root, OU or account %q (use root, an OU id, ou:NAME or a 12-digit account id)", x.call.Action, a.TargetID)
	}
	return p, t, nil
}

func checkOrgAttach(s *State, x *callCtx, a *orgAttachArgs) (applyFn, *APIError) {
	p, t, err := s.orgAttachTarget(x, a)
	if err != nil {
		return nil, err
	}
	if containsSorted(s.attachments.at(t), p.ID) {
		return nil, apiErr(ErrDuplicatePolicyAttach, "%s: policy %s is already attached to %s", x.call.Action, p.Name, t)
	}
	return func(s *State) {
		s.attachments.set(t, insertSorted(s.attachments.at(t), p.ID))
	}, nil
}

func checkOrgDetach(s *State, x *callCtx, a *orgAttachArgs) (applyFn, *APIError) {
	p, t, err := s.orgAttachTarget(x, a)
	if err != nil {
		return nil, err
	}
	att := s.attachments.at(t)
	if !containsSorted(att, p.ID) {
		return nil, apiErr(ErrPolicyNotAttached, "%s: policy %s is not attached to %s", x.call.Action, p.Name, t)
	}
	if p.ID == rcpFullAccessID {
		return nil, apiErr(ErrConstraintViolation, "%s: RCPFullAWSAccess cannot be detached", x.call.Action)
	}
	if p.Type == TypeSCP {
		n := 0
		for _, id := range att {
			if q, ok := s.orgPolicies.get(id); ok && q.Type == TypeSCP {
				n++
			}
		}
		if n <= 1 {
			return nil, apiErr(ErrConstraintViolation, "%s: MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED: %s is the last SCP attached to %s; attach another first", x.call.Action, p.Name, t)
		}
	}
	return func(s *State) {
		s.attachments.set(t, removeSorted(s.attachments.at(t), p.ID))
		s.tomb("org-attachment", t+"/"+p.ID)
	}, nil
}
