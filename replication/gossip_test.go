package replication

import (
	"strings"
	"testing"
	"time"
)

// TestBytesSentIsMessageSize: gossip sends count their size from the queued
// rumors' cached sizes; it must equal Message.Size (the encoded length).
func TestBytesSentIsMessageSize(t *testing.T) {
	n := newTestNode(t, "eu-west-1", nil, "us-east-2", "ap-southeast-2", "us-west-2", "eu-central-1")
	for i := range 12 {
		m := commitAt(t, "us-east-2", uint64(i+1), time.Duration(i)*time.Millisecond, "g"+strings.Repeat("x", i*7))
		if err := n.Step(epoch, Message{Kind: KindRepair, From: "us-east-2", Mutations: []Mutation{m}}); err != nil {
			t.Fatal(err)
		}
	}
	n.Ready()
	var want uint64
	sent := 0
	for k := 1; k <= 20; k++ {
		n.Tick(epoch.Add(time.Duration(k) * time.Second))
		for _, env := range n.Ready().Messages {
			if env.Msg.Kind == KindGossip {
				want += uint64(env.Msg.Size())
				sent++
			}
		}
	}
	if sent == 0 {
		t.Fatal("no gossip sent")
	}
	if got := n.Stats().BytesSent; got != want {
		t.Fatalf("BytesSent %d, sum of Message.Size %d over %d messages", got, want, sent)
	}
}
