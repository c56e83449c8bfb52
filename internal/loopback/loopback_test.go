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

// TestPortsDistinctAndBelowEphemeral: successive calls never repeat a port
// (callers take several before binding any), and every port lies below the
// kernel's ephemeral range.
func TestPortsDistinctAndBelowEphemeral(t *testing.T) {
	seen := map[int]bool{}
	for i := range 300 {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("call %d returned port %d again", i, p)
		}
		if p < lowPort || p >= lowPort+portSpan {
			t.Fatalf("port %d outside [%d, %d)", p, lowPort, lowPort+portSpan)
		}
		seen[p] = true
	}
}
