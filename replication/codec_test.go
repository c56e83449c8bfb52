package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleMutation(origin string, seq uint64) Mutation {
	return Mutation{
		ID:     MutationID{Origin: origin, Seq: seq},
		TS:     Timestamp{Wall: epoch.UnixNano() + int64(seq), Logical: uint32(seq % 3)},
		Call:   call("s3:PutBucketPolicy", `{"bucket":"b","policy":{"Version":"2012-10-17","Statement":[]}}`),
		Revoke: seq%2 == 0,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	m1, m2 := sampleMutation("us-east-2", 1), sampleMutation("eu-west-1", 2)
	m2.Call.Account, m2.Call.Region = testAccount, "eu-west-1"
	noArgs := sampleMutation("ap-southeast-2", 3)
	noArgs.Call.Args = nil
	withEpoch := sampleMutation("us-east-2", 1)
	withEpoch.ID.Epoch = 0xff
	tests := []struct {
		name string
		msg  Message
	}{
		{"gossip", Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{m1, m2}}},
		{"stream without arguments", Message{Kind: KindStream, From: "us-east-2", Mutations: []Mutation{noArgs}}},
		{"push-pull request, empty vector", Message{Kind: KindPushPullRequest, From: "eu-west-1", Vector: VersionVector{}}},
		{"push-pull request", Message{Kind: KindPushPullRequest, From: "eu-west-1", Vector: VersionVector{"us-east-2": 17, "eu-west-1": 3}}},
		{"push-pull response", Message{Kind: KindPushPullResponse, From: "eu-west-1", Vector: VersionVector{"us-east-2": 1}, Mutations: []Mutation{m2}}},
		{"repair", Message{Kind: KindRepair, From: "eu-west-1", Mutations: []Mutation{m1}}},
		{"epoch ids and stream vectors", Message{Kind: KindPushPullResponse, From: "eu-west-1",
			Vector: VersionVector{"us-east-2@00000000000000ff": 1, "us-east-2": 4}, Mutations: []Mutation{withEpoch}}},
		{"push-pull request with digests", Message{Kind: KindPushPullRequest, From: "eu-west-1",
			Vector: VersionVector{"us-east-2": 17, "eu-west-1@9e3779b97f4a7c15": 3}, Sums: VersionVector{"us-east-2": 1 << 63, "eu-west-1@9e3779b97f4a7c15": 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.msg.Encode()
			got, err := DecodeMessage(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, tt.msg)
			}
			if size := tt.msg.Size(); size != len(b) {
				t.Fatalf("Size() = %d, encoding has %d bytes", size, len(b))
			}
			if again := got.Encode(); !bytes.Equal(again, b) {
				t.Fatalf("encoding is not canonical")
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{sampleMutation("us-east-2", 1)}}.Encode()
	withVersion := func(v byte) []byte { b := bytes.Clone(good); b[0] = v; return b }
	withKind := func(k byte) []byte { b := bytes.Clone(good); b[1] = k; return b }
	hugeCount := append([]byte{codecVersion, byte(KindGossip), 1, 'a', 0}, binary.AppendUvarint(nil, 1<<40)...)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"unknown version", withVersion(9), "codec version 9"},
		{"unknown kind", withKind(42), "message kind 42"},
		{"kind zero", withKind(0), "message kind 0"},
		{"truncated", good[:len(good)-3], "exceeds"},
		{"trailing bytes", append(bytes.Clone(good), 0), "trailing"},
		{"mutation count beyond input", hugeCount, "mutations exceed"},
		{"too large", make([]byte, MaxMessageBytes+1), "exceed"},
		{"request carrying mutations", func() []byte {
			m := Message{Kind: KindPushPullRequest, From: "a", Vector: VersionVector{}, Mutations: []Mutation{sampleMutation("b", 1)}}
			return m.Encode()
		}(), "carries mutations"},
		{"response without vector", Message{Kind: KindPushPullResponse, From: "a"}.Encode(), "without a version vector"},
		{"bad sender", Message{Kind: KindGossip, From: "a/b"}.Encode(), "not allowed"},
		{"epoch of the wrong width", func() []byte {
			b := Message{Kind: KindRepair, From: "a", Mutations: []Mutation{sampleMutation("b", 1)}}.Encode()
			return bytes.Replace(b, []byte{1, 'b'}, []byte{4, 'b', '@', 'f', 'f'}, 1)
		}(), "hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessage(tt.in)
			if err == nil {
				t.Fatalf("decoded garbage")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestGossipPacketBudget checks that a gossip round never builds a packet
// over the budget, and that a mutation too large for a packet goes by
// stream.
func TestGossipPacketBudget(t *testing.T) {
	n := NewNode(Config{Region: "us-east-2", Initial: initialState(t), Start: epoch})
	n.SetPeers([]string{"eu-west-1"})
	for i := 0; i < 40; i++ {
		if _, err := n.Propose(at(0), call("iam:CreateGroup", `{"group_name":"group-with-a-long-name-`+strings.Repeat("x", i)+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	big := `{"user_name":"alice","policy_name":"big","policy_document":{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("S", 1500) + `","Effect":"Allow","Action":"s3:*","Resource":"*"}]}}`
	if _, err := n.Propose(at(0), call("iam:PutUserPolicy", big)); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	n.Tick(at(time.Second))
	var packets, streams, carried int
	for _, e := range n.Ready().Messages {
		switch e.Msg.Kind {
		case KindGossip:
			packets++
			carried += len(e.Msg.Mutations)
			if size := len(e.Msg.Encode()); size > DefaultPacketBytes-packetReserve {
				t.Errorf("gossip packet of %d bytes exceeds %d", size, DefaultPacketBytes-packetReserve)
			}
		case KindStream:
			streams++
			if len(e.Msg.Mutations) != 1 || e.Msg.Mutations[0].Call.Action != "iam:PutUserPolicy" {
				t.Errorf("stream message carries %v", ids(e.Msg.Mutations))
			}
		}
	}
	if packets != 1 || streams != 1 {
		t.Fatalf("one round to one peer: %d packets, %d streams; want 1 and 1", packets, streams)
	}
	if carried == 0 || carried == 40 {
		t.Fatalf("the packet carried %d of 40 rumors; want some but not all (budget)", carried)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(Message{Kind: KindGossip, From: "us-east-2", Mutations: []Mutation{sampleMutation("us-east-2", 1)}}.Encode())
	f.Add(Message{Kind: KindPushPullResponse, From: "eu-west-1", Vector: VersionVector{"us-east-2": 3}, Mutations: []Mutation{sampleMutation("eu-west-1", 2)}}.Encode())
	f.Add([]byte{codecVersion, byte(KindRepair)})
	// The sender's own ack riding on a rumor's gossip message, and a lone ack.
	own := Ack{Region: "eu-west-1", At: at(time.Second), Vector: VersionVector{"us-east-2": 3, "eu-west-1": 1}}
	f.Add(Message{Kind: KindGossip, From: "eu-west-1", Mutations: []Mutation{sampleMutation("us-east-2", 1)}, Acks: []Ack{own}}.Encode())
	f.Add(Message{Kind: KindAck, From: "eu-west-1", Acks: []Ack{own, {Region: "ap-southeast-2", At: at(2 * time.Second), Vector: VersionVector{"us-east-2": 2}}}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same,
		// and Size predicts the encoding.
		enc := m.Encode()
		if m.Size() != len(enc) {
			t.Fatalf("Size() = %d, encoding has %d bytes", m.Size(), len(enc))
		}
		again, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("re-decode differs")
		}
		// And a node handles it without panicking.
		n := NewNode(Config{Region: "fuzz-target"})
		_ = n.Step(at(time.Second), m)
	})
}
