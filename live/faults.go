package live

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/iamprop/iamprop/wire"
)

// The fault document is defined in package wire, which HTTP clients import
// without linking memberlist; aliases keep the live names (and every use
// of them here and in tests) unchanged.
type (
	// FaultSpec is wire.FaultSpec: a set of network faults by region.
	FaultSpec = wire.FaultSpec
	// OneWay is wire.OneWay: a directed link.
	OneWay = wire.OneWay
	// LinkSpec is wire.LinkSpec: latency, jitter and loss on links.
	LinkSpec = wire.LinkSpec
	// Duration is wire.Duration: a duration written as "150ms" in JSON.
	Duration = wire.Duration
)

// ValidRegion says why r is not a region name the live cluster accepts (1
// to 64 of A-Z, a-z, 0-9 and "-_.:"), or returns nil. The region server
// vets its --delay links with it (delay.ParseModel).
func ValidRegion(r string) error { return wire.ValidRegion(r) }

func validRegion(r string) error { return wire.ValidRegion(r) }

// link is the resolved fault on one directed link, as one region sees it.
type link struct {
	drop    bool
	latency time.Duration
	jitter  time.Duration
	loss    float64
}

// Faults is a FaultSpec resolved for one region: what to do to traffic it
// sends to each peer and receives from each peer. Latency and loss are
// applied by the sender only, so a spec posted to every region does not
// count them twice; partitions are enforced on both ends.
type Faults struct {
	out, in   map[string]link
	outAll    link // links with to = "*"
	rules     int
	Spec      FaultSpec
	hasOutAll bool
}

// ResolveFaults returns the faults self applies under s.
func ResolveFaults(s FaultSpec, self string) Faults {
	f := Faults{out: map[string]link{}, in: map[string]link{}, Spec: s}
	group := -1
	for gi, g := range s.Partition {
		if slices.Contains(g, self) {
			group = gi
		}
	}
	if group >= 0 {
		for gi, g := range s.Partition {
			if gi == group {
				continue
			}
			for _, r := range g {
				f.out[r] = link{drop: true}
				f.in[r] = link{drop: true}
				f.rules++
			}
		}
	}
	if ow := s.PartitionOneway; ow != nil {
		if ow.From == self {
			l := f.out[ow.To]
			l.drop = true
			f.out[ow.To] = l
			f.rules++
		}
		if ow.To == self {
			l := f.in[ow.From]
			l.drop = true
			f.in[ow.From] = l
			f.rules++
		}
	}
	for _, ls := range s.Links {
		if ls.From != "*" && ls.From != self {
			continue
		}
		add := link{latency: time.Duration(ls.Latency), jitter: time.Duration(ls.Jitter), loss: ls.Loss}
		f.rules++
		if ls.To == "*" {
			f.outAll = add
			f.hasOutAll = true
			continue
		}
		if ls.To == self {
			continue
		}
		l := f.out[ls.To]
		l.latency, l.jitter, l.loss = add.latency, add.jitter, add.loss
		f.out[ls.To] = l
	}
	return f
}

// Rules returns how many rules concern this region.
func (f Faults) Rules() int { return f.rules }

func (f *Faults) outbound(peer string) link {
	l, ok := f.out[peer]
	if f.hasOutAll {
		if !ok || (l.latency == 0 && l.jitter == 0 && l.loss == 0) {
			d := l.drop
			l = f.outAll
			l.drop = d
		}
	}
	return l
}

func (f *Faults) inbound(peer string) link { return f.in[peer] }

// Streams carry a preamble naming the dialling region, so the accepting
// side can apply inbound partitions to TCP connections (whose source port is
// ephemeral and says nothing about the peer). It precedes memberlist's own
// label and encryption; it carries only the region name, which the cluster
// label and member list disclose anyway.
const streamMagic = "IAMPROP\x01"

// droppedFunc is told about every drop, with its reason.
type droppedFunc func(reason string)

// FaultTransport is a memberlist.Transport that wraps another (normally a
// memberlist.NetTransport on real sockets) and injects the faults of a
// FaultSpec: per-peer latency, jitter and loss on packets, latency on
// stream dials, and one-way or two-way partitions of both. It is buffered,
// unlike memberlist's MockNetwork, so delayed packets never block the
// sender, and faults can be switched at run time with SetFaults.
type FaultTransport struct {
	inner  memberlist.NodeAwareTransport
	region string

	mu     sync.RWMutex
	faults Faults
	addrs  map[string]string // "ip:port" -> region, from membership
	rng    *rand.Rand        // guarded by mu (write lock)

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	dropped  droppedFunc
}

var _ memberlist.NodeAwareTransport = (*FaultTransport)(nil)

// NewFaultTransport wraps inner for region. seed drives the loss and jitter
// draws. onDrop, if not nil, is called for every dropped packet or stream.
func NewFaultTransport(inner memberlist.NodeAwareTransport, region string, seed uint64, onDrop func(reason string)) *FaultTransport {
	t := &FaultTransport{
		inner:    inner,
		region:   region,
		faults:   ResolveFaults(FaultSpec{}, region),
		addrs:    map[string]string{},
		rng:      rand.New(rand.NewPCG(seed, 0x1a3)),
		packetCh: make(chan *memberlist.Packet, 1024),
		streamCh: make(chan net.Conn, 64),
		done:     make(chan struct{}),
		dropped:  onDrop,
	}
	if t.dropped == nil {
		t.dropped = func(string) {}
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

// SetFaults replaces the faults in force (a zero FaultSpec clears them).
func (t *FaultTransport) SetFaults(s FaultSpec) {
	f := ResolveFaults(s, t.region)
	t.mu.Lock()
	t.faults = f
	t.mu.Unlock()
}

// Faults returns the faults in force.
func (t *FaultTransport) Faults() Faults {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.faults
}

// SetPeerAddr records that addr ("ip:port") is region's gossip address, so
// packets from it can be attributed. The driver calls it on every join.
func (t *FaultTransport) SetPeerAddr(addr, region string) {
	t.mu.Lock()
	t.addrs[addr] = region
	t.mu.Unlock()
}

// FinalAdvertiseAddr delegates to the wrapped transport.
func (t *FaultTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo sends a packet to addr, subject to the faults of its region.
func (t *FaultTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet, subject to the faults of its region:
// dropped by a partition or loss, or delivered after the link's latency on
// a timer (the caller never waits, as with a real network).
func (t *FaultTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	l, ok := t.decideOut(a)
	if !ok {
		return now, nil // a lost packet is not an error the sender can see
	}
	if l <= 0 {
		return t.inner.WriteToAddress(b, a)
	}
	buf := append([]byte(nil), b...) // the caller reuses b
	time.AfterFunc(l, func() {
		select {
		case <-t.done:
		default:
			_, _ = t.inner.WriteToAddress(buf, a)
		}
	})
	return now, nil
}

// decideOut returns the delay for a packet to a, or false to drop it.
func (t *FaultTransport) decideOut(a memberlist.Address) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	peer := a.Name
	if peer == "" {
		peer = t.addrs[a.Addr]
	}
	if peer == "" {
		return 0, true
	}
	l := t.faults.outbound(peer)
	if l.drop {
		t.dropped("partition")
		return 0, false
	}
	if l.loss > 0 && t.rng.Float64() < l.loss {
		t.dropped("loss")
		return 0, false
	}
	d := l.latency
	if l.jitter > 0 {
		d += time.Duration(t.rng.Int64N(int64(l.jitter)))
	}
	return d, true
}

// PacketCh delivers received packets, minus those from regions this one
// is partitioned from.
func (t *FaultTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

func (t *FaultTransport) forwardPackets() {
	defer t.wg.Done()
	in := t.inner.PacketCh()
	for {
		select {
		case <-t.done:
			return
		case p, ok := <-in:
			if !ok {
				return
			}
			if p.From != nil && t.dropIn(p.From.String()) {
				continue
			}
			select {
			case t.packetCh <- p:
			case <-t.done:
				return
			}
		}
	}
}

func (t *FaultTransport) dropIn(addr string) bool {
	t.mu.RLock()
	peer := t.addrs[addr]
	drop := peer != "" && t.faults.inbound(peer).drop
	t.mu.RUnlock()
	if drop {
		t.dropped("partition")
	}
	return drop
}

func (t *FaultTransport) dropInRegion(peer string) bool {
	t.mu.RLock()
	drop := t.faults.inbound(peer).drop
	t.mu.RUnlock()
	if drop {
		t.dropped("partition")
	}
	return drop
}

// DialTimeout dials addr, subject to the faults of its region.
func (t *FaultTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout dials a stream: refused by a partition, delayed by the
// link's latency (loss does not apply: streams are reliable), then
// introduced with this region's name.
func (t *FaultTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	t.mu.Lock()
	peer := a.Name
	if peer == "" {
		peer = t.addrs[a.Addr]
	}
	l := t.faults.outbound(peer)
	t.mu.Unlock()
	if peer != "" && l.drop {
		t.dropped("partition")
		return nil, fmt.Errorf("fault injection: %s is partitioned from %s", t.region, peer)
	}
	if d := l.latency; d > 0 {
		if d > timeout {
			return nil, fmt.Errorf("fault injection: latency %v to %s exceeds the dial timeout %v", d, peer, timeout)
		}
		select {
		case <-time.After(d):
		case <-t.done:
			return nil, errors.New("fault transport shut down")
		}
	}
	conn, err := t.inner.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	pre := make([]byte, 0, len(streamMagic)+1+len(t.region))
	pre = append(pre, streamMagic...)
	pre = append(pre, byte(len(t.region)))
	pre = append(pre, t.region...)
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(pre); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// StreamCh delivers accepted streams whose preamble names a region this
// one is not partitioned from.
func (t *FaultTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// preambleTimeout bounds how long an accepted stream may take to introduce
// itself, so a silent connection cannot hold a goroutine.
const preambleTimeout = 5 * time.Second

func (t *FaultTransport) forwardStreams() {
	defer t.wg.Done()
	in := t.inner.StreamCh()
	for {
		select {
		case <-t.done:
			return
		case c, ok := <-in:
			if !ok {
				return
			}
			go t.admit(c)
		}
	}
}

func (t *FaultTransport) admit(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(preambleTimeout))
	var hdr [len(streamMagic) + 1]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || string(hdr[:len(streamMagic)]) != streamMagic {
		c.Close() // not one of ours
		return
	}
	name := make([]byte, hdr[len(streamMagic)])
	if _, err := io.ReadFull(c, name); err != nil || validRegion(string(name)) != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if t.dropInRegion(string(name)) {
		c.Close()
		return
	}
	select {
	case t.streamCh <- c:
	case <-t.done:
		c.Close()
	}
}

// Shutdown stops the forwarders and the wrapped transport.
func (t *FaultTransport) Shutdown() error {
	var err error
	t.once.Do(func() {
		// The wrapped NetTransport's listeners block on unbuffered channels,
		// and its Shutdown waits for them: keep draining until it returns.
		errc := make(chan error, 1)
		go func() { errc <- t.inner.Shutdown() }()
	drain:
		for {
			select {
			case err = <-errc:
				break drain
			case <-t.inner.PacketCh():
			case c := <-t.inner.StreamCh():
				c.Close()
			}
		}
		close(t.done)
		t.wg.Wait()
	})
	return err
}
