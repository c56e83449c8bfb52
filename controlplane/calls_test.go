package controlplane

import (
	"fmt"
	"strings"
	"testing"
)

// TestCalls checks each call against base(): accepted calls change the
// digest, rejected ones return the expected AWS error code, change nothing
// under Validate, and are counted no-ops under Apply.
func TestCalls(t *testing.T) {
	arn := readDocsARN
	tenGroups := func() []Call {
		var cs []Call
		// alice is in devs already: nine more make ten, the quota.
		for i := 0; i < 10; i++ {
			cs = append(cs, mk("iam:CreateGroup", fmt.Sprintf(`{"group_name":"g%d"}`, i)))
			if i < 9 {
				cs = append(cs, mk("iam:AddUserToGroup", fmt.Sprintf(`{"group_name":"g%d","user_name":"alice"}`, i)))
			}
		}
		return cs
	}
	fourVersions := []Call{
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`}`),
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`}`),
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`}`),
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`}`),
	}
	tenPolicies := func() []Call {
		var cs []Call
		for i := 0; i < 10; i++ {
			cs = append(cs, mk("iam:CreatePolicy", fmt.Sprintf(`{"policy_name":"p%d","policy_document":%s}`, i, readDocs)),
				mk("iam:AttachRolePolicy", fmt.Sprintf(`{"role_name":"deployer","policy_arn":"arn:aws:iam::%s:policy/p%d"}`, acctA, i)))
		}
		return cs
	}
	key := func(id string) Call {
		return mk("iam:CreateAccessKey", `{"user_name":"alice","access_key_id":"`+id+`"}`)
	}
	scp := mk("organizations:CreatePolicy", `{"name":"deny-s3","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`)

	tests := []struct {
		name string
		pre  []Call
		call Call
		want string // "" = accepted and changes the state; "same" = accepted, changes nothing
	}{
		// arguments
		{"unknown action", nil, mk("iam:CreateUsr", `{"user_name":"bob"}`), ErrUnknownAction},
		{"unknown argument", nil, mk("iam:CreateUser", `{"username":"bob"}`), ErrValidation},
		{"wrong type", nil, mk("iam:CreateUser", `{"user_name":5}`), ErrValidation},
		{"missing required argument", nil, mk("iam:CreateUser", `{}`), ErrValidation},
		{"arguments not an object", nil, mk("iam:CreateUser", `["bob"]`), ErrValidation},
		{"document of wrong type", nil, mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":7}`), ErrValidation},
		{"boolean of wrong type", nil, mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_policy":"yes"}`), ErrValidation},

		// users
		{"CreateUser", nil, mk("iam:CreateUser", `{"user_name":"bob","path":"/eng/"}`), ""},
		{"CreateUser names clash regardless of case", nil, mk("iam:CreateUser", `{"user_name":"ALICE"}`), ErrEntityAlreadyExists},
		{"CreateUser bad name", nil, mk("iam:CreateUser", `{"user_name":"al ice"}`), ErrValidation},
		{"CreateUser bad path", nil, mk("iam:CreateUser", `{"user_name":"bob","path":"eng"}`), ErrValidation},
		{"CreateUser unknown account", nil, as("999999999999", mk("iam:CreateUser", `{"user_name":"bob"}`)), ErrNoSuchEntity},
		{"CreateUser missing boundary", nil, mk("iam:CreateUser", `{"user_name":"bob","permissions_boundary":"arn:aws:iam::`+acctA+`:policy/Nope"}`), ErrNoSuchEntity},
		{"CreateUser same name in another account", nil, as(acctB, mk("iam:CreateUser", `{"user_name":"alice"}`)), ""},
		{"DeleteUser", []Call{mk("iam:CreateUser", `{"user_name":"bob"}`)}, mk("iam:DeleteUser", `{"user_name":"bob"}`), ""},
		{"DeleteUser still in a group", nil, mk("iam:DeleteUser", `{"user_name":"alice"}`), ErrDeleteConflict},
		{"DeleteUser with a key", []Call{mk("iam:CreateUser", `{"user_name":"bob"}`), mk("iam:CreateAccessKey", `{"user_name":"bob","access_key_id":"AKIABOB"}`)},
			mk("iam:DeleteUser", `{"user_name":"bob"}`), ErrDeleteConflict},
		{"DeleteUser with an inline policy", []Call{mk("iam:CreateUser", `{"user_name":"bob"}`), mk("iam:PutUserPolicy", `{"user_name":"bob","policy_name":"p","policy_document":`+readDocs+`}`)},
			mk("iam:DeleteUser", `{"user_name":"bob"}`), ErrDeleteConflict},
		{"DeleteUser missing", nil, mk("iam:DeleteUser", `{"user_name":"bob"}`), ErrNoSuchEntity},

		// groups
		{"CreateGroup", nil, mk("iam:CreateGroup", `{"group_name":"ops"}`), ""},
		{"CreateGroup duplicate", nil, mk("iam:CreateGroup", `{"group_name":"Devs"}`), ErrEntityAlreadyExists},
		{"DeleteGroup with members", nil, mk("iam:DeleteGroup", `{"group_name":"devs"}`), ErrDeleteConflict},
		{"DeleteGroup empty", []Call{mk("iam:CreateGroup", `{"group_name":"ops"}`)}, mk("iam:DeleteGroup", `{"group_name":"ops"}`), ""},
		{"AddUserToGroup", []Call{mk("iam:CreateGroup", `{"group_name":"ops"}`)}, mk("iam:AddUserToGroup", `{"group_name":"ops","user_name":"alice"}`), ""},
		{"AddUserToGroup missing group", nil, mk("iam:AddUserToGroup", `{"group_name":"ops","user_name":"alice"}`), ErrNoSuchEntity},
		{"AddUserToGroup missing user", nil, mk("iam:AddUserToGroup", `{"group_name":"devs","user_name":"bob"}`), ErrNoSuchEntity},
		{"AddUserToGroup eleventh group", tenGroups(), mk("iam:AddUserToGroup", `{"group_name":"g9","user_name":"alice"}`), ErrLimitExceeded},
		{"AddUserToGroup again", nil, mk("iam:AddUserToGroup", `{"group_name":"devs","user_name":"alice"}`), "same"},
		{"RemoveUserFromGroup", nil, mk("iam:RemoveUserFromGroup", `{"group_name":"devs","user_name":"alice"}`), ""},
		{"RemoveUserFromGroup not a member", []Call{mk("iam:CreateGroup", `{"group_name":"ops"}`)}, mk("iam:RemoveUserFromGroup", `{"group_name":"ops","user_name":"alice"}`), ErrNoSuchEntity},

		// roles
		{"CreateRole", nil, mk("iam:CreateRole", `{"role_name":"auditor","assume_role_policy_document":`+trustA+`}`), ""},
		{"CreateRole trust as a JSON string", nil, mk("iam:CreateRole", `{"role_name":"auditor","assume_role_policy_document":`+str(trustA)+`}`), ""},
		{"CreateRole malformed trust", nil, mk("iam:CreateRole", `{"role_name":"auditor","assume_role_policy_document":`+str(malformed)+`}`), ErrMalformedPolicyDocument},
		{"CreateRole trust too large", nil, mk("iam:CreateRole", `{"role_name":"auditor","assume_role_policy_document":`+big(2100)+`}`), ErrLimitExceeded},
		{"CreateRole duplicate", nil, mk("iam:CreateRole", `{"role_name":"Deployer","assume_role_policy_document":`+trustA+`}`), ErrEntityAlreadyExists},
		{"DeleteRole", nil, mk("iam:DeleteRole", `{"role_name":"deployer"}`), ""},
		{"DeleteRole with attached policy", []Call{mk("iam:AttachRolePolicy", `{"role_name":"deployer","policy_arn":"`+arn+`"}`)}, mk("iam:DeleteRole", `{"role_name":"deployer"}`), ErrDeleteConflict},
		{"UpdateAssumeRolePolicy", nil, mk("iam:UpdateAssumeRolePolicy", `{"role_name":"deployer","policy_document":`+strings.ReplaceAll(trustA, acctA, acctB)+`}`), ""},
		{"UpdateAssumeRolePolicy missing role", nil, mk("iam:UpdateAssumeRolePolicy", `{"role_name":"nobody","policy_document":`+trustA+`}`), ErrNoSuchEntity},

		// managed policies
		{"CreatePolicy", nil, mk("iam:CreatePolicy", `{"policy_name":"ListDocs","path":"/team/","policy_document":`+str(listDocs)+`}`), ""},
		{"CreatePolicy duplicate", nil, mk("iam:CreatePolicy", `{"policy_name":"readdocs","policy_document":`+listDocs+`}`), ErrEntityAlreadyExists},
		{"CreatePolicy malformed", nil, mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":`+str(malformed)+`}`), ErrMalformedPolicyDocument},
		{"CreatePolicy with a Principal (identity policies have none)", nil, mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":`+publicRead+`}`), ErrMalformedPolicyDocument},
		{"CreatePolicy with a bad Effect", nil, mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}}`), ErrMalformedPolicyDocument},
		{"CreatePolicy too large", nil, mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":`+big(6200)+`}`), ErrLimitExceeded},
		{"DeletePolicy", []Call{mk("iam:CreatePolicy", `{"policy_name":"x","policy_document":`+listDocs+`}`)}, mk("iam:DeletePolicy", `{"policy_arn":"arn:aws:iam::`+acctA+`:policy/x"}`), ""},
		{"DeletePolicy attached", []Call{mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`)}, mk("iam:DeletePolicy", `{"policy_arn":"`+arn+`"}`), ErrDeleteConflict},
		{"DeletePolicy used as boundary", []Call{mk("iam:PutUserPermissionsBoundary", `{"user_name":"alice","permissions_boundary":"`+arn+`"}`)}, mk("iam:DeletePolicy", `{"policy_arn":"`+arn+`"}`), ErrDeleteConflict},
		{"DeletePolicy with versions", fourVersions[:1], mk("iam:DeletePolicy", `{"policy_arn":"`+arn+`"}`), ErrDeleteConflict},
		{"DeletePolicy bad ARN", nil, mk("iam:DeletePolicy", `{"policy_arn":"ReadDocs"}`), ErrValidation},
		{"CreatePolicyVersion fifth", fourVersions[:3], mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`,"set_as_default":true}`), ""},
		{"CreatePolicyVersion sixth", fourVersions, mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+listDocs+`}`), ErrLimitExceeded},
		{"CreatePolicyVersion malformed", nil, mk("iam:CreatePolicyVersion", `{"policy_arn":"`+arn+`","policy_document":`+str(malformed)+`}`), ErrMalformedPolicyDocument},
		{"SetDefaultPolicyVersion", fourVersions[:1], mk("iam:SetDefaultPolicyVersion", `{"policy_arn":"`+arn+`","version_id":"v2"}`), ""},
		{"SetDefaultPolicyVersion missing", nil, mk("iam:SetDefaultPolicyVersion", `{"policy_arn":"`+arn+`","version_id":"v2"}`), ErrNoSuchEntity},
		{"DeletePolicyVersion", fourVersions[:1], mk("iam:DeletePolicyVersion", `{"policy_arn":"`+arn+`","version_id":"v2"}`), ""},
		{"DeletePolicyVersion default", fourVersions[:1], mk("iam:DeletePolicyVersion", `{"policy_arn":"`+arn+`","version_id":"v1"}`), ErrDeleteConflict},

		// attachments
		{"AttachUserPolicy", nil, mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`), ""},
		{"AttachGroupPolicy", nil, mk("iam:AttachGroupPolicy", `{"group_name":"devs","policy_arn":"`+arn+`"}`), ""},
		{"AttachRolePolicy missing policy", nil, mk("iam:AttachRolePolicy", `{"role_name":"deployer","policy_arn":"arn:aws:iam::`+acctA+`:policy/Nope"}`), ErrNoSuchEntity},
		{"AttachRolePolicy eleventh", tenPolicies(), mk("iam:AttachRolePolicy", `{"role_name":"deployer","policy_arn":"`+arn+`"}`), ErrLimitExceeded},
		{"AttachUserPolicy of another account's policy", []Call{as(acctB, mk("iam:CreateUser", `{"user_name":"bob"}`))},
			as(acctB, mk("iam:AttachUserPolicy", `{"user_name":"bob","policy_arn":"`+arn+`"}`)), ErrNoSuchEntity},
		{"AttachUserPolicy again", []Call{mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`)}, mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`), "same"},
		{"DetachUserPolicy", []Call{mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`)}, mk("iam:DetachUserPolicy", `{"user_name":"alice","policy_arn":"`+arn+`"}`), ""},
		{"DetachGroupPolicy not attached", nil, mk("iam:DetachGroupPolicy", `{"group_name":"devs","policy_arn":"`+arn+`"}`), ErrNoSuchEntity},
		{"DetachRolePolicy missing role", nil, mk("iam:DetachRolePolicy", `{"role_name":"nobody","policy_arn":"`+arn+`"}`), ErrNoSuchEntity},

		// inline policies
		{"PutUserPolicy", nil, mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"read","policy_document":`+readDocs+`}`), ""},
		{"PutUserPolicy over the user quota", nil, mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"read","policy_document":`+big(2100)+`}`), ErrLimitExceeded},
		{"PutGroupPolicy within the group quota", nil, mk("iam:PutGroupPolicy", `{"group_name":"devs","policy_name":"read","policy_document":`+big(2100)+`}`), ""},
		{"PutRolePolicy within the role quota", nil, mk("iam:PutRolePolicy", `{"role_name":"deployer","policy_name":"read","policy_document":`+big(6000)+`}`), ""},
		{"PutRolePolicy malformed", nil, mk("iam:PutRolePolicy", `{"role_name":"deployer","policy_name":"read","policy_document":`+str(malformed)+`}`), ErrMalformedPolicyDocument},
		{"PutUserPolicy bad policy name", nil, mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"a b","policy_document":`+readDocs+`}`), ErrValidation},
		{"DeleteUserPolicy", []Call{mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"read","policy_document":`+readDocs+`}`)}, mk("iam:DeleteUserPolicy", `{"user_name":"alice","policy_name":"read"}`), ""},
		{"DeleteGroupPolicy missing", nil, mk("iam:DeleteGroupPolicy", `{"group_name":"devs","policy_name":"read"}`), ErrNoSuchEntity},
		{"DeleteRolePolicy missing", nil, mk("iam:DeleteRolePolicy", `{"role_name":"deployer","policy_name":"read"}`), ErrNoSuchEntity},

		// boundaries
		{"PutUserPermissionsBoundary", nil, mk("iam:PutUserPermissionsBoundary", `{"user_name":"alice","permissions_boundary":"`+arn+`"}`), ""},
		{"PutRolePermissionsBoundary missing policy", nil, mk("iam:PutRolePermissionsBoundary", `{"role_name":"deployer","permissions_boundary":"arn:aws:iam::`+acctA+`:policy/Nope"}`), ErrNoSuchEntity},
		{"DeleteUserPermissionsBoundary", []Call{mk("iam:PutUserPermissionsBoundary", `{"user_name":"alice","permissions_boundary":"`+arn+`"}`)}, mk("iam:DeleteUserPermissionsBoundary", `{"user_name":"alice"}`), ""},
		{"DeleteRolePermissionsBoundary missing role", nil, mk("iam:DeleteRolePermissionsBoundary", `{"role_name":"nobody"}`), ErrNoSuchEntity},

		// access keys
		{"CreateAccessKey", nil, key("AKIAALICE1"), ""},
		{"CreateAccessKey third", []Call{key("AKIAALICE1"), key("AKIAALICE2")}, key("AKIAALICE3"), ErrLimitExceeded},
		{"CreateAccessKey duplicate", []Call{key("AKIAALICE1")}, key("AKIAALICE1"), ErrEntityAlreadyExists},
		{"CreateAccessKey reuse of a deleted id", []Call{key("AKIAALICE1"), mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAALICE1"}`)}, key("AKIAALICE1"), ErrEntityAlreadyExists},
		{"CreateAccessKey bad id", nil, key("AKIA-1"), ErrValidation},
		{"UpdateAccessKey", []Call{key("AKIAALICE1")}, mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE1","status":"Inactive"}`), ""},
		{"UpdateAccessKey bad status", []Call{key("AKIAALICE1")}, mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE1","status":"Disabled"}`), ErrValidation},
		{"UpdateAccessKey wrong owner", []Call{key("AKIAALICE1")}, mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE1","status":"Inactive","user_name":"bob"}`), ErrNoSuchEntity},
		{"DeleteAccessKey", []Call{key("AKIAALICE1")}, mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAALICE1","user_name":"alice"}`), ""},
		{"DeleteAccessKey from another account", []Call{key("AKIAALICE1")}, as(acctB, mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAALICE1"}`)), ErrNoSuchEntity},
		{"DeleteAccessKey missing", nil, mk("iam:DeleteAccessKey", `{"access_key_id":"AKIANONE"}`), ErrNoSuchEntity},

		// s3
		{"CreateBucket", nil, mk("s3:CreateBucket", `{"bucket":"logs","location_constraint":"ap-southeast-2"}`), ""},
		{"CreateBucket owned by you", nil, mk("s3:CreateBucket", `{"bucket":"docs"}`), ErrBucketAlreadyOwnedByYou},
		{"CreateBucket taken", nil, as(acctB, mk("s3:CreateBucket", `{"bucket":"docs"}`)), ErrBucketAlreadyExists},
		{"CreateBucket bad name", nil, mk("s3:CreateBucket", `{"bucket":"Docs_1"}`), ErrInvalidBucketName},
		{"PutBucketPolicy", nil, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`), ""},
		{"PutBucketPolicy as a JSON string", nil, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+str(ownerOnly)+`}`), ""},
		{"PutBucketPolicy missing bucket", nil, mk("s3:PutBucketPolicy", `{"bucket":"nope","policy":`+publicRead+`}`), ErrNoSuchBucket},
		{"PutBucketPolicy malformed", nil, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+str(malformed)+`}`), ErrMalformedPolicy},
		{"PutBucketPolicy without a Principal", nil, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+readDocs+`}`), ErrMalformedPolicy},
		{"PutBucketPolicy by another account", nil, as(acctB, mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)), "MethodNotAllowed"},
		{"PutBucketPolicy public under bucket BPA", []Call{mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_policy":true}`)},
			mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`), ErrAccessDenied},
		{"PutBucketPolicy public under account BPA", []Call{mk("s3control:PutPublicAccessBlock", `{"account_id":"`+acctA+`","block_public_policy":true}`)},
			mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`), ErrAccessDenied},
		{"PutBucketPolicy private under BPA", []Call{mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_policy":true}`)},
			mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+ownerOnly+`}`), ""},
		{"DeleteBucketPolicy", []Call{mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)}, mk("s3:DeleteBucketPolicy", `{"bucket":"docs"}`), ""},
		{"DeleteBucketPolicy missing bucket", nil, mk("s3:DeleteBucketPolicy", `{"bucket":"nope"}`), ErrNoSuchBucket},
		{"PutPublicAccessBlock", nil, mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_acls":true,"ignore_public_acls":true,"block_public_policy":true,"restrict_public_buckets":true}`), ""},
		{"DeletePublicAccessBlock", []Call{mk("s3:PutPublicAccessBlock", `{"bucket":"docs","restrict_public_buckets":true}`)}, mk("s3:DeletePublicAccessBlock", `{"bucket":"docs"}`), ""},
		{"s3control:PutPublicAccessBlock", nil, mk("s3control:PutPublicAccessBlock", `{"restrict_public_buckets":true}`), ""},
		{"s3control:PutPublicAccessBlock of another account", nil, as(acctB, mk("s3control:PutPublicAccessBlock", `{"account_id":"`+acctA+`","restrict_public_buckets":true}`)), ErrAccessDenied},
		{"s3control:PutPublicAccessBlock unknown account", nil, mk("s3control:PutPublicAccessBlock", `{"account_id":"999999999999"}`), ErrNoSuchEntity},
		{"s3control:DeletePublicAccessBlock", []Call{mk("s3control:PutPublicAccessBlock", `{"restrict_public_buckets":true}`)}, mk("s3control:DeletePublicAccessBlock", `{}`), ""},
		{"PutObject", nil, mk("s3:PutObject", `{"bucket":"docs","key":"q4.pdf"}`), ""},
		{"PutObject missing bucket", nil, mk("s3:PutObject", `{"bucket":"nope","key":"q4.pdf"}`), ErrNoSuchBucket},
		{"PutObject key too long", nil, mk("s3:PutObject", `{"bucket":"docs","key":"`+strings.Repeat("k", 1025)+`"}`), ErrS3InvalidArgument},
		{"DeleteBucket not empty", nil, mk("s3:DeleteBucket", `{"bucket":"docs"}`), "BucketNotEmpty"},
		{"DeleteBucket", []Call{mk("s3:DeleteObject", `{"bucket":"docs","key":"q3.pdf"}`)}, mk("s3:DeleteBucket", `{"bucket":"docs"}`), ""},
		{"DeleteBucket missing", nil, mk("s3:DeleteBucket", `{"bucket":"nope"}`), ErrNoSuchBucket},
		{"DeleteObject", nil, mk("s3:DeleteObject", `{"bucket":"docs","key":"q3.pdf"}`), ""},

		// organizations
		{"CreateAccount", nil, mk("organizations:CreateAccount", `{"account_id":"123456789012","account_name":"sandbox"}`), ""},
		{"CreateAccount bad id", nil, mk("organizations:CreateAccount", `{"account_id":"1234"}`), ErrOrgInvalidInput},
		{"CreateAccount duplicate", nil, mk("organizations:CreateAccount", `{"account_id":"`+acctB+`"}`), ErrDuplicateAccount},
		{"CreateOrganizationalUnit", nil, mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`), ""},
		{"CreateOrganizationalUnit duplicate", []Call{mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`)}, mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`), ErrDuplicateOU},
		{"CreateOrganizationalUnit missing parent", nil, mk("organizations:CreateOrganizationalUnit", `{"name":"prod","parent_id":"ou:nope"}`), ErrParentNotFound},
		{"MoveAccount", []Call{mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`)}, mk("organizations:MoveAccount", `{"account_id":"`+acctC+`","source_parent_id":"root","destination_parent_id":"ou:prod"}`), ""},
		{"MoveAccount wrong source", []Call{mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`)}, mk("organizations:MoveAccount", `{"account_id":"`+acctC+`","source_parent_id":"ou:prod","destination_parent_id":"root"}`), "SourceParentNotFoundException"},
		{"organizations:CreatePolicy", nil, scp, ""},
		{"organizations:CreatePolicy from a member account", nil, as(acctB, scp), ErrOrgAccessDenied},
		{"organizations:CreatePolicy bad type", nil, mk("organizations:CreatePolicy", `{"name":"x","type":"TAG_POLICY","content":`+denyDocs+`}`), ErrOrgInvalidInput},
		{"organizations:CreatePolicy duplicate", []Call{scp}, scp, ErrDuplicatePolicy},
		{"organizations:CreatePolicy malformed", nil, mk("organizations:CreatePolicy", `{"name":"x","type":"SERVICE_CONTROL_POLICY","content":`+str(malformed)+`}`), ErrOrgMalformedPolicy},
		{"organizations:CreatePolicy too large", nil, mk("organizations:CreatePolicy", `{"name":"x","type":"SERVICE_CONTROL_POLICY","content":`+big(5200)+`}`), ErrConstraintViolation},
		{"organizations:AttachPolicy by name to root", []Call{scp}, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`), ""},
		{"organizations:AttachPolicy to an account", []Call{scp}, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"`+acctB+`"}`), ""},
		{"organizations:AttachPolicy to an OU by name", []Call{scp, mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`)}, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"ou:prod"}`), ""},
		{"organizations:AttachPolicy unknown target", []Call{scp}, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"ou:nope"}`), ErrTargetNotFound},
		{"organizations:AttachPolicy unknown policy", nil, mk("organizations:AttachPolicy", `{"policy_id":"nope","target_id":"root"}`), ErrPolicyNotFound},
		{"organizations:AttachPolicy twice", []Call{scp, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`)}, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`), ErrDuplicatePolicyAttach},
		{"organizations:DetachPolicy", []Call{scp, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`)}, mk("organizations:DetachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`), ""},
		{"organizations:DetachPolicy not attached", []Call{scp}, mk("organizations:DetachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`), ErrPolicyNotAttached},
		{"organizations:DetachPolicy the last SCP", []Call{scp}, mk("organizations:DetachPolicy", `{"policy_id":"FullAWSAccess","target_id":"root"}`), ErrConstraintViolation},
		{"organizations:UpdatePolicy", []Call{scp}, mk("organizations:UpdatePolicy", `{"policy_id":"deny-s3","content":`+allowAllS+`}`), ""},
		{"organizations:DeletePolicy attached", []Call{scp, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`)}, mk("organizations:DeletePolicy", `{"policy_id":"deny-s3"}`), ErrPolicyInUse},
		{"organizations:DeletePolicy", []Call{scp}, mk("organizations:DeletePolicy", `{"policy_id":"deny-s3"}`), ""},
	}
	listed := map[string]map[string]bool{}
	for _, c := range Catalog() {
		listed[c.Action] = map[string]bool{}
		for _, e := range c.Errors {
			listed[c.Action][e] = true
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base(t)
			mustApply(t, s, tc.pre...)
			before := s.Digest()
			err := s.Validate(tc.call)
			want := tc.want
			if want == "same" {
				want = ""
			}
			if got := codeOf(t, err); got != want {
				t.Fatalf("Validate(%s %s) = %v, want code %q", tc.call.Action, tc.call.Args, err, tc.want)
			}
			if err != nil && tc.want != ErrUnknownAction {
				if !strings.Contains(err.Error(), tc.call.Action) {
					t.Errorf("error %q does not name the call", err)
				}
				if !listed[tc.call.Action][want] {
					t.Errorf("%s returned %s, which its catalog entry does not list", tc.call.Action, want)
				}
			}
			if s.Digest() != before {
				t.Fatalf("Validate changed the state")
			}
			conflicts := s.Conflicts()
			s.Apply(tc.call)
			switch tc.want {
			case "same":
				if s.Conflicts() != conflicts || s.Digest() != before {
					t.Fatalf("idempotent call conflicted or changed the state")
				}
			case "":
				if s.Conflicts() != conflicts {
					t.Fatalf("accepted call conflicted on Apply")
				}
				if s.Digest() == before {
					t.Fatalf("accepted call did not change the digest")
				}
			default:
				if s.Conflicts() != conflicts+1 {
					t.Fatalf("rejected call was not counted as a conflict")
				}
				if s.Digest() != before {
					t.Fatalf("rejected call changed the state: half-applied")
				}
			}
		})
	}
}

// TestRunnerBootstrap replays the calls the scenario runner makes from a
// scenario's `state` (runner.initialCalls): each names its account, policy
// documents are objects, org policies are attached by name.
func TestRunnerBootstrap(t *testing.T) {
	s := NewState()
	mustApply(t, s,
		as(acctA, mk("organizations:CreateAccount", `{"account_id":"`+acctA+`"}`)),
		as(acctB, mk("organizations:CreateAccount", `{"account_id":"`+acctB+`"}`)),
		as(acctA, mk("iam:CreateGroup", `{"group_name":"devs"}`)),
		as(acctA, mk("iam:CreatePolicy", `{"policy_name":"readonly","policy_document":`+readDocs+`}`)),
		as(acctA, mk("iam:AttachGroupPolicy", `{"group_name":"devs","policy_arn":"arn:aws:iam::`+acctA+`:policy/readonly"}`)),
		as(acctA, mk("iam:CreateUser", `{"user_name":"alice"}`)),
		as(acctA, mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"public-read","policy_document":`+readDocs+`}`)),
		as(acctA, mk("iam:AddUserToGroup", `{"user_name":"alice","group_name":"devs"}`)),
		as(acctA, mk("iam:CreateAccessKey", `{"user_name":"alice","access_key_id":"AKIAEXAMPLE1"}`)),
		as(acctA, mk("iam:PutUserPermissionsBoundary", `{"user_name":"alice","permissions_boundary":"arn:aws:iam::`+acctA+`:policy/readonly"}`)),
		as(acctA, mk("iam:CreateRole", `{"role_name":"deployer","assume_role_policy_document":`+trustA+`}`)),
		as(acctA, in("eu-west-1", mk("s3:CreateBucket", `{"bucket":"important-financial-documents"}`))),
		as(acctA, in("eu-west-1", mk("s3:PutBucketPolicy", `{"bucket":"important-financial-documents","policy":`+strings.ReplaceAll(publicRead, "docs/*", "important-financial-documents/*")+`}`))),
		as(acctA, in("eu-west-1", mk("s3:PutPublicAccessBlock", `{"bucket":"important-financial-documents","block_public_acls":true,"ignore_public_acls":false,"block_public_policy":false,"restrict_public_buckets":false}`))),
		as(acctA, in("eu-west-1", mk("s3:PutObject", `{"bucket":"important-financial-documents","key":"q3.pdf"}`))),
		as(acctA, mk("organizations:CreatePolicy", `{"name":"deny-s3","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`)),
		as(acctA, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"root"}`)),
		as(acctA, mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"`+acctB+`"}`)),
	)
	if got := s.Export().Buckets[0].Region; got != "eu-west-1" {
		t.Errorf("bucket region = %q, want the call's origin region", got)
	}
	if c := s.Counts(); c.Users != 1 || c.ActiveKeys != 1 || c.OrgPolicies != 1 || c.Objects != 1 {
		t.Errorf("counts after bootstrap: %+v", c)
	}
}

// TestIsIAMNameMatchesRegexp: the hand-written name check accepts exactly
// what the documented pattern does.
func TestIsIAMNameMatchesRegexp(t *testing.T) {
	for _, v := range []string{"", "alice", "Alice_01", "a+b=c,d.e@f-g", "a b", "é", "a/b", "a*", "_", "-", strings.Repeat("x", 70), "a\x00", "日本"} {
		if got, want := isIAMName(v), iamNameRE.MatchString(v); got != want {
			t.Errorf("isIAMName(%q) = %v, regexp says %v", v, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		v := "a" + string(rune(c)) + "b"
		if c >= 128 {
			v = "a" + string([]byte{byte(c)}) + "b"
		}
		if got, want := isIAMName(v), iamNameRE.MatchString(v); got != want {
			t.Errorf("isIAMName(%q) = %v, regexp says %v", v, got, want)
		}
	}
}
