package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

// TestSignatureSurvivesTheLog: a signed mutation's signature is replayed
// byte for byte, and an unsigned one comes back without one.
func TestSignatureSurvivesTheLog(t *testing.T) {
	sig := bytes.Repeat([]byte{0xa5}, 64)
	muts := []replication.Mutation{
		{ID: replication.MutationID{Origin: "us-east-2", Epoch: 7, Seq: 1}, TS: replication.Timestamp{Wall: time.Unix(1, 0).UnixNano()},
			Call: controlplane.Call{Action: "iam:CreateUser", Args: []byte(`{"user_name":"a"}`)}, Sig: sig},
		{ID: replication.MutationID{Origin: "us-east-2", Epoch: 7, Seq: 2}, TS: replication.Timestamp{Wall: time.Unix(2, 0).UnixNano()},
			Call: controlplane.Call{Action: "iam:CreateUser", Args: []byte(`{"user_name":"b"}`)}},
	}
	dir := t.TempDir()
	l, _, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(muts); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, got, _, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(got) != 2 || !bytes.Equal(got[0].Sig, sig) || got[1].Sig != nil {
		t.Fatalf("replayed %+v, want the first signed and the second not", got)
	}
}
