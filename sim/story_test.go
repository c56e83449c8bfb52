package sim_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/sim"
)

// TestStories runs the scripted stories in testdata/*.txt: the simulator's
// event trace as virtual time unfolds. Run with -rewrite after an intended
// change, and read the diff.
//
//	cluster regions=(a,b) [delay=DUR] [latency=DUR] [loss=P] [seed=N]
//	commit region=R user=NAME     commit iam:CreateUser now
//	run until=DUR                  advance virtual time; prints the trace lines
//	partition regions=(a,b)        cut these regions off from the rest
//	oneway from=R to=R             drop every message from R to R
//	heal                           heal every fault started by the script
//	crash region=R [lose-state] / restart region=R
//	status                         per region: applied mutations, and whether it matches the truth
func TestStories(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var s *sim.Sim
		var trace bytes.Buffer
		var regions []string
		var faults []sim.FaultID
		var ids []replication.MutationID
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "cluster" && s == nil {
				d.Fatalf(t, "start with cluster")
			}
			trace.Reset()
			switch d.Cmd {
			case "cluster":
				d.ScanArgs(t, "regions", &regions)
				o := opts{seed: 1, trace: &trace}
				if d.HasArg("seed") {
					d.ScanArgs(t, "seed", &o.seed)
				}
				o.prop = mustD(delay.Constant(durArg(t, d, "delay")))
				if d.HasArg("latency") {
					o.latency = mustD(delay.Constant(durArg(t, d, "latency")))
				}
				if d.HasArg("loss") {
					d.ScanArgs(t, "loss", &o.loss)
				}
				s = build(t, regions, o)
				faults, ids = nil, nil
				return "ok"
			case "commit":
				var r, u string
				d.ScanArgs(t, "region", &r)
				d.ScanArgs(t, "user", &u)
				m, err := s.Commit(r, createUser(u))
				if err != nil {
					return "error: " + err.Error()
				}
				ids = append(ids, m.ID)
			case "run":
				s.RunUntil(durArg(t, d, "until"))
			case "partition":
				var cut []string
				d.ScanArgs(t, "regions", &cut)
				faults = append(faults, s.Partition([][]string{cut}))
			case "oneway":
				var from, to string
				d.ScanArgs(t, "from", &from)
				d.ScanArgs(t, "to", &to)
				faults = append(faults, s.PartitionOneWay(from, to))
			case "heal":
				for _, f := range faults {
					s.Heal(f)
				}
				faults = nil
			case "crash":
				var r string
				d.ScanArgs(t, "region", &r)
				s.Crash(r, d.HasArg("lose-state"))
			case "restart":
				var r string
				d.ScanArgs(t, "region", &r)
				s.Restart(r)
			case "status":
				var b strings.Builder
				fmt.Fprintf(&b, "t=%s converged=%v\n", s.Now(), s.Converged())
				for _, r := range regions {
					var have []string
					for _, id := range ids {
						if s.Has(r, id) {
							have = append(have, id.String())
						}
					}
					fmt.Fprintf(&b, "%s: %v\n", r, have)
				}
				return b.String()
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			return trace.String()
		})
	})
}

func durArg(t *testing.T, d *datadriven.TestData, key string) time.Duration {
	t.Helper()
	if !d.HasArg(key) {
		return 0
	}
	var v string
	d.ScanArgs(t, key, &v)
	dur, err := time.ParseDuration(v)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return dur
}
