package replication

import "math/bits"

// MessagePool recycles the mutation and ack slices of messages between
// the nodes of one driver: a simulator delivers millions of gossip and ack
// messages, each carrying a fresh slice, and collecting them was a large
// share of its time. A node given a pool (SetMessagePool) takes its gossip
// and ack slices from it; the driver hands a message's slices back with
// Put and PutAcks once the receiving Step has returned (Step copies what
// it keeps; of an ack it keeps the vector, never the slice). A pool is not
// safe for concurrent use: one per simulation.
type MessagePool struct {
	free [bits.UintSize][][]Mutation // by capacity class: cap == 1<<class
	acks [bits.UintSize][][]Ack      // the same for ack slices
}

// poolKeep bounds the free slices kept per class.
const poolKeep = 1 << 12

// NewMessagePool returns an empty pool.
func NewMessagePool() *MessagePool { return &MessagePool{} }

// get returns a slice of length n (capacity a power of two).
func (p *MessagePool) get(n int) []Mutation {
	c := bits.Len(uint(n - 1)) // smallest class with 1<<c >= n
	if k := len(p.free[c]); k > 0 {
		s := p.free[c][k-1]
		p.free[c] = p.free[c][:k-1]
		return s[:n]
	}
	return make([]Mutation, n, 1<<c)
}

// Put gives back a message's mutations: nothing may use ms afterwards. A
// slice the pool did not hand out is kept if its capacity is a power of
// two, else dropped.
func (p *MessagePool) Put(ms []Mutation) {
	c := cap(ms)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	cl := bits.Len(uint(c - 1))
	if len(p.free[cl]) >= poolKeep {
		return
	}
	// Only the used part holds anything: get hands out cleared slices and
	// take writes just the first len of them.
	clear(ms)
	p.free[cl] = append(p.free[cl], ms[:0])
}

// getAcks returns an ack slice of length n (capacity a power of two).
func (p *MessagePool) getAcks(n int) []Ack {
	c := bits.Len(uint(n - 1))
	if k := len(p.acks[c]); k > 0 {
		s := p.acks[c][k-1]
		p.acks[c] = p.acks[c][:k-1]
		return s[:n]
	}
	return make([]Ack, n, 1<<c)
}

// PutAcks gives back a message's acks, as Put does its mutations: nothing
// may use the slice afterwards (the vectors it points to stay valid: they
// are shared read-only and never recycled).
func (p *MessagePool) PutAcks(acks []Ack) {
	c := cap(acks)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	cl := bits.Len(uint(c - 1))
	if len(p.acks[cl]) >= poolKeep {
		return
	}
	clear(acks)
	p.acks[cl] = append(p.acks[cl], acks[:0])
}

// SetMessagePool makes the node take its gossip messages' mutation slices
// and its ack messages' ack slices from p (nil: allocate each).
func (n *Node) SetMessagePool(p *MessagePool) {
	n.rumors.pool = p
	n.streams.pool = p
}
