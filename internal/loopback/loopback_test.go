package loopback

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortBindsBoth: the port handed out can be bound for TCP and UDP.
func TestFreePortBindsBoth(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("TCP %d: %v", port, err)
	}
	defer l.Close()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("UDP %d: %v", port, err)
	}
	u.Close()
}
