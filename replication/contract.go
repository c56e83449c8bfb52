// Package replication is the replicated control plane's pure core: mutations
// ordered by hybrid logical clock, the region Node (a state machine with no
// IO, no clock and no global randomness), gossip dissemination with
// memberlist's semantics, push/pull anti-entropy and apply-time propagation
// delay. The simulator (package sim) and the live memberlist driver run the
// same Node.
package replication

// Contract with package sim, the live driver and the runner (bodies in other
// files; names and signatures stay; more may be added):
//
//   type MutationID struct { Origin string; Seq uint64 }          // String() "us-east-2/17"; ParseMutationID
//   type Timestamp struct { Wall int64; Logical uint32 }           // HLC; Wall is unix nanoseconds
//   type Mutation struct { ID MutationID; TS Timestamp; Call controlplane.Call; Revoke bool }
//       // total order: (TS.Wall, TS.Logical, ID.Origin, ID.Seq) - Less(a, b)
//
//   type DelayModel interface {                                     // defined here, implemented in package delay
//       Sample(origin, dest string, revoke bool, r *rand.Rand) time.Duration   // math/rand/v2
//   }
//   type GossipConfig struct { Interval time.Duration; Fanout, RetransmitMult int; PushPullInterval time.Duration }
//   func DefaultLANGossip() GossipConfig / DefaultLocalGossip() / DefaultWANGossip()   // memberlist's numbers
//
//   type Config struct {
//       Region  string
//       Gossip  GossipConfig
//       Delay   DelayModel                  // nil = apply on receipt
//       Rand    *rand.Rand                  // the node's only randomness
//       Initial *controlplane.State         // state before any mutation (cloned)
//   }
//   func NewNode(cfg Config) *Node
//   func (n *Node) SetPeers(regions []string)                    // current live membership (excluding self); driver-provided
//   func (n *Node) Propose(now time.Time, c controlplane.Call) (Mutation, error)
//       // validate against the local view (*controlplane.APIError), stamp HLC, commit: applied locally at once,
//       // persisted, queued for gossip. A rejected call changes nothing.
//   func (n *Node) Step(now time.Time, m Message) error          // a message from a peer; bad messages are rejected, view unchanged
//   func (n *Node) Tick(now time.Time)                            // advance: gossip rounds and push/pull that are due,
//                                                                 // and apply received mutations whose apply time has come
//   func (n *Node) Ready() Ready                                  // effects accumulated since the last Ready; the driver carries them out
//   type Ready struct {
//       Messages []Envelope   // to send: Envelope{To string; Msg Message}
//       Persist  []Mutation   // to make durable before acknowledging (origin) / before counting as received
//       Applied  []Applied    // Applied{Mutation; At time.Time}: became visible in the view, in apply order
//       Deadline time.Time    // the earliest instant Tick must be called again (next gossip round, push/pull or pending apply); zero = none
//   }
//   type Message struct { Kind MessageKind; From string; Mutations []Mutation; Vector VersionVector; ... }
//   func (m Message) Encode() []byte; func DecodeMessage(b []byte) (Message, error)   // bounded, never panics
//   func (n *Node) View() *controlplane.State                     // read-only; do not mutate
//   func (n *Node) Digest() [32]byte
//   func (n *Node) Vector() VersionVector                          // map origin -> highest contiguous seq applied
//   func (n *Node) Has(id MutationID) bool                         // applied here (for at_least consistency tokens)
//   func (n *Node) Restore(log []Mutation)                         // after a crash: replay the durable log
//
// Additions (implemented; the names above are unchanged):
//
//   func Compare(a, b *Mutation) int; (m *Mutation) CommitTime() time.Time; (m *Mutation) Validate() error
//   func (t Timestamp) Compare(u Timestamp) int; (t Timestamp) Time() time.Time
//   Config.Start time.Time          // timers start here (else at the first input); first round at a random stagger
//   Config.PacketBytes int          // gossip packet budget, default 1400 (memberlist UDPBufferSize)
//   Config.MaxClockOffset           // reject timestamps this far ahead of the receiver (default 1m; <0 disables)
//   Config.CheckpointEvery, MaxCheckpoints   // view clones for re-folding late arrivals (8, 64)
//   Config.LostState bool           // restarted without its durable log: refuses commits (ServiceUnavailable)
//                                   // until every peer answered a push/pull; then fills lost own seqs
//                                   // with GapAction no-ops so version vectors move on
//   Message kinds: KindGossip (UDP packet), KindStream (oversized rumor), KindPushPullRequest,
//       KindPushPullResponse, KindRepair, KindAck (UDP packet: Message.Acks, regions' applied
//       vectors); MessageKind.String() is the metric label, Reliable() says TCP
//   Config.Acks bool                         // disseminate and relay acks (ack.go); off in huge simulations
//   func (n *Node) PeerApplied(region) (VersionVector, time.Time, bool)   // a peer's newest ack, learned when
//   func (n *Node) AppliedAt(region, id) (time.Time, bool)   // self: exact apply instant; peer: when learned
//   func (n *Node) StaleSince() (time.Time, bool); Lag(now) time.Duration   // known to lack a commit since
//   type Consistency; ModeLocal/ModeAtLeast/ModeMaxLag
//   func (n *Node) Admit(now, c Consistency) (bool, error)   // ErrNotFresh, ErrTooStale, ErrBadConsistency
//   (m *Message) Validate() error; (m Message) Size() int   // = len(Encode()), without encoding
//   Step errors wrap ErrMalformed (message rejected whole, nothing changed) or ErrConflict (a
//       mutation with a known ID and other content was dropped and counted; the rest was taken in)
//   VersionVector.Covers(id) / Clone() / Origins()
//   func (n *Node) Stats() Stats; Pending() int; NumApplied() int; Peers() []string; Region() string
//   type Membership; NewMembership(regions) *Membership; (n *Node) SetMembership(m)   // one validated
//       sorted list shared by thousands of nodes (SetPeers checks sortedness in O(n) per call)
//   func (n *Node) PushPull(peer string)     // anti-entropy now (on join, restart, heal)
//   func (n *Node) Recovering() bool         // LostState and not yet caught up (a /readyz answer)
//   func (n *Node) Knows(m *Mutation) bool   // holds m itself, applied or pending (a simulator's lost-commit check)
//   func (n *Node) Recycle(rd Ready)         // optional: hand a finished Ready's slices back for reuse
//   type MessagePool; NewMessagePool(); (n *Node) SetMessagePool(p); (p *MessagePool) Put(ms)
//       // optional: gossip messages' mutation slices recycled between one driver's nodes
//   func (n *Node) Reset(cfg Config)         // optional: become NewNode(cfg), reusing n's memory (trials)
//   type FoldCache; NewFoldCache(size); Config.FoldCache   // optional: fold steps shared by one driver's
//       // nodes; views are then frozen and shared (docs/architecture.md, "Shared fold steps")
//   Envelope.Member int32                    // To's position in the node's Membership + 1 (0: unknown)
//   Limits: MaxMessageBytes, MaxMutationsPerMessage, MaxArgsBytes, MaxVectorEntries, DefaultPacketBytes
//
// Driver notes: call Ready after every Propose/Step/Tick and Tick at
// Ready.Deadline (if it is earlier than the driver's clock, at once).
// Ready.Applied instants are exact (scheduled), even when Tick is late. A
// sorted membership slice passed to SetPeers is shared, not copied.
