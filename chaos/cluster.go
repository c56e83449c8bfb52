package chaos

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/internal/loopback"
	"github.com/iamprop/iamprop/store"
)

// Gossip settings of every node: fast enough that a schedule of a few
// seconds sees failure detection, rejoin and anti-entropy several times.
// PushPullInterval and ReconnectInterval (the Local preset's 2s, how often
// a node retries members it lost) bound convergence after a heal; see
// ConvergenceBound.
const (
	GossipInterval    = 50 * time.Millisecond
	ProbeInterval     = 200 * time.Millisecond
	ProbeTimeout      = 100 * time.Millisecond
	PushPullInterval  = time.Second
	ReconnectInterval = 2 * time.Second // live's default for --gossip-preset local
)

// ConvergenceBound is how long after the heal every region must hold the
// truth: a healed member is retried within ReconnectInterval, the rejoin
// runs a push/pull at once and the periodic one follows within
// PushPullInterval; a restarted node's log replay and first push/pull, and
// failure detection's suspicion timeouts on a loaded machine, get the
// rest. Measured figures are in docs/validation.md.
const ConvergenceBound = ReconnectInterval + 4*PushPullInterval + 4*time.Second

// regionNames names up to 9 regions; more get numbered names.
var regionNames = []string{"us-east-2", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "ca-central-1", "af-south-1"}

// RegionName is the name of the i-th node's region.
func RegionName(i int) string {
	if i < len(regionNames) {
		return regionNames[i]
	}
	return fmt.Sprintf("region-%d", i)
}

// Build compiles cmd/regionnode into dir with `go build` from the module
// that holds this package (found with `go env GOMOD` from the working
// directory) and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("chaos: go env GOMOD: %w (is Go installed?)", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("chaos: not inside the iamprop module: run from a clone (or pass --regionnode PATH)")
	}
	bin := filepath.Join(dir, "regionnode")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/iamprop/iamprop/cmd/regionnode")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chaos: go build ./cmd/regionnode: %v\n%s", err, out)
	}
	return bin, nil
}

// node is one regionnode process slot: its addresses and data directory
// stay across restarts.
type node struct {
	index   int
	region  string
	gossip  string
	http    string
	dir     string // data directory
	logPath string
	// signingKey is the node's signing key file, outside dir: a wiped
	// disk loses the log, not the region's identity.
	signingKey string
	client     *apiclient.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	running bool
	// stopping: the harness signalled the process, so its exit is expected.
	stopping bool
	starts   int
	held     []io.Closer // the node's ports, bound by us while it is down
	// For the next start only: soloNext starts it without --join (as the
	// first node was founded), recoverNext with --recover, and mayRefuse
	// says an exit at start is an expected answer (a corrupt log refused),
	// not a crash for exitedAlone.
	soloNext, recoverNext, mayRefuse bool
}

// hold binds nd's ports while it is down, so that no other program on the
// machine (another chaos run, a test) takes them and the restart fails.
// Caller holds nd.mu.
func (nd *node) hold() {
	if t, err := net.Listen("tcp", nd.gossip); err == nil {
		// Accept and close at once: peers' push/pull and probe streams to a
		// down node then fail fast, as they would against a closed port,
		// instead of hanging in a backlog nobody reads until their timeout.
		go func() {
			for {
				c, err := t.Accept()
				if err != nil {
					return // released
				}
				c.Close()
			}
		}()
		nd.held = append(nd.held, t)
	}
	if a, err := net.ResolveUDPAddr("udp", nd.gossip); err == nil {
		if u, err := net.ListenUDP("udp", a); err == nil {
			nd.held = append(nd.held, u)
		}
	}
	// The API port answers every request with 503 NodeDown, the stand-in
	// for a refused connection: the client knows at once that nothing was
	// committed (a listener that never accepted would make it time out).
	if t, err := net.Listen("tcp", nd.http); err == nil {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":{"code":%q,"message":"the chaos harness holds this port while the node is down"}}`, codeNodeDown)
		}), ReadHeaderTimeout: time.Second}
		go srv.Serve(t)
		nd.held = append(nd.held, srv)
	}
}

// codeNodeDown is the error code of a stopped node's held API port.
const codeNodeDown = "NodeDown"

// release frees what hold bound. Caller holds nd.mu.
func (nd *node) release() {
	for _, c := range nd.held {
		c.Close()
	}
	nd.held = nil
}

// cluster is the set of processes of one schedule.
type cluster struct {
	bin   string
	token string
	admin string // the admin token: faults go through POST /v1/faults
	key   string // base64 gossip key
	// trust is the trust file listing every node's signing public key;
	// each node's key file lies outside its data directory, so a wipe
	// keeps the region's identity, as docs/deploy.md tells operators.
	trust string
	seed  uint64
	nodes []*node
	// exitedAlone, if set, hears of a process that exited without the
	// harness signalling it: a node crash nobody injected, which is what a
	// soak hunts for.
	exitedAlone func(region string, err error)
}

func newCluster(bin, root string, n int, seed uint64) (*cluster, error) {
	tok := make([]byte, 24)
	admin := make([]byte, 24)
	key := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	if _, err := rand.Read(admin); err != nil {
		return nil, err
	}
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, token: hex.EncodeToString(tok), admin: hex.EncodeToString(admin), key: base64.StdEncoding.EncodeToString(key), seed: seed}
	for i := 0; i < n; i++ {
		gp, err := loopback.Port()
		if err != nil {
			return nil, err
		}
		hp, err := loopback.Port()
		if err != nil {
			return nil, err
		}
		nd := &node{index: i, region: RegionName(i), gossip: fmt.Sprintf("127.0.0.1:%d", gp), http: fmt.Sprintf("127.0.0.1:%d", hp),
			dir: filepath.Join(root, "data", RegionName(i)), logPath: filepath.Join(root, "logs", RegionName(i)+".log")}
		nd.client, err = apiclient.NewWith("http://"+nd.http, apiclient.Options{Token: c.token, AdminToken: c.admin})
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, nd)
	}
	if err := os.MkdirAll(filepath.Join(root, "logs"), 0o755); err != nil {
		return nil, err
	}
	keys := filepath.Join(root, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return nil, err
	}
	var trust strings.Builder
	for _, nd := range c.nodes {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		nd.signingKey = filepath.Join(keys, nd.region+".signing.key")
		if err := os.WriteFile(nd.signingKey, []byte(base64.StdEncoding.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(&trust, "%s: %s\n", nd.region, base64.StdEncoding.EncodeToString(pub))
	}
	c.trust = filepath.Join(keys, "trust.yaml")
	if err := os.WriteFile(c.trust, []byte(trust.String()), 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// start launches nd's process. The first node's first start joins no one
// (it founds the cluster); every other start joins every other node, so a
// restarted node finds whoever is up.
func (c *cluster) start(nd *node) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.running {
		return nil
	}
	nd.release()
	args := c.args(nd)
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "--- start %d: %s %s\n", nd.starts+1, c.bin, strings.Join(args, " "))
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "IAMPROP_GOSSIP_KEY="+c.key, "IAMPROP_API_TOKEN="+c.token,
		"IAMPROP_ADMIN_TOKEN="+c.admin, "IAMPROP_ENABLE_FAULT_API=true")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C of the chaos command reaches it
	// only through our cleanup; and SIGKILL when the harness dies without
	// cleaning up (a test timeout's panic, kill -9 of `scenario chaos`), so
	// no node outlives it holding the run's key and token. (Linux delivers
	// Pdeathsig when the starting OS thread exits, which for a Go program
	// is in practice the process.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return &startError{fmt.Errorf("chaos: start %s: %w", nd.region, err)}
	}
	nd.cmd, nd.exited, nd.running, nd.stopping = cmd, make(chan struct{}), true, false
	nd.starts++
	mayRefuse := nd.mayRefuse
	nd.soloNext, nd.recoverNext, nd.mayRefuse = false, false, false
	go func(cmd *exec.Cmd, done chan struct{}) {
		err := cmd.Wait()
		logf.Close()
		nd.mu.Lock()
		alone := nd.cmd == cmd && !nd.stopping
		if alone {
			// Down now: hold its ports and let heal start it again.
			nd.running = false
			nd.hold()
		}
		nd.mu.Unlock()
		if alone && !mayRefuse && c.exitedAlone != nil {
			c.exitedAlone(nd.region, err)
		}
		close(done)
	}(cmd, nd.exited)
	return nil
}

// startError: the process could not be started at all (no such binary,
// not executable).
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// exitedAtStart: a node's process ended before it served.
type exitedAtStart struct{ region, logPath string }

func (e *exitedAtStart) Error() string {
	return fmt.Sprintf("chaos: %s exited at start; see %s", e.region, e.logPath)
}

// setupCause tells whether a boot failure is the harness's setup (the
// binary could not start; a node could not bind its port or refused its
// flags, as its last log line says) rather than a finding, and if so
// returns the reason, quoting the node.
func (c *cluster) setupCause(err error) error {
	var se *startError
	if errors.As(err, &se) {
		return se.err
	}
	var ex *exitedAtStart
	if !errors.As(err, &ex) {
		return nil
	}
	b, _ := os.ReadFile(ex.logPath)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "address already in use") || strings.HasPrefix(line, "regionnode: ") && !strings.Contains(line, "{") {
			return fmt.Errorf("%s could not start: %s", ex.region, line)
		}
	}
	return nil
}

// args is nd's command line for its next start. Caller holds nd.mu.
func (c *cluster) args(nd *node) []string {
	args := []string{"--region", nd.region, "--gossip", nd.gossip, "--http", nd.http, "--data-dir", nd.dir,
		"--signing-key", nd.signingKey, "--trust", c.trust,
		"--gossip-preset", "local", "--gossip-interval", GossipInterval.String(), "--probe-interval", ProbeInterval.String(),
		"--probe-timeout", ProbeTimeout.String(), "--push-pull-interval", PushPullInterval.String(),
		"--log-level", "info", "--seed", fmt.Sprint(c.seed + uint64(nd.index)*1000 + uint64(nd.starts) + 1)}
	if nd.recoverNext {
		args = append(args, "--recover")
	}
	if (nd.index > 0 || nd.starts > 0) && !nd.soloNext {
		var join []string
		for _, o := range c.nodes {
			if o != nd && (nd.starts > 0 || o.index < nd.index) {
				join = append(join, o.gossip)
			}
		}
		args = append(args, "--join", strings.Join(join, ","))
	}
	return args
}

// waitServing waits until nd answers /healthz.
func (c *cluster) waitServing(ctx context.Context, nd *node, d time.Duration) error {
	deadline := time.Now().Add(d)
	hc := &httpGetter{}
	for {
		nd.mu.Lock()
		exited := nd.exited
		nd.mu.Unlock()
		select {
		case <-exited:
			return &exitedAtStart{region: nd.region, logPath: nd.logPath}
		default:
		}
		if hc.ok("http://" + nd.http + "/healthz") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: %s not serving within %v; see %s", nd.region, d, nd.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill9 crashes nd: no leave, no flush.
func (c *cluster) kill9(nd *node) error {
	return c.signal(nd, syscall.SIGKILL, 5*time.Second)
}

// term stops nd with SIGTERM: it leaves the cluster, drains and closes its
// log; killed if it is still running after 10s (and that is an error).
func (c *cluster) term(nd *node) error {
	err := c.signal(nd, syscall.SIGTERM, 10*time.Second)
	if err != nil {
		_ = c.signal(nd, syscall.SIGKILL, 5*time.Second)
	}
	return err
}

func (c *cluster) signal(nd *node, sig syscall.Signal, wait time.Duration) error {
	nd.mu.Lock()
	if !nd.running {
		nd.mu.Unlock()
		return nil
	}
	cmd, exited := nd.cmd, nd.exited
	nd.stopping = true
	nd.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("chaos: %v %s: %w", sig, nd.region, err)
	}
	select {
	case <-exited:
	case <-time.After(wait):
		return fmt.Errorf("chaos: %s still running %v after %v", nd.region, wait, sig)
	}
	nd.mu.Lock()
	nd.running = false
	nd.hold()
	nd.mu.Unlock()
	return nil
}

// wipe deletes nd's data directory (the node must be stopped): a disk
// replaced by an operator.
func (c *cluster) wipe(nd *node) error {
	return os.RemoveAll(nd.dir)
}

// flip inverts one byte of nd's log (the node must be stopped) at each of
// the fractions of its records (past the header) and returns the offsets
// flipped; none when the log holds no record yet.
func (c *cluster) flip(nd *node, at []float64) ([]int64, error) {
	path := filepath.Join(nd.dir, store.LogName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(st.Size(), int64(store.MaxHeaderLen)))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, err
	}
	n, ok := store.HeaderLen(head)
	hdr := int64(n)
	if !ok || st.Size() <= hdr {
		return nil, nil
	}
	var offs []int64
	for _, x := range at {
		off := hdr + int64(x*float64(st.Size()-hdr))
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, off); err != nil {
			return offs, err
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, off); err != nil {
			return offs, err
		}
		offs = append(offs, off)
	}
	return offs, f.Sync()
}

func (nd *node) isRunning() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.running
}

// stopAll ends every process: SIGTERM, then SIGKILL for stragglers.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, nd := range c.nodes {
		wg.Add(1)
		go func(nd *node) {
			defer wg.Done()
			_ = c.term(nd)
			nd.mu.Lock()
			nd.release()
			nd.mu.Unlock()
		}(nd)
	}
	wg.Wait()
}
