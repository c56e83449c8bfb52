package controlplane

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/mutations.md from Catalog()")

const catalogDoc = "../docs/mutations.md"

// TestCatalogDocUpToDate keeps docs/mutations.md generated from the code.
// Run `go test ./controlplane -run TestCatalogDoc -update` after changing a call.
func TestCatalogDocUpToDate(t *testing.T) {
	want := RenderCatalog()
	if *update {
		if err := os.WriteFile(filepath.FromSlash(catalogDoc), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(filepath.FromSlash(catalogDoc))
	if err != nil {
		t.Fatalf("%v; run go test ./controlplane -run TestCatalogDoc -update", err)
	}
	if string(got) != want {
		t.Fatalf("docs/mutations.md is out of date; run go test ./controlplane -run TestCatalogDoc -update")
	}
}

// TestCatalog checks that the catalog covers the calls the issue requires
// and that every argument is documented.
func TestCatalog(t *testing.T) {
	required := []string{
		"iam:CreateUser", "iam:DeleteUser", "iam:CreateGroup", "iam:AddUserToGroup", "iam:RemoveUserFromGroup",
		"iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:CreatePolicy", "iam:DeletePolicy",
		"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion",
		"iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy",
		"iam:DetachUserPolicy", "iam:DetachGroupPolicy", "iam:DetachRolePolicy",
		"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy",
		"iam:DeleteUserPolicy", "iam:DeleteGroupPolicy", "iam:DeleteRolePolicy",
		"iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
		"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
		"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
		"s3:CreateBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutPublicAccessBlock",
		"s3:PutObject", "s3:DeleteObject", "s3control:PutPublicAccessBlock",
		"organizations:CreateAccount", "organizations:CreatePolicy", "organizations:AttachPolicy", "organizations:DetachPolicy",
	}
	have := map[string]CallSpec{}
	for _, c := range Catalog() {
		have[c.Action] = c
	}
	for _, a := range required {
		if _, ok := have[a]; !ok {
			t.Errorf("catalog lacks %s", a)
		}
	}
	for _, c := range have {
		if c.Description == "" || len(c.Errors) == 0 {
			t.Errorf("%s: no description or errors", c.Action)
		}
		for _, a := range c.Args {
			if a.Description == "" || a.Type == "" || strings.ToLower(a.Name) != a.Name {
				t.Errorf("%s: argument %+v is undocumented or not snake_case", c.Action, a)
			}
		}
	}
	// The catalog is plain data for the API and the CLI.
	if _, err := json.Marshal(Catalog()); err != nil {
		t.Fatal(err)
	}
}
