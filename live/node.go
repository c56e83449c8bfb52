// Package live is the real-time driver of replication.Node: it runs one
// region on a hashicorp/memberlist cluster over real sockets (membership,
// failure detection, encryption, transport), carries out the Node's Ready
// (sends, fsyncs, applies) in real time, and injects network faults through
// a buffered memberlist.Transport wrapper. StartCluster builds an
// in-process cluster of such regions on loopback for `scenario run --live`.
package live

import (
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/propagation"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/store"
	"github.com/iamprop/iamprop/wire"
)

// Gossip presets name memberlist's configuration constructors.
const (
	PresetLocal = "local" // memberlist.DefaultLocalConfig: loopback, 100ms gossip
	PresetLAN   = "lan"   // memberlist.DefaultLANConfig: 200ms gossip, 30s push/pull
	PresetWAN   = "wan"   // memberlist.DefaultWANConfig: 500ms gossip, 60s push/pull
)

// Config configures one region node. Zero values mean the documented
// defaults; Region is required.
type Config struct {
	// Region names this node: its memberlist node name and the origin of
	// its commits.
	Region string
	// BindAddr and BindPort are the gossip (UDP and TCP) listen address;
	// defaults 127.0.0.1 and 0 (a free port; see GossipAddr).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what peers dial; default: the
	// bind address.
	AdvertiseAddr string
	AdvertisePort int
	// Join lists "host:port" gossip addresses of existing members. A failed
	// join is retried in the background, so nodes may start in any order.
	Join []string
	// HTTPAddr is advertised in the node's memberlist metadata so any node
	// can list every region's API (GET /v1/cluster).
	HTTPAddr string
	// DataDir holds the durable mutation log; "" keeps nothing on disk (an
	// in-process cluster for experiments; a crash loses the region's state).
	DataDir string
	// NoSync skips fsync (benchmarks only).
	NoSync bool
	// Recover accepts a durable log damaged before its end: every intact
	// record is kept and the damaged bytes are set aside next to it
	// (store.Options.Recover), and the region starts a new epoch and
	// recovers as from a lost log (replication.Config.LostState): it
	// commits only once every reachable peer answered, then closes its
	// earlier epochs, filling the sequence numbers nobody returned (a
	// damaged own commit no peer held is lost, and counted). Without it
	// such a log stops Start with a *store.CorruptError.
	Recover bool
	// AckHeartbeat is how often, at least, the region re-sends its ack
	// when nothing changed (replication.Config.AckHeartbeat), so its
	// peers' max_lag bound keeps hearing from it. Zero: every gossip
	// round. Negative: never; max_lag reads at the peers then fail closed
	// whenever this region was quiet for longer than their bound. The
	// traffic grows with the square of the regions (each relays the
	// others' heartbeats once).
	AckHeartbeat time.Duration
	// ExpectPeers says this region is one of several even when it is not
	// told whom to join (the first region, that the others join). Started
	// without its log's content (a new, emptied or wiped log), it then
	// refuses commits (ErrCatchingUp, saying it has an empty log and has not yet heard from its peers)
	// until peers joined it and it received the whole answer of each, as a
	// region started with Join does: a wiped seed must not accept writes
	// validated against an empty view while cut off from the others.
	ExpectPeers bool
	// GossipKey is the AES key (16, 24 or 32 bytes) of memberlist's
	// keyring; nil leaves gossip unencrypted (loopback experiments only).
	GossipKey []byte
	// ClusterLabel is memberlist's label: packets and streams of another
	// cluster are refused. Default "iamprop"; at most 64 bytes.
	ClusterLabel string
	// Preset picks the memberlist timing (PresetLocal, PresetLAN,
	// PresetWAN); default PresetLAN.
	Preset string
	// Tune, if set, adjusts the memberlist configuration after the preset
	// (gossip interval, fanout, probe timing, ...).
	Tune func(*memberlist.Config)
	// Delay is the apply-time propagation delay model; nil applies on
	// receipt.
	Delay replication.DelayModel
	// Initial is the state every region starts from (identical in every
	// region, or digests never agree); nil is an empty state.
	Initial *controlplane.State
	// Seed seeds the node's randomness (peer choice, delays, fault draws);
	// 0 picks one at random.
	Seed uint64
	// Logger receives structured logs; the zero Logger discards them.
	Logger zerolog.Logger
	// Registerer receives the node's metrics (with a region label); nil
	// uses a private registry.
	Registerer prometheus.Registerer
	// ReconnectInterval is how often the node retries joining members it
	// lost (memberlist does not rejoin a healed partition by itself);
	// default 2s for PresetLocal, 10s otherwise.
	ReconnectInterval time.Duration
	// InboxSize bounds the received messages waiting for the node (default
	// 4096); beyond it they are dropped, and anti-entropy repairs the loss.
	InboxSize int
	// SigningKey, when set, signs this region's mutations, and every
	// mutation received is verified against Trust before it is taken in
	// (signing.go). Nil: nothing is signed or verified (an in-process
	// experiment; cmd/regionnode always signs).
	SigningKey ed25519.PrivateKey
	// Trust holds the regions' public keys (from a trust file: NewTrust).
	// Nil with a SigningKey: trust on first use, pinned in
	// DataDir/PinnedKeysFile (in memory without a DataDir). Its key for
	// this region, if any, must be SigningKey's.
	Trust *Trust
}

// Errors of Commit and Authorize.
var (
	// ErrStopped: the node is shutting down or stopped.
	ErrStopped = errors.New("live: node stopped")
	// ErrNotDurable: the mutation log failed; the node refuses writes
	// until restarted (after a failed fsync the file's state is unknown).
	ErrNotDurable = errors.New("live: mutation log failed; node fenced")
	// ErrNotFresh: an at_least token was not applied within the timeout.
	ErrNotFresh = errors.New("live: view does not include the token yet")
	// ErrTooStale: the view lags by more than max_lag.
	ErrTooStale = errors.New("live: view lags more than max_lag")
	// ErrBadToken: the consistency token is not a mutation id.
	ErrBadToken = errors.New("live: bad consistency token")
	// ErrCatchingUp: a node told to join has not yet completed an
	// anti-entropy exchange: received the whole answer of a peer, and, when
	// it started without its log's content, of every reachable peer. It
	// refuses commits until then, so a commit is validated against the
	// others' state (its ids cannot collide with earlier ones: a new log
	// is a new epoch).
	ErrCatchingUp = errors.New("live: catching up with the cluster; retry shortly")
)

// Node is one region of a live cluster.
type Node struct {
	cfg Config
	log zerolog.Logger
	// trust verifies peers' signatures (nil: signing is off); refusedKeys
	// remembers the refused keys already counted, by region.
	trust       *Trust
	refusedKeys map[string]string
	// peerLog samples warnings about peers' bad messages: a peer holding
	// the gossip key could otherwise make this node log at its send rate
	// (iamprop_gossip_rejected_total keeps the exact count).
	peerLog zerolog.Logger
	m       *metrics.Region
	reg     prometheus.Registerer
	store   *store.Log
	tr      *FaultTransport
	ml      *memberlist.Memberlist
	keys    *memberlist.Keyring // nil when gossip is not encrypted
	started time.Time
	label   string

	// mu guards the replication node and everything derived from it below.
	mu        sync.RWMutex
	rn        *replication.Node
	folded    int // rn.NumApplied() when the read view was taken
	deadline  time.Time
	appliedCh chan struct{} // closed and replaced whenever something applies
	// read is what an answer needs of the view, republished at the end of
	// every section under mu that changes the replication node: reads take
	// it without mu, so a commit's log write and the gossip's sends never
	// hold up an answer, and an answer never mixes two views.
	read atomic.Pointer[readView]
	// changing is true from a changing section's lock to its refreshView:
	// a read that finds it set waits for the section, so a read that
	// began after the section read the clock (a commit's instant, a
	// peer's apply) never answers from the view before it.
	changing atomic.Bool
	// catchingUp is true until the replication node first stops
	// recovering (logged once).
	catchingUp bool
	// fresh: the node started without its log's content (new, emptied,
	// wiped or no log at all), which its refusals say.
	fresh bool

	// peersMu guards the membership. What the other regions applied is
	// the replication node's (its acks), under mu.
	peersMu sync.RWMutex
	members map[string]*member

	// regMu guards known: every region ever seen alive and not removed by
	// an operator, persisted in RegionsFile. Lock order: regMu, then peersMu.
	regMu sync.Mutex
	known map[string]struct{}

	// decisions caches decisionCounter's counters, by effect and staleness.
	decisions [6]atomic.Pointer[prometheus.Counter]

	flushMu  sync.Mutex
	failed   atomic.Pointer[error]
	inbox    chan replication.Message
	wake     chan struct{}
	peersCh  chan struct{}
	sendSem  chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

type member struct {
	node     memberlist.Node
	state    string
	http     string
	lastSeen time.Time
}

// Start opens the region's log, replays it, starts memberlist on the
// gossip address and joins the cluster (retrying in the background if no
// member answers yet). ctx bounds the start only: the node runs until
// Shutdown. Stop it with Shutdown.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("live: start: %w", err)
	}
	if err := validRegion(cfg.Region); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1"
	}
	if cfg.ClusterLabel == "" {
		cfg.ClusterLabel = "iamprop"
	}
	if len(cfg.ClusterLabel) > 64 {
		return nil, fmt.Errorf("live: cluster label of %d bytes exceeds 64", len(cfg.ClusterLabel))
	}
	switch n := len(cfg.GossipKey); n {
	case 0, 16, 24, 32:
	default:
		return nil, fmt.Errorf("live: gossip key of %d bytes: want 16, 24 or 32 (AES-128/192/256)", n)
	}
	var mlc *memberlist.Config
	switch cfg.Preset {
	case PresetLocal:
		mlc = memberlist.DefaultLocalConfig()
	case PresetLAN, "":
		mlc = memberlist.DefaultLANConfig()
	case PresetWAN:
		mlc = memberlist.DefaultWANConfig()
	default:
		return nil, fmt.Errorf("live: gossip preset %q: want local, lan or wan", cfg.Preset)
	}
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = 10 * time.Second
		if cfg.Preset == PresetLocal {
			cfg.ReconnectInterval = 2 * time.Second
		}
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = 4096
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := metrics.New(reg, cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("live: metrics: %w", err)
	}
	defer func() {
		if err != nil {
			// A failed start must not keep the region's metrics registered:
			// the next Start on a shared registry would fail for good.
			m.Unregister()
		}
	}()
	log := cfg.Logger.With().Str("region", cfg.Region).Logger()

	n := &Node{
		cfg: cfg, log: log, m: m, reg: reg, started: time.Now(), label: cfg.ClusterLabel,
		peerLog:   log.Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second}),
		appliedCh: make(chan struct{}),
		members:   map[string]*member{},
		known:     map[string]struct{}{cfg.Region: {}},
		inbox:     make(chan replication.Message, cfg.InboxSize),
		wake:      make(chan struct{}, 1),
		peersCh:   make(chan struct{}, 1),
		sendSem:   make(chan struct{}, 32),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	if cfg.Tune != nil {
		cfg.Tune(mlc)
	}
	gossip := replication.GossipConfig{
		Interval:       mlc.GossipInterval,
		Fanout:         mlc.GossipNodes,
		RetransmitMult: mlc.RetransmitMult,
		// Anti-entropy rides on memberlist's own push/pull
		// (LocalState/MergeRemoteState), which also runs on every join:
		// the Node's timer would only duplicate it.
		PushPullInterval: 0,
	}
	var (
		signer   replication.Signer
		verifier replication.Verifier
	)
	if cfg.SigningKey != nil {
		if n.trust, err = startTrust(cfg, log); err != nil {
			return nil, err
		}
		signer, verifier = ed25519Signer(cfg.SigningKey), n.trust
	} else if cfg.Trust != nil {
		return nil, errors.New("live: a trust set without a signing key: give the region a SigningKey")
	}

	// Durable log: opened first (its epoch numbers this region's commits),
	// replayed before any other input.
	var (
		l     *store.Log
		muts  []replication.Mutation
		epoch uint64
		// damaged: Recover set records aside (and the log is in a new
		// epoch): they may have been own commits that no peer holds.
		damaged bool
	)
	if cfg.DataDir != "" {
		var rec store.Recovery
		l, muts, rec, err = store.Open(cfg.DataDir, store.Options{NoSync: cfg.NoSync, Recover: cfg.Recover,
			OnSync: func(d time.Duration) { m.StoreFsync.Observe(d.Seconds()) }})
		if err != nil {
			return nil, fmt.Errorf("live: %w", err)
		}
		if !rec.Clean() {
			// Never applied, loudly reported; peers re-send what they hold.
			for _, d := range rec.Damage {
				kind, msg := metrics.StoreCorrupt, "mutation log was corrupt: the damaged bytes were set aside (--recover); peers re-send what they held"
				if d.Torn {
					kind, msg = metrics.StoreTornTail, "mutation log had a torn tail (an interrupted append); it was cut off and will be repaired from peers"
				}
				m.StoreDamaged.WithLabelValues(kind).Inc()
				log.Error().Int("record", d.Record).Int64("offset", d.Offset).Int64("bytes", d.Length).Str("reason", d.Reason).
					Str("saved_as", d.SavedAs).Msg(msg)
			}
			m.StoreRecovered.Add(float64(rec.Kept))
			damaged = rec.Rewritten
			if rec.Rewritten {
				log.Warn().Int("kept", rec.Kept).Str("dir", cfg.DataDir).Msg("mutation log rewritten without its damaged records")
			}
		}
		epoch = l.Epoch()
	} else if epoch, err = randomEpoch(); err != nil {
		return nil, err
	}
	// No log content (a new, emptied or absent log), or a log whose damaged
	// records were set aside: the region may have lost commits of its own
	// that only its peers hold, or nobody. It recovers as from a lost log:
	// from every reachable peer, then it closes its earlier epochs, filling
	// what nobody returned (replication.Config.LostState), so no version
	// vector stops below a gap forever.
	fresh := len(muts) == 0
	lost := fresh || damaged
	// The first region has no one to catch up with, unless it expects peers
	// and may have lost its state.
	waitPeers := len(cfg.Join) > 0 || (cfg.ExpectPeers && lost)

	n.rn = replication.NewNode(replication.Config{
		Region:      cfg.Region,
		Gossip:      gossip,
		Delay:       cfg.Delay,
		Rand:        rand.New(rand.NewPCG(cfg.Seed, 1)),
		Initial:     cfg.Initial,
		Start:       time.Now(),
		PacketBytes: mlc.UDPBufferSize - len(cfg.ClusterLabel) - 8,
		// Pull on sight is the Node's (replication/repair.go), so the
		// simulator does it too.
		PullOnSight: true,
		// What every region applied (Status, Members) and the view's lag
		// (max_lag) come from the Node's acks, gossiped as replication
		// messages, so the simulator models them as well.
		Acks: true,
		// A heartbeat ack every gossip round, so the peers' max_lag bound
		// (replication.Node.BoundSince) keeps hearing from a quiet region.
		AckHeartbeat: ackHeartbeat(cfg.AckHeartbeat, gossip.Interval),
		// A region's own commits are numbered in its log's epoch, so a
		// wiped disk never reissues an id.
		Epoch: epoch,
		// A region that starts without a log's content catches up with
		// every reachable peer before it commits (replication.Config).
		LostState: lost && waitPeers,
		// A region restarted with its log and told to join catches up
		// with one peer before it commits (replication.Config).
		CatchUp: waitPeers && !lost,
		// Every mutation carries its origin's signature; peers' are
		// verified before they are taken in (nil: neither).
		Signer:   signer,
		Verifier: verifier,
	})
	n.catchingUp = waitPeers
	n.fresh = fresh

	if l != nil {
		n.store = l
		n.rn.Restore(time.Now(), muts)
		m.StoreRecords.Set(float64(l.Records()))
		log.Info().Int("mutations", len(muts)).Str("dir", cfg.DataDir).Str("epoch", replication.StreamName(cfg.Region, epoch)).Msg("replayed mutation log")
		known, err := loadRegions(cfg.DataDir)
		if err != nil {
			n.closeStore()
			return nil, fmt.Errorf("live: %w", err)
		}
		if _, ok := known[cfg.Region]; !ok {
			known[cfg.Region] = struct{}{}
			if err := saveRegions(cfg.DataDir, known); err != nil {
				n.closeStore()
				return nil, fmt.Errorf("live: persist the cluster's regions: %w", err)
			}
		}
		n.known = known
		// A region that is down now still counts in the max_lag bound.
		regions := make([]string, 0, len(known))
		for r := range known {
			regions = append(regions, r)
		}
		n.rn.KnowRegions(regions)
	}
	n.refreshView(true)

	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs:    []string{cfg.BindAddr},
		BindPort:     cfg.BindPort,
		Logger:       newStdLogger(log),
		MetricLabels: []gometrics.Label{{Name: "region", Value: cfg.Region}},
	})
	if err != nil {
		n.closeStore()
		return nil, fmt.Errorf("live: gossip listener on %s: %w", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	n.tr = NewFaultTransport(inner, cfg.Region, cfg.Seed^0x5eed, func(reason string) { m.TransportDropped.WithLabelValues(reason).Inc() })

	mlc.Name = cfg.Region
	mlc.Transport = n.tr
	mlc.BindAddr = cfg.BindAddr
	mlc.BindPort = inner.GetAutoBindPort()
	mlc.AdvertiseAddr = cfg.AdvertiseAddr
	mlc.AdvertisePort = cfg.AdvertisePort
	mlc.Delegate = (*delegate)(n)
	mlc.Events = (*events)(n)
	mlc.Label = cfg.ClusterLabel
	// memberlist's own metrics (through hashicorp/go-metrics, bridged to
	// Prometheus by cmd/regionnode) carry the region, so regions sharing a
	// process stay apart.
	mlc.MetricLabels = []gometrics.Label{{Name: "region", Value: cfg.Region}}
	mlc.Logger = newStdLogger(log)
	mlc.LogOutput = nil
	if len(cfg.GossipKey) > 0 {
		mlc.SecretKey = append([]byte(nil), cfg.GossipKey...)
		mlc.GossipVerifyIncoming = true
		mlc.GossipVerifyOutgoing = true
	}
	ml, err := memberlist.Create(mlc)
	if err != nil {
		n.tr.Shutdown()
		n.closeStore()
		return nil, fmt.Errorf("live: memberlist: %w", err)
	}
	n.ml = ml
	n.keys = mlc.Keyring
	n.tr.SetPeerAddr(ml.LocalNode().Address(), cfg.Region)
	n.peersMu.Lock()
	n.members[cfg.Region] = &member{node: *ml.LocalNode(), state: "alive", http: cfg.HTTPAddr, lastSeen: time.Now()}
	n.peersMu.Unlock()

	n.wg.Add(3)
	go n.run()
	go n.reconnect()
	go n.observe()
	if len(cfg.Join) > 0 && ctx.Err() == nil {
		if k, err := ml.Join(cfg.Join); err != nil {
			log.Warn().Err(err).Strs("join", cfg.Join).Msg("no member answered yet; retrying in the background")
		} else {
			log.Info().Int("contacted", k).Msg("joined the cluster")
		}
	}
	log.Info().Str("gossip", n.GossipAddr()).Bool("encrypted", len(cfg.GossipKey) > 0).Str("preset", presetName(cfg.Preset)).Msg("region node started")
	return n, nil
}

func presetName(p string) string {
	if p == "" {
		return PresetLAN
	}
	return p
}

// Region returns the node's region.
func (n *Node) Region() string { return n.cfg.Region }

// GossipAddr returns the "ip:port" peers use to join this node.
func (n *Node) GossipAddr() string { return n.ml.LocalNode().Address() }

// Registerer returns the registerer the node's metrics are on.
func (n *Node) Registerer() prometheus.Registerer { return n.reg }

// Metrics returns the node's metrics (for the HTTP layer).
func (n *Node) Metrics() *metrics.Region { return n.m }

// countStep moves the metrics by what the replication node counted between
// two snapshots of its Stats taken around a batch of Steps.
func (n *Node) countStep(before, after replication.Stats) {
	n.m.GossipDuplicates.Add(float64(after.Duplicates - before.Duplicates))
	n.m.GossipConflicts.Add(float64(after.Conflicts - before.Conflicts))
	if d := after.RumorsPruned - before.RumorsPruned; d > 0 {
		n.m.GossipDropped.WithLabelValues(metrics.DroppedQueueFull).Add(float64(d))
	}
	if lost := after.Lost - before.Lost; lost > 0 {
		// Counted in iamprop_mutations_lost_total when the old epoch
		// settles (flush), with the rest of what it lost.
		n.log.Error().Uint64("lost", lost).Msg("own commits of an earlier epoch that no peer held are lost with this region's disk; their ids are filled with no-ops")
	}
	for _, c := range []struct {
		reason string
		d      uint64
	}{
		{metrics.RefusedOwnOrigin, after.RefusedOwnOrigin - before.RefusedOwnOrigin},
		{metrics.RefusedSeqAhead, after.RefusedSeqAhead - before.RefusedSeqAhead},
		{metrics.RefusedFutureTimestamp, after.RefusedFuture - before.RefusedFuture},
		{metrics.RefusedConflict, after.Conflicts - before.Conflicts},
		{metrics.RefusedBadSignature, after.RefusedBadSignature - before.RefusedBadSignature},
		{metrics.RefusedUnknownSigner, after.RefusedUnknownSigner - before.RefusedUnknownSigner},
	} {
		if c.d > 0 {
			n.m.GossipRefused.WithLabelValues(c.reason).Add(float64(c.d))
		}
	}
}

// Logger returns the node's logger (with its region).
func (n *Node) Logger() zerolog.Logger { return n.log }

// run is the real-time loop: it owns the timing of Tick, hands received
// messages to the node in batches and carries out each Ready.
func (n *Node) run() {
	defer n.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	batch := make([]replication.Message, 0, 256)
	for {
		select {
		case <-n.ctx.Done():
			return
		case msg := <-n.inbox:
			batch = append(batch[:0], msg)
		drain:
			for len(batch) < cap(batch) {
				select {
				case msg = <-n.inbox:
					batch = append(batch, msg)
				default:
					break drain
				}
			}
			n.lockChange()
			now := time.Now()
			st := n.rn.Stats()
			for i := range batch {
				if err := n.rn.Step(now, batch[i]); err != nil {
					n.m.GossipRejected.Inc()
					n.peerLog.Warn().Err(err).Str("from", batch[i].From).Str("kind", batch[i].Kind.String()).Msg("rejected a replication message")
				}
			}
			n.countStep(st, n.rn.Stats())
			n.refreshView(false)
			n.mu.Unlock()
			clear(batch)
			_ = n.flush()
		case <-timer.C:
			n.lockChange()
			st := n.rn.Stats()
			n.rn.Tick(time.Now())
			n.countStep(st, n.rn.Stats())
			n.refreshView(false)
			n.mu.Unlock()
			_ = n.flush()
		case <-n.peersCh:
			n.rememberAlive()
			alive := n.aliveRegions()
			n.lockChange()
			n.rn.SetPeers(alive)
			n.rn.Tick(time.Now())
			n.refreshView(false)
			n.mu.Unlock()
			_ = n.flush()
		case <-n.wake:
		}
		n.mu.RLock()
		d := n.deadline
		n.mu.RUnlock()
		wait := time.Hour
		if !d.IsZero() {
			wait = max(0, time.Until(d))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// ackHeartbeat is Config.AckHeartbeat as replication.Config takes it.
func ackHeartbeat(hb, round time.Duration) time.Duration {
	switch {
	case hb == 0:
		return round
	case hb < 0:
		return 0
	}
	return hb
}

// refreshView republishes the read view (caller holds mu) when the view
// changed: something was folded (NumApplied tells, gap fillers included,
// which no Applied reports) or, with replaced, a conflict changed a
// mutation's content; and when what the view is known to lack changed.
// Called at the end of every section that changes the replication node,
// under the same lock, so an answer never reports an older vector than
// the view it was decided on. It reports whether the view changed.
func (n *Node) refreshView(replaced bool) bool {
	defer n.changing.Store(false)
	old := n.read.Load()
	changed := old == nil || replaced || n.rn.NumApplied() != n.folded
	since, stale := n.rn.StaleSince()
	if !changed && old.stale == stale && old.staleSince.Equal(since) {
		return false
	}
	r := &readView{stale: stale, staleSince: since}
	if changed {
		// A Clone shares the view's tables copy-on-write: the fold's next
		// write copies the shard it writes, never this one.
		r.view = &frozenView{state: n.rn.View().Clone(), vector: n.rn.Vector(), applied: n.rn.NumApplied()}
		r.view.above, r.view.aboveTruncated = appliedAbove(n.rn)
		n.folded = n.rn.NumApplied()
	} else {
		r.view = old.view
	}
	n.read.Store(r)
	return changed
}

// lockChange locks the node for a section that ends in refreshView, and
// holds reads that begin meanwhile until the section has published.
func (n *Node) lockChange() {
	n.mu.Lock()
	n.changing.Store(true)
}

// readView is one published view and what it is known to lack; never
// written after it is published.
type readView struct {
	view       *frozenView
	stale      bool // the view is known to lack a committed mutation
	staleSince time.Time
}

// lag is replication.Node.Lag at now, for this published view.
func (r *readView) lag(now time.Time) time.Duration {
	if !r.stale {
		return 0
	}
	return max(0, now.Sub(r.staleSince))
}

// frozenView is one content of the view: a copy the fold never writes,
// its version vector, and its digest, computed once by the first reader
// that needs it rather than at every change under the node's lock.
type frozenView struct {
	state   *controlplane.State
	vector  replication.VersionVector
	applied int // how many mutations it is the fold of, gap fillers included
	// above is what the view holds beyond vector's prefixes (nil: none,
	// as in any view that has caught up), aboveTruncated whether some was
	// left out (Decision.Above).
	above          map[string][][2]uint64
	aboveTruncated bool
	once           sync.Once
	digest         string
}

// maxAboveRanges bounds Decision.Above: a view could hold many scattered
// numbers beyond its prefixes (a peer's data decides), and every answer
// carries the list.
const maxAboveRanges = 64

// appliedAbove is rn.AppliedAbove in the wire's shape: nothing allocated
// when the view holds nothing beyond its prefixes.
func appliedAbove(rn *replication.Node) (map[string][][2]uint64, bool) {
	above, truncated := rn.AppliedAbove(maxAboveRanges)
	if above == nil {
		return nil, truncated
	}
	out := make(map[string][][2]uint64, len(above))
	for stream, rs := range above {
		w := make([][2]uint64, len(rs))
		for i, r := range rs {
			w[i] = [2]uint64{r.From, r.To}
		}
		out[stream] = w
	}
	return out, truncated
}

// Digest is the view's digest, hex.
func (f *frozenView) Digest() string {
	f.once.Do(func() {
		d := f.state.Digest()
		f.digest = hex.EncodeToString(d[:])
	})
	return f.digest
}

// flush carries out the Node's Ready: bookkeeping, then the durable log
// (one fsync for the whole batch), then the sends. Sends come after the
// fsync so a mutation is never gossiped before it is durable here. flushMu
// serializes flushes, so when a flush returns, everything the node produced
// before it began is durable (group commit for concurrent Commits).
func (n *Node) flush() error {
	n.flushMu.Lock()
	defer n.flushMu.Unlock()
	n.lockChange()
	rd := n.rn.Ready()
	for i := range rd.Replaced {
		r := &rd.Replaced[i]
		n.log.Warn().Str("id", r.ID.String()).Str("call", r.Call.Action).Msg("conflict: two different mutations under one id; this one is kept everywhere (see /v1/view)")
	}
	for i := range rd.Lost {
		n.reportLost(&rd.Lost[i])
	}
	// A gap filler (its own, or received) is never reported applied: it
	// changes no view, but it moves the vector past the lost id.
	if n.refreshView(len(rd.Replaced) > 0) || len(rd.Applied) > 0 {
		close(n.appliedCh)
		n.appliedCh = make(chan struct{})
	}
	if n.catchingUp && !n.rn.Recovering() {
		n.catchingUp = false
		n.log.Info().Str("epoch", replication.StreamName(n.cfg.Region, n.rn.Epoch())).Msg("caught up with the cluster")
	}
	n.deadline = rd.Deadline
	pending := n.rn.Pending()
	n.mu.Unlock()
	n.m.ViewPending.Set(float64(pending))

	if errp := n.failed.Load(); errp != nil {
		return *errp
	}
	if n.store != nil && len(rd.Persist) > 0 {
		if err := n.store.Append(rd.Persist); err != nil {
			err = fmt.Errorf("%w: %v", ErrNotDurable, err)
			n.failed.Store(&err)
			n.log.Error().Err(err).Msg("mutation log append failed: refusing writes and sends until restart")
			return err
		}
		n.m.StoreRecords.Set(float64(n.store.Records()))
	}
	for i := range rd.Applied {
		a := &rd.Applied[i]
		lag := a.At.Sub(a.CommitTime())
		n.m.MutationsApplied.WithLabelValues(a.ID.Origin).Inc()
		n.m.ReplicationLag.WithLabelValues(a.ID.Origin).Observe(max(0, lag.Seconds()))
		n.log.Info().Str("id", a.ID.String()).Str("call", a.Call.Action).Str("origin", a.ID.Origin).
			Dur("lag", lag).Time("applied_at", a.At).Msg("applied mutation")
	}
	for _, env := range rd.Messages {
		n.send(env)
	}
	return nil
}

// randomEpoch draws the epoch of a region without a durable log: every
// start is a new epoch, drawn apart from Config.Seed (a restarted region
// with the same seed must not draw the same epoch).
func randomEpoch() (uint64, error) {
	for {
		var b [8]byte
		if _, err := cryptorand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("live: draw an epoch: %w", err)
		}
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e, nil
		}
	}
}

// send delivers one envelope: gossip packets best-effort over UDP, the
// rest (push/pull, repairs, large mutations) over memberlist's reliable
// stream, off the loop because a TCP dial may take the TCP timeout.
func (n *Node) send(env replication.Envelope) {
	n.peersMu.RLock()
	mb := n.members[env.To]
	var to memberlist.Node
	ok := mb != nil && (mb.state == "alive" || mb.state == "suspect")
	if ok {
		to = mb.node
	}
	n.peersMu.RUnlock()
	if !ok {
		// The peer left, or (push/pull off) never learnt of by this
		// region although it knows this one: a region waiting for this
		// answer repairs the membership itself (reconnect), but the drop
		// is never silent.
		state := "unknown"
		if mb != nil {
			state = mb.state
		}
		n.m.GossipDropped.WithLabelValues(metrics.DroppedUnknownPeer).Inc()
		n.peerLog.Warn().Str("to", env.To).Str("member_state", state).Str("kind", env.Msg.Kind.String()).
			Msg("dropped a replication message to a region not known alive here (iamprop_gossip_dropped_total)")
		return
	}
	body := env.Msg.Encode()
	buf := make([]byte, 0, len(body)+1)
	buf = append(buf, tagReplication)
	buf = append(buf, body...)
	kind := env.Msg.Kind.String()
	small := env.Msg.Kind == replication.KindPushPullRequest && len(buf) <= 1024
	if !env.Msg.Kind.Reliable() || small {
		if err := n.ml.SendBestEffort(&to, buf); err != nil {
			n.m.GossipDropped.WithLabelValues(metrics.DroppedSendFailed).Inc()
			n.peerLog.Warn().Err(err).Str("to", env.To).Str("kind", kind).Msg("gossip send failed")
			return
		}
		n.m.GossipMessages.WithLabelValues(metrics.DirectionOut, kind).Inc()
		n.m.GossipBytes.WithLabelValues(metrics.DirectionOut).Add(float64(len(buf)))
		return
	}
	select {
	case n.sendSem <- struct{}{}:
	default:
		n.m.GossipDropped.WithLabelValues(metrics.DroppedSendsBusy).Inc()
		n.peerLog.Warn().Str("to", env.To).Str("kind", kind).Msg("too many reliable sends in flight; dropped one (anti-entropy repairs it)")
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.sendSem }()
		if err := n.ml.SendReliable(&to, buf); err != nil {
			n.m.GossipDropped.WithLabelValues(metrics.DroppedSendFailed).Inc()
			n.peerLog.Warn().Err(err).Str("to", env.To).Str("kind", kind).Msg("reliable send failed")
			return
		}
		n.m.GossipMessages.WithLabelValues(metrics.DirectionOut, kind).Inc()
		n.m.GossipBytes.WithLabelValues(metrics.DirectionOut).Add(float64(len(buf)))
	}()
}

// Commit validates and commits one call at this region. It returns once
// the mutation is durable (fsync) and queued for gossip; a rejected call
// returns the view's *controlplane.APIError and changes nothing.
func (n *Node) Commit(c controlplane.Call) (replication.Mutation, error) {
	if n.ctx.Err() != nil {
		return replication.Mutation{}, ErrStopped
	}
	if errp := n.failed.Load(); errp != nil {
		return replication.Mutation{}, *errp
	}
	if !n.Synced() {
		if n.numAlive() < 2 {
			if n.fresh {
				return replication.Mutation{}, fmt.Errorf("%w: %s has an empty log (new, or wiped with its disk) and has not yet heard from its peers; it refuses writes, which it would validate against an empty view, until a peer reaches it or it reaches one (a region that is a whole cluster by itself runs with --expect-peers=false)", ErrCatchingUp, n.cfg.Region)
			}
			return replication.Mutation{}, fmt.Errorf("%w: %s restarted with its log and was told to join its peers; it has not yet heard from any of them and refuses writes until it reaches one", ErrCatchingUp, n.cfg.Region)
		}
		return replication.Mutation{}, ErrCatchingUp
	}
	n.lockChange()
	st := n.rn.Stats()
	mu, err := n.rn.Propose(time.Now(), c)
	n.countStep(st, n.rn.Stats())
	n.refreshView(false)
	n.mu.Unlock()
	if err != nil {
		var ae *controlplane.APIError
		if errors.As(err, &ae) {
			n.m.MutationsRejected.WithLabelValues(ae.Code).Inc()
		} else {
			n.m.MutationsRejected.WithLabelValues("Malformed").Inc()
		}
		return replication.Mutation{}, err
	}
	if err := n.flush(); err != nil {
		return replication.Mutation{}, err
	}
	n.m.MutationsCommitted.Inc()
	n.log.Info().Str("id", mu.ID.String()).Str("call", mu.Call.Action).Time("committed_at", mu.CommitTime()).Bool("revoke", mu.Revoke).Msg("committed mutation")
	select {
	case n.wake <- struct{}{}:
	default:
	}
	return mu, nil
}

// Consistency selects how fresh the view must be for Authorize: the
// replication package's, so the simulator's probes and this driver decide
// it with the same Node.Admit.
type Consistency = replication.Consistency

// Consistency modes.
const (
	ModeLocal   = replication.ModeLocal
	ModeAtLeast = replication.ModeAtLeast
	ModeMaxLag  = replication.ModeMaxLag
)

// Decision is an Authorize answer with the view it came from.
type Decision struct {
	Effect      string
	Explanation any
	// ExplanationJSON is Explanation as encoding/json writes it (nil when
	// it could not be encoded), shared by every decision of the same view
	// and answer: read only.
	ExplanationJSON []byte
	Reason          string
	// Authenticated is false for anonymous requests and for credentials
	// this view does not accept (a deleted key or user, or one it has not
	// seen created yet).
	Authenticated bool
	Digest        string
	// Vector is the view's version: per origin, how many mutations are
	// applied. It is shared by every decision of the same view: read only.
	Vector replication.VersionVector
	// Above is what the same view holds beyond Vector's prefixes: per
	// origin epoch, inclusive [from, to] ranges of sequence numbers (a
	// view applies in timestamp order, so past a lost or late id it holds
	// later ones); nil when nothing, as in any view that has caught up.
	// The view is exactly Vector's prefixes and these, unless
	// AboveTruncated says some ranges were left out (at most 64 are
	// listed). Shared like Vector: read only.
	Above          map[string][][2]uint64
	AboveTruncated bool
	Lag            time.Duration
	Stale          bool // the view was known to lack a committed mutation
}

// Authorize decides p against this region's view under the consistency
// option. at_least and max_lag fail closed with ErrNotFresh or ErrTooStale
// (the HTTP layer answers 503) rather than answer from a view too old.
func (n *Node) Authorize(ctx context.Context, p controlplane.Probe, c Consistency) (Decision, error) {
	start := time.Now()
	defer func() { n.m.AuthorizeDuration.Observe(time.Since(start).Seconds()) }()
	switch c.Mode {
	case "", ModeLocal:
	case ModeAtLeast:
		id, err := replication.ParseMutationID(c.Token)
		if err != nil {
			return Decision{}, fmt.Errorf("%w: %v", ErrBadToken, err)
		}
		if err := n.waitFor(ctx, id, c.Timeout); err != nil {
			n.m.AuthorizeRefused.WithLabelValues(ModeAtLeast).Inc()
			return Decision{}, err
		}
	case ModeMaxLag:
		now := time.Now()
		n.mu.RLock()
		ok, err := n.rn.Admit(now, c)
		lag := n.rn.LagBound(now)
		n.mu.RUnlock()
		if !ok {
			n.m.AuthorizeRefused.WithLabelValues(ModeMaxLag).Inc()
			// The node's reason names the region it has not heard from.
			why := strings.TrimPrefix(err.Error(), replication.ErrTooStale.Error()+": ")
			return Decision{Lag: lag, Stale: true}, fmt.Errorf("%w: %s", ErrTooStale, why)
		}
	default:
		return Decision{}, fmt.Errorf("live: consistency mode %q: want local, at_least or max_lag", c.Mode)
	}
	// The published view, without the node's lock: at least as new as
	// the view Admit or waitFor judged above, and, once a changing
	// section has read the clock, never older than its view.
	if n.changing.Load() {
		n.mu.RLock()
		n.mu.RUnlock()
	}
	r := n.read.Load()
	dec, res := r.view.state.Authorize(p)
	exp, expJSON := r.view.state.ExplainJSON(dec)
	stale := r.stale
	d := Decision{Effect: dec.Effect.String(), Explanation: exp, ExplanationJSON: expJSON, Reason: res.Reason, Authenticated: res.Authenticated,
		Digest: r.view.Digest(), Vector: r.view.vector, Above: r.view.above, AboveTruncated: r.view.aboveTruncated,
		Lag: r.lag(time.Now()), Stale: stale}
	n.decisionCounter(dec.Effect, stale).Inc()
	return d, nil
}

// decisionCounter is iamprop_authorize_decisions_total{decision, stale},
// looked up once per pair: the label lookup hashes both values, a cost on
// every request of the hot path otherwise.
func (n *Node) decisionCounter(e evaluator.Effect, stale bool) prometheus.Counter {
	if e > evaluator.Allow { // not an effect the evaluator returns
		return n.m.AuthorizeDecisions.WithLabelValues(e.String(), strconv.FormatBool(stale))
	}
	i := 2 * int(e)
	if stale {
		i++
	}
	if c := n.decisions[i].Load(); c != nil {
		return *c
	}
	c := n.m.AuthorizeDecisions.WithLabelValues(e.String(), strconv.FormatBool(stale))
	n.decisions[i].Store(&c)
	return c
}

// waitFor blocks until id is applied here, the timeout passes or ctx ends.
func (n *Node) waitFor(ctx context.Context, id replication.MutationID, timeout time.Duration) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		n.mu.RLock()
		has, _ := n.rn.Admit(time.Now(), Consistency{Mode: ModeAtLeast, Token: id.String()})
		ch := n.appliedCh
		n.mu.RUnlock()
		if has {
			return nil
		}
		if timeout <= 0 {
			return fmt.Errorf("%w: %s not applied here", ErrNotFresh, id)
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%w: %s not applied within %v", ErrNotFresh, id, timeout)
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %v", ErrNotFresh, id, ctx.Err())
		case <-n.ctx.Done():
			return ErrStopped
		}
	}
}

// Has reports whether the mutation is applied in this region's view.
func (n *Node) Has(id replication.MutationID) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.rn.Has(id)
}

// Lag returns how far behind the view is known to be
// (replication.Node.Lag): the time since the commit of the oldest mutation
// this region has received but not applied, or since it learned from a
// peer's ack that the peer applied a mutation it lacks (a lower bound:
// that mutation was committed earlier). Zero when up to date.
func (n *Node) Lag() time.Duration {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.rn.Lag(time.Now())
}

// ViewInfo is wire.ViewInfo, the summary of GET /v1/view; an alias so
// HTTP clients can decode it without linking this package.
type ViewInfo = wire.ViewInfo

// ConflictInfo is wire.ConflictInfo, one conflict as /v1/view shows it.
type ConflictInfo = wire.ConflictInfo

// View returns the view's summary.
func (n *Node) View() ViewInfo {
	n.mu.RLock()
	defer n.mu.RUnlock()
	r := n.read.Load() // the view as of now: mu is held
	v := ViewInfo{
		Region: n.cfg.Region, Digest: r.view.Digest(), Applied: r.view.applied, Pending: n.rn.Pending(),
		Vector: r.view.vector.Clone(), Counts: wire.Counts(r.view.state.Counts()),
		Above: r.view.above, AboveTruncated: r.view.aboveTruncated,
	}
	v.LagSecond = n.rn.Lag(time.Now()).Seconds()
	st := n.rn.Stats()
	v.Conflicts = st.Conflicts
	v.Epoch = replication.StreamName(n.cfg.Region, n.rn.Epoch())
	v.Lost = []wire.LostInfo{}
	for _, l := range n.rn.Lost() {
		v.Lost = append(v.Lost, lostInfo(l))
		v.LostMutations += l.Known()
	}
	for _, c := range n.rn.Conflicts() {
		v.RecentConflicts = append(v.RecentConflicts, ConflictInfo{ID: c.ID.String(),
			Kept: fmt.Sprintf("%016x", c.Kept), Dropped: fmt.Sprintf("%016x", c.Dropped), At: c.At, From: c.From})
	}
	if v.Vector == nil {
		v.Vector = replication.VersionVector{}
	}
	if m, ok := n.cfg.Delay.(fmt.Stringer); ok {
		v.Propagation = m.String()
	}
	return v
}

// Digest returns the view's digest, hex.
func (n *Node) Digest() string {
	return n.read.Load().view.Digest()
}

// MutationStatus is wire.MutationStatus: "has my change propagated
// everywhere yet?", every region of the cluster in Regions, down ones
// included. Aliases keep the wire types in one place for clients.
type MutationStatus = wire.MutationStatus

// RegionStatus is wire.RegionStatus, one region's part in a MutationStatus.
type RegionStatus = wire.RegionStatus

// ErrUnknownMutation: no region this node hears from knows the id.
var ErrUnknownMutation = errors.New("live: unknown mutation")

// Status reports, for every region of the cluster, whether it has applied
// id (and when), is still waiting for it, or cannot be known (down,
// suspect or silent); see the propagation package. For this region the
// instant is exact; for the others it is when this region learned it from
// their gossiped version vectors (an upper bound, within a gossip round or
// two), and a mutation applied out of order shows as pending until every
// earlier one from its origin is applied there too. The regions of the
// cluster are those this node has ever seen alive (remembered across
// restarts in the data directory) until an operator removes one
// (RemoveMember).
func (n *Node) Status(id replication.MutationID) (MutationStatus, error) {
	in, committedAt, known := n.statusInputs(id, time.Now())
	n.mu.RLock()
	lost, over := n.rn.IsLost(id), n.rn.EpochOver(id)
	n.mu.RUnlock()
	if !known && !lost && over {
		return MutationStatus{}, fmt.Errorf("%w: %s; %s is in epoch %s now and no region holds this id: if it was acknowledged, it was lost with %s's disk",
			ErrUnknownMutation, id, n.cfg.Region, replication.StreamName(n.cfg.Region, n.rn.Epoch()), n.cfg.Region)
	}
	if !known && !lost {
		return MutationStatus{}, fmt.Errorf("%w: %s", ErrUnknownMutation, id)
	}
	if lost {
		return n.lostStatus(id, in, committedAt), nil
	}
	ps := propagation.Compute(in)
	st := MutationStatus{
		ID: id.String(), CommittedAt: committedAt, Complete: ps.Complete, Status: wire.StatusPending,
		Applied: map[string]time.Time{}, Pending: []string{}, Unknown: ps.Names(propagation.Unknown),
		Regions: make(map[string]RegionStatus, len(ps.Regions)), SilenceBoundSeconds: in.SilenceBound.Seconds(),
	}
	for _, r := range ps.Regions {
		rs := RegionStatus{Status: r.Status, Reason: r.Reason}
		if r.Status == propagation.Applied {
			st.Applied[r.Region] = r.AppliedAt
			if !r.AppliedAt.IsZero() {
				t := r.AppliedAt
				rs.AppliedAt = &t
			}
		} else {
			st.Pending = append(st.Pending, r.Region)
		}
		st.Regions[r.Region] = rs
	}
	if st.Complete {
		st.Status = wire.StatusComplete
	}
	return st, nil
}

// lostStatus is Status for an id this region reports lost: every region
// "lost", nothing pending, and what is known of the closed epoch.
func (n *Node) lostStatus(id replication.MutationID, in propagation.Input, committedAt *time.Time) MutationStatus {
	st := MutationStatus{
		ID: id.String(), CommittedAt: committedAt, Status: wire.StatusLost, Lost: true,
		Applied: map[string]time.Time{}, Pending: []string{}, Unknown: []string{},
		Regions: make(map[string]RegionStatus, len(in.Regions)), SilenceBoundSeconds: in.SilenceBound.Seconds(),
	}
	n.mu.RLock()
	for _, l := range n.rn.Lost() {
		if l.Covers(id) {
			info := lostInfo(l)
			st.LostEpoch = &info
		}
	}
	n.mu.RUnlock()
	reason := fmt.Sprintf("%s started a new epoch after losing its disk, and no region %s heard from holds this commit", id.Origin, n.cfg.Region)
	for _, r := range in.Regions {
		st.Regions[r.Name] = RegionStatus{Status: wire.StatusLost, Reason: reason}
	}
	return st
}

// lostInfo is a closed origin epoch as /v1/view shows it.
func lostInfo(l replication.LostStream) wire.LostInfo {
	info := wire.LostInfo{
		Origin: l.Origin, Stream: l.Stream(), HeldThrough: l.HeldThrough, ClaimedThrough: l.ClaimedThrough,
		Missing: [][2]uint64{}, KnownLost: l.Known(), LostAfter: max(l.HeldThrough, l.ClaimedThrough), DetectedAt: l.DetectedAt,
	}
	if l.Epoch != 0 {
		info.Epoch = fmt.Sprintf("%016x", l.Epoch)
	}
	for _, r := range l.Missing {
		info.Missing = append(info.Missing, [2]uint64{r.From, r.To})
	}
	return info
}

// reportLost counts and logs, once, an origin epoch found closed: at error
// level when commits of it are known lost, at warning level when only the
// commits after the last one held may be (if the origin made any).
func (n *Node) reportLost(l *replication.LostStream) {
	known := l.Known()
	n.m.MutationsLost.Add(float64(known))
	ev := n.log.Warn()
	msg := "origin epoch closed: its origin lost its disk and started a new epoch; commits after the last one any region holds, if it made any, are lost"
	if known > 0 {
		ev = n.log.Error()
		msg = "commits lost with their origin's disk: no region this one heard from holds them (GET /v1/view lists them)"
	}
	ev.Str("origin", l.Origin).Str("stream", l.Stream()).Uint64("held_through", l.HeldThrough).
		Uint64("claimed_through", l.ClaimedThrough).Uint64("known_lost", known).
		Uint64("lost_after", max(l.HeldThrough, l.ClaimedThrough)).Msg(msg)
}

// MemberInfo is wire.MemberInfo, one cluster member as this region sees
// it.
type MemberInfo = wire.MemberInfo

// Members lists the cluster as this region sees it, sorted by region; a
// peer's vector is its newest ack (replication.Node.PeerApplied).
func (n *Node) Members() []MemberInfo {
	own := n.View().Vector
	n.regMu.Lock() // before peersMu: the lock order
	known := make([]string, 0, len(n.known))
	for region := range n.known {
		known = append(known, region)
	}
	n.regMu.Unlock()
	n.peersMu.RLock()
	out := make([]MemberInfo, 0, len(n.members))
	for region, mb := range n.members {
		out = append(out, MemberInfo{Region: region, Gossip: mb.node.Address(), HTTP: mb.http, State: mb.state})
	}
	for _, region := range known {
		if _, ok := n.members[region]; !ok {
			// Remembered from an earlier run, not heard from since.
			out = append(out, MemberInfo{Region: region, State: propagation.Unseen})
		}
	}
	n.peersMu.RUnlock()
	n.mu.RLock()
	for i := range out {
		mi := &out[i]
		if mi.Region == n.cfg.Region {
			mi.Self, mi.Vector, mi.State = true, own, "alive"
		} else if v, learned, ok := n.rn.PeerApplied(mi.Region); ok {
			mi.Vector = v
			mi.Updated = &learned
		}
	}
	n.mu.RUnlock()
	sortMembers(out)
	return out
}

// SetFaults switches the transport's faults (a zero spec clears them).
func (n *Node) SetFaults(s FaultSpec) {
	n.tr.SetFaults(s)
	f := n.tr.Faults()
	n.m.FaultsActive.Set(float64(f.Rules()))
	ev := n.log.Warn()
	if f.Rules() == 0 {
		ev = n.log.Info()
	}
	ev.Int("rules", f.Rules()).Interface("spec", s).Msg("faults switched")
}

// Faults returns the fault spec in force.
func (n *Node) Faults() FaultSpec { return n.tr.Faults().Spec }

// Ready reports whether the node can serve: started, not fenced by a log
// failure, and (when it was told whom to join) in touch with a peer.
func (n *Node) Ready() error {
	if n.ctx.Err() != nil {
		return ErrStopped
	}
	if errp := n.failed.Load(); errp != nil {
		return *errp
	}
	if len(n.cfg.Join) > 0 && n.numAlive() < 2 {
		return errors.New("live: not joined to any peer yet")
	}
	if !n.Synced() {
		return ErrCatchingUp
	}
	return nil
}

// Synced reports whether the node may commit: the replication node is not
// catching up with its peers (after a restart with --join, or recovering a
// lost log; replication.Config.CatchUp and LostState).
func (n *Node) Synced() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return !n.rn.Recovering()
}

// Healthy reports whether the process is alive and not fenced.
func (n *Node) Healthy() error {
	if errp := n.failed.Load(); errp != nil {
		return *errp
	}
	return nil
}

// Shutdown leaves the cluster (so peers see a graceful leave rather than a
// failure), stops the loop, flushes and closes the log.
func (n *Node) Shutdown(timeout time.Duration) error {
	var err error
	n.stopOnce.Do(func() {
		if lerr := n.ml.Leave(timeout); lerr != nil {
			n.log.Warn().Err(lerr).Msg("leave")
		}
		n.cancel()
		_ = n.flush()
		if serr := n.ml.Shutdown(); serr != nil {
			err = serr
		}
		n.wg.Wait()
		if cerr := n.closeStore(); cerr != nil && err == nil {
			err = cerr
		}
		n.m.Unregister()
		n.log.Info().Msg("region node stopped")
	})
	return err
}

// Crash stops the node the way a kill -9 would, for fault experiments in
// one process: no leave (peers' failure detectors must notice), no final
// flush (effects not yet carried out are lost; what was acknowledged is
// already on disk), sockets closed. A crashed node cannot be restarted;
// start a new one on the same data directory (Cluster.Restart does).
func (n *Node) Crash() {
	n.stopOnce.Do(func() {
		n.cancel()
		// Fence first, so a flush racing with the crash sends nothing more.
		err := ErrStopped
		n.failed.Store(&err)
		n.flushMu.Lock()
		_ = n.ml.Shutdown()
		n.flushMu.Unlock()
		n.wg.Wait()
		_ = n.closeStore()
		n.m.Unregister() // a restarted node registers afresh
		n.log.Warn().Msg("region node crashed (injected)")
	})
}

// Config returns the configuration the node was started with, with the
// gossip port it actually bound.
func (n *Node) Config() Config {
	c := n.cfg
	c.BindPort = int(n.ml.LocalNode().Port)
	return c
}

func (n *Node) closeStore() error {
	if n.store == nil {
		return nil
	}
	return n.store.Close()
}

func (n *Node) numAlive() int {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	k := 0
	for _, mb := range n.members {
		if mb.state == "alive" || mb.state == "suspect" {
			k++
		}
	}
	return k
}

func (n *Node) aliveRegions() []string {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	var out []string
	for region, mb := range n.members {
		if region != n.cfg.Region && (mb.state == "alive" || mb.state == "suspect") {
			out = append(out, region)
		}
	}
	return out
}

// alivePeerAddrs returns the gossip addresses of the other members known
// alive (or suspect).
func (n *Node) alivePeerAddrs() []string {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	var out []string
	for region, mb := range n.members {
		if region != n.cfg.Region && (mb.state == "alive" || mb.state == "suspect") {
			out = append(out, mb.node.Address())
		}
	}
	return out
}

// reconnect retries joining: the configured seeds while no peer is known,
// lost members for an hour, and, while catching up, every member known
// alive. memberlist stops gossiping to a dead node
// after GossipToTheDeadTime, so without this a healed partition would stay
// split forever (Serf does the same).
func (n *Node) reconnect() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		var addrs []string
		n.peersMu.RLock()
		for region, mb := range n.members {
			if region != n.cfg.Region && (mb.state == "dead" || mb.state == "left") && time.Since(mb.lastSeen) < time.Hour {
				addrs = append(addrs, mb.node.Address())
			}
		}
		n.peersMu.RUnlock()
		if n.numAlive() < 2 {
			addrs = append(addrs, n.cfg.Join...)
		} else if !n.Synced() {
			// Catching up: a peer may not know this region (memberlist's
			// periodic push/pull, which repairs that, can be off), so its
			// answers would be dropped for ever. A join is a push/pull: the
			// peer learns this region and both exchange state.
			addrs = append(addrs, n.alivePeerAddrs()...)
		}
		if len(addrs) == 0 {
			continue
		}
		if k, err := n.ml.Join(addrs); err == nil {
			n.log.Debug().Int("contacted", k).Strs("addrs", addrs).Msg("rejoined")
		}
	}
}

// observe refreshes the membership gauges.
func (n *Node) observe() {
	defer n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		counts := map[string]int{"alive": 0, "suspect": 0, "dead": 0, "left": 0}
		n.peersMu.RLock()
		for _, mb := range n.members {
			counts[mb.state]++
		}
		n.peersMu.RUnlock()
		for s, k := range counts {
			n.m.ClusterMembers.WithLabelValues(s).Set(float64(k))
		}
		n.m.HealthScore.Set(float64(n.ml.GetHealthScore()))
	}
}
