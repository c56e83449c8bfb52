// Package evaluator is the IAM policy language: it parses, validates and
// compiles policy documents, and decides requests the way AWS documents its
// evaluation logic, with an explanation a learner can read. It is pure: no IO,
// no clock, no global randomness.
//
// A document is compiled once and evaluated many times. Parse takes a
// document and its Kind (identity, resource, trust, SCP, RCP, boundary,
// session) and returns a *Policy, or a *ValidationError listing every issue
// with its JSON path, line and column, never a half-built policy. Size,
// MaxSize and the Max*Size constants are the one definition of AWS's size
// quotas and of how each counts a document.
//
// A request (Request: a Principal from ParsePrincipal, an action, a
// resource, a Context from NewContext) is decided against an Input, every
// policy that applies to it, by Evaluate. Evaluate returns a small Decision
// value without allocating in steady state, and Decision.Explain renders
// which statements matched and what blocked, for people.
package evaluator
