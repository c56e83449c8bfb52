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
