package runner

import "fmt"

// Mode is what a run measures on: the simulator, an in-process live
// cluster, or external region nodes. Its String is the report's and the
// metrics' `mode`.
type Mode int

// The modes of a run.
const (
	// ModeSim runs trials in the deterministic simulator, in virtual time.
	ModeSim Mode = iota
	// ModeLive runs trials on an in-process cluster of live nodes on
	// loopback, in real time (Options.Live).
	ModeLive
	// ModeCluster runs the one trial on external regionnode processes
	// (Options.Cluster).
	ModeCluster
)

// String is the mode's name in reports and metrics: sim, live or cluster.
func (m Mode) String() string {
	switch m {
	case ModeSim:
		return "sim"
	case ModeLive:
		return "live"
	case ModeCluster:
		return "cluster"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}
