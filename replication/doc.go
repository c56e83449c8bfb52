// Package replication is the replicated control plane's pure core: mutations
// ordered by hybrid logical clock, the region Node (a state machine with no
// IO, no clock and no global randomness), gossip dissemination with
// memberlist's semantics, push/pull anti-entropy and apply-time propagation
// delay. The simulator (package sim) and the live memberlist driver run the
// same Node.
//
// A Mutation is a controlplane.Call stamped at its origin with an HLC
// Timestamp and a MutationID (origin region, sequence number); Compare
// is the total order every region agrees on. A region's view is the fold of
// the mutations it has applied, in that order: a late arrival is folded in at
// its place, so two regions that applied the same set hold the same digest.
//
// A driver owns the clock, the randomness (Config.Rand) and the sockets. It
// feeds the Node inputs (Propose a local commit, Step a peer's Message, Tick
// as time passes) and after each one calls Ready, which lists every effect
// for the driver to carry out: Messages to send, mutations to Persist, and
// the Applied mutations with their exact apply instants (scheduled, even
// when Tick comes late). The driver calls Tick again at Ready.Deadline, at
// once if that is already past. After a crash, Restore replays the durable
// log; a node restarted without it (Config.LostState) starts a new epoch
// (Config.Epoch: ids are never reused) and refuses commits until push/pull
// with every peer has caught it up. Push/pull also compares per-origin-epoch
// content digests, so two different mutations under one id are found and
// resolved alike everywhere (conflict.go). SetPeers or SetMembership
// give the current membership (a sorted slice passed to SetPeers is shared,
// not copied).
//
// Propagation delay is applied at apply time: a region that received a
// mutation makes it visible at commit time plus a delay drawn from
// Config.Delay (a DelayModel, implemented by package delay), or on receipt
// if that is later. Network faults are the transport's business, not the
// Node's.
//
// Read-only queries explain why a region lacks a mutation: PendingApply
// (received, waiting for its apply instant), Gossiping (its rumor is still
// queued) and NextPushPull (the next anti-entropy round).
//
// For many nodes in one process (the simulator's trials), Reset, Recycle, a
// shared MessagePool and a shared FoldCache reuse memory; none of them
// changes what a Node does.
package replication
