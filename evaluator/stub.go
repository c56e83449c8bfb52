package evaluator

// STUB: placeholder bodies so that dependants compile while the evaluator is
// being built. The evaluator work replaces this whole file.

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Policy is a parsed, validated and compiled policy document. Immutable.
type Policy struct {
	name string
	kind Kind
	doc  []byte
}

// Issue is one validation problem.
type Issue struct {
	Path         string
	Line, Column int
	Code         string
	Message      string
}

// ValidationError lists every problem found in one document.
type ValidationError struct {
	Document string
	Issues   []Issue
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s", e.Document, is.Line, is.Column, is.Path, is.Message)
	}
	return b.String()
}

// Parse parses, validates and compiles a policy document.
func Parse(name string, kind Kind, document []byte) (*Policy, error) {
	if !json.Valid(document) {
		return nil, &ValidationError{Document: name, Issues: []Issue{{Path: "$", Line: 1, Column: 1, Code: "MalformedPolicyDocument", Message: "not valid JSON"}}}
	}
	return &Policy{name: name, kind: kind, doc: append([]byte(nil), document...)}, nil
}

// Name is the document's name, used in explanations.
func (p *Policy) Name() string { return p.name }

// Kind is the document's kind.
func (p *Policy) Kind() Kind { return p.kind }

// Document is the source as given.
func (p *Policy) Document() []byte { return p.doc }

// IsPublic reports whether the policy is public in S3's sense.
func (p *Policy) IsPublic() bool { return false }

// PrincipalType classifies a principal.
type PrincipalType uint8

// Principal types.
const (
	PrincipalAnonymous PrincipalType = iota
	PrincipalUser
	PrincipalRole
	PrincipalAssumedRole
	PrincipalRoot
	PrincipalService
	PrincipalFederated
)

// Principal is who makes a request.
type Principal struct {
	Type                        PrincipalType
	ARN, Account, Name, Session string
}

// ParsePrincipal parses "anonymous" or an ARN.
func ParsePrincipal(s string) (Principal, error) {
	if s == "anonymous" {
		return Principal{Type: PrincipalAnonymous}, nil
	}
	return Principal{Type: PrincipalUser, ARN: s}, nil
}

// Context holds request context keys.
type Context struct{ values map[string]any }

// NewContext builds a request context.
func NewContext(values map[string]any) (*Context, error) { return &Context{values: values}, nil }

// Request is one authorization request.
type Request struct {
	Principal                         Principal
	Action, Resource, ResourceAccount string
	Context                           *Context
}

// Decision is the outcome of Evaluate.
type Decision struct{ Effect Effect }

// MatchedStatement names one statement that matched the request.
type MatchedStatement struct {
	Policy, Kind, Sid string
	Index             int
	Effect            string
}

// Explanation renders a decision for people.
type Explanation struct {
	Decision  string             `json:"decision"`
	Matched   []MatchedStatement `json:"matched"`
	BlockedBy string             `json:"blocked_by,omitempty"`
	Summary   string             `json:"summary"`
}

// Explain renders the decision.
func (d Decision) Explain() Explanation {
	return Explanation{Decision: d.Effect.String(), Summary: "stub"}
}

// Evaluate decides a request.
func Evaluate(req *Request, in *Input) Decision { return Decision{Effect: ImplicitDeny} }
