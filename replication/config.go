package replication

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// DelayModel draws the propagation delay of one mutation from its origin to
// one destination region: the time from commit at the origin to apply at the
// destination, modelling a cloud control plane's replication pipeline.
// Package delay implements it from the distributions of a scenario.
// Implementations must draw only from r, so runs are reproducible.
type DelayModel interface {
	Sample(origin, dest string, revoke bool, r *rand.Rand) time.Duration
}

// GossipConfig is the dissemination schedule, with memberlist's meaning for
// each field so that the simulator and a live memberlist cluster agree.
type GossipConfig struct {
	// Interval between gossip rounds (memberlist GossipInterval). A round
	// sends the queued rumors to Fanout random peers.
	Interval time.Duration
	// Fanout is the number of random peers per round (memberlist GossipNodes).
	Fanout int
	// RetransmitMult scales how many times each rumor is sent:
	// RetransmitMult * ceil(log10(n+1)) sends in total, n = cluster size
	// (memberlist RetransmitMult).
	RetransmitMult int
	// PushPullInterval between anti-entropy exchanges with one random peer
	// (memberlist PushPullInterval); like memberlist, it grows with
	// log2(n) beyond 32 regions. Zero disables push/pull.
	PushPullInterval time.Duration
}

// DefaultLANGossip returns memberlist's DefaultLANConfig schedule: 200ms
// rounds to 3 peers, 4 × log retransmits, push/pull every 30s.
func DefaultLANGossip() GossipConfig {
	return GossipConfig{Interval: 200 * time.Millisecond, Fanout: 3, RetransmitMult: 4, PushPullInterval: 30 * time.Second}
}

// DefaultWANGossip returns memberlist's DefaultWANConfig schedule: 500ms
// rounds to 4 peers, push/pull every 60s.
func DefaultWANGossip() GossipConfig {
	return GossipConfig{Interval: 500 * time.Millisecond, Fanout: 4, RetransmitMult: 4, PushPullInterval: 60 * time.Second}
}

// DefaultLocalGossip returns memberlist's DefaultLocalConfig schedule
// (loopback): 100ms rounds to 3 peers, 2 × log retransmits, push/pull
// every 15s.
func DefaultLocalGossip() GossipConfig {
	return GossipConfig{Interval: 100 * time.Millisecond, Fanout: 3, RetransmitMult: 2, PushPullInterval: 15 * time.Second}
}

// RetransmitLimit is how many times each region sends a rumor in a cluster
// of n regions: RetransmitMult × ⌈log10(n+1)⌉, memberlist's retransmitLimit.
// A report quotes it to say why a rumor died out before reaching everyone.
func RetransmitLimit(mult, n int) int { return retransmitLimit(mult, n) }

// retransmitLimit is memberlist's retransmitLimit: how many sends a rumor
// gets in a cluster of n regions.
func retransmitLimit(mult, n int) int {
	return mult * int(math.Ceil(math.Log10(float64(n+1))))
}

// pushPullScale is memberlist's pushPullScale: beyond 32 regions the
// push/pull interval grows with log2(n), so anti-entropy traffic per region
// stays flat as the cluster grows.
func pushPullScale(interval time.Duration, n int) time.Duration {
	const threshold = 32
	if n <= threshold {
		return interval
	}
	mult := math.Ceil(math.Log2(float64(n))-math.Log2(threshold)) + 1
	return time.Duration(mult) * interval
}

// Config configures a Node. Region and Rand are required; zero values of
// the others mean the documented defaults.
type Config struct {
	// Region is this node's name: the origin of its commits and the
	// destination in DelayModel.Sample.
	Region string
	// Gossip is the dissemination schedule; the zero value means
	// DefaultLANGossip.
	Gossip GossipConfig
	// Delay is the apply-time propagation delay; nil applies on receipt.
	Delay DelayModel
	// Rand is the node's only source of randomness (peer choice, timer
	// stagger, delay draws). Required.
	Rand *rand.Rand
	// Initial is the state before any mutation; it is cloned, never
	// modified. Nil means controlplane.NewState().
	Initial *controlplane.State

	// Start, when set, starts the node's timers at that instant (the first
	// gossip round and push/pull come at a random stagger after it, as in
	// memberlist). Otherwise the timers start at the first Propose, Step or
	// Tick.
	Start time.Time
	// PacketBytes is the UDP budget of one gossip packet (memberlist
	// UDPBufferSize); zero means 1400, and it is clamped to [256, 65507]. A mutation too large for a packet is
	// sent in a KindStream message instead (the live driver uses TCP).
	PacketBytes int
	// MaxClockOffset is how far in the future of the receiver's clock a
	// received timestamp may be before the message is rejected as
	// implausible (a forged or broken clock would otherwise drag every
	// region's clock forward). Zero means one minute; negative disables the
	// check.
	MaxClockOffset time.Duration
	// MaxSeqAhead is how far past the highest sequence number known of an
	// origin a received mutation's sequence number may be before the
	// mutation is refused as implausible (ErrImplausible, bounds.go). Zero
	// means DefaultMaxSeqAhead.
	MaxSeqAhead uint64
	// CheckpointEvery is how many applied mutations separate two
	// checkpoints of the view (clones a late arrival is re-folded from);
	// zero means 8: a clone costs O(1) and a re-fold re-applies everything
	// after its checkpoint, so close checkpoints pay off when commits from
	// several regions overtake each other (with 32, a stream of commits
	// from 100 regions spent 30% more CPU re-folding). MaxCheckpoints
	// bounds how many are kept (zero means 64): when full, every other one
	// is dropped, so memory stays bounded and re-fold work grows only with
	// how late a mutation is.
	CheckpointEvery, MaxCheckpoints int
	// Epoch is the epoch of this region's own commits (MutationID.Epoch):
	// the driver draws a new random one whenever the region starts with a
	// new or emptied log and keeps it with the log, so no id is ever issued
	// twice. 0 is the first epoch of logs written before epochs and of
	// simulated regions that never lost their state.
	Epoch uint64
	// LostState says the node restarts after losing its durable log (the
	// driver also gives it a new Epoch, so its ids cannot collide with the
	// ones it issued before). Its earlier commits live only in other
	// regions now, and so does their state: committing before hearing
	// from them would validate calls against a view that lacks it. The
	// node therefore refuses commits (ServiceUnavailable) until every peer
	// in its membership has answered a push/pull request and it received
	// everything the answer covered (a large answer spans several
	// messages), asking up to Fanout of the others every gossip interval
	// until then (a node without peers waits for some). Own sequence
	// numbers of earlier epochs that no peer returned are then filled with
	// GapAction no-ops and counted in Stats.Lost.
	LostState bool
	// CatchUp says the node restarts with its durable log and joins
	// peers: other regions may have committed while it was away, so it
	// refuses commits (ServiceUnavailable) until one peer has answered a
	// push/pull request and it received everything that answer covered,
	// asking up to Fanout peers every gossip interval until then. Unlike
	// LostState, one answer is enough (the node lost nothing of its own)
	// and nothing is filled. LostState implies it.
	CatchUp bool
	// PullOnSight makes the node advertise its received vector to a
	// rumor's retransmit limit of random peers after it grows, and ask a
	// peer whose advertised vector shows a mutation this region lacks for
	// it a gossip round later if no rumor brought it meanwhile
	// (repair.go). Off, the node is pure rumor mongering plus scheduled
	// push/pull, as the published gossip models describe. Both drivers of
	// a scenario turn it on, so the simulator and the live cluster repair
	// alike.
	PullOnSight bool
	// Acks makes the node disseminate what it has applied (its applied
	// version vector, in KindAck messages on its gossip rounds, and
	// straight to the origins of what it applied; never relayed), so it
	// knows what the peers that acked to it have applied and since when
	// (PeerApplied, AppliedAt; an origin hears from every region that
	// applied its mutations) and counts a mutation a peer applied and it
	// lacks in its lag (StaleSince). Each node then holds a
	// vector per peer, so a simulator of thousands of regions leaves it
	// off; the live driver and the scenario runner's max_lag trials turn
	// it on.
	Acks bool
	// AckHeartbeat, with Acks, re-sends the node's own ack at least this
	// often (at its next gossip round; times ceil(size/16) in a cluster of
	// more than 16 regions) even when nothing was applied since the last
	// one, so its peers keep knowing how fresh their views
	// of its commits are: max_lag admission (Node.BoundSince) counts a
	// view's age from the last word of every region, and without
	// heartbeats a quiet region looks as silent as a cut-off one. Zero:
	// acks only when the applied vector changed (max_lag reads then fail
	// closed once a region was quiet for longer than their bound).
	AckHeartbeat time.Duration
	// Genesis says the node starts together with every other region, from
	// the state they all start with (Initial): a simulator's first start
	// at t=0. A region it has not heard from yet then counts, for max_lag
	// (Node.BoundSince), as fresh from the node's start; otherwise as
	// never heard from (a node cannot tell a new cluster from one it
	// rejoins with an emptied log). Ignored after Restore, with LostState
	// or CatchUp.
	Genesis bool
	// FoldCache, when set, shares fold steps with the other nodes given
	// the same cache (a simulator's regions), so a step many regions take
	// is computed once; views are then frozen and shared, never modified
	// in place. Nil: the node folds its private view in place.
	FoldCache *FoldCache
	// Signer, when set, signs every mutation this region commits (its
	// own commits and gap fillers; sign.go). Verifier, when set, checks
	// the signature of every mutation new to the region (and of one that
	// conflicts with a known id) before it is taken in, and refuses what
	// does not verify. Both nil (the simulator): nothing is signed or
	// checked.
	Signer   Signer
	Verifier Verifier
}

func (c *Config) withDefaults() {
	if c.Gossip == (GossipConfig{}) {
		c.Gossip = DefaultLANGossip()
	}
	if c.Gossip.Interval <= 0 {
		c.Gossip.Interval = DefaultLANGossip().Interval
	}
	if c.Gossip.Fanout <= 0 {
		c.Gossip.Fanout = DefaultLANGossip().Fanout
	}
	if c.Gossip.RetransmitMult <= 0 {
		c.Gossip.RetransmitMult = DefaultLANGossip().RetransmitMult
	}
	if c.PacketBytes <= 0 {
		c.PacketBytes = DefaultPacketBytes
	}
	// A UDP datagram carries at most 65,507 bytes; below 256 not even a
	// small rumor fits and everything would go by stream.
	c.PacketBytes = min(max(c.PacketBytes, 256), 65507)
	if c.MaxClockOffset == 0 {
		c.MaxClockOffset = time.Minute
	}
	if c.MaxSeqAhead == 0 {
		c.MaxSeqAhead = DefaultMaxSeqAhead
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 8
	}
	if c.MaxCheckpoints <= 1 {
		c.MaxCheckpoints = 64
	}
	if c.Initial == nil {
		if c.FoldCache != nil {
			c.Initial = c.FoldCache.empty() // shared, so the nodes' first steps are too
		} else {
			c.Initial = controlplane.NewState()
		}
	}
}
