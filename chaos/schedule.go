package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/iamprop/iamprop/wire"
)

// Kind names a fault.
type Kind string

// The faults a schedule injects. The first four go through POST /v1/faults
// (to every running node); the last three through the operating system.
const (
	KindPartition Kind = "partition"        // two groups that cannot reach each other
	KindOneWay    Kind = "partition-oneway" // one region's traffic to another dropped, not the reverse
	KindLoss      Kind = "loss"             // a loss burst on every link, or on one region's outbound links
	KindLatency   Kind = "latency"          // a latency spike with jitter, same scope as loss
	KindKill9     Kind = "kill9"            // SIGKILL, restart with the data directory kept
	KindTerm      Kind = "sigterm"          // SIGTERM (leave, drain, close the log), rejoin with the data kept
	KindWipe      Kind = "wipe"             // SIGKILL, data directory deleted, restart empty (see docs/chaos.md)
	// The divergence faults (Options.Divergence): they can lose
	// acknowledged commits and split the cluster on purpose.
	KindWipeNow  Kind = "wipe-now"  // SIGKILL, data deleted, restart empty, without waiting for its commits to spread
	KindWipeSeed Kind = "wipe-seed" // the same on the first node, restarted as it was founded: without --join
	KindCorrupt  Kind = "corrupt"   // SIGKILL, bytes flipped in its log, restart with or without --recover
)

// Kinds lists every fault kind in report order.
var Kinds = []Kind{KindPartition, KindOneWay, KindLoss, KindLatency, KindKill9, KindTerm, KindWipe, KindWipeNow, KindWipeSeed, KindCorrupt}

// IsDivergence reports whether k is one of the divergence faults, drawn
// only by NewDivergenceSchedule.
func (k Kind) IsDivergence() bool {
	return k == KindWipeNow || k == KindWipeSeed || k == KindCorrupt
}

// isProcess reports whether k goes through the operating system.
func (k Kind) isProcess() bool {
	switch k {
	case KindKill9, KindTerm, KindWipe, KindWipeNow, KindWipeSeed, KindCorrupt:
		return true
	}
	return false
}

// Fault is one planned fault.
type Fault struct {
	Kind Kind
	// At is when it starts, since the schedule started (process faults
	// start no earlier than At and after the previous one has finished).
	At time.Duration
	// Hold is how long it lasts: network faults are cleared after it,
	// a stopped node stays down for it.
	Hold time.Duration
	Node int            // process faults: the node's index
	Spec wire.FaultSpec // network faults: the document posted
	// Flips (KindCorrupt): where bytes are flipped, as fractions of the
	// log's records (past its header), so the same seed flips the same
	// relative places whatever the log's size.
	Flips []float64
	// Recover (KindCorrupt): restart with --recover at once; otherwise
	// restart without it first, where refusing to start is the expected
	// answer, and then with it.
	Recover bool
}

// String renders the fault as the plan lists it: instant, kind, target.
func (f Fault) String() string {
	if f.Kind == KindCorrupt {
		how := "restart without --recover, then with it if refused"
		if f.Recover {
			how = "restart with --recover"
		}
		return fmt.Sprintf("%v %s %s down %v: %d byte flips at %v; %s", f.At.Round(time.Millisecond), f.Kind, RegionName(f.Node), f.Hold.Round(time.Millisecond), len(f.Flips), f.Flips, how)
	}
	if f.Kind.isProcess() {
		return fmt.Sprintf("%v %s %s down %v", f.At.Round(time.Millisecond), f.Kind, RegionName(f.Node), f.Hold.Round(time.Millisecond))
	}
	var what string
	switch {
	case len(f.Spec.Partition) > 0:
		var g []string
		for _, grp := range f.Spec.Partition {
			g = append(g, strings.Join(grp, ","))
		}
		what = strings.Join(g, " | ")
	case f.Spec.PartitionOneway != nil:
		what = f.Spec.PartitionOneway.From + " -> " + f.Spec.PartitionOneway.To
	case len(f.Spec.Links) > 0:
		l := f.Spec.Links[0]
		what = fmt.Sprintf("%s -> %s latency %v jitter %v loss %.2f", l.From, l.To, time.Duration(l.Latency), time.Duration(l.Jitter), l.Loss)
	}
	return fmt.Sprintf("%v %s %s for %v", f.At.Round(time.Millisecond), f.Kind, what, f.Hold.Round(time.Millisecond))
}

// Schedule is one run's faults, drawn from one seeded source: the same
// seed, node count and duration give the same schedule (and the same
// workload choices).
type Schedule struct {
	Seed     uint64
	Nodes    int
	Duration time.Duration
	Network  []Fault // one at a time, in order
	Process  []Fault // one at a time, in order; they overlap network faults
}

// ScheduleSeed derives the seed of schedule index from the run's seed
// (splitmix64), so any schedule of a run can be replayed alone.
func ScheduleSeed(seed uint64, index int) uint64 {
	z := seed + uint64(index+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func uniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// NewSchedule draws the faults of one schedule on n nodes lasting d.
func NewSchedule(seed uint64, n int, d time.Duration) Schedule {
	return newSchedule(seed, n, d, false)
}

// NewDivergenceSchedule draws a schedule that also wipes regions at any
// time (KindWipeNow), wipes the seed node (KindWipeSeed) and flips bytes
// in stopped nodes' logs (KindCorrupt). Its network lane is NewSchedule's
// for the same seed; its process lane draws from the longer list.
func NewDivergenceSchedule(seed uint64, n int, d time.Duration) Schedule {
	return newSchedule(seed, n, d, true)
}

func newSchedule(seed uint64, n int, d time.Duration, divergence bool) Schedule {
	r := rand.New(rand.NewPCG(seed, 0xc4a05))
	s := Schedule{Seed: seed, Nodes: n, Duration: d}
	regions := make([]string, n)
	for i := range regions {
		regions[i] = RegionName(i)
	}
	// Network lane: a fault, a gap, the next one.
	for t := uniform(r, 0, 300*time.Millisecond); t < d-200*time.Millisecond; {
		hold := min(uniform(r, 300*time.Millisecond, 1200*time.Millisecond), d-t)
		f := Fault{At: t, Hold: hold}
		switch r.IntN(4) {
		case 0:
			f.Kind = KindPartition
			perm := r.Perm(n)
			k := 1 + r.IntN(n-1)
			var a, b []string
			for i, p := range perm {
				if i < k {
					a = append(a, regions[p])
				} else {
					b = append(b, regions[p])
				}
			}
			f.Spec.Partition = [][]string{a, b}
		case 1:
			f.Kind = KindOneWay
			from := r.IntN(n)
			to := (from + 1 + r.IntN(n-1)) % n
			f.Spec.PartitionOneway = &wire.OneWay{From: regions[from], To: regions[to]}
		case 2:
			f.Kind = KindLoss
			from, loss := "*", 0.2+0.4*r.Float64()
			if r.IntN(2) == 0 {
				from, loss = regions[r.IntN(n)], 0.5+0.4*r.Float64()
			}
			f.Spec.Links = []wire.LinkSpec{{From: from, To: "*", Loss: float64(int(loss*100)) / 100}}
		default:
			f.Kind = KindLatency
			from := "*"
			if r.IntN(2) == 0 {
				from = regions[r.IntN(n)]
			}
			lat := uniform(r, 50*time.Millisecond, 300*time.Millisecond).Round(time.Millisecond)
			jit := uniform(r, 0, 100*time.Millisecond).Round(time.Millisecond)
			f.Spec.Links = []wire.LinkSpec{{From: from, To: "*", Latency: wire.Duration(lat), Jitter: wire.Duration(jit)}}
		}
		s.Network = append(s.Network, f)
		t += hold + uniform(r, 100*time.Millisecond, 500*time.Millisecond)
	}
	// The last network fault lasts until the heal, so the time to converge
	// after the heal is measured from a fault in force, not from a cluster
	// that already recovered on its own.
	if k := len(s.Network); k > 0 {
		s.Network[k-1].Hold = d - s.Network[k-1].At
	}
	// Process lane: stop a node, keep it down, restart it, pause.
	kinds := []Kind{KindKill9, KindKill9, KindTerm, KindWipe}
	if divergence {
		kinds = append(kinds, KindWipeNow, KindWipeNow, KindWipeSeed, KindCorrupt, KindCorrupt)
	}
	for t := uniform(r, 200*time.Millisecond, 800*time.Millisecond); t < d-300*time.Millisecond; {
		f := Fault{At: t, Kind: kinds[r.IntN(len(kinds))], Node: r.IntN(n), Hold: uniform(r, 200*time.Millisecond, time.Second)}
		switch f.Kind {
		case KindWipeSeed:
			f.Node = 0 // the node started without --join
		case KindCorrupt:
			f.Recover = r.IntN(2) == 0
			f.Flips = make([]float64, 1+r.IntN(3))
			for i := range f.Flips {
				f.Flips[i] = float64(r.IntN(1000)) / 1000
			}
		}
		s.Process = append(s.Process, f)
		t += f.Hold + uniform(r, 500*time.Millisecond, 1200*time.Millisecond)
	}
	// Likewise the last stopped node stays down until the heal.
	if k := len(s.Process); k > 0 {
		s.Process[k-1].Hold = max(s.Process[k-1].Hold, d-s.Process[k-1].At)
	}
	return s
}
