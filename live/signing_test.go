package live

import (
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/store"
)

// TestForgedOriginRefusedLive: an insider holding the gossip key sends,
// straight to the victim's gossip port, mutations under another region's
// name (unsigned, or signed with its own key), under the victim's own
// name, under its own untrusted name, and other content under a known id.
// The victim refuses each, counts it by reason, its view does not move,
// and its commits keep working and reach the peer.
func TestForgedOriginRefusedLive(t *testing.T) {
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef"), Signing: true})
	victim, peer := c.Node("us-east-2"), c.Node("eu-west-1")
	honest, err := c.Commit(peer.Region(), createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "honest mutation applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, honest.ID) })
	if len(honest.Sig) != ed25519.SignatureSize {
		t.Fatalf("the commit carries a %d-byte signature", len(honest.Sig))
	}
	_, insiderKey, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(m replication.Mutation) replication.Mutation {
		m.Sig = ed25519.Sign(insiderKey, replication.SignedBytes(&m))
		return m
	}
	forge := func(origin string, seq uint64) replication.Mutation {
		return replication.Mutation{ID: replication.MutationID{Origin: origin, Seq: seq},
			TS: replication.Timestamp{Wall: time.Now().UnixNano()}, Call: createUser("mallory")}
	}
	known := honest
	known.Call = createUser("mallory")
	known.TS.Wall-- // would win the conflict, were it taken in
	cases := []struct {
		name   string
		claim  replication.Mutation
		reason string
	}{
		{"unsigned, under the peer's name", forge(peer.Region(), honest.ID.Seq+1), "bad_signature"},
		{"insider's key, under the peer's name", sign(forge(peer.Region(), honest.ID.Seq+1)), "bad_signature"},
		{"insider's key, under the victim's name", sign(forge(victim.Region(), 1)), "bad_signature"},
		{"insider's own, untrusted name", sign(forge("mallory", 1)), "unknown_signer"},
		{"insider's key, other content under a known id", sign(known), "bad_signature"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := victim.Digest()
			refused := testutil.ToFloat64(victim.Metrics().GossipRefused.WithLabelValues(tc.reason))
			rejected := testutil.ToFloat64(victim.Metrics().GossipRejected)
			conflicts := testutil.ToFloat64(victim.Metrics().GossipConflicts)
			msg := replication.Message{Kind: replication.KindGossip, From: peer.Region(), Mutations: []replication.Mutation{tc.claim}}
			if err := peer.ml.SendToAddress(memberlist.Address{Addr: victim.GossipAddr()}, append([]byte{tagReplication}, msg.Encode()...)); err != nil {
				t.Fatalf("send: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for testutil.ToFloat64(victim.Metrics().GossipRejected) == rejected && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := testutil.ToFloat64(victim.Metrics().GossipRefused.WithLabelValues(tc.reason)); got != refused+1 {
				t.Errorf("iamprop_gossip_refused_mutations_total{reason=%q} = %v, want %v", tc.reason, got, refused+1)
			}
			if got := testutil.ToFloat64(victim.Metrics().GossipConflicts); got != conflicts {
				t.Errorf("the forgery took part in conflict resolution")
			}
			if after := victim.Digest(); after != before {
				t.Errorf("view digest changed from %s to %s", before, after)
			}
			m, err := c.Commit(victim.Region(), createUser(fmt.Sprint("bob", i)))
			if err != nil {
				t.Fatalf("commit after the forgery: %v", err)
			}
			within(t, 10*time.Second, "the commit reaches the peer", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
		})
	}
	if victim.Has(known.ID) && victim.View().Conflicts > 0 {
		t.Errorf("the victim met the forged content as a conflict")
	}
}

// TestUntrustedRegionJoinsButCannotWrite: a region with the right gossip
// key but a signing key nobody trusts joins the cluster, and the members
// count its advertised key as refused; its commits are never applied
// elsewhere (counted as unknown_signer), while its peers' commits reach
// it.
func TestUntrustedRegionJoinsButCannotWrite(t *testing.T) {
	key := []byte("0123456789abcdef")
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: key, Signing: true})
	victim := c.Node("us-east-2")
	_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	intruder, err := Start(ctx, Config{Region: "mallory", GossipKey: key, Preset: PresetLocal, Tune: fastTune, Initial: initial(t),
		Join: []string{victim.GossipAddr()}, SigningKey: priv, Trust: victim.trust, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { intruder.Shutdown(5 * time.Second) })
	within(t, 10*time.Second, "the intruder is a member", func(ctx context.Context) error {
		return c.WaitMembers(ctx, 3)
	})
	within(t, 10*time.Second, "the intruder's key is refused", func(ctx context.Context) error {
		return poll(ctx, func() bool { return testutil.ToFloat64(victim.Metrics().SigningKeysRefused) > 0 })
	})
	var m replication.Mutation
	within(t, 10*time.Second, "the intruder commits locally", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			m, err = intruder.Commit(createUser("mallory"))
			return err == nil
		})
	})
	within(t, 10*time.Second, "the intruder's commit is refused", func(ctx context.Context) error {
		return poll(ctx, func() bool {
			return testutil.ToFloat64(victim.Metrics().GossipRefused.WithLabelValues("unknown_signer")) > 0
		})
	})
	honest, err := c.Commit("eu-west-1", createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "an honest commit reaches everyone, the intruder too", func(ctx context.Context) error {
		if err := c.WaitApplied(ctx, honest.ID); err != nil {
			return err
		}
		return poll(ctx, func() bool { return intruder.Has(honest.ID) })
	})
	for _, n := range c.Nodes() {
		if n.Has(m.ID) {
			t.Errorf("%s applied the intruder's %s", n.Region(), m.ID)
		}
	}
}

// TestSignaturesSurviveLogAndPushPull: a region that lost its disk gets
// every signed mutation back through push/pull (each verified again), and
// one that restarts replays them from its log, signatures included.
func TestSignaturesSurviveLogAndPushPull(t *testing.T) {
	dir := t.TempDir()
	c := startCluster(t, []string{"us-east-2", "eu-west-1"}, ClusterOptions{GossipKey: []byte("0123456789abcdef"), Signing: true, DataDir: dir})
	m, err := c.Commit("us-east-2", createUser("alice"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "applied everywhere", func(ctx context.Context) error { return c.WaitApplied(ctx, m.ID) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Crash("eu-west-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	within(t, 15*time.Second, "the wiped region gets the signed mutation back", func(ctx context.Context) error {
		return poll(ctx, func() bool { return c.Node("eu-west-1").Has(m.ID) })
	})
	if err := c.Crash("us-east-2"); err != nil {
		t.Fatal(err)
	}
	// The log holds the signature (read while the region is down).
	l, muts, _, err := store.Open(filepath.Join(dir, "us-east-2"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	pub := c.Node("us-east-2").cfg.SigningKey.Public().(ed25519.PublicKey)
	signed := 0
	for i := range muts {
		if muts[i].ID == m.ID && ed25519.Verify(pub, replication.SignedBytes(&muts[i]), muts[i].Sig) {
			signed++
		}
	}
	if signed != 1 {
		t.Fatalf("the log holds %d validly signed copies of %s, want 1", signed, m.ID)
	}
	if err := c.Restart(ctx, "us-east-2", false); err != nil {
		t.Fatal(err)
	}
	next, err := c.Commit("us-east-2", createUser("bob"))
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "a commit after the replay reaches the peer", func(ctx context.Context) error { return c.WaitApplied(ctx, next.ID) })
	for _, r := range c.Regions() {
		if s := c.Node(r).rn.Stats(); s.RefusedBadSignature+s.RefusedUnknownSigner != 0 {
			t.Errorf("%s refused honest mutations: %+v", r, s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "us-east-2", PinnedKeysFile)); err == nil {
		t.Errorf("a node with a trust set pinned keys on first use")
	}
}

// TestSigningKeyFile: a key is generated with mode 0600 and read back the
// same; a key file others can read is refused.
func TestSigningKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", SigningKeyFile)
	k, created, err := LoadOrCreateSigningKey(path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v, %v", created, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	again, created, err := LoadOrCreateSigningKey(path)
	if err != nil || created || !again.Equal(k) {
		t.Fatalf("second start: created=%v, same=%v, %v", created, again.Equal(k), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSigningKey(path); err == nil {
		t.Fatalf("a world-readable key file was accepted")
	}
}

// TestTrust: a trust file in YAML or JSON, and trust on first use: the
// first key seen for a region is pinned and persisted, a later different
// one is refused, also after a restart.
func TestTrust(t *testing.T) {
	pubA, privA, _ := ed25519.GenerateKey(cryptorand.Reader)
	pubB, _, _ := ed25519.GenerateKey(cryptorand.Reader)
	msg := []byte("m")
	sigA := ed25519.Sign(privA, msg)
	dir := t.TempDir()
	for name, text := range map[string]string{
		"trust.yaml": "us-east-2: " + EncodePublicKey(pubA) + "\n",
		"trust.json": `{"us-east-2": "` + EncodePublicKey(pubA) + `"}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		keys, err := ReadTrustFile(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tr := NewTrust(keys)
		if err := tr.Verify("us-east-2", msg, sigA); err != nil {
			t.Errorf("%s: genuine signature refused: %v", name, err)
		}
		if err := tr.Verify("eu-west-1", msg, sigA); !errors.Is(err, replication.ErrUnknownSigner) {
			t.Errorf("%s: unknown region: %v", name, err)
		}
		if ok, _ := tr.Observe("eu-west-1", pubB); ok {
			t.Errorf("%s: a fixed trust set pinned a key", name)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("us-east-2: bm90IGEga2V5\n"), 0o644)
	if _, err := ReadTrustFile(bad); err == nil {
		t.Errorf("a trust file with a short key was accepted")
	}

	pinned := filepath.Join(dir, PinnedKeysFile)
	tofu, err := NewTOFUTrust(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if err := tofu.Verify("us-east-2", msg, sigA); !errors.Is(err, replication.ErrUnknownSigner) {
		t.Errorf("before any key is seen: %v, want unknown signer", err)
	}
	steps := []struct {
		key  ed25519.PublicKey
		want bool
	}{{pubA, true}, {pubA, true}, {pubB, false}}
	for i, s := range steps {
		if ok, err := tofu.Observe("us-east-2", s.key); ok != s.want || err != nil {
			t.Errorf("observation %d: %v, %v; want %v", i, ok, err, s.want)
		}
	}
	reloaded, err := NewTOFUTrust(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := reloaded.Observe("us-east-2", pubB); ok {
		t.Errorf("after a restart another key replaced the pinned one")
	}
	if err := reloaded.Verify("us-east-2", msg, sigA); err != nil {
		t.Errorf("pinned key lost across a restart: %v", err)
	}
	if err := reloaded.Verify("us-east-2", msg, nil); !errors.Is(err, replication.ErrBadSignature) {
		t.Errorf("missing signature: %v, want bad signature", err)
	}
}

// TestTrustOnFirstUse: two regions without a trust file pin each other's
// advertised key, persist it in their data directories, and converge on
// each other's signed commits.
func TestTrustOnFirstUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key := []byte("0123456789abcdef")
	var nodes []*Node
	for i, r := range []string{"us-east-2", "eu-west-1"} {
		_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Region: r, GossipKey: key, Preset: PresetLocal, Tune: fastTune, Initial: initial(t), Seed: uint64(i + 1),
			DataDir: filepath.Join(t.TempDir(), r), NoSync: true, SigningKey: priv}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		n, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown(5 * time.Second) })
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	var ids []replication.MutationID
	for i, n := range nodes {
		var m replication.Mutation
		within(t, 10*time.Second, n.Region()+" commits", func(ctx context.Context) error {
			return poll(ctx, func() bool {
				var err error
				m, err = n.Commit(createUser(fmt.Sprint("u", i)))
				return err == nil
			})
		})
		ids = append(ids, m.ID)
	}
	within(t, 15*time.Second, "both regions apply both commits", func(ctx context.Context) error {
		return poll(ctx, func() bool { return a.Has(ids[1]) && b.Has(ids[0]) })
	})
	for _, n := range nodes {
		pinned, err := ReadTrustFile(filepath.Join(n.cfg.DataDir, PinnedKeysFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(pinned) != 2 || EncodePublicKey(pinned[a.Region()]) != a.PublicKey() || EncodePublicKey(pinned[b.Region()]) != b.PublicKey() {
			t.Errorf("%s pinned %v, want both regions' keys", n.Region(), pinned)
		}
	}
}
