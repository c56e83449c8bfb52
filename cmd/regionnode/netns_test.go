//go:build linux

package main

// A multi-host test: each region runs in its own Linux network namespace
// with its own 10.x address on a bridge, set up as a production deployment
// (gossip key, HTTPS, tokens by role, fault API off). The namespaces, the
// bridge and the veth pairs are the test's own and go away with it.

import (
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needNetns skips (or, under CI, fails) unless the test can make network
// namespaces: root and the ip command.
func needNetns(t *testing.T) {
	t.Helper()
	var why string
	if _, err := exec.LookPath("ip"); err != nil {
		why = "the ip command (iproute2) is not installed"
	} else if os.Geteuid() != 0 {
		why = "creating network namespaces needs root"
	} else if _, err := os.Stat("/proc/thread-self/ns/net"); err != nil {
		why = "no network namespaces on this system"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("multi-host test cannot run: %s (CI=true requires it; .ci/run installs iproute2 and runs as root)", why)
	}
	t.Skipf("multi-host test skipped: %s (it runs when CI=true)", why)
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testNet is a bridge in a hub namespace and one namespace per host,
// each with a veth into the bridge.
type testNet struct {
	t     *testing.T
	id    string
	hub   string
	hosts []string // namespace names
	addrs []string // their 10.x addresses
}

func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	b := make([]byte, 3)
	if _, err := cryptorand.Read(b); err != nil {
		t.Fatal(err)
	}
	// Unique names: parallel runs on one machine do not collide, and the
	// interface names in the root namespace stay under 16 bytes.
	id := hex.EncodeToString(b)
	tn := &testNet{t: t, id: id, hub: "iamprop-" + id + "-hub"}
	t.Cleanup(tn.destroy)
	ipCmd(t, "netns", "add", tn.hub)
	ipCmd(t, "-n", tn.hub, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", tn.hub, "link", "set", "br0", "up")
	for i := 0; i < n; i++ {
		tn.addHost(t)
	}
	return tn
}

func (tn *testNet) addHost(t *testing.T) int {
	i := len(tn.hosts)
	ns := fmt.Sprintf("iamprop-%s-%d", tn.id, i)
	addr := fmt.Sprintf("10.77.0.%d", i+1)
	hostEnd, nsEnd := fmt.Sprintf("ip%sh%d", tn.id, i), fmt.Sprintf("ip%sn%d", tn.id, i)
	tn.hosts, tn.addrs = append(tn.hosts, ns), append(tn.addrs, addr)
	ipCmd(t, "netns", "add", ns)
	ipCmd(t, "link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd)
	ipCmd(t, "link", "set", hostEnd, "netns", tn.hub)
	ipCmd(t, "-n", tn.hub, "link", "set", hostEnd, "master", "br0", "up")
	ipCmd(t, "link", "set", nsEnd, "netns", ns)
	ipCmd(t, "-n", ns, "link", "set", nsEnd, "name", "eth0")
	ipCmd(t, "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	return i
}

// destroy deletes the namespaces; their veths go with them.
func (tn *testNet) destroy() {
	for _, ns := range append(tn.hosts, tn.hub) {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			tn.t.Errorf("cleanup: ip netns del %s: %v %s", ns, err, out)
		}
	}
}

func (tn *testNet) link(t *testing.T, host int, state string) {
	t.Helper()
	ipCmd(t, "-n", tn.hosts[host], "link", "set", "eth0", state)
}

func setns(fd uintptr) error { return unix.Setns(int(fd), unix.CLONE_NEWNET) }

// dialIn dials from inside namespace ns: the socket is created on a
// thread switched into ns, and belongs to ns for its whole life.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer target.Close()
		if err := setns(target.Fd()); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("setns %s: %w", ns, err)
		}
		c, derr := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		if err := setns(self.Fd()); err != nil {
			// The thread stays locked, so it ends with this goroutine
			// instead of serving others from the wrong namespace.
			if c != nil {
				c.Close()
			}
			return nil, fmt.Errorf("setns back: %w", err)
		}
		runtime.UnlockOSThread()
		return c, derr
	}
}

// nsNode is a regionnode in a namespace, and a client that reaches its
// API from inside that namespace.
type nsNode struct {
	t      *testing.T
	region string
	ns     string
	url    string
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan error
	client *http.Client
}

type secrets struct {
	dir                                     string
	keyFile, writeFile, readFile, adminFile string
	write, read, admin                      string
	caFile, certFile, certKeyFile           string
	caPool                                  *x509.CertPool
	// signingKeys are the regions' signing key files; trustFile lists
	// their public keys.
	signingKeys map[string]string
	trustFile   string
}

func writeSecrets(t *testing.T, dir string, ips []string) secrets {
	t.Helper()
	s := secrets{dir: dir, write: "write-" + randText(t), read: "read-" + randText(t), admin: "admin-" + randText(t)}
	file := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := make([]byte, 32)
	if _, err := cryptorand.Read(key); err != nil {
		t.Fatal(err)
	}
	s.keyFile = file("gossip.key", base64.StdEncoding.EncodeToString(key))
	s.writeFile, s.readFile, s.adminFile = file("write.token", s.write), file("read.token", s.read), file("admin.token", s.admin)
	s.caFile, s.certFile, s.certKeyFile = writeTestPKI(t, dir, ips)
	// Signing keys, generated as docs/deploy.md says, and the trust file.
	s.signingKeys = map[string]string{}
	trust := ""
	for _, r := range []string{region1, region2, region3} {
		pub, priv, err := ed25519.GenerateKey(cryptorand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s.signingKeys[r] = file(r+".signing.key", base64.StdEncoding.EncodeToString(priv.Seed()))
		trust += r + ": " + base64.StdEncoding.EncodeToString(pub) + "\n"
	}
	s.trustFile = file("trust.yaml", trust)
	b, _ := os.ReadFile(s.caFile)
	s.caPool = x509.NewCertPool()
	s.caPool.AppendCertsFromPEM(b)
	return s
}

func randText(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := cryptorand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func startInNS(t *testing.T, tn *testNet, host int, region string, s secrets, gossipKeyFile string, join string) *nsNode {
	t.Helper()
	addr := tn.addrs[host]
	n := &nsNode{t: t, region: region, ns: tn.hosts[host], url: "https://" + addr + ":8443", out: &syncBuffer{}, done: make(chan error, 1)}
	n.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext:     dialIn(n.ns),
		TLSClientConfig: &tls.Config{RootCAs: s.caPool, MinVersion: tls.VersionTLS12},
	}}
	args := []string{"netns", "exec", n.ns, buildBinary(t),
		"--region", region, "--gossip", addr + ":7946", "--http", addr + ":8443",
		"--data-dir", filepath.Join(s.dir, region), "--gossip-key-file", gossipKeyFile,
		"--api-token-file", s.writeFile, "--read-token-file", s.readFile, "--admin-token-file", s.adminFile,
		"--tls-cert", s.certFile, "--tls-key", s.certKeyFile, "--trust", s.trustFile}
	if k := s.signingKeys[region]; k != "" {
		args = append(args, "--signing-key", k)
	} // else: a key generated into the data directory, in no trust file
	if join != "" {
		args = append(args, "--join", join)
	}
	args = append(args, fastFlags...)
	// No IAMPROP_* from the environment: the files above are the setup.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "IAMPROP_") {
			env = append(env, e)
		}
	}
	n.cmd = exec.Command("ip", args...)
	n.cmd.Env = env
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(n.stop)
	eventually(t, 20*time.Second, region+" serving HTTPS", func() bool {
		code, _ := n.call("GET", "/healthz", "", "")
		return code == 200
	})
	return n
}

// stop sends SIGTERM (ip netns exec execs the node, so the pid is the
// node's) and kills after 10s.
func (n *nsNode) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Errorf("%s: still running 10s after SIGTERM", n.region)
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	if n.t.Failed() {
		n.t.Logf("--- %s output (tail) ---\n%s", n.region, tail(n.out.String(), 3000))
	}
}

func (n *nsNode) call(method, path, body, token string) (int, map[string]any) {
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, map[string]any{"transport error": err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func (n *nsNode) alive(token string) map[string]bool {
	_, out := n.call("GET", "/v1/cluster", "", token)
	alive := map[string]bool{}
	list, _ := out["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		if mm["state"] == "alive" {
			alive[fmt.Sprint(mm["region"])] = true
		}
	}
	return alive
}

func (n *nsNode) has(id, token string) bool {
	origin, seq, _ := strings.Cut(id, "/")
	_, v := n.call("GET", "/v1/view", "", token)
	vec, _ := v["version_vector"].(map[string]any)
	got, _ := vec[origin].(float64)
	return int(got) >= atoi(seq)
}

func (n *nsNode) digest(token string) string {
	_, v := n.call("GET", "/v1/view", "", token)
	d, _ := v["digest"].(string)
	return d
}

func TestMultiHostNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes in network namespaces")
	}
	needNetns(t)
	tn := newTestNet(t, 4)
	s := writeSecrets(t, t.TempDir(), tn.addrs)
	regions := []string{region1, region2, region3}
	var nodes []*nsNode
	for i, r := range regions {
		join := ""
		if i > 0 {
			join = tn.addrs[0] + ":7946"
		}
		nodes = append(nodes, startInNS(t, tn, i, r, s, s.keyFile, join))
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	for _, n := range nodes {
		eventually(t, 20*time.Second, n.region+" sees three regions alive", func() bool { return len(n.alive(s.read)) == 3 })
	}
	// A new cluster's regions start empty and wait for each other's
	// answers before they accept commits (some 20 gossip rounds).
	for _, n := range nodes {
		eventually(t, 30*time.Second, n.region+" accepts commits", func() bool { code, _ := n.call("GET", "/readyz", "", s.read); return code == 200 })
	}

	t.Run("a change propagates across hosts", func(t *testing.T) {
		code, out := b.call("POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"alice"}}`, s.write)
		if code != 200 {
			t.Fatalf("commit: %d %v", code, out)
		}
		id := out["id"].(string)
		code, st := b.call("GET", "/v1/mutations/"+id+"?wait=20s", "", s.read)
		if code != 200 || st["complete"] != true {
			t.Fatalf("status: %d %v", code, st)
		}
	})

	t.Run("tokens by role and TLS", func(t *testing.T) {
		cases := []struct {
			method, path, body, token string
			code                      int
		}{
			{"GET", "/v1/view", "", "", 401},
			{"POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`, "", 401},
			{"GET", "/v1/view", "", s.read, 200},
			{"POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"eve"}}`, s.read, 401},
			{"POST", "/v1/faults", `{"partition":[["us-east-2"],["eu-west-1","ap-southeast-2"]]}`, s.write, 401},
			// Production: the fault API is off even for the admin.
			{"POST", "/v1/faults", `{"partition":[["us-east-2"],["eu-west-1","ap-southeast-2"]]}`, s.admin, 403},
			{"GET", "/v1/gossip/keys", "", s.admin, 200},
		}
		for _, tc := range cases {
			if code, out := a.call(tc.method, tc.path, tc.body, tc.token); code != tc.code {
				t.Errorf("%s %s with token %.6q: %d %v, want %d", tc.method, tc.path, tc.token, code, out, tc.code)
			}
		}
		// Plain HTTP to the API port gets no answer from the API.
		plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialIn(a.ns)}}
		if resp, err := plain.Get("http://" + tn.addrs[0] + ":8443/v1/view"); err == nil {
			if resp.StatusCode == 200 {
				t.Error("plain HTTP answered 200")
			}
			resp.Body.Close()
		}
	})

	t.Run("a region cut off answers from its stale view, then converges", func(t *testing.T) {
		tn.link(t, 2, "down")
		code, out := a.call("POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"bob"}}`, s.write)
		if code != 200 {
			t.Fatalf("commit while cut: %d %v", code, out)
		}
		id := out["id"].(string)
		eventually(t, 20*time.Second, "eu-west-1 applies "+id, func() bool { return b.has(id, s.read) })
		// The cut-off region keeps answering, from a view without bob.
		for range 5 {
			if c.has(id, s.read) {
				t.Fatalf("%s applied %s through a downed link", c.region, id)
			}
			code, out := c.call("POST", "/v1/authorize", `{"principal":"arn:aws:iam::111122223333:user/bob","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`, s.read)
			if code != 200 {
				t.Fatalf("%s while cut off: %d %v", c.region, code, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		tn.link(t, 2, "up")
		eventually(t, 40*time.Second, c.region+" converges after the link is back", func() bool {
			return c.has(id, s.read) && c.digest(s.read) == a.digest(s.read) && len(c.alive(s.read)) == 3
		})
	})

	t.Run("a host with the wrong gossip key never becomes a member", func(t *testing.T) {
		wrong := filepath.Join(s.dir, "wrong.key")
		k := make([]byte, 32)
		if _, err := cryptorand.Read(k); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wrong, []byte(base64.StdEncoding.EncodeToString(k)), 0o600); err != nil {
			t.Fatal(err)
		}
		d := startInNS(t, tn, 3, "intruder-1", s, wrong, tn.addrs[0]+":7946")
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, n := range nodes {
				if n.alive(s.read)["intruder-1"] {
					t.Fatalf("%s lists the intruder as alive", n.region)
				}
			}
			if len(d.alive(s.read)) != 1 {
				t.Fatalf("the intruder sees %v", d.alive(s.read))
			}
			time.Sleep(250 * time.Millisecond)
		}
		// It is reachable on the network all along: the key kept it out.
		if code, _ := d.call("GET", "/healthz", "", ""); code != 200 {
			t.Errorf("intruder /healthz: %d", code)
		}
	})

	t.Run("a host with the gossip key but no trusted signing key joins but cannot write", func(t *testing.T) {
		d := startInNS(t, tn, 3, "intruder-2", s, s.keyFile, tn.addrs[0]+":7946")
		for _, n := range nodes {
			eventually(t, 20*time.Second, n.region+" lists the intruder as alive", func() bool { return n.alive(s.read)["intruder-2"] })
		}
		var id string
		eventually(t, 20*time.Second, "the intruder commits locally", func() bool {
			code, out := d.call("POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"mallory"}}`, s.write)
			id, _ = out["id"].(string)
			return code == 200
		})
		eventually(t, 20*time.Second, "every region refuses the intruder's mutation", func() bool {
			for _, n := range nodes {
				if n.refused("unknown_signer") == 0 {
					return false
				}
			}
			return true
		})
		// An honest commit still reaches everyone, the intruder too.
		code, out := a.call("POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"carol"}}`, s.write)
		if code != 200 {
			t.Fatalf("commit: %d %v", code, out)
		}
		honest := out["id"].(string)
		for _, n := range append(nodes, d) {
			eventually(t, 20*time.Second, n.region+" applies "+honest, func() bool { return n.has(honest, s.read) })
		}
		for _, n := range nodes {
			_, v := n.call("GET", "/v1/view", "", s.read)
			vec, _ := v["version_vector"].(map[string]any)
			for stream := range vec {
				if strings.HasPrefix(stream, "intruder-2") {
					t.Errorf("%s applied the intruder's mutations (%s, vector %v)", n.region, id, vec)
				}
			}
		}
	})
}

// refused returns the node's iamprop_gossip_refused_mutations_total for a
// reason (from /metrics, open in this setup).
func (n *nsNode) refused(reason string) float64 {
	req, err := http.NewRequest("GET", n.url+"/metrics", nil)
	if err != nil {
		n.t.Fatal(err)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "iamprop_gossip_refused_mutations_total{") && strings.Contains(line, `reason="`+reason+`"`) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			return v
		}
	}
	return 0
}
