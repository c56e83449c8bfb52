package replication

// Knows reports whether the region holds m itself (same ID, same content),
// applied or still waiting for its apply instant: what a simulator asks to
// tell a mutation that can still spread from one lost with a region's
// state. A gap filler under m's ID (GapAction) is not m.
func (n *Node) Knows(m *Mutation) bool {
	e := n.peek(m.ID)
	return e != nil && sameContent(&e.m, m)
}
