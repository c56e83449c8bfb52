// Package controlplane is the IAM control-plane state (accounts, users,
// groups, roles, managed and inline policies, access keys, S3 buckets, the
// organization's SCPs and RCPs) and the AWS-named mutations that change it.
// It is pure: no IO, no clock, no global randomness.
package controlplane

// This file is the package's contract with replication, runner and cmd.
// Implementations may grow; these names and signatures stay.

import (
	"encoding/json"
	"fmt"
)

// Call is one mutation's request: the AWS API action and its arguments in
// snake_case, as in a scenario step or a POST /v1/mutations body.
type Call struct {
	Action  string          `json:"call"`              // "s3:PutBucketPolicy"
	Account string          `json:"account,omitempty"` // calling account; "" = the state's default account
	Region  string          `json:"region,omitempty"`  // origin region (s3:CreateBucket's home region)
	Args    json.RawMessage `json:"with"`              // JSON object; a policy argument is the document itself (object) or a JSON string
}

// APIError is an AWS-style error: a mutation rejected at its origin.
type APIError struct {
	Code    string `json:"code"`    // NoSuchEntity, EntityAlreadyExists, MalformedPolicyDocument, LimitExceeded, DeleteConflict, ...
	Message string `json:"message"` // says which argument and why
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// The rest of the contract (bodies live in other files):
//
//   func NewState() *State
//   func (s *State) Clone() *State                        // deep enough that applying to the clone never changes s
//   func (s *State) Validate(c Call) error                 // *APIError; AWS's checks at the origin, against this view
//   func (s *State) Apply(c Call)                          // deterministic fold step; never fails: a call that no longer
//                                                          // applies (a concurrent conflict) is a recorded no-op
//   func (s *State) Digest() [32]byte                      // equal states <=> equal digests (canonical encoding, sha256)
//   func (s *State) Authorize(p Probe) (evaluator.Decision, Resolution)   // resolve the principal and every applicable policy, then evaluate
//   type Probe struct { Principal, Action, Resource string; Context map[string]any }
//       // Principal: "anonymous" | "user:NAME" | "key:AKID" | "role:ROLE/SESSION" | an ARN
//   type Resolution struct { Authenticated bool; Reason string; Request evaluator.Request; Input evaluator.Input }
//   func Catalog() []CallSpec                             // every supported call with its arguments, for docs/mutations.md
//   func IsRevoke(c Call) bool / or Classify               // whether a call narrows access (for grant/revoke delay models)
//
// Helpers (also stable):
//
//   func (s *State) Decide(p Probe) evaluator.Decision   // Authorize without building Resolution.Reason: for hot loops
//   func (s *State) TryApply(c Call) error                // Apply that returns why a call was a no-op (*APIError), nil if it took effect
//   func (s *State) Conflicts() int / Applied() int       // calls folded as no-ops / in total
//   func (s *State) DefaultAccount() string               // the first account created ("" before any); also the management account
//   func (s *State) ObjectExists(bucket, key string) bool / BucketExists(bucket string) bool
//   func (s *State) Counts() Counts                       // users, groups, roles, policies, keys, buckets, objects, ... for a view summary
//   func (s *State) Export() View                         // the view's content as sorted, JSON-friendly data (GET /v1/view, explain)
//   func RenderCatalog() string                           // docs/mutations.md (go test ./controlplane -run TestCatalogDoc -update)
