// Package loopback hands tests free loopback ports for the servers they
// start as separate processes (which cannot be given a listener).
package loopback

import (
	"net"
	"testing"
)

// FreePort returns a 127.0.0.1 port that was free for both TCP and UDP a
// moment ago: memberlist binds both on its gossip port, so a port free for
// TCP alone may still fail a node's start. Another program may take it
// before the caller binds it; tests that start many servers should accept
// a retry.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("loopback: no port free for both TCP and UDP in 50 tries")
	return 0
}
