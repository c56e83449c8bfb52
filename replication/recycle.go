package replication

// Recycle hands back a Ready the driver has finished with (its messages
// sent or copied, Persist made durable, Applied recorded), so the next
// Ready reuses its slices instead of allocating new ones. It is optional:
// a driver that keeps a Ready's slices must not call it. The Ready may come
// from another node: a driver of many nodes that drains each one at once
// can pass one set of slices around instead of every node keeping its own
// (the simulator does). The mutation
// slices of its messages are not taken back here: a receiver may still
// hold them until its Step; a MessagePool recycles them after that.
func (n *Node) Recycle(rd Ready) {
	if n.ready.Messages == nil && cap(rd.Messages) > 0 {
		clear(rd.Messages)
		n.ready.Messages = rd.Messages[:0]
	}
	if n.ready.Persist == nil && cap(rd.Persist) > 0 {
		clear(rd.Persist)
		n.ready.Persist = rd.Persist[:0]
	}
	if n.ready.Applied == nil && cap(rd.Applied) > 0 {
		clear(rd.Applied)
		n.ready.Applied = rd.Applied[:0]
	}
}
