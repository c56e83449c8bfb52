package chaos

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/wire"
)

// TestCheckReportedLoss: a commit lost with its origin's disk is the
// documented price when the nodes report it lost themselves (its id in a
// closed epoch's missing range or after its lost_after), and a finding
// when they do not. The truth leaves a reported-lost commit out, so the
// views that lack it are not divergent; a deleted item that is back
// because its delete was lost, and a call refused because the user it
// names was created by a lost commit, are consequences of the reported
// loss, listed apart, not findings.
func TestCheckReportedLoss(t *testing.T) {
	const origin = "us-east-2"
	regions := []string{origin, "eu-west-1", "ap-southeast-2"}
	user := func(name string) Item {
		return Item{Kind: "user", Name: name, Principal: "user:" + name, Action: probeAction, Resource: probeResource}
	}
	with := func(name string) json.RawMessage { return json.RawMessage(`{"user_name":"` + name + `"}`) }
	tests := []struct {
		name string
		// extra ops committed at origin after the run; lost[i]: the i-th
		// of them is lost (no region holds it).
		extra []Op
		lost  []bool
		// report is what every node says of origin's epoch: nil nothing,
		// else its LostInfo (Missing and LostAfter filled in by the test
		// from held).
		report func(held uint64) *wire.LostInfo
		filled bool // the origin filled the lost ids: every vector covers them
		// unknownFilled: each unknown-outcome op took a sequence number,
		// which its origin filled (it was committed, then lost)
		unknownFilled bool
		wantKinds     []string // findings, sorted
		wantLost      int      // ReportedLost
		wantConseq    []string // LossConsequences' kinds
	}{
		{
			name:  "a lost tail reported by lost_after",
			extra: []Op{{Call: "iam:CreateUser", With: with("tail")}},
			lost:  []bool{true},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held, LostAfter: held}
			},
			wantLost: 1,
		},
		{
			name:  "a lost id reported in a missing range",
			extra: []Op{{Call: "iam:CreateUser", With: with("gap")}},
			lost:  []bool{true},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held + 1,
					Missing: [][2]uint64{{held + 1, held + 1}}, KnownLost: 1, LostAfter: held + 1}
			},
			wantLost: 1,
		},
		{
			name:   "a lost id its origin filled with a no-op",
			extra:  []Op{{Call: "iam:CreateUser", With: with("filled")}, {Call: "iam:CreateUser", With: with("kept")}},
			lost:   []bool{true, false},
			filled: true,
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held,
					Missing: [][2]uint64{{held - 1, held - 1}}, KnownLost: 1, LostAfter: held}
			},
			wantLost: 1,
		},
		{
			// The request's answer never came (unknown outcome); it was
			// committed, and lost with the disk: its slot is a filler.
			name:          "an unknown-outcome commit lost and filled",
			extra:         []Op{{Call: "iam:CreateUser", With: with("maybe"), Outcome: Unknown}, {Call: "iam:CreateUser", With: with("kept")}},
			lost:          []bool{false, false},
			unknownFilled: true,
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held,
					Missing: [][2]uint64{{held - 1, held - 1}}, KnownLost: 1, LostAfter: held}
			},
		},
		{
			name:      "the same loss, unreported",
			extra:     []Op{{Call: "iam:CreateUser", With: with("tail")}},
			lost:      []bool{true},
			wantKinds: []string{"divergent", "divergent", "divergent", "lost", "lost", "lost"},
		},
		{
			name:  "another epoch reported lost does not cover it",
			extra: []Op{{Call: "iam:CreateUser", With: with("tail")}},
			lost:  []bool{true},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Epoch: "00000000000000ff", Stream: origin + "@00000000000000ff", LostAfter: 0}
			},
			wantKinds: []string{"divergent", "divergent", "divergent", "lost", "lost", "lost"},
		},
		{
			name: "a lost delete: the user is back",
			extra: []Op{
				{Call: "iam:CreateUser", With: with("phoenix")},
				{Call: "iam:DeleteUser", With: with("phoenix"), Deletes: []Item{user("phoenix")}},
			},
			lost: []bool{false, true},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held, LostAfter: held}
			},
			wantLost:   1,
			wantConseq: []string{"resurrected", "resurrected", "resurrected"},
		},
		{
			name: "a lost create: the next call is refused",
			extra: []Op{
				{Call: "iam:CreateUser", With: with("ghost")},
				{Call: "iam:CreateAccessKey", With: json.RawMessage(`{"user_name":"ghost","access_key_id":"AKIAGHOST"}`), Outcome: Failed, Code: "NoSuchEntity"},
			},
			lost: []bool{true, false},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held, LostAfter: held}
			},
			wantLost:   1,
			wantConseq: []string{"forgotten"},
		},
		{
			name: "a refusal naming another user is still a finding",
			extra: []Op{
				{Call: "iam:CreateUser", With: with("ghost")},
				{Call: "iam:CreateAccessKey", With: json.RawMessage(`{"user_name":"someone-else","access_key_id":"AKIAGHOST"}`), Outcome: Failed, Code: "NoSuchEntity"},
			},
			lost: []bool{true, false},
			report: func(held uint64) *wire.LostInfo {
				return &wire.LostInfo{Origin: origin, Stream: origin, HeldThrough: held, ClaimedThrough: held, LostAfter: held}
			},
			wantKinds: []string{"forgotten"},
			wantLost:  1,
		},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, vec := fakeRun(t, uint64(ti+1), regions, 30)
			held := vec[origin]
			seq := held
			wall := int64(1 << 40)
			var lostIDs []string
			for i, op := range tt.extra {
				op.Worker, op.Region = origin+"/x", origin
				if op.Outcome == Unknown && tt.unknownFilled {
					seq++
					held = seq
				}
				if op.Outcome == "" {
					op.Outcome = Acked
					seq++
					wall += 1000
					op.ID, op.HLC = fmt.Sprintf("%s/%d", origin, seq), fmt.Sprintf("%d.0", wall)
					if tt.lost[i] {
						lostIDs = append(lostIDs, op.ID)
					}
					if !tt.lost[i] || tt.filled {
						held = seq
					}
				}
				h.Ops = append(h.Ops, op)
			}
			v := cloneVec(vec)
			v[origin] = held
			st, _ := InitialState(h.Account)
			for _, op := range h.Ops {
				if op.Outcome == Acked && !slices.Contains(lostIDs, op.ID) {
					st.Apply(controlplane.Call{Action: op.Call, Region: op.Region, Args: op.With})
				}
			}
			finals := finalsOf(h, st, v)
			if tt.report != nil {
				for i := range finals {
					finals[i].LostEpochs = []wire.LostInfo{*tt.report(held)}
				}
			}
			res, err := Check(h, finals)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, f := range res.Findings() {
				kinds = append(kinds, f.Kind)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Errorf("findings %v, want kinds %v", res.Findings(), tt.wantKinds)
			}
			if len(res.ReportedLost) != tt.wantLost {
				t.Errorf("reported lost %v, want %d", res.ReportedLost, tt.wantLost)
			}
			var conseq []string
			for _, f := range res.LossConsequences {
				conseq = append(conseq, f.Kind)
			}
			if !slices.Equal(conseq, tt.wantConseq) {
				t.Errorf("consequences %v, want kinds %v", res.LossConsequences, tt.wantConseq)
			}
		})
	}
}

// TestOriginReportsItsOwnVanishedEpoch: no region holds anything of an
// epoch its origin lost at once; the origin's view, in another epoch,
// reports it lost; another region's cannot.
func TestOriginReportsItsOwnVanishedEpoch(t *testing.T) {
	const origin, old, cur = "eu-central-1", "eu-central-1@61872b3990c213a0", "eu-central-1@00000000000000aa"
	for _, tc := range []struct {
		name  string
		final Final
		want  []string
	}{
		{"the origin in a new epoch", Final{Region: origin, Epoch: cur}, []string{origin}},
		{"the origin, view unread", Final{Region: origin}, nil},
		{"the origin still in that epoch", Final{Region: origin, Epoch: old}, nil},
		{"another region", Final{Region: "eu-west-1", Epoch: "eu-west-1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reportersOf([]Final{tc.final}, old, 1); !slices.Equal(got, tc.want) {
				t.Errorf("reporters %v, want %v", got, tc.want)
			}
		})
	}
}
