// Package controlplane is the IAM control-plane state (accounts, users,
// groups, roles, managed and inline policies, access keys, S3 buckets, the
// organization's SCPs and RCPs) and the AWS-named mutations that change it.
// It is pure: no IO, no clock, no global randomness.
//
// A mutation is a Call: an AWS API action ("s3:PutBucketPolicy") with its
// arguments in snake_case. State.Validate runs AWS's checks at the origin
// and rejects with an *APIError carrying AWS's error code; State.Apply is
// the deterministic fold step every region takes, and never fails: a call
// that no longer applies (a concurrent conflict) is a recorded no-op
// (TryApply says why). Equal states have equal Digests, whatever order the
// same calls arrived in.
//
// State.Authorize resolves a Probe's principal ("anonymous", "user:NAME",
// "key:AKID", "role:ROLE/SESSION" or an ARN) and every policy that applies,
// and asks the evaluator; Decide does the same without the explanation, for
// hot loops. Catalog lists every supported call with its arguments and
// errors (docs/mutations.md is generated from it), and IsRevoke says
// whether a call narrows access, for delay models that treat grants and
// revocations apart.
package controlplane
