// Package metrics defines iamprop's Prometheus metrics: one struct per
// region, built from a prometheus.Registerer passed in (never the global
// registry), with the names and labels of docs/design.md "Metrics" and
// docs/metrics.md.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric.
const Namespace = "iamprop"

// Label values of Metrics.GossipMessages and GossipBytes.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Label values of Region.GossipDropped.
const (
	DroppedUnknownPeer = "unknown_peer"
	DroppedSendFailed  = "send_failed"
	DroppedSendsBusy   = "sends_busy"
	DroppedInboxFull   = "inbox_full"
	DroppedQueueFull   = "queue_full"
)

// Label values of Region.GossipRefused.
const (
	RefusedOwnOrigin       = "own_origin"
	RefusedSeqAhead        = "seq_ahead"
	RefusedFutureTimestamp = "future_timestamp"
	RefusedConflict        = "conflict"
	RefusedBadSignature    = "bad_signature"  // the signature does not verify under the origin's trusted key
	RefusedUnknownSigner   = "unknown_signer" // no key is trusted for the origin
)

// Label values of Region.StoreDamaged.
const (
	StoreTornTail = "torn_tail"
	StoreCorrupt  = "corrupt"
)

// Region holds the metrics of one region node. Every metric carries a
// constant region label (New wraps the registerer), so several regions can
// share one registry in an in-process cluster. No label ever holds a
// policy, principal or object name: their cardinality is unbounded and they
// may be sensitive.
type Region struct {
	// MutationsCommitted counts mutations this region committed.
	MutationsCommitted prometheus.Counter
	// MutationsRejected counts proposed mutations refused at validation, by
	// AWS error code (a bounded set).
	MutationsRejected *prometheus.CounterVec
	// MutationsApplied counts mutations made visible here, by origin region.
	MutationsApplied *prometheus.CounterVec
	// ReplicationLag observes apply time here minus commit time at the
	// origin, by origin (zero for this region's own commits).
	ReplicationLag *prometheus.HistogramVec
	// ViewPending is how many received mutations wait for their apply time.
	ViewPending prometheus.Gauge
	// AuthorizeDecisions counts authorize answers by decision and by
	// whether the view was known to be behind ("true"/"false").
	AuthorizeDecisions *prometheus.CounterVec
	// AuthorizeRefused counts authorize requests refused (fail closed) by
	// consistency mode.
	AuthorizeRefused *prometheus.CounterVec
	// AuthorizeDuration observes the time to decide one request, waiting
	// for consistency included.
	AuthorizeDuration prometheus.Histogram
	// GossipMessages counts replication messages by direction and kind.
	GossipMessages *prometheus.CounterVec
	// GossipBytes counts replication message bytes by direction.
	GossipBytes *prometheus.CounterVec
	// GossipRejected counts received messages refused (undecodable,
	// malformed, conflicting).
	GossipRejected prometheus.Counter
	// GossipRefused counts received mutations refused for what they claim,
	// by reason: "own_origin" (this region's origin, a sequence number it
	// never issued), "seq_ahead" (a sequence number implausibly far ahead
	// of its origin), "future_timestamp" (beyond the clock-skew bound; the
	// whole message is refused), "conflict" (a known id, other content),
	// "bad_signature" (a signature that does not verify under the origin's
	// trusted key, or none) and "unknown_signer" (no key trusted for the
	// origin). Each such message also counts once in GossipRejected.
	GossipRefused *prometheus.CounterVec
	// SigningKeysRefused counts signing keys a peer advertised for a
	// region that differ from the key trusted for it (pinned on first use,
	// or from the trust file): the key is not trusted.
	SigningKeysRefused prometheus.Counter
	// GossipConflicts counts conflicts: two different mutations under one
	// id, met in a received message or found by anti-entropy's content
	// digests (replication.Stats.Conflicts).
	GossipConflicts prometheus.Counter
	// MutationsLost counts the commits this region reports lost with
	// their origin's disk, when their closed origin epoch settles here
	// (replication.Ready.Lost, LostStream.Known).
	MutationsLost prometheus.Counter
	// GossipDuplicates counts received mutations this region already had:
	// gossip's normal redundancy, and replays of old messages (harmless:
	// the view is a fold of a set).
	GossipDuplicates prometheus.Counter
	// ClusterMembers is memberlist's view of the cluster by member state.
	ClusterMembers *prometheus.GaugeVec
	// HealthScore is memberlist's awareness health score (0 is healthy).
	HealthScore prometheus.Gauge
	// StoreFsync observes the durable log's fsync latency.
	StoreFsync prometheus.Histogram
	// StoreRecords is how many mutations the durable log holds.
	StoreRecords prometheus.Gauge
	// StoreDamaged counts damaged stretches of the durable log (usually
	// one record each) it was opened past, by kind: "torn_tail" (an
	// interrupted append, cut off) or "corrupt" (damage before the end,
	// set aside by --recover).
	StoreDamaged *prometheus.CounterVec
	// StoreRecovered counts intact records that followed corruption in the
	// durable log and were kept by --recover.
	StoreRecovered prometheus.Counter
	// FaultsActive is how many fault rules the transport applies now.
	FaultsActive prometheus.Gauge
	// TransportDropped counts packets and streams the fault transport
	// dropped, by reason ("partition", "loss").
	TransportDropped *prometheus.CounterVec
	// GossipDropped counts replication messages this region could not
	// send or take in, by reason: "unknown_peer" (the addressee is not a
	// member it knows alive), "send_failed" (memberlist's send failed),
	// "sends_busy" (too many reliable sends in flight) and "inbox_full"
	// (received, but the node's inbox was full). Anti-entropy repairs
	// each, but a steady count means a region waits on answers it never
	// gets.
	GossipDropped *prometheus.CounterVec
	// HTTPRequests counts API requests by route pattern and status code.
	HTTPRequests *prometheus.CounterVec

	reg prometheus.Registerer
	cs  []prometheus.Collector
}

// Unregister removes the region's metrics from the registry, so a region
// restarted in the same process can register again.
func (m *Region) Unregister() {
	for _, c := range m.cs {
		m.reg.Unregister(c)
	}
}

// lagBuckets span loopback gossip (ms) and cloud replication (tens of s)
// to minute-scale cases (up to an hour); the first bound, 0, holds a
// region's own commits (and trials without exposure), which
// histogram_quantile then reads as 0. Native histograms are exposed too
// (NativeHistogramBucketFactor), for a Prometheus that scrapes them.
var lagBuckets = []float64{0, .005, .01, .025, .05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 120, 180, 300, 600, 1200, 1800, 3600}

// Native histogram settings of the lag and exposure histograms: buckets
// about 10% wide, at most 160 of them, reset at most hourly.
const (
	nativeFactor    = 1.1
	nativeMaxBucket = 160
)

// New builds the metrics of one region and registers them on reg, each with
// the constant label region. It returns an error (and registers nothing
// more) if a name collides, e.g. the same region twice on one registry.
func New(reg prometheus.Registerer, region string) (*Region, error) {
	r := prometheus.WrapRegistererWith(prometheus.Labels{"region": region}, reg)
	m := &Region{
		MutationsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "mutations_committed_total",
			Help: "Mutations committed at this region (validated, ordered, durable)."}),
		MutationsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "mutations_rejected_total",
			Help: "Proposed mutations refused at validation, by AWS error code."}, []string{"code"}),
		MutationsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "mutations_applied_total",
			Help: "Mutations made visible in this region's view, by origin region."}, []string{"origin"}),
		ReplicationLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "replication_lag_seconds",
			Help: "Apply time in this region minus commit time at the origin.", Buckets: lagBuckets,
			NativeHistogramBucketFactor: nativeFactor, NativeHistogramMaxBucketNumber: nativeMaxBucket, NativeHistogramMinResetDuration: time.Hour}, []string{"origin"}),
		ViewPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "view_pending_mutations",
			Help: "Received mutations waiting for their apply time."}),
		AuthorizeDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "authorize_decisions_total",
			Help: "Authorize answers by decision, and whether the view was behind the freshest version known here."}, []string{"decision", "stale"}),
		AuthorizeRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "authorize_refused_total",
			Help: "Authorize requests refused (fail closed) by consistency mode."}, []string{"mode"}),
		AuthorizeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "authorize_duration_seconds",
			Help:    "Time to answer one authorize request, consistency wait included.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 5}}),
		GossipMessages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_messages_total",
			Help: "Replication messages by direction and kind."}, []string{"direction", "kind"}),
		GossipBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_bytes_total",
			Help: "Replication message bytes by direction."}, []string{"direction"}),
		GossipRejected: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_rejected_total",
			Help: "Received replication messages refused as undecodable, malformed or conflicting."}),
		GossipRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_refused_mutations_total",
			Help: "Received mutations refused for what they claim (own origin, sequence number far ahead, future timestamp, conflict, bad signature, unknown signer), by reason."}, []string{"reason"}),
		SigningKeysRefused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "signing_keys_refused_total",
			Help: "Signing keys advertised for a region that differ from the key trusted for it (pinned or from the trust file)."}),
		GossipConflicts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_conflicts_total",
			Help: "Conflicts: two different mutations under one id, received or found by anti-entropy's content digests."}),
		MutationsLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "mutations_lost_total",
			Help: "Commits this region reports lost with their origin's disk: ids of a closed origin epoch that no region it heard from holds."}),
		GossipDuplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_duplicate_mutations_total",
			Help: "Received mutations this region already had (gossip redundancy, replayed messages); the view is unchanged by them."}),
		ClusterMembers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "cluster_members",
			Help: "Cluster members known to memberlist, by state."}, []string{"state"}),
		HealthScore: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "memberlist_health_score",
			Help: "memberlist's awareness health score: 0 is healthy, higher means this node is slow to answer probes."}),
		StoreFsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_fsync_duration_seconds",
			Help:    "Durable mutation log fsync latency.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5}}),
		StoreRecords: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_records",
			Help: "Mutations held in the durable log."}),
		StoreDamaged: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_damaged_records_total",
			Help: "Damaged durable-log records (stretches of damaged bytes, usually one record each) found at start, by kind: torn_tail (cut off) or corrupt (set aside by --recover)."}, []string{"kind"}),
		StoreRecovered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "store_recovered_records_total",
			Help: "Intact durable-log records that followed corruption and were kept by --recover."}),
		FaultsActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "faults_active",
			Help: "Fault rules (latency, loss, partition) the transport applies now."}),
		TransportDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "transport_dropped_total",
			Help: "Packets and streams dropped by injected faults, by reason."}, []string{"reason"}),
		GossipDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gossip_dropped_total",
			Help: "Replication messages not sent or not taken in, by reason (unknown_peer, send_failed, sends_busy, inbox_full)."}, []string{"reason"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP API requests by route and status code."}, []string{"route", "code"}),
	}
	cs := []prometheus.Collector{
		m.MutationsCommitted, m.MutationsRejected, m.MutationsApplied, m.ReplicationLag, m.ViewPending,
		m.AuthorizeDecisions, m.AuthorizeRefused, m.AuthorizeDuration, m.GossipMessages, m.GossipBytes,
		m.GossipRejected, m.GossipRefused, m.SigningKeysRefused, m.GossipConflicts, m.MutationsLost, m.GossipDuplicates, m.ClusterMembers, m.HealthScore, m.StoreFsync, m.StoreRecords, m.StoreDamaged, m.StoreRecovered, m.FaultsActive,
		m.TransportDropped, m.GossipDropped, m.HTTPRequests,
	}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			return nil, err
		}
	}
	// Every reason exists from the start, at 0, so a dashboard's rate()
	// sees the first refusal.
	for _, reason := range []string{RefusedOwnOrigin, RefusedSeqAhead, RefusedFutureTimestamp, RefusedConflict, RefusedBadSignature, RefusedUnknownSigner} {
		m.GossipRefused.WithLabelValues(reason)
	}
	m.StoreDamaged.WithLabelValues(StoreTornTail)
	m.StoreDamaged.WithLabelValues(StoreCorrupt)
	m.reg, m.cs = r, cs
	return m, nil
}
