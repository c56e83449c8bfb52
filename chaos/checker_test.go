package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/replication"
)

const testAccount = "111122223333"

// fakeRun commits n calls per region through the workers' model against
// one in-memory state (workers never conflict, so one state is every
// region's view), stamping ids and HLCs the way a node does. It returns the
// history and the state it reached.
func fakeRun(t *testing.T, seed uint64, regions []string, n int) (History, *controlplane.State, map[string]uint64) {
	t.Helper()
	st, err := InitialState(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	h := History{Regions: regions, Account: testAccount}
	seqs := map[string]uint64{}
	wall := int64(1_000_000)
	commit := func(worker, region string, req request) {
		call := controlplane.Call{Action: req.call, Region: region, Args: req.with}
		if err := st.Validate(call); err != nil {
			t.Fatalf("seed %d: the workload made an invalid call %s %s: %v", seed, req.call, req.with, err)
		}
		st.Apply(call)
		seqs[region]++
		wall += 1000
		h.Ops = append(h.Ops, Op{Worker: worker, Region: region, Call: req.call, With: req.with, Outcome: Acked,
			ID: fmt.Sprintf("%s/%d", region, seqs[region]), HLC: fmt.Sprintf("%d.0", wall), Deletes: req.deletes})
	}
	for _, req := range setupRequests() {
		commit("setup", regions[0], req)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	var ws []*worker
	for i, reg := range regions {
		ws = append(ws, newWorker(reg, i, 0, rand.New(rand.NewPCG(seed, uint64(i)))))
	}
	for k := 0; k < n*len(regions); k++ {
		w := ws[r.IntN(len(ws))]
		req := w.next()
		commit(w.name, w.region, req)
		w.done(req, Acked)
	}
	return h, st, seqs
}

// probe answers every deleted item's probe against st, as a region would.
func probe(h History, st *controlplane.State) map[string]bool {
	out := map[string]bool{}
	for _, op := range h.Ops {
		for _, it := range op.Deletes {
			d, rs := st.Authorize(controlplane.Probe{Principal: it.Principal, Action: it.Action, Resource: it.Resource})
			out[it.Key()] = it.present(rs.Authenticated, d.Effect == evaluator.Allow)
		}
	}
	return out
}

func finalsOf(h History, st *controlplane.State, vec map[string]uint64) []Final {
	var fs []Final
	for _, r := range h.Regions {
		fs = append(fs, Final{Region: r, Digest: hexDigest(st), Vector: replication.VersionVector(cloneVec(vec)), Present: probe(h, st)})
	}
	return fs
}

func cloneVec(v map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, s := range v {
		out[k] = s
	}
	return out
}

// foldWithout folds h's acknowledged ops except the one with id skip.
func foldWithout(t *testing.T, h History, skip string) *controlplane.State {
	t.Helper()
	st, _ := InitialState(h.Account)
	for _, op := range h.Ops {
		if op.Outcome == Acked && op.ID != skip {
			st.Apply(controlplane.Call{Action: op.Call, Region: op.Region, Args: op.With})
		}
	}
	return st
}

func lastAcked(h History, region string) int {
	for i := len(h.Ops) - 1; i >= 0; i-- {
		if h.Ops[i].Region == region && h.Ops[i].Outcome == Acked {
			return i
		}
	}
	return -1
}

func TestCheck(t *testing.T) {
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	tests := []struct {
		name string
		// mutate turns a correct run into the case; it returns the finals.
		mutate func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final
		want   string // "" = passes; else the finding kind expected
	}{
		{"every acknowledged mutation everywhere", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			return finalsOf(*h, st, vec)
		}, ""},
		{"an unknown outcome that was committed", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			i := lastAcked(*h, "eu-west-1")
			h.Ops[i].Outcome, h.Ops[i].ID, h.Ops[i].HLC, h.Ops[i].Deletes = Unknown, "", "", nil
			return finalsOf(*h, st, vec)
		}, ""},
		{"an unknown outcome that was not committed", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			i := lastAcked(*h, "eu-west-1")
			id := h.Ops[i].ID
			h.Ops[i].Outcome, h.Ops[i].ID, h.Ops[i].HLC, h.Ops[i].Deletes = Unknown, "", "", nil
			v := cloneVec(vec)
			v["eu-west-1"]--
			return finalsOf(*h, foldWithout(t, *h, id), v)
		}, ""},
		{"a region lost an acknowledged mutation", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			fs := finalsOf(*h, st, vec)
			i := lastAcked(*h, "us-east-2")
			fs[2].Vector["us-east-2"]--
			fs[2].Digest = hexDigest(foldWithout(t, *h, h.Ops[i].ID))
			return fs
		}, "lost"},
		{"every region lost the same acknowledged mutation", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			i := lastAcked(*h, "ap-southeast-2")
			v := cloneVec(vec)
			v["ap-southeast-2"]--
			return finalsOf(*h, foldWithout(t, *h, h.Ops[i].ID), v)
		}, "lost"},
		{"a region applied a mutation no node acknowledged", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			// The last commit failed as far as the client knows, yet
			// every region applied it.
			i := lastAcked(*h, "eu-west-1")
			h.Ops[i].Outcome, h.Ops[i].ID, h.Ops[i].HLC, h.Ops[i].Deletes, h.Ops[i].Code = Failed, "", "", nil, "refused"
			return finalsOf(*h, st, vec)
		}, "unacknowledged"},
		{"refusals before a proposal are not findings", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			h.Ops = append(h.Ops,
				Op{Worker: "eu-west-1/0", Region: "eu-west-1", Call: "iam:CreateUser", Outcome: Failed, Code: "refused"},
				Op{Worker: "eu-west-1/0", Region: "eu-west-1", Call: "iam:CreateUser", Outcome: Failed, Code: "CatchingUp"})
			return finalsOf(*h, st, vec)
		}, ""},
		{"an origin refused a valid call with an AWS error", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			// E.g. NoSuchEntity for a user the worker saw created: the
			// origin forgot its own acknowledged commit.
			h.Ops = append(h.Ops, Op{Worker: "us-east-2/0", Region: "us-east-2", Call: "iam:CreateAccessKey", Outcome: Failed, Code: "NoSuchEntity"})
			return finalsOf(*h, st, vec)
		}, "forgotten"},
		{"a region holds a mutation from an origin that committed nothing", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			fs := finalsOf(*h, st, vec)
			fs[1].Vector["sa-east-1"] = 1
			return fs
		}, "unacknowledged"},
		{"divergent digests", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			fs := finalsOf(*h, st, vec)
			other := st.Clone()
			other.Apply(controlplane.Call{Action: "iam:CreateUser", Region: "eu-west-1", Args: []byte(`{"user_name":"intruder"}`)})
			fs[1].Digest = hexDigest(other)
			return fs
		}, "divergent"},
		{"a deleted item came back", func(t *testing.T, h *History, st *controlplane.State, vec map[string]uint64) []Final {
			fs := finalsOf(*h, st, vec)
			for _, op := range h.Ops {
				for _, it := range op.Deletes {
					if d, rs := st.Authorize(controlplane.Probe{Principal: it.Principal, Action: it.Action, Resource: it.Resource}); !it.present(rs.Authenticated, d.Effect == evaluator.Allow) {
						fs[0].Present[it.Key()] = true
						return fs
					}
				}
			}
			t.Fatal("the run deleted nothing: no resurrection to fake")
			return nil
		}, "resurrected"},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(ti + 1)
			h, st, vec := fakeRun(t, seed, regions, 60)
			finals := tt.mutate(t, &h, st, vec)
			res, err := Check(h, finals)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if res.Acked == 0 {
				t.Fatalf("seed %d: no acknowledged mutation in the history", seed)
			}
			if tt.want == "" {
				if !res.OK() {
					t.Fatalf("seed %d: want a pass, got %v", seed, res.Findings())
				}
				if res.DeletesChecked == 0 {
					t.Errorf("seed %d: no deleted item was probed", seed)
				}
				return
			}
			if res.OK() {
				t.Fatalf("seed %d: want a %s finding, the checker passed it", seed, tt.want)
			}
			kinds := []string{}
			for _, f := range res.Findings() {
				kinds = append(kinds, f.Kind)
			}
			if !strings.Contains(strings.Join(kinds, ","), tt.want) {
				t.Errorf("seed %d: findings %v, want one of kind %s", seed, res.Findings(), tt.want)
			}
		})
	}
}

// The workload's deletes must be visible to their probes, or the
// resurrection check would pass vacuously.
func TestDeleteProbesSeeTheirItems(t *testing.T) {
	h, _, _ := fakeRun(t, 42, []string{"us-east-2", "eu-west-1"}, 80)
	kinds := map[string]bool{}
	for i, op := range h.Ops {
		for _, it := range op.Deletes {
			// Just before the delete, the item must be present.
			before, _ := InitialState(h.Account)
			for _, p := range h.Ops[:i] {
				before.Apply(controlplane.Call{Action: p.Call, Region: p.Region, Args: p.With})
			}
			d, rs := before.Authorize(controlplane.Probe{Principal: it.Principal, Action: it.Action, Resource: it.Resource})
			if !it.present(rs.Authenticated, d.Effect == evaluator.Allow) {
				t.Errorf("seed 42: %s: probe does not see %s before %s deletes it (%s)", it.Key(), it.Kind, op.Call, rs.Reason)
			}
			kinds[it.Kind] = true
		}
	}
	for _, k := range []string{"key", "user", "inline-policy", "membership"} {
		if !kinds[k] {
			t.Errorf("seed 42: the workload deleted no %s in 160 calls", k)
		}
	}
}

func TestParseHLC(t *testing.T) {
	tests := []struct {
		in   string
		want replication.Timestamp
		ok   bool
	}{
		{"1795388791797697907.0", replication.Timestamp{Wall: 1795388791797697907}, true},
		{"12.7", replication.Timestamp{Wall: 12, Logical: 7}, true},
		{"12", replication.Timestamp{}, false},
		{"x.1", replication.Timestamp{}, false},
	}
	for _, tt := range tests {
		got, err := replication.ParseTimestamp(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("ParseTimestamp(%q).String() = %q", tt.in, got.String())
		}
	}
}
