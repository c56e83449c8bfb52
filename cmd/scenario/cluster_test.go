package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/internal/loopback"
	"github.com/iamprop/iamprop/wire"
)

const (
	clusterTestToken      = "cluster-cli-test-token-0123456789"
	clusterTestAdminToken = "cluster-cli-admin-token-0123456789"
)

var (
	nodeBinOnce sync.Once
	nodeBin     string
	nodeBinErr  error
)

// regionnodeBinary builds cmd/regionnode once per test binary; without a
// go toolchain the test skips (fails under CI=true).
func regionnodeBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go not in PATH: cannot build regionnode")
		}
		t.Skip("go not in PATH: cannot build regionnode for the cluster tests")
	}
	nodeBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scenario-cluster-test")
		if err != nil {
			nodeBinErr = err
			return
		}
		nodeBin = filepath.Join(dir, "regionnode")
		out, err := exec.Command(goBin, "build", "-o", nodeBin, "github.com/iamprop/iamprop/cmd/regionnode").CombinedOutput()
		if err != nil {
			nodeBinErr = fmt.Errorf("go build ./cmd/regionnode: %v\n%s", err, out)
		}
	})
	if nodeBinErr != nil {
		t.Fatal(nodeBinErr)
	}
	return nodeBin
}

type testNode struct {
	region, gossip, http string
	cmd                  *exec.Cmd
	log                  *strings.Builder
	done                 chan struct{}
}

func (n *testNode) url() string { return "http://" + n.http }

// startCluster starts one regionnode process per region on loopback, joined
// into one cluster, and waits until every node sees every other alive and
// is ready.
func startCluster(t *testing.T, regions ...string) []*testNode {
	t.Helper()
	bin := regionnodeBinary(t)
	var nodes []*testNode
	for i, r := range regions {
		n := &testNode{region: r, gossip: fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)), http: fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)),
			log: &strings.Builder{}, done: make(chan struct{})}
		args := []string{"--region", r, "--gossip", n.gossip, "--http", n.http, "--data-dir", filepath.Join(t.TempDir(), r),
			"--gossip-preset", "local", "--gossip-interval", "20ms", "--probe-interval", "200ms", "--probe-timeout", "100ms",
			"--push-pull-interval", "1s", "--no-sync", "--enable-fault-api"}
		if i > 0 {
			args = append(args, "--join", nodes[0].gossip)
		}
		n.cmd = exec.Command(bin, args...)
		n.cmd.Env = append(os.Environ(), "IAMPROP_API_TOKEN="+clusterTestToken, "IAMPROP_ADMIN_TOKEN="+clusterTestAdminToken)
		n.cmd.Stdout, n.cmd.Stderr = &lockedWriter{b: n.log}, &lockedWriter{b: n.log}
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = n.cmd.Wait(); close(n.done) }()
		t.Cleanup(func() {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.done:
			case <-time.After(10 * time.Second):
				_ = n.cmd.Process.Kill()
				<-n.done
			}
		})
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		c, err := apiclient.New(n.url(), clusterTestToken)
		if err != nil {
			t.Fatal(err)
		}
		until(t, 15*time.Second, n.region+" sees every region alive", func() bool {
			cl, err := c.Cluster(context.Background())
			if err != nil {
				return false
			}
			alive := 0
			for _, m := range cl.Members {
				if m.State == "alive" {
					alive++
				}
			}
			return alive == len(regions)
		})
		// The first region, which joins no one, refuses writes with its
		// empty log until it holds every peer's state: ready says so.
		until(t, 15*time.Second, n.region+" ready", func() bool { return c.Ready(context.Background()) == nil })
	}
	return nodes
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func until(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodesFlag(nodes ...*testNode) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	return strings.Join(urls, ",")
}

// TestClusterCommandsAgainstRegionnodes drives three real regionnode
// processes with `scenario cluster`: a mutation is waited for until every
// region applied it (exit 0); with a region killed, the wait times out
// naming that region as unknown (exit 1), even when the dead node is the
// first one asked; bad input exits 2.
func TestClusterCommandsAgainstRegionnodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts regionnode processes")
	}
	t.Setenv(envToken, clusterTestToken)
	t.Setenv("IAMPROP_ADMIN_TOKEN", clusterTestAdminToken)
	t.Setenv(envNodes, "")
	nodes := startCluster(t, "us-east-2", "eu-west-1", "ap-southeast-2")
	all := nodesFlag(nodes...)

	expectRun(t, []string{"cluster", "status", "--nodes", all}, 0,
		[]string{"us-east-2", "eu-west-1", "ap-southeast-2", "3 alive"}, nil)

	out, _ := expectRun(t, []string{"cluster", "commit", "--nodes", all, "--json", "iam:CreateUser", `{"user_name":"alice"}`}, 0, []string{`"id": "us-east-2@`}, nil)
	var first struct{ ID string }
	if err := json.Unmarshal([]byte(out), &first); err != nil || first.ID == "" {
		t.Fatalf("commit --json: %v: %q", err, out)
	}
	_, progress := expectRun(t, []string{"cluster", "wait", "--nodes", all, "--timeout", "20s", "--progress", "always", first.ID}, 0,
		[]string{first.ID + ": applied in every region (3 of 3)", "ap-southeast-2", "applied"}, nil)
	for _, r := range []string{"us-east-2", "eu-west-1", "ap-southeast-2"} {
		if !strings.Contains(progress, r) {
			t.Errorf("progress does not name %s:\n%s", r, progress)
		}
	}
	expectRun(t, []string{"cluster", "view", "--nodes", all}, 0, []string{"us-east-2@", ":1 "}, nil)
	expectRun(t, []string{"cluster", "authorize", "--nodes", all, "--principal", "arn:aws:iam::111122223333:user/alice",
		"--action", "iam:GetUser", "--resource", "arn:aws:iam::111122223333:user/alice", "--token", first.ID}, 0,
		[]string{"ImplicitDeny", "eu-west-1"}, nil)

	// Faults go to every node and come back; --clear removes them.
	spec := filepath.Join(t.TempDir(), "faults.json")
	if err := os.WriteFile(spec, []byte(`{"links":[{"from":"*","to":"*","latency":"5ms"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = expectRun(t, []string{"cluster", "faults", "--nodes", all, "--set", spec}, 0, []string{`"latency":"5ms"`}, nil)
	if strings.Count(out, `"latency":"5ms"`) != 3 {
		t.Errorf("faults not set on every node:\n%s", out)
	}
	expectRun(t, []string{"cluster", "faults", "--nodes", all, "--clear"}, 0, []string{"none"}, nil)
	expectRun(t, []string{"cluster", "faults", "--nodes", all, "--set", "-", "--json"}, 2, nil, []string{"empty"})

	// A region goes down: the others see it dead, a new mutation can never
	// be complete, and the wait names the region.
	down := nodes[2]
	if err := down.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-down.done
	c0, _ := apiclient.New(nodes[0].url(), clusterTestToken)
	until(t, 15*time.Second, "us-east-2 sees ap-southeast-2 down", func() bool {
		cl, err := c0.Cluster(context.Background())
		if err != nil {
			return false
		}
		for _, m := range cl.Members {
			if m.Region == down.region && m.State != "alive" {
				return true
			}
		}
		return false
	})
	expectRun(t, []string{"cluster", "status", "--nodes", all}, 1, []string{"dead (ap-southeast-2)"}, []string{"1 of 3 nodes not ready", down.url()})

	out, _ = expectRun(t, []string{"cluster", "commit", "--nodes", all, "--json", "iam:CreateUser", `{"user_name":"bob"}`}, 0, nil, nil)
	var second struct{ ID string }
	if err := json.Unmarshal([]byte(out), &second); err != nil || second.ID == "" {
		t.Fatalf("commit --json: %v: %q", err, out)
	}
	// The dead node first: the wait moves on to a live one.
	order := nodesFlag(down, nodes[0], nodes[1])
	_, errOut := expectRun(t, []string{"cluster", "wait", "--nodes", order, "--timeout", "3s", second.ID}, 1,
		[]string{"NOT applied everywhere", "ap-southeast-2  unknown"},
		[]string{second.ID + " not applied in every region within 3s: applied in 2 of 3", "unknown: ap-southeast-2"})
	if strings.Contains(errOut, "pending: ap-southeast-2") {
		t.Errorf("a down region reported as pending, not unknown:\n%s", errOut)
	}
	out, _ = expectRun(t, []string{"cluster", "wait", "--nodes", all, "--timeout", "2s", "--json", second.ID}, 1, nil, nil)
	var res waitResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("wait --json: %v\n%s", err, out)
	}
	if res.Complete || !res.TimedOut || res.Status == nil || len(res.Status.Applied) != 2 {
		t.Errorf("wait --json = %+v", res)
	} else if _, ok := res.Status.Applied[down.region]; ok {
		t.Errorf("the down region counted as applied: %+v", res.Status.Applied)
	}
	// The first mutation stays complete: it was applied before the crash.
	expectRun(t, []string{"cluster", "wait", "--nodes", all, "--timeout", "5s", first.ID}, 0, []string{"applied in every region"}, nil)

	// Bad input: exit 2.
	expectRun(t, []string{"cluster", "wait", "--nodes", all, "not-an-id"}, 2, nil, []string{"want ORIGIN/SEQ"})
	expectRun(t, []string{"cluster", "wait", "--nodes", all, "--timeout", "3s", "us-east-2/999"}, 2, nil, []string{"no node knows this mutation"})
	expectRun(t, []string{"cluster", "commit", "--nodes", all, "iam:CreateUser", "[1]"}, 2, nil, []string{"want a JSON object"})
	expectRun(t, []string{"cluster", "commit", "--nodes", all, "iam:DeleteUser", `{"user_name":"nobody"}`}, 1, nil, []string{"NoSuchEntity"})
}

// Flags and arguments that are wrong are refused with exit 2 before any
// node is called.
func TestClusterBadInput(t *testing.T) {
	t.Setenv(envNodes, "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"cluster"}, "cluster needs a command"},
		{[]string{"cluster", "status"}, "--nodes is required"},
		{[]string{"cluster", "status", "--nodes", "localhost:8080"}, "want http://host:port"},
		{[]string{"cluster", "status", "--nodes", "http://a:1,http://a:1"}, "given twice"},
		{[]string{"cluster", "wait", "--nodes", "http://127.0.0.1:1", "us-east-2/0"}, "want ORIGIN/SEQ"},
		{[]string{"cluster", "wait", "--nodes", "http://127.0.0.1:1", "--timeout", "0s", "us-east-2/1"}, "--timeout 0s"},
		{[]string{"cluster", "wait", "--nodes", "http://127.0.0.1:1", "--progress", "x", "us-east-2/1"}, "--progress"},
		{[]string{"cluster", "wait", "--nodes", "http://127.0.0.1:1"}, "accepts 1 arg"},
		{[]string{"cluster", "authorize", "--nodes", "http://127.0.0.1:1", "--action", "s3:GetObject"}, "--principal is required"},
		{[]string{"cluster", "faults", "--nodes", "http://127.0.0.1:1", "--set", "x", "--clear"}, "exclude each other"},
		{[]string{"cluster", "faults", "--nodes", "http://127.0.0.1:1", "--set", "/no/such/file"}, "no such file"},
		{[]string{"cluster", "status", "--nodes", "https://127.0.0.1:1", "--ca-file", "/no/such/ca.pem"}, "--ca-file: CA file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			expectRun(t, tt.args, 2, nil, []string{tt.want})
		})
	}
}

// With no node answering, wait ends at its timeout with exit 1 and says
// that nothing answered.
func TestClusterWaitNoNodeAnswers(t *testing.T) {
	url := fmt.Sprintf("http://127.0.0.1:%d", loopback.FreePort(t))
	expectRun(t, []string{"cluster", "wait", "--nodes", url, "--timeout", "500ms", "us-east-2/1"}, 1, nil,
		[]string{"us-east-2/1: no node answered within 500ms"})
}

// https:// nodes signed by a private CA are reached with --ca-file (or
// IAMPROP_CA_FILE); without it their certificate is refused.
func TestClusterOverTLSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/view":
			_, _ = w.Write([]byte(`{"region":"eu-west-1","digest":"abc","version_vector":{}}`))
		case "/v1/cluster":
			_, _ = w.Write([]byte(`{"region":"eu-west-1","members":[{"region":"eu-west-1","gossip":"x","state":"alive"}]}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envNodes, srv.URL)
	t.Setenv(envCAFile, "")
	expectRun(t, []string{"cluster", "status"}, 1, []string{"certificate"}, []string{"not ready"})
	expectRun(t, []string{"cluster", "status", "--ca-file", ca}, 0, []string{"eu-west-1", "1 alive"}, nil)
	t.Setenv(envCAFile, ca)
	expectRun(t, []string{"cluster", "view"}, 0, []string{"eu-west-1", "abc"}, nil)
}

// `cluster authorize --endpoint FILE` sends the request through a VPC
// endpoint: the file's policy goes to each node, named after the file; a
// file that is not JSON is refused before any node is called.
func TestClusterAuthorizeThroughEndpoint(t *testing.T) {
	var got []wire.AuthorizeRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req wire.AuthorizeRequest
		if r.URL.Path == "/v1/authorize" && json.NewDecoder(r.Body).Decode(&req) == nil {
			got = append(got, req)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"decision":"ImplicitDeny","view":{"region":"eu-west-1"}}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`
	good, bad := filepath.Join(dir, "vpce-0a1b.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("Version: 2012-10-17"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envNodes, srv.URL)
	args := []string{"cluster", "authorize", "--principal", "anonymous", "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k"}
	expectRun(t, append(args, "--endpoint", bad), 2, nil, []string{"--endpoint", "not a JSON policy document"})
	expectRun(t, append(args, "--endpoint", filepath.Join(dir, "none.json")), 2, nil, []string{"no such file"})
	if len(got) != 0 {
		t.Fatalf("a refused command called the node: %+v", got)
	}
	expectRun(t, append(args, "--endpoint", good), 0, []string{"ImplicitDeny"}, nil)
	if len(got) != 1 || got[0].Endpoint == nil || got[0].Endpoint.Name != "vpce-0a1b" || !strings.Contains(string(got[0].Endpoint.Policy), `"Principal":"*"`) {
		t.Fatalf("the node got %+v, want the endpoint policy named vpce-0a1b", got)
	}
}
