package replication

import "math/bits"

// MessagePool recycles the mutation slices of messages between the nodes
// of one driver: a simulator delivers millions of gossip messages, each
// carrying a fresh slice of rumors, and collecting them was a large share
// of its time. A node given a pool (SetMessagePool) takes its gossip
// slices from it; the driver hands a message's slice back with Put once
// the receiving Step has returned (Step copies what it keeps). A pool is
// not safe for concurrent use: one per simulation.
type MessagePool struct {
	free [bits.UintSize][][]Mutation // by capacity class: cap == 1<<class
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

// SetMessagePool makes the node take its gossip messages' mutation slices
// from p (nil: allocate each).
func (n *Node) SetMessagePool(p *MessagePool) {
	n.rumors.pool = p
	n.streams.pool = p
}
