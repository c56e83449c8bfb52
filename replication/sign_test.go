package replication

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// testKeys holds deterministic Ed25519 keys by region, and verifies like
// the live driver's trust store (whose own tests cover the file formats).
type testKeys map[string]ed25519.PrivateKey

func newTestKeys(regions ...string) testKeys {
	k := testKeys{}
	for i, r := range regions {
		seed := bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)
		k[r] = ed25519.NewKeyFromSeed(seed)
	}
	return k
}

type keySigner ed25519.PrivateKey

func (s keySigner) Sign(msg []byte) []byte { return ed25519.Sign(ed25519.PrivateKey(s), msg) }

// trust verifies under the keys of the regions listed, not the others.
type trust struct {
	keys    testKeys
	trusted map[string]bool
}

func (v trust) Verify(origin string, msg, sig []byte) error {
	if !v.trusted[origin] {
		return fmt.Errorf("%w: %s", ErrUnknownSigner, origin)
	}
	if !ed25519.Verify(v.keys[origin].Public().(ed25519.PublicKey), msg, sig) {
		return fmt.Errorf("%w: %s", ErrBadSignature, origin)
	}
	return nil
}

func signedNode(t testing.TB, keys testKeys, region string, trusted []string, peers ...string) *Node {
	tr := trust{keys: keys, trusted: map[string]bool{}}
	for _, r := range trusted {
		tr.trusted[r] = true
	}
	n := NewNode(Config{Region: region, Initial: initialState(t), Start: epoch, Rand: rand.New(rand.NewPCG(1, 2)),
		Signer: keySigner(keys[region]), Verifier: tr})
	n.SetPeers(peers)
	return n
}

func signAs(keys testKeys, signer string, m Mutation) Mutation {
	m.Sig = ed25519.Sign(keys[signer], SignedBytes(&m))
	return m
}

// TestForgedOriginRefused: an insider holding the gossip key (mallory, not
// in the trust set) sends mutations under another region's name, unsigned,
// signed with its own key, or with a genuine signature over other content;
// each is refused and counted, the view is unchanged, an honest mutation in
// the same message is taken in, and local commits keep working.
func TestForgedOriginRefused(t *testing.T) {
	const self, peer, insider = "us-east-2", "eu-west-1", "mallory"
	keys := newTestKeys(self, peer, insider)
	trusted := []string{self, peer}
	genuine := signAs(keys, peer, commitAt(t, peer, 1, 0, "genuine"))
	tampered := genuine
	tampered.Call = call("iam:CreateGroup", `{"group_name":"tampered"}`)
	tests := []struct {
		name     string
		known    []Mutation // taken in before the forgery
		forged   Mutation
		want     error
		count    func(Stats) uint64
		conflict bool // the forgery reuses a known id
	}{
		{"unsigned, other origin", nil, commitAt(t, peer, 1, 0, "forged"), ErrBadSignature,
			func(s Stats) uint64 { return s.RefusedBadSignature }, false},
		{"signed with the insider's key", nil, signAs(keys, insider, commitAt(t, peer, 1, 0, "forged")), ErrBadSignature,
			func(s Stats) uint64 { return s.RefusedBadSignature }, false},
		{"genuine signature, other content", nil, tampered, ErrBadSignature,
			func(s Stats) uint64 { return s.RefusedBadSignature }, false},
		{"under this region's own name", nil, signAs(keys, insider, commitAt(t, self, 1, 0, "forged")), ErrBadSignature,
			func(s Stats) uint64 { return s.RefusedBadSignature }, false},
		{"insider's own origin, untrusted", nil, signAs(keys, insider, commitAt(t, insider, 1, 0, "forged")), ErrUnknownSigner,
			func(s Stats) uint64 { return s.RefusedUnknownSigner }, false},
		{"known id, other content, insider's key", []Mutation{genuine}, signAs(keys, insider, commitAt(t, peer, 1, -time.Second, "forged")), ErrBadSignature,
			func(s Stats) uint64 { return s.RefusedBadSignature }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := signedNode(t, keys, self, trusted, peer, insider)
			if len(tt.known) > 0 {
				if err := n.Step(epoch, Message{Kind: KindGossip, From: peer, Mutations: tt.known}); err != nil {
					t.Fatal(err)
				}
			}
			n.Ready()
			before, stats := n.Digest(), n.Stats()
			honest := signAs(keys, peer, commitAt(t, peer, 2, 0, "honest"))
			err := n.Step(epoch, Message{Kind: KindGossip, From: insider, Mutations: []Mutation{tt.forged, honest}})
			if !errors.Is(err, ErrUnverified) || !errors.Is(err, tt.want) {
				t.Fatalf("Step = %v, want %v and %v", err, ErrUnverified, tt.want)
			}
			after := n.Stats()
			if got := tt.count(after) - tt.count(stats); got != 1 {
				t.Errorf("refusal counted %d times, want once (stats %+v)", got, after)
			}
			if after.Conflicts != stats.Conflicts {
				t.Errorf("the forgery took part in conflict resolution (%d conflicts)", after.Conflicts-stats.Conflicts)
			}
			if !tt.conflict && n.Knows(&tt.forged) {
				t.Errorf("the forgery was taken in")
			}
			if tt.conflict && !n.Knows(&genuine) {
				t.Errorf("the forgery replaced the genuine mutation")
			}
			rd := n.Ready()
			for _, p := range rd.Persist {
				if sameContent(&p, &tt.forged) {
					t.Errorf("the forgery is to be persisted")
				}
			}
			if !n.Knows(&honest) {
				t.Fatalf("the honest mutation of the same message was dropped too")
			}
			// The view changed by the honest mutation alone.
			ref := signedNode(t, keys, self, trusted, peer)
			if err := n2Step(ref, peer, append(append([]Mutation(nil), tt.known...), honest)); err != nil {
				t.Fatal(err)
			}
			if n.Digest() != ref.Digest() || n.Digest() == before {
				t.Errorf("view differs from the one without the forgery")
			}
			m, err := n.Propose(epoch.Add(time.Second), call("iam:CreateGroup", `{"group_name":"after"}`))
			if err != nil || m.ID.Seq != 1 {
				t.Fatalf("commit after the forgery: %v, %v; want %s/1", m.ID, err, self)
			}
		})
	}
}

func n2Step(n *Node, from string, ms []Mutation) error {
	return n.Step(epoch, Message{Kind: KindGossip, From: from, Mutations: ms})
}

// TestSignaturesSurviveTheWire: a region's commits and gap fillers are
// signed, the signature survives encoding, and a peer that trusts the
// origin takes them in; an unsigned body encodes exactly as before signing.
func TestSignaturesSurviveTheWire(t *testing.T) {
	keys := newTestKeys("us-east-2", "eu-west-1")
	a := signedNode(t, keys, "us-east-2", []string{"us-east-2", "eu-west-1"}, "eu-west-1")
	b := signedNode(t, keys, "eu-west-1", []string{"us-east-2", "eu-west-1"}, "us-east-2")
	m, err := a.Propose(epoch, call("iam:CreateGroup", `{"group_name":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sig) != ed25519.SignatureSize {
		t.Fatalf("commit carries a %d-byte signature, want %d", len(m.Sig), ed25519.SignatureSize)
	}
	dec, err := DecodeMessage(Message{Kind: KindRepair, From: "us-east-2", Mutations: []Mutation{m}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Mutations[0].Sig, m.Sig) {
		t.Fatalf("signature changed on the wire")
	}
	if err := b.Step(epoch, dec); err != nil || !b.Has(m.ID) {
		t.Fatalf("peer refused a signed commit: %v", err)
	}
	unsigned := m
	unsigned.Sig = nil
	body := appendMutationBody(nil, &unsigned)
	signed := appendMutationBody(nil, &m)
	if len(signed) != len(body)+1+ed25519.SignatureSize {
		t.Errorf("signed body is %d bytes, want the unsigned %d plus the signature", len(signed), len(body))
	}
	if got, want := mutationBodySize(&m), len(signed); got != want {
		t.Errorf("mutationBodySize = %d, want %d", got, want)
	}
}

// TestSignedBytesCoverEveryField: changing any field of the id, timestamp
// or content changes the signed bytes.
func TestSignedBytesCoverEveryField(t *testing.T) {
	base := commitAt(t, "us-east-2", 3, 0, "g")
	base.ID.Epoch = 7
	edits := map[string]func(*Mutation){
		"origin":  func(m *Mutation) { m.ID.Origin = "us-east-1" },
		"epoch":   func(m *Mutation) { m.ID.Epoch++ },
		"seq":     func(m *Mutation) { m.ID.Seq++ },
		"wall":    func(m *Mutation) { m.TS.Wall++ },
		"logical": func(m *Mutation) { m.TS.Logical++ },
		"revoke":  func(m *Mutation) { m.Revoke = !m.Revoke },
		"action":  func(m *Mutation) { m.Call.Action = "iam:DeleteGroup" },
		"account": func(m *Mutation) { m.Call.Account = "123" },
		"region":  func(m *Mutation) { m.Call.Region = "x" },
		"args":    func(m *Mutation) { m.Call.Args = []byte(`{"group_name":"h"}`) },
		"boundary": func(m *Mutation) {
			m.Call.Action, m.Call.Account = m.Call.Action[:len(m.Call.Action)-1], m.Call.Action[len(m.Call.Action)-1:]+m.Call.Account
		},
	}
	want := SignedBytes(&base)
	for name, edit := range edits {
		m := base
		edit(&m)
		if bytes.Equal(SignedBytes(&m), want) {
			t.Errorf("%s: signed bytes unchanged", name)
		}
	}
}
