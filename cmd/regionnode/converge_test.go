package main

// Many regionnode processes on one host: a cluster of real processes
// converging on one mutation, measured (BenchmarkConverge100) and asserted
// with fewer processes (TestTwentyProcessesApplyWithoutPushPull).

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// localTiming is memberlist's Local preset as regionnode takes it, with
// quiet logs: a hundred processes logging every apply at info level would
// measure the logger.
var localTiming = []string{"--gossip-preset", "local", "--log-level", "warn"}

// startMany starts n regionnode processes at once on loopback with the
// given timing flags. Each joins the first and the one started before it
// (a join is retried in the background until they answer). It returns when
// every region serves and the first region (which every region joins)
// sees all n alive, and with full, when every region sees all n alive:
// without push/pull memberlist spreads a newcomer only by rumor, which
// may miss a few regions for good. Some regions may still be
// catching up (refusing commits, see ready), which does not keep them from
// applying what others commit.
func startMany(t testing.TB, n int, timing []string, full bool) []*proc {
	t.Helper()
	bin := buildBinary(t)
	ps := make([]*proc, n)
	for i := range ps {
		var join []string
		if i > 0 {
			join = append(join, ps[0].gossip)
		}
		if i > 1 {
			join = append(join, ps[i-1].gossip)
		}
		ps[i] = newProc(t, fmt.Sprintf("r-%03d", i), join)
		ps[i].timing, ps[i].quiet = timing, slices.Contains(timing, "warn")
	}
	for _, p := range ps {
		// A region of many on two cores needs no parallel collector, and
		// a start every 30 ms spreads the start-up work (key generation,
		// log creation, joins) instead of queueing it all at once.
		p.launch(bin, "GOMAXPROCS=1")
		time.Sleep(30 * time.Millisecond)
	}
	// Cleanups run last-registered first: this one signals every process
	// before the processes' own cleanups wait for each in turn, so they
	// all leave at once.
	t.Cleanup(func() {
		for _, p := range ps {
			if p.cmd != nil && !p.exited {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
	})
	for _, p := range ps {
		eventually(t, 60*time.Second, p.region+" serving", func() bool {
			code, _ := p.call("GET", "/healthz", "", false)
			return code == 200
		})
	}
	watch := ps
	if !full {
		watch = ps[:1]
	}
	for _, p := range watch {
		var ms map[string]string
		deadline := time.Now().Add(180 * time.Second)
		for {
			ms = p.members()
			alive := 0
			for _, s := range ms {
				if s == "alive" {
					alive++
				}
			}
			if alive == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d of %d regions alive after 180s: %v", p.region, alive, n, ms)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ps
}

// ready reports whether p accepts commits (GET /readyz).
func (p *proc) ready() bool {
	code, _ := p.call("GET", "/readyz", "", false)
	return code == 200
}

// readyFrom returns the index of the first region at or after i (in a
// circle) that accepts commits, waiting up to a minute for one: a new
// cluster's regions start empty and wait for each other's answers first
// (replication's answersWhileRecovering: some 20 gossip rounds).
func readyFrom(ps []*proc, i int) int {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for k := range ps {
			if j := (i + k) % len(ps); ps[j].ready() {
				return j
			}
		}
	}
	return 0
}

// catchingUp counts the regions that refuse commits.
func catchingUp(ps []*proc) int {
	n := 0
	for _, p := range ps {
		if !p.ready() {
			n++
		}
	}
	return n
}

// launch starts the process, with env added to its environment, without
// waiting for it to serve.
func (p *proc) launch(bin string, env ...string) {
	p.t.Helper()
	p.cmd = exec.Command(bin, p.args()...)
	p.cmd.Env = append(os.Environ(), "IAMPROP_GOSSIP_KEY="+p.key, "IAMPROP_API_TOKEN="+testToken,
		"IAMPROP_ADMIN_TOKEN="+testAdminToken)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.out = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.waitErr = make(chan error, 1)
	p.exited = false
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(p.cmd, p.waitErr)
	p.t.Cleanup(p.stop)
}

// converged commits one mutation at origin and waits, through the API's
// mutation status, until every region has applied it. It returns how long
// after the commit instant the last region applied it (each region's own
// exact apply instant, from its own status) and the wall time from sending
// the commit until the origin's status said complete.
func converged(t testing.TB, ps []*proc, origin int, user string) (lastApply, complete time.Duration) {
	t.Helper()
	sent := time.Now()
	id := ps[origin].commit("iam:CreateUser", fmt.Sprintf(`{"user_name":%q}`, user))
	path := "/v1/mutations/" + url.PathEscape(id)
	// Long polls shorter than the test client's timeout, until complete.
	var code int
	var st map[string]any
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, st = ps[origin].call("GET", path+"?wait=5s", "", false)
		if code == 200 && st["complete"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not applied everywhere within 60s: %d, pending %v", id, code, st["pending"])
		}
	}
	complete = time.Since(sent)
	committed, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st["committed_at"]))
	if err != nil {
		t.Fatalf("committed_at: %v", err)
	}
	// Each region's own status gives its exact apply instant; asked of
	// every region, since the origin's "complete" covers only the regions
	// in its membership.
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range ps {
		for {
			code, own := p.call("GET", path, "", false)
			applied, _ := own["applied"].(map[string]any)
			if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(applied[p.region])); code == 200 && err == nil {
				lastApply = max(lastApply, at.Sub(committed))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: has not applied %s within 60s: %d %v", p.region, id, code, own)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return lastApply, complete
}

// TestTwentyProcessesApplyWithoutPushPull: twenty regionnode processes
// with the Local preset's gossip but no push/pull (an hour apart) all apply a
// mutation committed at one of them: rumors, and pulls on sight of a
// peer's grown vector, reach every region by themselves. Every region's
// own view is checked, not only the origin's status.
func TestTwentyProcessesApplyWithoutPushPull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts twenty regionnode processes")
	}
	// The failure detector is made patient (the Local preset's 200 ms
	// probe timeout declares live regions dead on a loaded 2-core CI
	// machine, and a region dropped from the membership gets nothing);
	// dissemination keeps the preset's 100 ms gossip.
	timing := append(slices.Clone(localTiming), "--push-pull-interval", "1h", "--probe-interval", "2s", "--probe-timeout", "1500ms")
	start := time.Now()
	ps := startMany(t, 20, timing, false)
	t.Logf("20 regions serving and joined in %v", time.Since(start).Round(time.Millisecond))
	if k := catchingUp(ps); k > 0 {
		t.Logf("%d of 20 regions still catching up (refusing commits; they apply all the same)", k)
	}
	// The first region knows every region (each joined it), so its
	// status covers them all; the second origin's may not.
	for i, at := range []int{0, 13} {
		origin := readyFrom(ps, at)
		last, complete := converged(t, ps, origin, fmt.Sprintf("user-%d", i))
		t.Logf("commit at %s: applied everywhere %v after it, origin's status complete after %v", ps[origin].region, last, complete)
	}
	// Having applied the same mutations, the views are the same.
	want := ps[0].digest()
	for _, p := range ps[1:] {
		if got := p.digest(); got != want {
			t.Errorf("%s: digest %s differs from %s's %s", p.region, got, ps[0].region, want)
		}
	}
}

// BenchmarkConverge100 starts 100 regionnode processes on loopback with
// memberlist's Local preset, then, per iteration, commits one mutation at
// a region and measures until every region reports it applied through the
// API's mutation status. all-applied-ms is the latest of the regions' own
// apply instants after the commit instant; status-ms the wall time from
// sending the commit until the origin's status said complete (the acks
// that carry the news to it included). Target: within 2 s.
//
//	go test ./cmd/regionnode -run '^$' -bench Converge100 -benchtime 3x -timeout 20m
func BenchmarkConverge100(b *testing.B) {
	const n = 100
	start := time.Now()
	ps := startMany(b, n, localTiming, true)
	join := time.Since(start)
	waiting := catchingUp(ps)
	b.Logf("%d regions serving and joined in %v; %d still catching up", n, join.Round(time.Millisecond), waiting)
	var applies, completes []time.Duration
	i := 0
	for b.Loop() {
		last, complete := converged(b, ps, readyFrom(ps, (i*37+11)%n), fmt.Sprintf("user-%d", i))
		applies, completes = append(applies, last), append(completes, complete)
		i++
	}
	// Reported after the loop: b.Loop resets what was reported before it.
	b.ReportMetric(join.Seconds(), "join-s")
	b.ReportMetric(float64(waiting), "catching-up")
	b.ReportMetric(float64(slices.Max(applies).Microseconds())/1000, "all-applied-ms")
	b.ReportMetric(float64(slices.Max(completes).Microseconds())/1000, "status-ms")
	b.Logf("per mutation: last apply %v, origin's status complete %v", applies, completes)
}
