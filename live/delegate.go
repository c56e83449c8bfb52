package live

import (
	"bytes"
	"encoding/json"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/replication"
)

// The first byte of every user message says what follows.
const (
	tagReplication byte = 1 // a replication.Message (wire form)
	tagVector      byte = 2 // a vectorState (JSON)
)

// vectorState is one region's applied version vector, gossiped so that any
// region can answer GET /v1/mutations/{id} for every region. At (the
// producer's clock, unix ns) orders versions: a newer one replaces an older
// one in the broadcast queue and in the receivers' tables.
type vectorState struct {
	Region string                    `json:"region"`
	At     int64                     `json:"at"`
	Vector replication.VersionVector `json:"vector"`
	// Recv is the region's received vector (applied or waiting for its
	// apply time): a peer that lacks something in it asks for it.
	Recv     replication.VersionVector `json:"recv,omitempty"`
	received time.Time
}

func (v *vectorState) valid() bool {
	if validRegion(v.Region) != nil || v.At <= 0 || len(v.Vector) > replication.MaxVectorEntries || len(v.Recv) > replication.MaxVectorEntries {
		return false
	}
	for o := range v.Vector {
		if validRegion(o) != nil {
			return false
		}
	}
	for o := range v.Recv {
		if validRegion(o) != nil {
			return false
		}
	}
	return true
}

// localState is what memberlist's push/pull exchanges (LocalState and
// MergeRemoteState): the sender's received vector, which starts an
// anti-entropy exchange of mutations, and every region's vectors it knows.
type localState struct {
	Region  string                    `json:"region"`
	Vector  replication.VersionVector `json:"vector"`
	Vectors []*vectorState            `json:"vectors"`
}

// maxStateBytes bounds a push/pull state we accept.
const maxStateBytes = 4 << 20

// delegate is the Node seen as a memberlist.Delegate. Its callbacks run on
// memberlist's goroutines: they only decode and hand over, never block on
// the node's loop or on disk.
type delegate Node

var _ memberlist.Delegate = (*delegate)(nil)

type nodeMeta struct {
	HTTP string `json:"http,omitempty"`
}

// NodeMeta advertises the node's HTTP API address.
func (d *delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(nodeMeta{HTTP: d.cfg.HTTPAddr})
	if len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg receives a user message (a best-effort packet, a reliable
// stream or a broadcast).
func (d *delegate) NotifyMsg(b []byte) {
	n := (*Node)(d)
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case tagReplication:
		msg, err := replication.DecodeMessage(b[1:])
		if err != nil {
			n.m.GossipRejected.Inc()
			n.peerLog.Warn().Err(err).Msg("undecodable replication message")
			return
		}
		n.m.GossipMessages.WithLabelValues(metrics.DirectionIn, msg.Kind.String()).Inc()
		n.m.GossipBytes.WithLabelValues(metrics.DirectionIn).Add(float64(len(b)))
		select {
		case n.inbox <- msg:
		default:
			n.log.Warn().Str("from", msg.From).Msg("inbox full: dropped a replication message (anti-entropy repairs it)")
		}
	case tagVector:
		var vs vectorState
		if err := json.Unmarshal(b[1:], &vs); err != nil || !vs.valid() {
			n.m.GossipRejected.Inc()
			n.peerLog.Warn().Err(err).Int("bytes", len(b)).Msg("rejected a version-vector message")
			return
		}
		n.m.GossipMessages.WithLabelValues(metrics.DirectionIn, "vector").Inc()
		n.m.GossipBytes.WithLabelValues(metrics.DirectionIn).Add(float64(len(b)))
		if n.mergeVector(&vs) {
			// memberlist gossip is not transitive: pass newer news on.
			n.vq.QueueBroadcast(&vectorBroadcast{name: "vv/" + vs.Region, msg: bytes.Clone(b)})
		}
		n.updateLag()
	default:
		n.m.GossipRejected.Inc()
		n.peerLog.Warn().Uint8("tag", b[0]).Int("bytes", len(b)).Msg("unknown gossip message tag")
	}
}

// GetBroadcasts serves memberlist's gossip rounds from a
// TransmitLimitedQueue of version vectors, queueing this region's own
// vector first when it changed.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	n := (*Node)(d)
	n.mu.RLock()
	seq := n.vecSeq
	var vec, recv replication.VersionVector
	if seq != n.lastVec.Load() {
		vec, recv = n.vector.Clone(), n.recv.Clone()
	}
	n.mu.RUnlock()
	if vec != nil {
		n.lastVec.Store(seq)
		b, err := json.Marshal(vectorState{Region: n.cfg.Region, At: time.Now().UnixNano(), Vector: vec, Recv: recv})
		if err == nil && len(b)+1+overhead <= limit {
			n.vq.QueueBroadcast(&vectorBroadcast{name: "vv/" + n.cfg.Region, msg: append([]byte{tagVector}, b...)})
		}
		// A vector too large for a packet travels by push/pull only.
	}
	return n.vq.GetBroadcasts(overhead, limit)
}

// LocalState is this region's half of memberlist's push/pull.
func (d *delegate) LocalState(join bool) []byte {
	n := (*Node)(d)
	n.mu.RLock()
	st := localState{Region: n.cfg.Region, Vector: n.recv.Clone()}
	applied := n.vector.Clone()
	n.mu.RUnlock()
	if st.Vector == nil {
		st.Vector = replication.VersionVector{}
	}
	st.Vectors = append(st.Vectors, &vectorState{Region: n.cfg.Region, At: time.Now().UnixNano(), Vector: applied, Recv: st.Vector})
	n.peersMu.RLock()
	for _, vs := range n.peerVecs {
		st.Vectors = append(st.Vectors, vs)
	}
	n.peersMu.RUnlock()
	b, _ := json.Marshal(st)
	return b
}

// MergeRemoteState takes the peer's half: its vectors are merged, and its
// received vector is handed to the node as a push/pull request, so the node
// sends what the peer lacks and the peer, doing the same, sends what this
// region lacks. This is how a restarted region catches up on join.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	n := (*Node)(d)
	if len(buf) > maxStateBytes {
		n.m.GossipRejected.Inc()
		return
	}
	var st localState
	err := json.Unmarshal(buf, &st)
	if err == nil && st.Region == n.cfg.Region {
		return // our own state: a join list that names this node too (compose, Kubernetes)
	}
	if err != nil || validRegion(st.Region) != nil ||
		len(st.Vector) > replication.MaxVectorEntries || len(st.Vectors) > 4*replication.MaxVectorEntries {
		n.m.GossipRejected.Inc()
		n.peerLog.Warn().Err(err).Msg("rejected a push/pull state")
		return
	}
	for _, vs := range st.Vectors {
		if vs != nil && vs.valid() {
			n.mergeVector(vs)
		}
	}
	n.updateLag()
	msg := replication.Message{Kind: replication.KindPushPullRequest, From: st.Region, Vector: st.Vector}
	if msg.Validate() != nil {
		n.m.GossipRejected.Inc()
		return
	}
	select {
	case n.inbox <- msg:
	default:
	}
}

// mergeVector records a region's vector if it is newer than the one known,
// and the instant each origin's sequence number was first seen covered.
func (n *Node) mergeVector(vs *vectorState) bool {
	if vs.Region == n.cfg.Region {
		return false
	}
	now := time.Now()
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if old := n.peerVecs[vs.Region]; old != nil && old.At >= vs.At {
		return false
	}
	cp := &vectorState{Region: vs.Region, At: vs.At, Vector: vs.Vector.Clone(), Recv: vs.Recv.Clone(), received: now}
	n.peerVecs[vs.Region] = cp
	marks := n.covered[vs.Region]
	if marks == nil {
		marks = map[string][]coverMark{}
		n.covered[vs.Region] = marks
	}
	for origin, seq := range cp.Vector {
		ms := marks[origin]
		if len(ms) > 0 && ms[len(ms)-1].seq >= seq {
			continue
		}
		if len(ms) >= maxMarks {
			// Keep memory bounded: thin the history, keeping the newest.
			ms = append(ms[:0], ms[len(ms)/2:]...)
		}
		marks[origin] = append(ms, coverMark{seq: seq, at: now})
	}
	return true
}

const maxMarks = 8192

// vectorBroadcast is a NamedBroadcast: a newer vector of one region
// replaces the older one still queued.
type vectorBroadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*vectorBroadcast)(nil)

func (b *vectorBroadcast) Name() string { return b.name }
func (b *vectorBroadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}
func (b *vectorBroadcast) Message() []byte { return b.msg }
func (b *vectorBroadcast) Finished()       {}

// events is the Node seen as a memberlist.EventDelegate. memberlist calls
// it with its node lock held: it records and signals, nothing more.
type events Node

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) update(nd *memberlist.Node, state string) {
	n := (*Node)(e)
	var meta nodeMeta
	_ = json.Unmarshal(nd.Meta, &meta)
	n.peersMu.Lock()
	prev := n.members[nd.Name]
	n.members[nd.Name] = &member{node: *nd, state: state, http: meta.HTTP, lastSeen: time.Now()}
	n.peersMu.Unlock()
	n.tr.SetPeerAddr(nd.Address(), nd.Name)
	if prev == nil || prev.state != state {
		n.log.Info().Str("member", nd.Name).Str("addr", nd.Address()).Str("state", state).Msg("membership changed")
	}
	select {
	case n.peersCh <- struct{}{}:
	default:
	}
}

// NotifyJoin records a member that joined (or came back).
func (e *events) NotifyJoin(nd *memberlist.Node) { e.update(nd, "alive") }

// NotifyLeave records a member that left or was declared dead.
func (e *events) NotifyLeave(nd *memberlist.Node) {
	state := "dead"
	if nd.State == memberlist.StateLeft {
		state = "left"
	}
	e.update(nd, state)
}

// NotifyUpdate records new metadata.
func (e *events) NotifyUpdate(nd *memberlist.Node) { e.update(nd, "alive") }

// stdWriter bridges memberlist's standard-library logger into zerolog,
// mapping its "[LEVEL]" prefixes to levels.
type stdWriter struct{ log zerolog.Logger }

func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(stdWriter{log: l.With().Str("component", "memberlist").Logger()}, "", 0)
}

func (w stdWriter) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	lvl := zerolog.InfoLevel
	for prefix, l := range map[string]zerolog.Level{"[DEBUG]": zerolog.DebugLevel, "[INFO]": zerolog.InfoLevel, "[WARN]": zerolog.WarnLevel, "[ERR]": zerolog.ErrorLevel, "[ERROR]": zerolog.ErrorLevel} {
		if strings.HasPrefix(s, prefix) {
			lvl = l
			s = strings.TrimSpace(strings.TrimPrefix(s, prefix))
			break
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	w.log.WithLevel(lvl).Msg(s)
	return len(p), nil
}

func sortStrings(s []string) { slices.Sort(s) }

func sortMembers(m []MemberInfo) {
	slices.SortFunc(m, func(a, b MemberInfo) int { return strings.Compare(a.Region, b.Region) })
}
