package chaos

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/store"
	"github.com/iamprop/iamprop/wire"
)

// logsOf is what every region's log holds after a correct run: every
// acknowledged mutation, as the history's acknowledgements describe it.
func logsOf(t *testing.T, h History) map[string][]replication.Mutation {
	t.Helper()
	var muts []replication.Mutation
	for _, op := range h.Ops {
		if op.Outcome != Acked {
			continue
		}
		id, err := replication.ParseMutationID(op.ID)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := replication.ParseTimestamp(op.HLC)
		if err != nil {
			t.Fatal(err)
		}
		muts = append(muts, replication.Mutation{ID: id, TS: ts, Call: controlplane.Call{Action: op.Call, Region: op.Region, Args: op.With}})
	}
	logs := map[string][]replication.Mutation{}
	for _, r := range h.Regions {
		logs[r] = slices.Clone(muts)
	}
	return logs
}

func kindsOf(fs []Finding) []string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestCheckDivergence(t *testing.T) {
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	type env struct {
		h      *History
		finals []Final
		logs   map[string][]replication.Mutation
		res    *Result
	}
	// reuse gives eu-west-1's copy of us-east-2's last mutation other
	// content under the same id, as a wiped origin that reused the id does.
	reuse := func(e env) {
		l := e.logs["eu-west-1"]
		for i := len(l) - 1; i >= 0; i-- {
			if l[i].ID.Origin == "us-east-2" {
				l[i].TS.Wall += 12345
				l[i].Call = controlplane.Call{Action: "iam:CreateUser", Region: "us-east-2", Args: []byte(`{"user_name":"someone-else"}`)}
				return
			}
		}
	}
	tests := []struct {
		name   string
		mutate func(e env)
		want   []string // finding kinds, in Findings order
	}{
		{"every log agrees with the acknowledgements", func(e env) {}, nil},
		{"a re-encoded but equal argument is the same mutation", func(e env) {
			l := e.logs["ap-southeast-2"]
			l[len(l)-1].Call.Args = append([]byte(" "), l[len(l)-1].Call.Args...)
		}, nil},
		{"one id, two mutations, no node says so", reuse, []string{"id-reuse", "unreported"}},
		{"one id, two mutations, a node counts a conflict", func(e env) {
			reuse(e)
			e.finals[1].Conflicts = 1
		}, []string{"id-reuse"}},
		{"one id, two mutations, a node is not ready", func(e env) {
			reuse(e)
			e.finals[2].Ready = false
		}, []string{"id-reuse"}},
		{"a log holds other content than was acknowledged", func(e env) {
			for _, r := range regions {
				l := e.logs[r]
				l[len(l)-1].TS.Logical += 7
			}
		}, []string{"id-reuse", "unreported"}},
		{"two acknowledgements with one id are not reported twice", func(e env) {
			i := lastAcked(*e.h, "eu-west-1")
			e.res.IDReuse = append(e.res.IDReuse, Finding{Kind: "id-reuse", ID: e.h.Ops[i].ID})
			reuseAt := e.logs["us-east-2"]
			for j := range reuseAt {
				if reuseAt[j].ID.String() == e.h.Ops[i].ID {
					reuseAt[j].TS.Wall++
				}
			}
		}, []string{"id-reuse", "unreported"}},
		{"divergent views nobody reports", func(e env) {
			e.res.Divergent = append(e.res.Divergent, Finding{Kind: "divergent", Region: "eu-west-1"})
		}, []string{"divergent", "unreported"}},
		{"a reported-lost id its origin filled with a no-op", func(e env) {
			i := lastAcked(*e.h, "us-east-2")
			id, _ := replication.ParseMutationID(e.h.Ops[i].ID)
			e.res.ReportedLost = append(e.res.ReportedLost, Finding{Kind: "reported-lost", ID: id.String()})
			for _, r := range regions {
				l := e.logs[r]
				for j := range l {
					if l[j].ID == id {
						l[j].Call = controlplane.Call{Action: replication.GapAction, Region: "us-east-2"}
						l[j].TS.Wall += 999
					}
				}
			}
		}, nil},
		{"a filler for an id nobody reports lost", func(e env) {
			i := lastAcked(*e.h, "us-east-2")
			id, _ := replication.ParseMutationID(e.h.Ops[i].ID)
			l := e.logs["eu-west-1"]
			for j := range l {
				if l[j].ID == id {
					l[j].Call = controlplane.Call{Action: replication.GapAction, Region: "us-east-2"}
				}
			}
		}, []string{"id-reuse", "unreported"}},
		{"a lost commit nobody reports", func(e env) {
			e.res.Lost = append(e.res.Lost, Finding{Kind: "lost", Region: "eu-west-1", ID: "us-east-2/9"}, Finding{Kind: "lost", Region: "ap-southeast-2", ID: "us-east-2/9"})
		}, []string{"lost", "lost", "unreported"}},
		{"a lost commit a node reports", func(e env) {
			e.res.Lost = append(e.res.Lost, Finding{Kind: "lost", Region: "eu-west-1", ID: "us-east-2/9"})
			e.finals[0].LostEpochs = []wire.LostInfo{{Origin: "us-east-2", Stream: "us-east-2", HeldThrough: 8, ClaimedThrough: 8, LostAfter: 8}}
		}, []string{"lost"}},
		{"a lost counter alone does not name the id", func(e env) {
			e.res.Lost = append(e.res.Lost, Finding{Kind: "lost", Region: "eu-west-1", ID: "us-east-2/9"})
			e.finals[0].Lost = 1
		}, []string{"lost", "unreported"}},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(ti + 1)
			h, st, vec := fakeRun(t, seed, regions, 30)
			finals := finalsOf(h, st, vec)
			for i := range finals {
				finals[i].Ready = true
			}
			res, err := Check(h, finals)
			if err != nil || !res.OK() {
				t.Fatalf("seed %d: the correct run does not pass: %v %v", seed, err, res.Findings())
			}
			e := env{&h, finals, logsOf(t, h), &res}
			tt.mutate(e)
			CheckDivergence(h, finals, e.logs, &res)
			if got := kindsOf(res.Findings()); !slices.Equal(got, tt.want) {
				t.Errorf("seed %d: findings %v, want kinds %v", seed, res.Findings(), tt.want)
			}
		})
	}
}

func TestCheckReads(t *testing.T) {
	ms := time.Millisecond
	// Two acknowledgements at us-east-2: seq 1 at 100ms, seq 2 at 900ms;
	// two at eu-west-1: seq 1 at 300ms, seq 2 at 900ms, though committed
	// (its HLC) at 200ms: a slow answer.
	t0 := time.Unix(1000, 0)
	h := History{T0: t0, Ops: []Op{
		{Worker: "us-east-2/w0", Region: "us-east-2", Outcome: Acked, ID: "us-east-2/1", End: 100 * ms},
		{Worker: "eu-west-1/w0", Region: "eu-west-1", Outcome: Acked, ID: "eu-west-1/1", End: 300 * ms},
		{Worker: "us-east-2/w0", Region: "us-east-2", Outcome: Acked, ID: "us-east-2/2", End: 900 * ms},
		{Worker: "eu-west-1/w1", Region: "eu-west-1", Outcome: Acked, ID: "eu-west-1/2", Start: 150 * ms, End: 900 * ms,
			HLC: fmt.Sprintf("%d.0", t0.Add(200*ms).UnixNano())},
		{Worker: "us-east-2/w0", Region: "us-east-2", Outcome: Unknown, End: 950 * ms},
	}}
	vec := func(kv ...any) replication.VersionVector {
		v := replication.VersionVector{}
		for i := 0; i < len(kv); i += 2 {
			v[kv[i].(string)] = uint64(kv[i+1].(int))
		}
		return v
	}
	atLeast := func(token string, v replication.VersionVector) Read {
		return Read{Region: "ap-southeast-2", Mode: "at_least", Token: token, Start: time.Second, Answered: true, Vector: v}
	}
	maxLag := func(start time.Duration, v replication.VersionVector) Read {
		return Read{Region: "ap-southeast-2", Mode: "max_lag", MaxLag: 500 * ms, Start: start, Answered: true, Vector: v}
	}
	above := func(rd Read, truncated bool, stream string, from, to int) Read {
		rd.Above = map[string][][2]uint64{stream: {{uint64(from), uint64(to)}}}
		rd.AboveTruncated = truncated
		return rd
	}
	tests := []struct {
		name string
		read Read
		lost []string
		want string // "" or the finding kind
	}{
		{"at_least from a view with its token", atLeast("us-east-2/2", vec("us-east-2", 2)), nil, ""},
		{"at_least from a view older than its token", atLeast("us-east-2/2", vec("us-east-2", 1)), nil, "stale-at-least"},
		{"a refused at_least is not judged", Read{Mode: "at_least", Token: "us-east-2/2", Code: "NotFresh"}, nil, ""},
		{"at_least on a lost token is the lost finding's", atLeast("us-east-2/2", vec()), []string{"us-east-2/2"}, ""},
		{"max_lag missing only what is younger than the bound", maxLag(time.Second, vec("us-east-2", 1, "eu-west-1", 2)), nil, ""},
		{"max_lag missing what is older than the bound", maxLag(time.Second, vec("us-east-2", 1)), nil, "stale-max-lag"},
		// The view's real age counts from the commit, not from its late
		// acknowledgement: eu-west-1/2 is 800ms old at 1s.
		{"max_lag missing a commit older than the bound, acknowledged late", maxLag(time.Second, vec("us-east-2", 2, "eu-west-1", 1)), nil, "stale-max-lag"},
		{"max_lag missing everything, before anything was old", maxLag(550*ms, vec()), nil, ""},
		{"max_lag missing old but lost commits", maxLag(time.Second, vec("us-east-2", 1)), []string{"eu-west-1/1", "eu-west-1/2"}, ""},
		// eu-west-1/1 lost: a view applies eu-west-1/2 on arrival, while
		// its vector's prefix waits at 0 for 1's filler. The view holds
		// it: fresh.
		{"max_lag from a view holding an old commit above a lost id's gap",
			above(maxLag(time.Second, vec("us-east-2", 1)), false, "eu-west-1", 2, 2), []string{"eu-west-1/1"}, ""},
		{"max_lag from a view holding other numbers above the gap, not the old commit",
			above(maxLag(time.Second, vec("us-east-2", 1)), false, "eu-west-1", 3, 4), []string{"eu-west-1/1"}, "stale-max-lag"},
		{"max_lag above a gap, without the answer's ranges", maxLag(time.Second, vec("us-east-2", 1)), []string{"eu-west-1/1"}, "stale-max-lag"},
		// The node left ranges out: beyond the prefix is unknown, not
		// judged (Result.ReadsUnknown).
		{"max_lag above a gap, the ranges truncated", above(maxLag(time.Second, vec("us-east-2", 1)), true, "eu-west-1", 5, 5), []string{"eu-west-1/1"}, ""},
		// at_least promises the token's origin history up to it: the
		// prefix, whatever the view holds above it.
		{"at_least with its token only above the prefix", above(atLeast("us-east-2/2", vec("us-east-2", 0)), false, "us-east-2", 2, 2), nil, "stale-at-least"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh := h
			hh.Reads = []Read{tt.read}
			var res Result
			for _, id := range tt.lost {
				res.Lost = append(res.Lost, Finding{Kind: "lost", ID: id})
			}
			CheckReads(hh, &res)
			got := strings.Join(kindsOf(res.StaleReads), ",")
			if got != tt.want {
				t.Errorf("findings %v, want %q", res.StaleReads, tt.want)
			}
			// These truncated answers all lack an old commit from their
			// prefix: unknown.
			if want := map[bool]int{true: 1}[tt.read.AboveTruncated]; res.ReadsUnknown != want {
				t.Errorf("%d reads unknown, want %d", res.ReadsUnknown, want)
			}
		})
	}
}

func TestNodeReports(t *testing.T) {
	tests := []struct {
		name            string
		text            string
		conflicts, lost float64
	}{
		{"today's metrics, nothing wrong", `# HELP iamprop_gossip_refused_mutations_total x
iamprop_gossip_refused_mutations_total{reason="conflict"} 0
iamprop_gossip_refused_mutations_total{reason="seq_ahead"} 4
iamprop_gossip_rejected_total 2
`, 0, 0},
		{"a conflict refused", `iamprop_gossip_refused_mutations_total{reason="conflict"} 3`, 3, 0},
		{"a conflict counter and a lost counter", "iamprop_gossip_conflicts_total 2\niamprop_mutations_lost_total{origin=\"us-east-2\"} 5\n", 2, 5},
		{"a lost gauge is not a report of a loss", "iamprop_lost_members 1\ngo_gc_lost_total 9\n", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, l := nodeReports([]byte(tt.text))
			if c != tt.conflicts || l != tt.lost {
				t.Errorf("nodeReports = %v conflicts, %v lost; want %v, %v", c, l, tt.conflicts, tt.lost)
			}
		})
	}
}

// TestFlipCorruptsTheLog flips bytes in a real log (the store's own) the
// way a KindCorrupt fault does: in the middle, the store must refuse it
// without --recover and keep the rest with it; the header is never hit.
func TestFlipCorruptsTheLog(t *testing.T) {
	tests := []struct {
		name    string
		at      []float64
		refused bool // Open without Recover refuses
	}{
		{"first record", []float64{0}, true},
		{"middle", []float64{0.5}, true},
		{"two places", []float64{0.1, 0.7}, true},
		// The last record is whole by its length: it may have been
		// acknowledged, so a flip in it is corruption too.
		{"last byte: the last record, whole, refused", []float64{0.9999}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			nd := &node{region: "us-east-2", dir: filepath.Join(root, "data")}
			l, _, _, err := store.Open(nd.dir, store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			var muts []replication.Mutation
			for i := 1; i <= 20; i++ {
				muts = append(muts, replication.Mutation{ID: replication.MutationID{Origin: "us-east-2", Seq: uint64(i)}, TS: replication.Timestamp{Wall: int64(i)},
					Call: controlplane.Call{Action: "iam:CreateUser", Args: []byte(`{"user_name":"u` + strings.Repeat("x", i) + `"}`)}})
			}
			if err := l.Append(muts); err != nil {
				t.Fatal(err)
			}
			l.Close()
			c := &cluster{}
			offs, err := c.flip(nd, tt.at)
			if err != nil || len(offs) != len(tt.at) {
				t.Fatalf("flip: offsets %v, %v", offs, err)
			}
			for _, o := range offs {
				if o < int64(store.MaxHeaderLen) {
					t.Errorf("flipped the header at %d", o)
				}
			}
			l2, got, _, err := store.Open(nd.dir, store.Options{})
			var ce *store.CorruptError
			if refused := errors.As(err, &ce); refused != tt.refused {
				t.Fatalf("Open after flips at %v: %v (%d records), want refused %v", offs, err, len(got), tt.refused)
			}
			if err == nil {
				l2.Close()
				if len(got) != 19 {
					t.Errorf("kept %d records, want 19 (the torn last one cut)", len(got))
				}
				return
			}
			l3, got, _, err := store.Open(nd.dir, store.Options{Recover: true})
			if err != nil {
				t.Fatalf("Open with Recover: %v", err)
			}
			l3.Close()
			if len(got) == 0 || len(got) >= 20 {
				t.Errorf("with Recover kept %d of 20 records: want the intact ones only", len(got))
			}
		})
	}
	// A node that never committed has no log: nothing to flip.
	offs, err := (&cluster{}).flip(&node{dir: filepath.Join(t.TempDir(), "none")}, []float64{0.5})
	if err != nil || offs != nil {
		t.Errorf("flip of a missing log: %v, %v", offs, err)
	}
}

func TestStartArguments(t *testing.T) {
	c := &cluster{nodes: []*node{{index: 0, gossip: "g0"}, {index: 1, gossip: "g1"}, {index: 2, gossip: "g2"}}}
	tests := []struct {
		name              string
		nd                *node
		join, withRecover bool
	}{
		{"the seed's first start joins no one", &node{index: 0, gossip: "g0"}, false, false},
		{"the seed's restart joins the others", &node{index: 0, gossip: "g0", starts: 1}, true, false},
		{"a wiped seed restarts as founded", &node{index: 0, gossip: "g0", starts: 1, soloNext: true}, false, false},
		{"another node joins", &node{index: 2, gossip: "g2", starts: 3}, true, false},
		{"a corrupted log restarted with --recover", &node{index: 1, gossip: "g1", starts: 1, recoverNext: true}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := c.args(tt.nd)
			if got := slices.Contains(args, "--join"); got != tt.join {
				t.Errorf("args %v: --join %v, want %v", args, got, tt.join)
			}
			if got := slices.Contains(args, "--recover"); got != tt.withRecover {
				t.Errorf("args %v: --recover %v, want %v", args, got, tt.withRecover)
			}
		})
	}
}
