package live

import (
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

// The first byte of every user message says what follows. Tag 2 was a
// side channel of version vectors (what each region applied); those are
// replication messages now (replication.KindAck), so the tag is refused
// as unknown.
const tagReplication byte = 1 // a replication.Message (wire form)

// localState is what memberlist's push/pull exchanges (LocalState and
// MergeRemoteState): the sender's received vector, which starts an
// anti-entropy exchange of mutations (and of acks).
type localState struct {
	Region string                    `json:"region"`
	Vector replication.VersionVector `json:"vector"`
	// Sums are the digests of the prefixes Vector counts, per origin
	// epoch: content the vectors cannot tell apart (replication/conflict.go).
	Sums replication.VersionVector `json:"sums,omitempty"`
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
	Key  string `json:"key,omitempty"` // signing public key, base64 (trust on first use pins it)
}

// NodeMeta advertises the node's HTTP API address and signing key.
func (d *delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(nodeMeta{HTTP: d.cfg.HTTPAddr, Key: (*Node)(d).PublicKey()})
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
			n.m.GossipDropped.WithLabelValues(metrics.DroppedInboxFull).Inc()
			n.peerLog.Warn().Str("from", msg.From).Msg("inbox full: dropped a replication message (anti-entropy repairs it)")
		}
	default:
		n.m.GossipRejected.Inc()
		n.peerLog.Warn().Uint8("tag", b[0]).Int("bytes", len(b)).Msg("unknown gossip message tag")
	}
}

// GetBroadcasts has nothing to add to memberlist's gossip: the node's
// rumors and acks go out on its own gossip rounds.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState is this region's half of memberlist's push/pull.
func (d *delegate) LocalState(join bool) []byte {
	n := (*Node)(d)
	n.mu.RLock()
	st := localState{Region: n.cfg.Region}
	st.Vector, st.Sums = n.rn.RecvState()
	n.mu.RUnlock()
	if st.Vector == nil {
		st.Vector = replication.VersionVector{}
	}
	b, _ := json.Marshal(st)
	return b
}

// MergeRemoteState takes the peer's half: its received vector is handed to
// the node as a push/pull request, so the node sends what the peer lacks
// (and every ack it holds) and the peer, doing the same, sends what this
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
	if err != nil || validRegion(st.Region) != nil || len(st.Vector) > replication.MaxVectorEntries {
		n.m.GossipRejected.Inc()
		n.peerLog.Warn().Err(err).Msg("rejected a push/pull state")
		return
	}
	msg := replication.Message{Kind: replication.KindPushPullRequest, From: st.Region, Vector: st.Vector, Sums: st.Sums}
	if msg.Validate() != nil {
		n.m.GossipRejected.Inc()
		return
	}
	select {
	case n.inbox <- msg:
	default:
		n.m.GossipDropped.WithLabelValues(metrics.DroppedInboxFull).Inc()
		n.peerLog.Warn().Str("from", msg.From).Msg("inbox full: dropped a push/pull state (the next exchange repeats it)")
	}
}

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
	n.observeKey(nd.Name, meta.Key)
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
