package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
)

func rotationTune(c *memberlist.Config) {
	c.GossipInterval = 20 * time.Millisecond
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.SuspicionMult = 2
	c.PushPullInterval = time.Second
}

func rotationState(t *testing.T) *controlplane.State {
	s := controlplane.NewState()
	if err := s.TryApply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGossipKeyRotationOnARunningCluster rotates the gossip key of a live
// three-region cluster through the admin API (install everywhere, use
// everywhere, remove the old key everywhere) while a watcher checks that
// no node ever sees another leave or turn suspect; afterwards mutations
// still propagate, a node with the old key is kept out and one with the
// new key joins.
func TestGossipKeyRotationOnARunningCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a live cluster")
	}
	oldKey, newKey := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	regions := []string{"us-east-2", "eu-west-1", "ap-southeast-2"}
	c, err := live.StartCluster(ctx, regions, live.ClusterOptions{GossipKey: oldKey, Tune: rotationTune, Initial: rotationState(t), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()

	var clients []*apiclient.Client
	for _, n := range c.Nodes() {
		srv := httptest.NewServer(Handler(Config{Backend: n, Token: writeTok, AdminToken: adminTok}))
		defer srv.Close()
		cl, err := apiclient.NewWith(srv.URL, apiclient.Options{Token: writeTok, AdminToken: adminTok})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}

	// The watcher: every node must see all three alive at every look.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lapses []string
	looks := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			for _, n := range c.Nodes() {
				alive := 0
				for _, m := range n.Members() {
					if m.State == "alive" {
						alive++
					}
				}
				mu.Lock()
				looks++
				if alive != len(regions) {
					lapses = append(lapses, n.Region()+" saw "+time.Now().Format("15:04:05.000")+": "+membersText(n.Members()))
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// Refused steps change nothing.
	if _, err := clients[0].ChangeGossipKey(ctx, "use", newKey); !isAPIError(err, 404, "NoSuchKey") {
		t.Errorf("use before install: %v", err)
	}
	if _, err := clients[0].ChangeGossipKey(ctx, "remove", oldKey); !isAPIError(err, 409, "KeyInUse") {
		t.Errorf("removing the key in use: %v", err)
	}
	if _, err := clients[0].ChangeGossipKey(ctx, "install", []byte("short")); !isAPIError(err, 400, "InvalidKey") {
		t.Errorf("installing a 5-byte key: %v", err)
	}
	writer, _ := apiclient.New(clients[0].URL(), writeTok)
	if _, err := writer.ChangeGossipKey(ctx, "install", newKey); !isAPIError(err, 401, "Unauthorized") {
		t.Errorf("rotation with the write token: %v", err)
	}

	steps := []struct {
		op        string
		key       []byte
		primary   []byte
		installed int
	}{
		{"install", newKey, oldKey, 2},
		{"use", newKey, newKey, 2},
		{"remove", oldKey, newKey, 1},
	}
	for _, st := range steps {
		for i, cl := range clients {
			keys, err := cl.ChangeGossipKey(ctx, st.op, st.key)
			if err != nil {
				t.Fatalf("%s on %s: %v", st.op, regions[i], err)
			}
			if keys.Primary != live.KeyFingerprint(st.primary) || len(keys.Installed) != st.installed {
				t.Fatalf("%s on %s: keyring %+v", st.op, regions[i], keys)
			}
			// Gossip between the steps, so a node that switched talks to
			// ones that have not.
			time.Sleep(300 * time.Millisecond)
		}
	}
	// A few more probe rounds on the new key alone.
	time.Sleep(time.Second)
	mu.Lock()
	if looks < 100 {
		t.Errorf("the watcher looked only %d times", looks)
	}
	if len(lapses) > 0 {
		t.Errorf("a node left or turned suspect during the rotation (%d of %d looks), first: %s", len(lapses), looks, lapses[0])
	}
	mu.Unlock()
	stop.Store(true)
	wg.Wait()

	mu2, err := clients[1].Commit(ctx, MutationRequest{Call: "iam:CreateUser", Account: "111122223333", With: json.RawMessage(`{"user_name":"after-rotation"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for i, cl := range clients {
		st, err := cl.WaitMutation(ctx, mu2.ID, 10*time.Second)
		if err != nil || !st.Complete {
			t.Errorf("%s: mutation after the rotation: %+v, %v", regions[i], st, err)
		}
	}

	for _, tc := range []struct {
		name   string
		key    []byte
		member bool
	}{{"old key", oldKey, false}, {"new key", newKey, true}} {
		n, err := live.Start(ctx, live.Config{Region: "newcomer-" + tc.name[:3], Preset: live.PresetLocal, Tune: rotationTune, GossipKey: tc.key,
			Initial: rotationState(t), Join: []string{c.Node("us-east-2").GossipAddr()}, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		joined := func() bool {
			for _, m := range c.Node("us-east-2").Members() {
				if m.Region == n.Region() && m.State == "alive" {
					return true
				}
			}
			return false
		}
		deadline := time.Now().Add(3 * time.Second)
		for !joined() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if joined() != tc.member {
			t.Errorf("a node with the %s: member = %v, want %v", tc.name, joined(), tc.member)
		}
		n.Shutdown(time.Second)
	}
}

func membersText(ms []live.MemberInfo) string {
	s := ""
	for _, m := range ms {
		s += m.Region + "=" + m.State + " "
	}
	return s
}

func isAPIError(err error, status int, code string) bool {
	var ae *apiclient.Error
	return errors.As(err, &ae) && ae.Status == status && ae.Code == code
}
