package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/sim"
)

// completionCase: one privacy write at 1s in us-east-2, applied in
// eu-west-1 after exactly DELAY; FAULT adds faults.
const completionCase = `name: completion
title: test
description: test
lesson: test
seed: 7
duration: 10s
regions: [us-east-2, eu-west-1]
propagation:
  default: {dist: constant, value: DELAY}
gossip: {interval: 200ms, fanout: 3, retransmit_mult: 4, push_pull_interval: 30s}
policies:
  private-only:
    Version: "2012-10-17"
    Statement: [{Sid: OwnerOnly, Effect: Allow, Principal: {AWS: "arn:aws:iam::111122223333:root"}, Action: "s3:*", Resource: "arn:aws:s3:::bucket-b/*"}]
state:
  accounts: ["111122223333"]
  buckets: [{name: bucket-b, region: eu-west-1, account: "111122223333"}]
steps:
  - {at: 1s, region: us-east-2, call: s3:PutBucketPolicy, with: {bucket: bucket-b, policy: private-only}}
FAULTS`

// firstAckAt replays the trial's simulation with a trace and returns the
// first instant, at or after from, at which an ack of peer was delivered to
// origin: with no network latency it was sent then, so it covers what peer
// had applied by from.
func firstAckAt(t *testing.T, p *plan, seed uint64, origin, peer string, from time.Duration) (time.Duration, bool) {
	t.Helper()
	var trace bytes.Buffer
	cfg := simConfig(p, seed)
	cfg.Trace = &trace
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := p.scenario
	for i := range sc.Steps {
		s.Schedule(sc.Steps[i].At, func() { _, _ = s.Commit(sc.Steps[i].Region, p.stepCalls[i]) })
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if f.Kind != "partition_oneway" {
			t.Fatalf("the replay knows only one-way partitions, not %s", f.Kind)
		}
		s.Schedule(f.At, func() { s.PartitionOneWay(f.From, f.To) })
	}
	s.RunUntil(sc.Duration)
	// An ack alone, or riding on a rumor's gossip message.
	want := fmt.Sprintf("deliver %s>%s %v", peer, origin, replication.KindAck)
	riding := fmt.Sprintf("deliver %s>%s %v+ack", peer, origin, replication.KindGossip)
	sc2 := bufio.NewScanner(&trace)
	for sc2.Scan() {
		at, rest, _ := strings.Cut(sc2.Text(), " ")
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil || rest != want && rest != riding || time.Duration(n) < from {
			continue
		}
		return time.Duration(n), true
	}
	return 0, false
}

// The runner reports, per step, when its mutation was in force everywhere
// (complete_at: the last region's apply, exactly the commit plus the
// constant delay) and when its origin could know it (known_complete_at:
// the arrival of the peer's first ack after its apply, read from the
// simulator's own trace), no earlier than complete_at; a peer whose acks never
// reach the origin leaves it complete but never known complete.
func TestCompleteAndKnownCompleteAt(t *testing.T) {
	for _, tc := range []struct {
		name, delay, faults string
		wantComplete        time.Duration
		wantKnown           bool
	}{
		{"two seconds", "2s", "", 3 * time.Second, true},
		{"half a second", "500ms", "", 1500 * time.Millisecond, true},
		{"acks cut", "2s", "faults: [{at: 0s, partition_oneway: {from: eu-west-1, to: us-east-2}}]\n", 3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("DELAY", tc.delay, "FAULTS", tc.faults).Replace(completionCase)
			sc, err := scenarios.Parse("completion.yaml", []byte(src))
			if err != nil {
				t.Fatalf("scenario does not load: %v", err)
			}
			var samples []TrialSample
			run, err := Run(context.Background(), sc, Options{Trials: 1, OnTrial: func(s TrialSample) { samples = append(samples, s) }})
			if err != nil {
				t.Fatal(err)
			}
			p, err := newPlan(sc)
			if err != nil {
				t.Fatal(err)
			}
			knownAt, ok := firstAckAt(t, p, sc.Seed, "us-east-2", "eu-west-1", tc.wantComplete)
			if ok != tc.wantKnown {
				t.Fatalf("the trace has an ack after the apply: %v, want %v", ok, tc.wantKnown)
			}
			if len(run.Mutations) != 1 || len(samples) != 1 || run.Timeline == nil || len(run.Timeline.Completions) != 1 {
				t.Fatalf("want one mutation, sample and completion, got %+v, %+v, %+v", run.Mutations, samples, run.Timeline)
			}
			m, s, c := run.Mutations[0], samples[0], run.Timeline.Completions[0]
			if m.Committed != 1 || m.Complete != 1 || s.CompleteAt[0] != tc.wantComplete.Seconds() ||
				m.CompleteAtSeconds.P50 != tc.wantComplete.Seconds() || c.CompleteAt == nil || *c.CompleteAt != tc.wantComplete.Seconds() {
				t.Errorf("complete_at: mutation %+v, sample %v, timeline %v; want %v", m, s.CompleteAt, c.CompleteAt, tc.wantComplete)
			}
			if !tc.wantKnown {
				if m.KnownComplete != 0 || s.KnownCompleteAt[0] != -1 || c.KnownCompleteAt != nil {
					t.Errorf("known complete without acks: mutation %+v, sample %v, timeline %v", m, s.KnownCompleteAt, c.KnownCompleteAt)
				}
				return
			}
			if knownAt < tc.wantComplete {
				// An ack at the apply instant itself is fine: a gossip round
				// due then runs right after the apply, and the network has
				// no latency.
				t.Fatalf("the ack arrived at %v, before the apply at %v: the case proves nothing", knownAt, tc.wantComplete)
			}
			after := (knownAt - tc.wantComplete).Seconds()
			if m.KnownComplete != 1 || s.KnownCompleteAt[0] != knownAt.Seconds() || m.KnownCompleteAtSeconds.P50 != round(knownAt.Seconds()) ||
				m.KnownAfterCompleteSeconds.P50 != round(after) || c.KnownCompleteAt == nil || *c.KnownCompleteAt != round(knownAt.Seconds()) {
				t.Errorf("known_complete_at: mutation %+v, sample %v, timeline %v; want %v (%.6fs after)", m, s.KnownCompleteAt, c.KnownCompleteAt, knownAt, after)
			}
		})
	}
}
