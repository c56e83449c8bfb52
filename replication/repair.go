package replication

import "slices"

// Pull on sight: a region advertises its received-version vector to a few
// random peers after it grows, and a region that sees, in a peer's
// vector, mutations it has not received asks that peer for them a gossip
// round later if no rumor brought them meanwhile (a push/pull request to
// that one peer) instead of waiting for the next scheduled push/pull. A
// rumor that missed a region (memberlist's retransmit limit is small,
// packets get lost) is then fetched within a round or two. It used to live in the live driver alone (live/node.go,
// fed by memberlist broadcasts of the vector), so the simulator, which
// knew nothing of it, predicted longer tails than the live cluster had;
// here it is part of the protocol and runs the same under both drivers.
//
// Enabled by Config.PullOnSight. Off, the node is pure rumor mongering plus
// scheduled push/pull, which is what the published gossip models describe
// (sim/cmd/validate) and what the scripted interaction tests script.

// pullOnSight is the node's state for it.
type pullOnSight struct {
	epoch uint64 // bumped whenever the received vector grows
	sent  uint64 // epoch last advertised
	left  int    // sends of the current vector still to make
	// rounds left to make them in: drawn peers that caught up are
	// skipped, and the rounds, a retransmit limit of them, stay bounded.
	rounds int
	peers  map[string]peerSight // what we know of a peer from its adverts
	// covered counts the members whose advert covered our received
	// vector at this epoch. One that left since still counts until the
	// vector grows: lone adverts may then stop early, and scheduled
	// push/pull repairs what that misses.
	covered int
	// The received vector as of epoch vecAt-1 (0: none yet), shared
	// read-only by the adverts of every round of that epoch: it changes
	// only when the epoch does, and building it each round was a tenth
	// of a simulated trial's allocations.
	vec   VersionVector
	vecAt uint64
	// waits are the sightings of peers ahead of us not yet acted on, at
	// most Fanout of them, one per peer: see pullIfBehind.
	waits []sighting
}

// sighting is a peer's advertised vector that showed mutations this
// region had not received.
type sighting struct {
	from string
	vec  VersionVector // read-only: shared with the message it came in
	at   int64         // when it was first seen
}

// peerSight is what one peer's adverts told us.
type peerSight struct {
	pulled  int64  // instant we last asked it for what we lack
	asked   bool   // pulled is set
	covered uint64 // 1 + our epoch when its vector last covered ours; 0: never
}

// minPullGap bounds how often one peer is asked, whatever the gossip
// interval: its answer takes about a round trip to arrive.
const minPullGap = 20_000_000 // 20 ms in nanoseconds

// noteReceivedGrew records that the received vector may have grown
// (called when a new mutation is remembered).
func (n *Node) noteReceivedGrew() { n.pos.epoch++; n.pos.covered = 0 }

// advertise runs after a gossip round whose messages start at
// n.ready.Messages[mark]: after the received vector grew, it sends the
// vector to Fanout random peers a round, drawn apart from the round's
// rumor recipients, riding on a gossip packet already going to that peer
// where it fits, alone (a gossip message without mutations) otherwise,
// until it made as many lone sends as a rumor gets (a retransmit limit) or
// a limit of rounds passed. The draw must be its own: a vector that rode
// only on the rumor's packets went exactly where the rumor went, so a
// region the rumor missed, the one pull on sight exists for, never saw
// it; for the same reason a ride is free and not counted. With every
// region that received a mutation sending the rumor and lone adverts to a
// limit of random peers each, a region is missed by both with probability
// about e^-(2 × limit) (1e-7 at 35 regions). Lone adverts used to go to
// Fanout peers in each of a limit of rounds, up to Fanout times as many:
// e^-(limit × (1 + Fanout)) bought nothing measurable, and they were over
// half of the messages of a 35-region trial.
//
// A peer whose own advert covered our vector at this epoch gets no packet
// of its own (it would learn nothing, and the send is not counted);
// riding on one going there anyway, the vector still tells it we caught
// up, so that in a cluster no larger than Fanout, where every region hears
// every other, lone adverts stop.
func (n *Node) advertise(mark int) {
	if !n.cfg.PullOnSight || n.numPeers() == 0 {
		return
	}
	if n.pos.epoch != n.pos.sent {
		n.pos.sent = n.pos.epoch
		n.pos.left = retransmitLimit(n.cfg.Gossip.RetransmitMult, n.numPeers()+1)
		n.pos.rounds = n.pos.left
	}
	if n.pos.left <= 0 || n.pos.rounds <= 0 {
		return
	}
	n.pos.rounds--
	allCovered := n.pos.covered >= n.numPeers()
	var vec VersionVector
	var aloneSize, extra int
	round := n.ready.Messages[mark:]
	for _, peer := range n.randomPeers(n.cfg.Gossip.Fanout) {
		if n.pos.left <= 0 {
			return
		}
		ride := -1
		for i := range round {
			if env := &round[i]; env.Member == peer+1 && env.Msg.Kind == KindGossip && env.Msg.Vector == nil {
				ride = i
				break
			}
		}
		if ride < 0 && (allCovered || n.pos.peers[n.peers[peer]].covered == n.pos.epoch+1) {
			continue
		}
		if vec == nil {
			vec = n.sharedRecvVector()
			aloneSize = Message{Kind: KindGossip, From: n.region, Vector: vec}.Size()
			if len(vec) == 0 || len(vec) > MaxVectorEntries || aloneSize > n.cfg.PacketBytes {
				// Too many origins for one packet: a live node sends
				// gossip over UDP and would drop it, so the simulator does
				// not deliver it either; push/pull repairs instead.
				n.pos.left = 0
				return
			}
			extra = aloneSize - Message{Kind: KindGossip, From: n.region}.Size()
		}
		if ride >= 0 {
			if env := &round[ride]; env.Msg.Size()+extra <= n.cfg.PacketBytes {
				env.Msg.Vector = vec // read-only from here on: shared by the envelopes
				n.stats.BytesSent += uint64(extra)
				continue // free, and not counted: see above
			}
		}
		n.sendSized(n.member(peer), Message{Kind: KindGossip, From: n.region, Vector: vec}, aloneSize)
		n.pos.left--
	}
}

// sharedRecvVector is recvVector built once per received epoch and
// shared, read-only, by every message that carries it (adverts and
// push/pull): it changes only when the epoch does, and building it for
// each message was a quarter of a 35-region trial's allocations.
func (n *Node) sharedRecvVector() VersionVector {
	if n.pos.vecAt != n.pos.epoch+1 {
		n.pos.vec, n.pos.vecAt = n.recvVector(), n.pos.epoch+1
	}
	return n.pos.vec
}

// advertising reports whether advertise may still send lone adverts or
// pullWaiting has sightings to check, so the deadline keeps the gossip
// timer armed for them.
func (n *Node) advertising() bool {
	return len(n.pos.waits) > 0 || n.cfg.PullOnSight && (n.pos.epoch != n.pos.sent || n.pos.left > 0 && n.pos.rounds > 0 && n.pos.covered < n.numPeers())
}

// pullIfBehind handles a peer's advertised vector, after the message's own
// mutations were taken in: if it covers a mutation this region has not
// received, it asks that peer for what we lack (at most once per two
// gossip rounds per peer) at the first gossip round a gossip interval
// after, if it still lacks it then (pullWaiting); if it covers all this
// region has received, advertise will not send it our vector until that
// grows.
//
// The wait: a region advertises in the very round it gossips a new
// mutation, so its adverts often overtake the rumor's other copies on
// their way to a peer. Asking at once, a 35-region trial of
// public-s3-bucket made 48 push/pull exchanges, nearly all of them for a
// mutation that arrived by rumor a few milliseconds later, each one
// exchanging every ack held. A region the rumor really missed gets it one
// round later than it did.
//
// behind and equal come from claimAndCompare's scan of theirs: whether it
// counts a mutation we have not received, and how many of our received
// prefixes it equals (it covers ours when that is all of them).
func (n *Node) pullIfBehind(from string, theirs VersionVector, behind bool, equal int) {
	if len(theirs) == 0 {
		return
	}
	if n.pos.peers == nil {
		n.pos.peers = map[string]peerSight{}
	}
	if !behind {
		// The shared vector holds our nonzero prefixes (built once per
		// epoch, for our own adverts too): no scan of every origin.
		if equal != len(n.sharedRecvVector()) {
			return
		}
		ps := n.pos.peers[from]
		if ps.covered != n.pos.epoch+1 {
			ps.covered = n.pos.epoch + 1
			n.pos.peers[from] = ps
			if _, member := slices.BinarySearch(n.peers, from); member {
				n.pos.covered++
			}
		}
		return
	}
	for i := range n.pos.waits {
		if w := &n.pos.waits[i]; w.from == from {
			w.vec = theirs // the newest: it covers at least as much
			return
		}
	}
	if len(n.pos.waits) < n.cfg.Gossip.Fanout {
		n.pos.waits = append(n.pos.waits, sighting{from: from, vec: theirs, at: n.now})
	}
}

// sighting reports whether pull on sight looks at received adverts.
func (n *Node) sighting() bool { return n.cfg.PullOnSight && !n.recovering }

// lacksSome reports whether theirs counts a mutation this region has not
// received.
func (n *Node) lacksSome(theirs VersionVector) bool {
	for o, s := range theirs {
		var have uint64
		if ol := n.origins[o]; ol != nil {
			have = ol.recv
		}
		if s > have {
			return true
		}
	}
	return false
}

// pullWaiting runs at a gossip round: it asks every peer seen ahead at
// least a gossip interval ago for what this region still lacks of its
// advertised vector, and forgets the sightings that are answered
// (nothing lacking any more).
func (n *Node) pullWaiting() {
	if len(n.pos.waits) == 0 {
		return
	}
	if n.recovering {
		n.pos.waits = zeroed(n.pos.waits) // recovery asks peers itself
		return
	}
	gap := max(2*int64(n.cfg.Gossip.Interval), minPullGap)
	keep := n.pos.waits[:0]
	for _, w := range n.pos.waits {
		if !n.lacksSome(w.vec) {
			continue
		}
		if n.now-w.at < int64(n.cfg.Gossip.Interval) {
			keep = append(keep, w)
			continue
		}
		ps := n.pos.peers[w.from]
		if ps.asked && n.now-ps.pulled < gap {
			continue // asked lately: its answer is on the way
		}
		ps.pulled, ps.asked = n.now, true
		n.pos.peers[w.from] = ps
		n.stats.PullsOnSight++
		n.PushPull(w.from)
	}
	clear(n.pos.waits[len(keep):])
	n.pos.waits = keep
}
