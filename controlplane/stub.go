package controlplane

// STUB: placeholder bodies so that dependants compile while the control
// plane is being built. The controlplane work replaces this whole file.

import "github.com/iamprop/iamprop/evaluator"

// State is one view of the control plane.
type State struct{ applied int }

// NewState returns the empty control plane.
func NewState() *State { return &State{} }

// Clone returns an independent copy.
func (s *State) Clone() *State { c := *s; return &c }

// Validate checks c against this view with AWS's errors.
func (s *State) Validate(c Call) error { return nil }

// Apply folds one committed call into the view.
func (s *State) Apply(c Call) { s.applied++ }

// Digest identifies the view's content.
func (s *State) Digest() [32]byte { return [32]byte{byte(s.applied)} }

// Probe is a data-plane request against a view.
type Probe struct {
	Principal, Action, Resource string
	Context                     map[string]any
}

// Resolution is what Authorize found out about a probe's principal and policies.
type Resolution struct {
	Authenticated bool
	Reason        string
	Request       evaluator.Request
	Input         evaluator.Input
}

// Authorize resolves p against the view and evaluates it.
func (s *State) Authorize(p Probe) (evaluator.Decision, Resolution) {
	return evaluator.Decision{}, Resolution{}
}

// IsRevoke reports whether c narrows access.
func IsRevoke(c Call) bool { return false }
