package replication

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/iamprop/iamprop/controlplane"
)

// TestInteraction runs the stories in testdata/*.txt: scripted interactions
// between a few regions with a manual clock and a network the script
// controls (as etcd-io/raft's interaction tests do). Run with -rewrite to
// regenerate expected output after an intended change, and read the diff.
//
// Commands:
//
//	cluster regions=(a,b) [delay=DUR] [interval=DUR] [fanout=N] [mult=N] [pushpull=DUR|off] [seed=N] [latency=DUR]
//	    (input: "origin -> dest DUR" lines override the delay per link)
//	commit region=R [at=T]        (input: ACTION JSON-ARGS) commit at R
//	tick at=T [regions=(a,b)]     advance the clock and tick (default: every live region)
//	deliver [from=R] [to=R] [kind=K]   deliver queued messages now, in send order
//	drop [from=R] [to=R] [kind=K]      lose queued messages
//	run until=T [verbose]         the simulator's loop: tick at deadlines, deliver after latency
//	status                        applied set, vector, pending, digest group per region
//	partition regions=(a,b)       cut every link between these regions and the rest; heal undoes
//	crash region=R / restart region=R [lose-state]
//	inject from=R to=R [kind=K]   (input: "ORIGIN/SEQ WALL-NANOS ACTION JSON" lines) a hand-made message
//	stats region=R
//	outbox                        the messages waiting for deliver or drop
func TestInteraction(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no stories in testdata: %v", err)
	}
	for _, path := range paths {
		var h *harness
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "cluster" && h == nil {
				t.Fatalf("%s: start with cluster", d.Pos)
			}
			if h != nil {
				h.out.Reset()
				h.quiet = false
			}
			switch d.Cmd {
			case "cluster":
				h = cmdCluster(t, d)
			case "commit":
				if d.HasArg("at") {
					h.now = at(durArg(t, d, "at"))
				}
				var r string
				d.ScanArgs(t, "region", &r)
				action, args, _ := strings.Cut(strings.TrimSpace(d.Input), " ")
				m, err := h.nodes[r].Propose(h.now, call(action, args))
				var apiErr *controlplane.APIError
				switch {
				case errors.As(err, &apiErr):
					// Only the code: the message wording belongs to the
					// control plane and may change.
					h.printf("%s rejected %s: %s\n", r, action, apiErr.Code)
				case err != nil:
					h.printf("%s rejected %s: %v\n", r, action, err)
				default:
					h.printf("%s committed %s %s at %v\n", r, m.ID, action, rel(m.CommitTime()))
				}
				h.collect(r)
			case "tick":
				h.now = at(durArg(t, d, "at"))
				for _, r := range regionsArg(h, d) {
					if !h.down[r] {
						h.nodes[r].Tick(h.now)
						h.collect(r)
					}
				}
			case "deliver", "drop":
				var keep, hit []inflight
				for _, m := range h.outbox {
					if matches(d, m) {
						hit = append(hit, m)
					} else {
						keep = append(keep, m)
					}
				}
				h.outbox = keep
				if d.Cmd == "drop" {
					h.printf("dropped %d\n", len(hit))
					break
				}
				for _, m := range hit {
					h.deliver(m)
				}
				if len(hit) == 0 {
					h.printf("nothing to deliver\n")
				}
			case "run":
				h.quiet = !d.HasArg("verbose")
				h.run(at(durArg(t, d, "until")))
				h.printf("now %v; %d messages in flight; converged: %v\n", rel(h.now), len(h.outbox), h.converged())
			case "status":
				h.status()
			case "partition":
				var group []string
				d.ScanArgs(t, "regions", &group)
				in := map[string]bool{}
				for _, r := range group {
					in[r] = true
				}
				for _, a := range h.regions {
					for _, b := range h.regions {
						if in[a] != in[b] {
							h.cut[[2]string{a, b}] = true
						}
					}
				}
				h.printf("partitioned %v from the rest\n", group)
			case "heal":
				h.cut = map[[2]string]bool{}
				h.printf("healed\n")
			case "crash":
				var r string
				d.ScanArgs(t, "region", &r)
				h.down[r] = true
				h.printf("%s crashed with %d durable mutations\n", r, len(h.durable[r]))
			case "restart":
				var r string
				d.ScanArgs(t, "region", &r)
				h.restart(r, d.HasArg("lose-state"))
				h.printf("%s restarted with %d mutations applied\n", r, len(h.nodes[r].fold.entries))
			case "inject":
				cmdInject(t, h, d)
			case "stats":
				var r string
				d.ScanArgs(t, "region", &r)
				s := h.nodes[r].Stats()
				for k := KindGossip; k < MessageKindCount; k++ {
					if s.Sent[k] > 0 || s.Received[k] > 0 {
						h.printf("%s: sent %d received %d\n", k, s.Sent[k], s.Received[k])
					}
				}
				h.printf("committed %d applied %d duplicates %d rejected %d conflicts %d refolds %d pending %d\n",
					s.Committed, s.Applied, s.Duplicates, s.Rejected, s.Conflicts, s.Refolds, s.Pending)
			case "outbox":
				for _, m := range h.outbox {
					h.printf("%s -> %s %s\n", m.from, m.env.To, describe(m.env.Msg))
				}
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			if h.out.Len() == 0 {
				return "ok\n"
			}
			return h.out.String()
		})
	}
}

func durArg(t *testing.T, d *datadriven.TestData, key string) time.Duration {
	var s string
	d.ScanArgs(t, key, &s)
	v, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %s: %v", d.Pos, key, err)
	}
	return v
}

func regionsArg(h *harness, d *datadriven.TestData) []string {
	if d.HasArg("regions") {
		var rs []string
		d.ScanArgs(h.t, "regions", &rs)
		return rs
	}
	return h.regions
}

func matches(d *datadriven.TestData, m inflight) bool {
	for _, a := range d.CmdArgs {
		switch a.Key {
		case "from":
			if a.Vals[0] != m.from {
				return false
			}
		case "to":
			if a.Vals[0] != m.env.To {
				return false
			}
		case "kind":
			if a.Vals[0] != m.env.Msg.Kind.String() {
				return false
			}
		}
	}
	return true
}

func cmdCluster(t *testing.T, d *datadriven.TestData) *harness {
	var regions []string
	d.ScanArgs(t, "regions", &regions)
	g := GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: 30 * time.Second}
	if d.HasArg("interval") {
		g.Interval = durArg(t, d, "interval")
	}
	if d.HasArg("fanout") {
		d.ScanArgs(t, "fanout", &g.Fanout)
	}
	if d.HasArg("mult") {
		d.ScanArgs(t, "mult", &g.RetransmitMult)
	}
	if d.HasArg("pushpull") {
		var s string
		d.ScanArgs(t, "pushpull", &s)
		if s == "off" {
			g.PushPullInterval = 0
		} else {
			g.PushPullInterval = durArg(t, d, "pushpull")
		}
	}
	seed := uint64(1)
	if d.HasArg("seed") {
		d.ScanArgs(t, "seed", &seed)
	}
	ld := &linkDelay{links: map[[2]string]time.Duration{}}
	if d.HasArg("delay") {
		ld.def = durArg(t, d, "delay")
	}
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var from, to, dur string
		if _, err := fmt.Sscanf(line, "%s -> %s %s", &from, &to, &dur); err != nil {
			t.Fatalf("%s: link %q: %v", d.Pos, line, err)
		}
		v, err := time.ParseDuration(dur)
		if err != nil {
			t.Fatalf("%s: link %q: %v", d.Pos, line, err)
		}
		ld.links[[2]string{from, to}] = v
	}
	h := newHarness(t, regions, ld, g, seed)
	if d.HasArg("latency") {
		h.latency = durArg(t, d, "latency")
	}
	for _, r := range regions {
		h.collect(r)
		pp := "off"
		if g.PushPullInterval > 0 {
			pp = rel(time.Unix(0, h.nodes[r].nextPushPull)).String()
		}
		h.printf("%s: first gossip round at %v, push/pull at %s\n", r, rel(time.Unix(0, h.nodes[r].nextGossip)), pp)
	}
	return h
}

func cmdInject(t *testing.T, h *harness, d *datadriven.TestData) {
	var from, to string
	d.ScanArgs(t, "from", &from)
	d.ScanArgs(t, "to", &to)
	kind := KindGossip
	if d.HasArg("kind") {
		var k string
		d.ScanArgs(t, "kind", &k)
		for c := KindGossip; c < MessageKindCount; c++ {
			if c.String() == k {
				kind = c
			}
		}
	}
	msg := Message{Kind: kind, From: from}
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " ", 4)
		if len(f) != 4 {
			t.Fatalf("%s: want ORIGIN/SEQ WALL ACTION ARGS: %q", d.Pos, line)
		}
		origin, seqs, _ := strings.Cut(f[0], "/")
		seq, _ := strconv.ParseUint(seqs, 10, 64)
		wall, err := time.ParseDuration(f[1])
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		m := Mutation{ID: MutationID{Origin: origin, Seq: seq}, TS: Timestamp{Wall: at(wall).UnixNano()}, Call: call(f[2], f[3])}
		m.Call.Region = origin
		msg.Mutations = append(msg.Mutations, m)
	}
	if err := h.step(to, msg); errors.Is(err, ErrConflict) {
		h.printf("%s dropped a conflicting mutation: %v\n", to, err)
	} else if err != nil {
		h.printf("%s rejected the message: %v\n", to, err)
	} else {
		h.printf("%s accepted the message\n", to)
	}
	h.collect(to)
}
