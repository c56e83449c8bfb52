package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// options shape one run of the load generator.
type options struct {
	// Addr is the region node's API, host:port.
	Addr string
	// Token is sent as "Authorization: Bearer" ("" sends none). Reads
	// need the read token or above; --setup and --commit-rate the write
	// token.
	Token string
	// Conns is the number of keep-alive connections, each with one
	// request in flight.
	Conns int
	// Rate is the total target of requests per second, spread over the
	// connections; 0 is a closed loop (each connection sends its next
	// request as soon as the answer arrives).
	Rate float64
	// Warmup runs before the measured Duration and is not counted.
	Warmup, Duration time.Duration
	// Body is the authorize request; Expect the decision a 200 answer
	// must carry ("" checks nothing).
	Body   []byte
	Expect string
	// CommitRate commits that many mutations per second at the same node
	// (0: none), alternately attaching and detaching a policy of
	// throw-away users, so the view changes under the reads.
	CommitRate float64
	// CommitConns is the number of connections committing in parallel: a
	// commit waits for the node's fsync, and commits in flight together
	// share one (group commit), so one connection alone would cap the
	// rate at 1/fsync.
	CommitConns int
	// Account is the account of the setup and of the commits.
	Account string
	// PID, when set, is the server's process: its CPU time over the
	// measured span is reported (Linux /proc).
	PID int
}

// maxCommitConns bounds --commit-conns: the setup creates one churn user
// per connection.
const maxCommitConns = 256

// run drives the node for Warmup+Duration and reports the measured span.
func run(ctx context.Context, o options) (Summary, error) {
	if o.Conns < 1 {
		return Summary{}, fmt.Errorf("--conns %d: want at least 1", o.Conns)
	}
	req := buildRequest(o.Addr, "/v1/authorize", o.Token, o.Body)
	want := []byte(nil)
	if o.Expect != "" {
		want = []byte(`"decision":"` + o.Expect + `"`)
	}
	conns := make([]*conn, o.Conns)
	for i := range conns {
		c, err := dial(o.Addr)
		if err != nil {
			for _, c := range conns[:i] {
				c.close()
			}
			return Summary{}, fmt.Errorf("connect to %s: %w", o.Addr, err)
		}
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	var commits *commitLoad
	if o.CommitRate > 0 {
		commits = startCommits(ctx, o, measureFrom)
	}

	var cpuFrom, selfFrom float64
	var cpuErr, selfErr error
	cpuTaken := make(chan struct{})
	go func() {
		defer close(cpuTaken)
		select {
		case <-time.After(time.Until(measureFrom)):
			if o.PID > 0 {
				cpuFrom, cpuErr = processCPU(o.PID)
			}
			selfFrom, selfErr = processCPU(os.Getpid())
		case <-ctx.Done():
			selfErr = ctx.Err()
		}
	}()

	recs := make([]*recorder, o.Conns)
	var wg sync.WaitGroup
	for w := range conns {
		recs[w] = newRecorder()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, rec := conns[w], recs[w]
			var interval time.Duration
			if o.Rate > 0 {
				interval = time.Duration(float64(o.Conns) / o.Rate * float64(time.Second))
			}
			// With a fixed rate, request k of connection w is due at
			// start + offset + k*interval, and its latency runs from that
			// instant: a stalled server delays the requests behind the
			// stall too, and they count it (no coordinated omission).
			due := start.Add(interval * time.Duration(w) / time.Duration(o.Conns))
			for ctx.Err() == nil {
				sent := time.Now()
				if interval > 0 {
					if d := due.Sub(sent); d > 0 {
						time.Sleep(d)
					}
					sent = due
					due = due.Add(interval)
				}
				if sent.After(end) {
					return
				}
				code, body, err := c.do(req)
				done := time.Now()
				if sent.Before(measureFrom) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil && done.After(end) {
						return
					}
					rec.fail()
					time.Sleep(time.Millisecond) // a refused connection must not spin
					continue
				}
				rec.observe(done.Sub(sent), code, want == nil || bytes.Contains(body, want))
			}
		}(w)
	}
	wg.Wait()
	elapsed := min(time.Since(measureFrom), o.Duration)
	<-cpuTaken
	cpuTo, cpuErr2 := 0.0, error(nil)
	if o.PID > 0 {
		cpuTo, cpuErr2 = processCPU(o.PID)
	}
	selfTo, selfErr2 := processCPU(os.Getpid())
	all := newRecorder()
	for _, r := range recs {
		all.merge(r)
	}
	s := all.summary(elapsed)
	s.Conns, s.TargetRPS = o.Conns, o.Rate
	if commits != nil {
		s.Commits = commits.wait(elapsed)
	}
	if o.PID > 0 && cpuErr == nil && cpuErr2 == nil && s.Answered > 0 {
		cpu := cpuTo - cpuFrom
		us := cpu / float64(s.Answered) * 1e6
		s.Server = &ServerCPU{CPUSeconds: cpu, MicrosPerReq: us, CoresBusy: cpu / elapsed.Seconds(), IdleEstimate2: 2e6 / us}
	}
	if selfErr == nil && selfErr2 == nil && s.Answered > 0 {
		cpu := selfTo - selfFrom
		g := &GeneratorCPU{CPUSeconds: cpu, MicrosPerReq: cpu / float64(s.Answered) * 1e6}
		if s.Server != nil {
			g.IdleEstimate2Both = 2e6 / (s.Server.MicrosPerReq + g.MicrosPerReq)
		}
		s.Generator = g
	}
	return s, nil
}

// processCPU is a process's user+system CPU time in seconds.
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are numbered from 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks, nil
}

// commitLoad commits mutations at a fixed rate beside the reads.
type commitLoad struct {
	wg   sync.WaitGroup
	recs []*recorder
}

// startCommits starts CommitConns goroutines, each alternately
// attaching and detaching the churn policy of its own churn user
// (authworld.Calls creates them), so every commit changes the view and none is
// refused for a conflict with another worker.
func startCommits(ctx context.Context, o options, measureFrom time.Time) *commitLoad {
	workers := o.CommitConns
	cl := &commitLoad{recs: make([]*recorder, workers)}
	interval := time.Duration(float64(workers) / o.CommitRate * float64(time.Second))
	start := time.Now()
	for w := range workers {
		cl.recs[w] = newRecorder()
		cl.wg.Add(1)
		go func(w int) {
			defer cl.wg.Done()
			rec := cl.recs[w]
			c := &conn{addr: o.Addr}
			defer c.close()
			due := start.Add(interval * time.Duration(w) / time.Duration(workers))
			// The worker's two requests, built once: the generator's CPU
			// is the server's cores' too.
			var reqs [2][]byte
			for i, call := range [2]string{"iam:AttachUserPolicy", "iam:DetachUserPolicy"} {
				body := fmt.Sprintf(`{"account":%q,"call":%q,"with":{"user_name":"churn-%d","policy_arn":"arn:aws:iam::%s:policy/churn"}}`,
					o.Account, call, w, o.Account)
				reqs[i] = buildRequest(o.Addr, "/v1/mutations", o.Token, []byte(body))
			}
			timer := time.NewTimer(0)
			defer timer.Stop()
			<-timer.C
			for k := 0; ctx.Err() == nil; k++ {
				if d := time.Until(due); d > 0 {
					timer.Reset(d)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				sent := due
				due = due.Add(interval)
				code, _, err := c.do(reqs[k%2])
				if sent.Before(measureFrom) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					rec.fail()
					continue
				}
				rec.observe(time.Since(sent), code, true)
			}
		}(w)
	}
	return cl
}

func (cl *commitLoad) wait(elapsed time.Duration) *CommitSummary {
	cl.wg.Wait()
	all := newRecorder()
	for _, r := range cl.recs {
		all.merge(r)
	}
	ok := all.status[200]
	return &CommitSummary{Committed: ok, Failed: all.sent - ok, PerSecond: float64(ok) / elapsed.Seconds(),
		P50MS: all.quantileMS(0.5), P99MS: all.quantileMS(0.99)}
}
