package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replication"
)

const acct = "111122223333"

func initial(t testing.TB) *controlplane.State {
	s := controlplane.NewState()
	if err := s.TryApply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"` + acct + `"}`)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func createUser(name string) controlplane.Call {
	return controlplane.Call{Action: "iam:CreateUser", Account: acct, Args: json.RawMessage(`{"user_name":"` + name + `"}`)}
}

func fastTune(c *memberlist.Config) {
	c.GossipInterval = 20 * time.Millisecond
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.PushPullInterval = 2 * time.Second
	c.GossipToTheDeadTime = time.Second
}

func startCluster(t *testing.T, regions []string, opts ClusterOptions) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if opts.Tune == nil {
		opts.Tune = fastTune
	}
	if opts.Initial == nil {
		opts.Initial = initial(t)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	c, err := StartCluster(ctx, regions, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	return c
}

func within(t *testing.T, d time.Duration, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestCommitAppliedEverywhereAndConverges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := startCluster(t, []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, ClusterOptions{
		Registerer: reg, DataDir: t.TempDir(), GossipKey: []byte("0123456789abcdef"),
	})
	m, err := c.Commit("us-east-2", createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "apply everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
	// A mutation larger than a gossip packet travels over the reliable
	// stream (TCP) instead.
	var stmts []string
	for i := range 60 {
		stmts = append(stmts, fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-%d/*"}`, i, i))
	}
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	big, err := c.Commit("eu-west-1", controlplane.Call{Action: "iam:CreatePolicy", Account: acct,
		Args: json.RawMessage(`{"policy_name":"big","policy_document":` + doc + `}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(big.Call.Args) < 3000 {
		t.Fatalf("test mutation is only %d bytes", len(big.Call.Args))
	}
	within(t, 10*time.Second, "large mutation everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, big.ID) })
	within(t, 10*time.Second, "converge", c.WaitConverged)
	if n, _ := testutil.GatherAndCount(reg, "iamprop_gossip_messages_total"); n == 0 {
		t.Error("no gossip message metrics")
	}
	within(t, 5*time.Second, "the large mutation went out as a stream", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			return testutil.ToFloat64(c.Node("eu-west-1").Metrics().GossipMessages.WithLabelValues("out", "stream")) > 0
		})
	})

	// A rejected call is an AWS error and commits nothing.
	_, err = c.Commit("eu-west-1", createUser("alice"))
	var ae *controlplane.APIError
	if !errors.As(err, &ae) || ae.Code != controlplane.ErrEntityAlreadyExists {
		t.Fatalf("duplicate user: err = %v, want EntityAlreadyExists", err)
	}
	if v := c.Node("eu-west-1").View().Vector; v[big.ID.Stream()] != big.ID.Seq {
		t.Errorf("rejected call advanced the vector: %v", v)
	}
	// Status: every region shows up as applied (vectors are gossiped).
	within(t, 10*time.Second, "status everywhere", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			st, err := c.Node("ap-southeast-2").Status(m.ID)
			return err == nil && len(st.Applied) == 3 && len(st.Pending) == 0
		})
	})
	if _, err := c.Node("us-east-2").Status(replication.MutationID{Origin: "nowhere", Seq: 4}); !errors.Is(err, ErrUnknownMutation) {
		t.Errorf("unknown id: err = %v", err)
	}
	// The metrics follow the view (after the batch's fsync): one series per
	// region and origin (3 x 2).
	within(t, 5*time.Second, "applied metrics", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			n, _ := testutil.GatherAndCount(reg, "iamprop_mutations_applied_total")
			return n == 6
		})
	})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestAtLeastAndMaxLagUnderDelay(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{
		Delay: constantDelay(t, 600*time.Millisecond),
	})
	m, err := c.Commit("us-east-2", createUser("bob"))
	if err != nil {
		t.Fatal(err)
	}
	eu := c.Node("eu-west-1")
	probe := controlplane.Probe{Principal: "user:bob", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
	// Local answers at once; the token is not applied yet, so a zero
	// timeout fails closed.
	if _, err := eu.Authorize(context.Background(), probe, Consistency{Mode: ModeLocal}); err != nil {
		t.Fatal(err)
	}
	if eu.Has(m.ID) {
		t.Fatal("applied before the injected delay")
	}
	_, err = eu.Authorize(context.Background(), probe, Consistency{Mode: ModeAtLeast, Token: m.ID.String()})
	if !errors.Is(err, ErrNotFresh) {
		t.Fatalf("at_least without timeout: err = %v, want ErrNotFresh", err)
	}
	// Once the region has received it (pending), max_lag 1ms fails closed.
	within(t, 5*time.Second, "received", func(ctx context.Context) error {
		return poll(ctx, func() bool { return eu.View().Pending > 0 || eu.Has(m.ID) })
	})
	if !eu.Has(m.ID) {
		if _, err := eu.Authorize(context.Background(), probe, Consistency{Mode: ModeMaxLag, MaxLag: time.Millisecond}); !errors.Is(err, ErrTooStale) {
			t.Errorf("max_lag: err = %v, want ErrTooStale", err)
		}
	}
	// at_least with a timeout waits for the apply.
	start := time.Now()
	if _, err := eu.Authorize(context.Background(), probe, Consistency{Mode: ModeAtLeast, Token: m.ID.String(), Timeout: 5 * time.Second}); err != nil {
		t.Fatalf("at_least with timeout: %v", err)
	}
	if !eu.Has(m.ID) {
		t.Error("at_least answered before the view had the token")
	}
	if lag := time.Since(m.CommitTime()); lag < 550*time.Millisecond {
		t.Errorf("answered %v after commit, before the 600ms delay", lag)
	}
	_ = start
	for _, bad := range []Consistency{{Mode: "eventually"}, {Mode: ModeAtLeast, Token: "not-a-token"}} {
		if _, err := eu.Authorize(context.Background(), probe, bad); err == nil {
			t.Errorf("consistency %+v accepted", bad)
		}
	}
}

func TestPartitionHoldsAndHeals(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, ClusterOptions{})
	spec := FaultSpec{Partition: [][]string{{"us-east-2"}, {"eu-west-1", "ap-southeast-2"}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	// Posted to one side only: that node cuts both directions itself.
	c.Node("us-east-2").SetFaults(spec)
	m, err := c.Commit("us-east-2", createUser("carol"))
	if err != nil {
		t.Fatal(err)
	}
	// Held: for a second (many gossip rounds and a push/pull attempt),
	// nothing crosses.
	time.Sleep(time.Second)
	for _, r := range []string{"eu-west-1", "ap-southeast-2"} {
		if c.Has(r, m.ID) {
			t.Fatalf("%s applied a mutation across the partition", r)
		}
	}
	c.Node("us-east-2").SetFaults(FaultSpec{})
	within(t, 20*time.Second, "heal", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
}

func TestWrongGossipKeyKeptOut(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef")})
	cases := []struct {
		name  string
		key   []byte
		label string
	}{
		{"wrong key", []byte("fedcba9876543210"), ""},
		{"no key", nil, ""},
		{"right key, other cluster label", []byte("0123456789abcdef"), "other-cluster"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Start(context.Background(), Config{
				Region: fmt.Sprintf("intruder-%d", i), Preset: PresetLocal, Tune: fastTune, GossipKey: tc.key, ClusterLabel: tc.label,
				Initial: initial(t), Join: []string{c.Node("us-east-2").GossipAddr()}, Seed: 7,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Shutdown(time.Second)
			// It never caught up with anyone, so it may not even commit.
			if _, err := n.Commit(createUser("mallory")); !errors.Is(err, ErrCatchingUp) {
				t.Errorf("intruder commit: err = %v, want ErrCatchingUp", err)
			}
			// And it writes a forged replication message straight to the
			// victim's gossip port (the packet is encrypted with its own key,
			// or not at all).
			forged := replication.Message{Kind: replication.KindGossip, From: n.Region(), Mutations: []replication.Mutation{{
				ID: replication.MutationID{Origin: n.Region(), Seq: 1}, TS: replication.Timestamp{Wall: time.Now().UnixNano()},
				Call: createUser("mallory2"),
			}}}
			if err := n.ml.SendToAddress(memberlist.Address{Addr: c.Node("us-east-2").GossipAddr()}, append([]byte{tagReplication}, forged.Encode()...)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(700 * time.Millisecond)
			for _, mi := range c.Node("us-east-2").Members() {
				if mi.Region == n.Region() {
					t.Errorf("intruder is a member: %+v", mi)
				}
			}
			if v := c.Node("us-east-2").View().Vector; v[n.Region()] != 0 {
				t.Errorf("intruder's mutation was applied: %v", v)
			}
		})
	}
}

func TestFaultSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec FaultSpec
		ok   bool
	}{
		{"empty", FaultSpec{}, false},
		{"one group", FaultSpec{Partition: [][]string{{"a"}}}, false},
		{"region twice", FaultSpec{Partition: [][]string{{"a"}, {"a"}}}, false},
		{"empty group", FaultSpec{Partition: [][]string{{"a"}, {}}}, false},
		{"bad name", FaultSpec{Partition: [][]string{{"a b"}, {"c"}}}, false},
		{"oneway self", FaultSpec{PartitionOneway: &OneWay{From: "a", To: "a"}}, false},
		{"loss > 1", FaultSpec{Links: []LinkSpec{{From: "*", To: "*", Loss: 1.5}}}, false},
		{"negative latency", FaultSpec{Links: []LinkSpec{{From: "a", To: "b", Latency: -1}}}, false},
		{"no-op link", FaultSpec{Links: []LinkSpec{{From: "a", To: "b"}}}, false},
		{"partition", FaultSpec{Partition: [][]string{{"a"}, {"b", "c"}}}, true},
		{"oneway", FaultSpec{PartitionOneway: &OneWay{From: "a", To: "b"}}, true},
		{"latency", FaultSpec{Links: []LinkSpec{{From: "*", To: "b", Latency: Duration(50 * time.Millisecond), Loss: 0.1}}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.spec.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFaultResolve(t *testing.T) {
	spec := FaultSpec{
		Partition:       [][]string{{"a"}, {"b", "c"}},
		PartitionOneway: &OneWay{From: "c", To: "d"},
		Links:           []LinkSpec{{From: "*", To: "*", Latency: Duration(10 * time.Millisecond)}, {From: "b", To: "d", Loss: 0.5}},
	}
	cases := []struct {
		self, peer      string
		outDrop, inDrop bool
		latency         time.Duration
		loss            float64
	}{
		{"a", "b", true, true, 10 * time.Millisecond, 0},
		{"b", "a", true, true, 10 * time.Millisecond, 0},
		{"b", "c", false, false, 10 * time.Millisecond, 0},
		{"b", "d", false, false, 0, 0.5},
		{"c", "d", true, false, 10 * time.Millisecond, 0},
		{"d", "c", false, true, 10 * time.Millisecond, 0}, // d drops what c sends it
	}
	for _, tc := range cases {
		f := ResolveFaults(spec, tc.self)
		out, in := f.outbound(tc.peer), f.inbound(tc.peer)
		if out.drop != tc.outDrop || in.drop != tc.inDrop || out.latency != tc.latency || out.loss != tc.loss {
			t.Errorf("%s->%s: out=%+v in=%+v, want drop %v/%v latency %v loss %v", tc.self, tc.peer, out, in, tc.outDrop, tc.inDrop, tc.latency, tc.loss)
		}
	}
	// The d side of the one-way partition drops what c sends.
	if fd := ResolveFaults(spec, "d"); !fd.inbound("c").drop {
		t.Error("d does not drop inbound from c")
	}
}

// constantDelay is a delay model of d on every link.
func constantDelay(t testing.TB, d time.Duration) *delay.Model {
	t.Helper()
	c, err := delay.Constant(d)
	if err != nil {
		t.Fatal(err)
	}
	return delay.NewModel(c)
}

func TestCrashAndRestartInProcess(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := startCluster(t, []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, ClusterOptions{DataDir: t.TempDir(), Registerer: reg})
	cases := []struct {
		name      string
		loseState bool
	}{
		{"state kept", false},
		{"state lost", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			own, err := c.Commit("ap-southeast-2", createUser(fmt.Sprintf("own-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			within(t, 10*time.Second, "own mutation spread", func(ctx context.Context) error { return c.WaitApplied(ctx, own.ID) })
			if err := c.Crash("ap-southeast-2"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Node("ap-southeast-2").Commit(createUser("too-late")); err == nil {
				t.Fatal("a crashed node accepted a commit")
			}
			missed, err := c.Commit("us-east-2", createUser(fmt.Sprintf("missed-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			within(t, 10*time.Second, "missed applied by the others", func(ctx context.Context) error {
				return poll(ctx, func() bool { return c.Has("eu-west-1", missed.ID) })
			})
			// Let the others' acks of it run out of retransmits (4 rounds
			// of 100 ms), so the restarted region can only learn them from
			// the push/pull of its join.
			time.Sleep(time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Restart(ctx, "ap-southeast-2", tc.loseState); err != nil {
				t.Fatal(err)
			}
			if !tc.loseState && !c.Node("ap-southeast-2").Has(own.ID) {
				t.Error("right after restart the region lacks its own logged mutation")
			}
			within(t, 20*time.Second, "restarted region catches up", func(ctx context.Context) error {
				if err := c.WaitApplied(ctx, missed.ID); err != nil {
					return err
				}
				return c.WaitApplied(ctx, own.ID)
			})
			within(t, 20*time.Second, "converge", c.WaitConverged)
			// The others applied missed while it was down and have not
			// applied anything since.
			within(t, 10*time.Second, "restarted region knows what the others applied", func(ctx context.Context) error {
				return poll(ctx, func() bool {
					st, err := c.Node("ap-southeast-2").Status(missed.ID)
					return err == nil && len(st.Applied) == 3
				})
			})
			// Ids are never reused after a restart: with the log kept the
			// region continues its epoch; with the state lost it starts a
			// new one.
			next, err := c.Commit("ap-southeast-2", createUser(fmt.Sprintf("after-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			if sameEpoch := next.ID.Epoch == own.ID.Epoch; sameEpoch == tc.loseState || (sameEpoch && next.ID.Seq <= own.ID.Seq) {
				t.Errorf("id %s after %s (state lost: %v): want a new epoch after a lost state, the next sequence number otherwise", next.ID, own.ID, tc.loseState)
			}
		})
	}
}

// TestFailedStartReleasesItsMetrics: a start that fails after the metrics
// were registered (here: the gossip port is taken) must unregister them, or
// every later start of that region on the same registry would fail.
func TestFailedStartReleasesItsMetrics(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	reg := prometheus.NewRegistry()
	cfg := Config{Region: "eu-west-1", Preset: PresetLocal, Initial: initial(t), Seed: 1, Registerer: reg,
		BindAddr: "127.0.0.1", BindPort: taken.Addr().(*net.TCPAddr).Port}
	if n, err := Start(context.Background(), cfg); err == nil {
		n.Shutdown(time.Second)
		t.Fatal("started on a taken port")
	}
	cfg.BindPort = 0
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second start on the same registry: %v", err)
	}
	n.Shutdown(time.Second)
}
