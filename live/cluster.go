package live

import (
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

// ClusterOptions configures StartCluster. Zero values mean the defaults.
type ClusterOptions struct {
	// Preset is the memberlist timing; default PresetLocal (loopback).
	Preset string
	// Tune adjusts every node's memberlist configuration after the preset.
	Tune func(*memberlist.Config)
	// Delay is the propagation delay model shared by every region.
	Delay replication.DelayModel
	// Initial is the state every region starts from.
	Initial *controlplane.State
	// Seed seeds the regions (region i gets Seed+i); 0 picks at random.
	Seed uint64
	// GossipKey encrypts gossip (16, 24 or 32 bytes); nil leaves the
	// loopback cluster unencrypted.
	GossipKey []byte
	// DataDir, when set, gives each region a durable log in DataDir/REGION.
	DataDir string
	// NoSync skips fsync in those logs.
	NoSync bool
	// Logger and Registerer are shared; every log line and metric carries
	// its region.
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
	// Signing gives every region a fresh signing key and all of them one
	// trust set holding every region's public key (as a trust file would).
	Signing bool
	// AckHeartbeat is every region's Config.AckHeartbeat.
	AckHeartbeat time.Duration
}

// Cluster is an in-process cluster of live region nodes on loopback, each
// with its own memberlist over real sockets: what `scenario run --live`
// drives.
type Cluster struct {
	nodes   []*Node
	byName  map[string]*Node
	regions []string
}

// StartCluster starts one node per region on free loopback ports, joins
// them and waits until every node sees every other alive (or ctx ends).
// The first region joins no one and, with more than one region, expects
// peers (Config.ExpectPeers), as regionnode's default does.
func StartCluster(ctx context.Context, regions []string, opts ClusterOptions) (*Cluster, error) {
	if len(regions) == 0 {
		return nil, errors.New("live: a cluster needs at least one region")
	}
	c := &Cluster{byName: map[string]*Node{}, regions: append([]string(nil), regions...)}
	if opts.Preset == "" {
		opts.Preset = PresetLocal
	}
	var (
		keys  map[string]ed25519.PrivateKey
		trust *Trust
	)
	if opts.Signing {
		keys = map[string]ed25519.PrivateKey{}
		pubs := map[string]ed25519.PublicKey{}
		for _, r := range regions {
			pub, priv, err := ed25519.GenerateKey(cryptorand.Reader)
			if err != nil {
				return nil, fmt.Errorf("live: signing key: %w", err)
			}
			keys[r], pubs[r] = priv, pub
		}
		trust = NewTrust(pubs)
	}
	for i, r := range regions {
		if _, dup := c.byName[r]; dup {
			c.Shutdown()
			return nil, fmt.Errorf("live: region %q twice", r)
		}
		cfg := Config{
			Region: r, BindAddr: "127.0.0.1", Preset: opts.Preset, Tune: opts.Tune, Delay: opts.Delay,
			Initial: opts.Initial, GossipKey: opts.GossipKey, NoSync: opts.NoSync,
			Logger: opts.Logger, Registerer: opts.Registerer, AckHeartbeat: opts.AckHeartbeat,
		}
		if opts.Signing {
			cfg.SigningKey, cfg.Trust = keys[r], trust
		}
		if opts.Seed != 0 {
			cfg.Seed = opts.Seed + uint64(i)
		}
		if opts.DataDir != "" {
			cfg.DataDir = filepath.Join(opts.DataDir, r)
		}
		// The first region joins no one but is one of several, as
		// regionnode's default has it: started again without its state, it
		// waits for the others rather than accept writes against an empty
		// view.
		cfg.ExpectPeers = len(regions) > 1
		// Join every region started so far: each learns of the newcomer in
		// a direct push/pull, rather than from gossip whose retransmit limit
		// leaves stragglers to the next push/pull (30s for 50 regions).
		for _, prev := range c.nodes {
			cfg.Join = append(cfg.Join, prev.GossipAddr())
		}
		n, err := Start(ctx, cfg)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.byName[r] = n
	}
	if err := c.WaitMembers(ctx, len(regions)); err != nil {
		c.Shutdown()
		return nil, err
	}
	if err := c.waitSynced(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// Regions returns the regions in start order.
func (c *Cluster) Regions() []string { return append([]string(nil), c.regions...) }

// Node returns a region's node, or nil.
func (c *Cluster) Node(region string) *Node { return c.byName[region] }

// Nodes returns every node in start order.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

func (c *Cluster) node(region string) (*Node, error) {
	n := c.byName[region]
	if n == nil {
		return nil, fmt.Errorf("live: no region %q in this cluster", region)
	}
	return n, nil
}

// Commit commits a call at a region; it returns once durable there.
func (c *Cluster) Commit(region string, call controlplane.Call) (replication.Mutation, error) {
	n, err := c.node(region)
	if err != nil {
		return replication.Mutation{}, err
	}
	return n.Commit(call)
}

// Authorize decides a probe against a region's view (local consistency).
func (c *Cluster) Authorize(region string, p controlplane.Probe) (Decision, error) {
	n, err := c.node(region)
	if err != nil {
		return Decision{}, err
	}
	return n.Authorize(context.Background(), p, Consistency{Mode: ModeLocal})
}

// Has reports whether a region has applied a mutation.
func (c *Cluster) Has(region string, id replication.MutationID) bool {
	n := c.byName[region]
	return n != nil && n.Has(id)
}

// WaitMembers waits until every node sees at least k alive members
// (itself included).
func (c *Cluster) WaitMembers(ctx context.Context, k int) error {
	return poll(ctx, func() bool {
		for _, n := range c.nodes {
			if n.numAlive() < k {
				return false
			}
		}
		return true
	})
}

// waitSynced waits until every node may commit (see ErrCatchingUp).
func (c *Cluster) waitSynced(ctx context.Context) error {
	return poll(ctx, func() bool {
		for _, n := range c.nodes {
			if !n.Synced() {
				return false
			}
		}
		return true
	})
}

// WaitConverged waits until every node's view digest is the same and no
// node has mutations pending.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	return poll(ctx, func() bool {
		d := c.nodes[0].Digest()
		for _, n := range c.nodes {
			if n.Digest() != d || n.View().Pending > 0 {
				return false
			}
		}
		return true
	})
}

// WaitApplied waits until every region has applied id.
func (c *Cluster) WaitApplied(ctx context.Context, id replication.MutationID) error {
	return poll(ctx, func() bool {
		for _, n := range c.nodes {
			if !n.Has(id) {
				return false
			}
		}
		return true
	})
}

// poll checks cond every 10ms until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SetFaults applies one fault document to every region (each applies the
// part about its own links); a zero spec clears the faults.
func (c *Cluster) SetFaults(s FaultSpec) error {
	if s.Partition != nil || s.PartitionOneway != nil || s.Links != nil {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	for _, n := range c.nodes {
		n.SetFaults(s)
	}
	return nil
}

// Crash stops a region abruptly (see Node.Crash).
func (c *Cluster) Crash(region string) error {
	n, err := c.node(region)
	if err != nil {
		return err
	}
	n.Crash()
	return nil
}

// Restart starts a crashed (or stopped) region again on the same gossip
// port and, unless loseState, the same data directory, and rejoins the
// others; it then catches up through anti-entropy. With loseState its log
// is deleted first: it comes back empty and refetches everything.
func (c *Cluster) Restart(ctx context.Context, region string, loseState bool) error {
	old, err := c.node(region)
	if err != nil {
		return err
	}
	cfg := old.Config()
	if loseState && cfg.DataDir != "" {
		if err := os.RemoveAll(cfg.DataDir); err != nil {
			return fmt.Errorf("live: restart %s: %w", region, err)
		}
	}
	cfg.Join = nil
	for _, n := range c.nodes {
		if n != old {
			cfg.Join = append(cfg.Join, n.GossipAddr())
		}
	}
	n, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	for i := range c.nodes {
		if c.nodes[i] == old {
			c.nodes[i] = n
		}
	}
	c.byName[region] = n
	return c.waitSynced(ctx)
}

// Shutdown stops every node (leaving the cluster gracefully), all at once:
// a leave waits up to a second for its broadcast, and fifty in a row would
// take most of a minute.
func (c *Cluster) Shutdown() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Shutdown(time.Second)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
