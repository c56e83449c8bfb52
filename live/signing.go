package live

import (
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/replication"
)

// Signing keys. Each region signs its mutations with an Ed25519 key
// (replication.Signer); every region checks them against the public key it
// trusts for the origin (replication.Verifier): from a trust file, or
// pinned on first use from the key a member advertises in its memberlist
// metadata (docs/api.md says what each mode protects against).

// Files in a data directory.
const (
	// SigningKeyFile holds the region's Ed25519 private key (the base64
	// of its 32-byte seed), created with mode 0600 on first start.
	SigningKeyFile = "signing.key"
	// PinnedKeysFile holds the keys pinned on first use: JSON, region ->
	// base64 public key.
	PinnedKeysFile = "trusted-keys.json"
)

// LoadOrCreateSigningKey reads the signing key in path (the base64 of an
// Ed25519 seed), or, if the file does not exist, generates one and writes
// it with mode 0600. created says it was generated. A key file readable by
// group or others is refused: whoever reads it can sign as the region.
func LoadOrCreateSigningKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	key, err = ReadSigningKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("live: generate signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("live: signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("live: signing key: %w", err)
	}
	_, err = f.WriteString(EncodeSigningKey(priv) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("live: signing key: %w", err)
	}
	return priv, true, nil
}

// EncodeSigningKey returns the key file form of key: the base64 of its seed.
func EncodeSigningKey(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Seed())
}

// ReadSigningKey reads a key file written by LoadOrCreateSigningKey (or by
// `head -c 32 /dev/urandom | base64`).
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("live: signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("live: signing key %s has mode %v: readable by others; chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("live: signing key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("live: signing key %s: want the base64 of a %d-byte Ed25519 seed", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// EncodePublicKey returns the trust file form of a public key (base64).
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("want the base64 of a %d-byte Ed25519 public key", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// ReadTrustFile reads a trust file: a YAML or JSON mapping of region name
// to base64 Ed25519 public key (JSON is YAML, so one parser reads both).
func ReadTrustFile(path string) (map[string]ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("live: trust file: %w", err)
	}
	var raw map[string]string
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("live: trust file %s: want a mapping of region to base64 public key: %w", path, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(raw))
	for region, s := range raw {
		if err := validRegion(region); err != nil {
			return nil, fmt.Errorf("live: trust file %s: %w", path, err)
		}
		k, err := decodePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("live: trust file %s: region %s: %w", path, region, err)
		}
		keys[region] = k
	}
	return keys, nil
}

// Trust is a region's set of trusted signing keys, one per region: a
// replication.Verifier. Fixed (from a trust file), it never changes; in
// trust-on-first-use mode the first key a member advertises for a region
// is pinned (and persisted when the Trust has a file), and a later
// different key is refused. Safe for concurrent use.
type Trust struct {
	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey
	tofu bool
	path string // PinnedKeysFile of a TOFU store; "" keeps pins in memory
}

var _ replication.Verifier = (*Trust)(nil)

// NewTrust returns a fixed trust set (a trust file's keys).
func NewTrust(keys map[string]ed25519.PublicKey) *Trust {
	return &Trust{keys: maps(keys)}
}

// NewTOFUTrust returns a trust-on-first-use set persisted in path (""
// keeps it in memory), loading the keys pinned there before.
func NewTOFUTrust(path string) (*Trust, error) {
	t := &Trust{keys: map[string]ed25519.PublicKey{}, tofu: true, path: path}
	if path == "" {
		return t, nil
	}
	keys, err := ReadTrustFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		t.keys = keys
	}
	return t, nil
}

func maps(in map[string]ed25519.PublicKey) map[string]ed25519.PublicKey {
	out := make(map[string]ed25519.PublicKey, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// TOFU reports whether keys are pinned on first use.
func (t *Trust) TOFU() bool { return t.tofu }

// Key returns the key trusted for region, if any.
func (t *Trust) Key(region string) (ed25519.PublicKey, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	k, ok := t.keys[region]
	return k, ok
}

// Regions returns the regions with a trusted key, sorted.
func (t *Trust) Regions() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.keys))
	for r := range t.keys {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Verify implements replication.Verifier.
func (t *Trust) Verify(origin string, msg, sig []byte) error {
	t.mu.RLock()
	k, ok := t.keys[origin]
	t.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: no signing key is trusted for %s", replication.ErrUnknownSigner, origin)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k, msg, sig) {
		return fmt.Errorf("%w: not signed by the key trusted for %s", replication.ErrBadSignature, origin)
	}
	return nil
}

// Observe takes the key a member advertises for region. It reports
// whether the key is (now) the trusted one: in TOFU mode an unknown
// region's first key is pinned and persisted; a key that differs from the
// trusted one is refused (false), whatever the mode.
func (t *Trust) Observe(region string, pub ed25519.PublicKey) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, ok := t.keys[region]; ok {
		return k.Equal(pub), nil
	}
	if !t.tofu {
		return false, nil
	}
	t.keys[region] = pub
	return true, t.saveLocked()
}

// saveLocked writes the pinned keys atomically (a temporary file renamed
// over the old one), so a crash never leaves half a trust set.
func (t *Trust) saveLocked() error {
	if t.path == "" {
		return nil
	}
	out := make(map[string]string, len(t.keys))
	for r, k := range t.keys {
		out[r] = EncodePublicKey(k)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	// The data directory may not exist yet: the node pins its own key
	// before the log is opened.
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return fmt.Errorf("live: pin signing key: %w", err)
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("live: pin signing key: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("live: pin signing key: %w", err)
	}
	return nil
}

// ed25519Signer is a replication.Signer with an Ed25519 key.
type ed25519Signer ed25519.PrivateKey

func (s ed25519Signer) Sign(msg []byte) []byte { return ed25519.Sign(ed25519.PrivateKey(s), msg) }

// startTrust returns the trust set of a node with a signing key: cfg.Trust,
// or a TOFU set in the data directory; this region's own key is trusted
// either way, so its commits learned back from peers verify.
func startTrust(cfg Config, log zerolog.Logger) (*Trust, error) {
	pub := cfg.SigningKey.Public().(ed25519.PublicKey)
	t := cfg.Trust
	if t == nil {
		path := ""
		if cfg.DataDir != "" {
			path = filepath.Join(cfg.DataDir, PinnedKeysFile)
		}
		var err error
		if t, err = NewTOFUTrust(path); err != nil {
			return nil, err
		}
		log.Warn().Str("file", path).Msg("no trust file: trusting each region's first advertised signing key (trust on first use)")
	}
	if k, ok := t.Key(cfg.Region); ok {
		if !k.Equal(pub) {
			return nil, fmt.Errorf("live: the trust set holds another signing key for %s than this node's (%s): wrong --signing-key or trust file", cfg.Region, EncodePublicKey(pub))
		}
		return t, nil
	}
	if !t.TOFU() {
		log.Warn().Str("public_key", EncodePublicKey(pub)).Msg("this region is not in the trust file: peers using it refuse its mutations")
		// Trusted here only: a copy, since the set may be shared.
		t = NewTrust(t.snapshot())
		t.keys[cfg.Region] = pub
		return t, nil
	}
	if _, err := t.Observe(cfg.Region, pub); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Trust) snapshot() map[string]ed25519.PublicKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps(t.keys)
}

// observeKey takes the signing key a member advertises (events.update).
func (n *Node) observeKey(region, key string) {
	if n.trust == nil || key == "" || region == n.cfg.Region {
		return
	}
	pub, err := decodePublicKey(key)
	ok := err == nil
	if ok {
		ok, err = n.trust.Observe(region, pub)
		if err != nil {
			n.log.Error().Err(err).Str("member", region).Msg("could not persist a pinned signing key")
		}
	}
	if ok {
		return
	}
	n.peersMu.Lock()
	seen := n.refusedKeys[region] == key
	if !seen {
		if n.refusedKeys == nil {
			n.refusedKeys = map[string]string{}
		}
		n.refusedKeys[region] = key
	}
	n.peersMu.Unlock()
	if !seen {
		n.m.SigningKeysRefused.Inc()
		n.peerLog.Warn().Str("member", region).Str("advertised_key", key).
			Msg("a member advertises a signing key that is not the one trusted for its region: its mutations are refused")
	}
}

// PublicKey returns the region's signing public key in trust file form
// ("" when signing is off).
func (n *Node) PublicKey() string {
	if n.cfg.SigningKey == nil {
		return ""
	}
	return EncodePublicKey(n.cfg.SigningKey.Public().(ed25519.PublicKey))
}
