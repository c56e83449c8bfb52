package runner

import (
	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/scenarios"
)

// InitialState builds the state a scenario's trials start from (its
// `state`, through the control plane's AWS checks), the truth before the
// first step. `scenario replay` replays a trail's changes on it to find
// what each change revoked.
func InitialState(sc *scenarios.Scenario) (*controlplane.State, error) {
	return buildInitialState(sc)
}

// DelayModel builds the scenario's propagation model (the commit -> apply
// delay per link and class), as its trials sample it; `scenario lint`
// reads its quantiles to estimate windows.
func DelayModel(sc *scenarios.Scenario) (*delay.Model, error) {
	p, err := newPlan(sc)
	if err != nil {
		return nil, err
	}
	return p.delay.(*delay.Model), nil
}
