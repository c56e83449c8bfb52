// Package realtime provides the runner's real-time backends: an in-process
// cluster of live memberlist nodes on loopback (--live) and external
// regionnode processes reached over their HTTP API (--cluster). It lives
// apart from package runner so that the simulator path does not link
// memberlist, the live nodes or the API; a program that offers those modes
// passes Backends as runner.Options.RealTime.
package realtime

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/runner"
)

// Backends implements runner.RealTime.
type Backends struct {
	// Token is the cluster nodes' API token.
	Token string
	// ClusterTLS adds to Token what https:// nodes with tokens by role
	// need: the read and admin tokens (faults), a CA file and a client
	// certificate. Its Token, if empty, is Token.
	ClusterTLS apiclient.Options
	// AcceptNodeModel runs a cluster trial even when the nodes' delay
	// model is not the scenario's (they report it in GET /v1/view); by
	// default that is a *ModelMismatchError.
	AcceptNodeModel bool
	// Registerer, when set, receives the in-process (--live) nodes'
	// metrics, beside the runner's own (runmetrics.Server.Registerer);
	// they leave it when each trial's cluster shuts down.
	Registerer prometheus.Registerer
}

var _ runner.RealTime = Backends{}

// liveSettle is how long the runner waits for convergence.
const liveSettle = runner.LiveSettle

// clientOptions merges Token into ClusterTLS.
func (b Backends) clientOptions() apiclient.Options {
	co := b.ClusterTLS
	if co.Token == "" {
		co.Token = b.Token
	}
	return co
}
