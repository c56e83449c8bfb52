package live

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iamprop/iamprop/replication"
)

// FuzzDelegateInput feeds arbitrary bytes to the callbacks memberlist
// hands peers' data to: they must never panic, and an undecodable
// replication message is counted as rejected (never handed to the node).
func FuzzDelegateInput(f *testing.F) {
	valid := replication.Message{Kind: replication.KindGossip, From: "peer", Mutations: []replication.Mutation{{
		ID: replication.MutationID{Origin: "peer", Seq: 1}, TS: replication.Timestamp{Wall: 1}, Call: createUser("x"),
	}}}.Encode()
	f.Add(append([]byte{tagReplication}, valid...))
	f.Add(append([]byte{tagReplication}, valid[:len(valid)/2]...))
	f.Add([]byte{2, '{', '}'}) // the retired version-vector tag
	f.Add([]byte(`{"region":"peer","vector":{"peer":3},"vectors":[{"region":"peer","at":1,"vector":{"peer":9}}]}`))
	f.Add([]byte{2})
	ack := replication.Message{Kind: replication.KindAck, From: "peer", Acks: []replication.Ack{
		{Region: "peer", At: time.Unix(1, 0), Vector: replication.VersionVector{"peer": 3}},
	}}.Encode()
	f.Add(append([]byte{tagReplication}, ack...))
	f.Add([]byte{9, 9, 9})
	n, err := Start(context.Background(), Config{Region: "fuzz", Preset: PresetLocal, Initial: initial(f), Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Shutdown(time.Second) })
	d := (*delegate)(n)
	f.Fuzz(func(t *testing.T, b []byte) {
		rejected := testutil.ToFloat64(n.m.GossipRejected)
		d.NotifyMsg(b)
		if len(b) > 0 && b[0] == tagReplication {
			if _, err := replication.DecodeMessage(b[1:]); err != nil && testutil.ToFloat64(n.m.GossipRejected) == rejected {
				t.Fatalf("undecodable replication message was not rejected: %v", err)
			}
		}
		d.MergeRemoteState(b, false)
		_ = d.GetBroadcasts(2, 1400)
		_ = d.LocalState(false)
		if err := n.Healthy(); err != nil {
			t.Fatal(err)
		}
	})
}
