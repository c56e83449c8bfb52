// Package policytest loads and runs policy unit tests: YAML files of requests,
// the IAM policies that apply to them, and the decision the author expects
// (the "Policy test file" format of docs/design.md). It backs
// `scenario test-policy`, and the evaluator's conformance suite under
// testdata/conformance is written in the same format.
//
// Loading validates everything up front: unknown keys, wrong types, unknown
// policy names, bad decisions and invalid policy documents are reported as
// Errors at the YAML line and column, so that running a Suite can only pass
// or fail, never stop half-way.
package policytest
