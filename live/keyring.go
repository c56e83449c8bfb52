package live

import (
	"github.com/iamprop/iamprop/wire"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// Errors of gossip key rotation.
var (
	// ErrNoKeyring: the node gossips unencrypted, so it has no keys to
	// rotate (start it with a gossip key).
	ErrNoKeyring = errors.New("live: gossip is not encrypted; the node has no keyring (start it with a gossip key)")
	// ErrBadGossipKey: a key that is not 16, 24 or 32 bytes.
	ErrBadGossipKey = errors.New("live: a gossip key is 16, 24 or 32 bytes")
	// ErrUnknownGossipKey: the key is not installed on this node.
	ErrUnknownGossipKey = errors.New("live: the gossip key is not installed on this node")
	// ErrPrimaryGossipKey: the key in use cannot be removed; use another
	// one first.
	ErrPrimaryGossipKey = errors.New("live: the gossip key in use cannot be removed; use another key first")
)

// GossipKeys describes a node's keyring by fingerprints (wire.GossipKeys).
type GossipKeys = wire.GossipKeys

// KeyFingerprint names a gossip key without revealing it.
func KeyFingerprint(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// A key rotation across the cluster is three rounds, each on every node
// before the next starts: install the new key (every node then decrypts
// both), use it (nodes switch one by one, and each can still read the
// others), remove the old one. memberlist's keyring applies each step to
// the local node only, so the rounds are the operator's (or a script's)
// to run; no node leaves the cluster on the way.

func (n *Node) keyring() (*memberlist.Keyring, error) {
	if n.keys == nil {
		return nil, ErrNoKeyring
	}
	return n.keys, nil
}

// GossipKeys returns the node's keyring by fingerprints.
func (n *Node) GossipKeys() (GossipKeys, error) {
	kr, err := n.keyring()
	if err != nil {
		return GossipKeys{}, err
	}
	out := GossipKeys{Primary: KeyFingerprint(kr.GetPrimaryKey()), Installed: []string{}}
	for _, k := range kr.GetKeys() {
		out.Installed = append(out.Installed, KeyFingerprint(k))
	}
	return out, nil
}

func checkKey(key []byte) error {
	if err := memberlist.ValidateKey(key); err != nil {
		return fmt.Errorf("%w (got %d)", ErrBadGossipKey, len(key))
	}
	return nil
}

func (n *Node) installed(kr *memberlist.Keyring, key []byte) bool {
	for _, k := range kr.GetKeys() {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// InstallGossipKey adds key to the keyring: the node decrypts with it
// from now on, and still sends with its primary key. Installing a key
// already there does nothing.
func (n *Node) InstallGossipKey(key []byte) error {
	kr, err := n.keyring()
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	// A copy: memberlist keeps the slice it is given.
	if err := kr.AddKey(append([]byte(nil), key...)); err != nil {
		return fmt.Errorf("live: install gossip key: %w", err)
	}
	n.log.Info().Str("key", KeyFingerprint(key)).Msg("gossip key installed")
	return nil
}

// UseGossipKey makes an installed key the primary: the one the node
// encrypts with. Every peer must have it installed first, or they stop
// hearing this node.
func (n *Node) UseGossipKey(key []byte) error {
	kr, err := n.keyring()
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if !n.installed(kr, key) {
		return ErrUnknownGossipKey
	}
	if err := kr.UseKey(key); err != nil {
		return fmt.Errorf("live: use gossip key: %w", err)
	}
	n.log.Info().Str("key", KeyFingerprint(key)).Msg("gossip key in use")
	return nil
}

// RemoveGossipKey drops an installed key that is not the primary: the
// node no longer decrypts what is sent with it.
func (n *Node) RemoveGossipKey(key []byte) error {
	kr, err := n.keyring()
	if err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if !n.installed(kr, key) {
		return ErrUnknownGossipKey
	}
	if bytes.Equal(kr.GetPrimaryKey(), key) {
		return ErrPrimaryGossipKey
	}
	if err := kr.RemoveKey(key); err != nil {
		return fmt.Errorf("live: remove gossip key: %w", err)
	}
	n.log.Info().Str("key", KeyFingerprint(key)).Msg("gossip key removed")
	return nil
}
