// Package loopback hands out free loopback ports for servers that must be
// told their port instead of being given a listener: regionnode processes
// started by tests and by the chaos harness.
package loopback

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports are drawn from [lowPort, lowPort+portSpan): below the kernel's
// ephemeral range (32768 and up on Linux), so that while a node is down no
// outgoing connection of another program takes its port and its restart
// fails.
const (
	lowPort  = 20000
	portSpan = 12000
	tries    = 200
	// recentMax bounds how many handed-out ports are remembered, so that a
	// long chaos soak does not run the range dry.
	recentMax = 1024
)

// recent holds the last ports handed out: Port closes what it probed, so
// without it two calls could return the same port before either is bound.
var recent struct {
	sync.Mutex
	ring [recentMax]int
	next int
	set  map[int]bool
}

// Port returns a 127.0.0.1 port that was free for both TCP and UDP a moment
// ago (memberlist binds both on its gossip port, so a port free for TCP
// alone may still fail a node's start) and that none of the last 1,024
// calls in this process returned. Another program may take it before the
// caller binds it; callers that start many servers should accept a retry.
func Port() (int, error) {
	recent.Lock()
	defer recent.Unlock()
	if recent.set == nil {
		recent.set = make(map[int]bool, recentMax)
	}
	for range tries {
		port := lowPort + rand.IntN(portSpan)
		if recent.set[port] || !bindsBoth(port) {
			continue
		}
		if old := recent.ring[recent.next]; old != 0 {
			delete(recent.set, old)
		}
		recent.ring[recent.next] = port
		recent.next = (recent.next + 1) % recentMax
		recent.set[port] = true
		return port, nil
	}
	return 0, errors.New("loopback: no port in 20000-31999 free for both TCP and UDP")
}

// bindsBoth says whether port can be bound on 127.0.0.1 for TCP and UDP
// now; it releases both at once.
func bindsBoth(port int) bool {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// FreePort is Port for tests: it fails t when no port can be found.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
