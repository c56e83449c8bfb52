package replication_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/replication"
)

// sixSeconds is a constant propagation delay on every link.
type sixSeconds struct{}

func (sixSeconds) Sample(origin, dest string, revoke bool, r *rand.Rand) time.Duration {
	return 6 * time.Second
}

// A driver's loop in miniature: commit at one region, carry out Ready
// (send the messages), tick the receiver at its deadline, and read when the
// change became visible there.
func Example() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	initial := controlplane.NewState()
	account := controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)}
	initial.Apply(account)

	nodes := map[string]*replication.Node{}
	for i, r := range []string{"us-east-2", "eu-west-1"} {
		nodes[r] = replication.NewNode(replication.Config{
			Region: r, Delay: sixSeconds{}, Initial: initial, Start: start,
			Rand: rand.New(rand.NewPCG(1, uint64(i))),
		})
		nodes[r].SetPeers([]string{"us-east-2", "eu-west-1"})
	}

	m, err := nodes["us-east-2"].Propose(start.Add(time.Second), controlplane.Call{
		Action: "iam:CreateUser", Args: json.RawMessage(`{"user_name":"bob"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("committed", m.ID)

	// The next gossip round carries the rumor; deliver it at once.
	origin := nodes["us-east-2"]
	origin.Ready()
	origin.Tick(start.Add(1200 * time.Millisecond))
	for _, env := range origin.Ready().Messages {
		if err := nodes[env.To].Step(start.Add(1200*time.Millisecond), env.Msg); err != nil {
			fmt.Println(err)
		}
	}

	// eu-west-1 has the mutation but shows it only 6s after commit. Tick it
	// at each deadline (its own gossip rounds come first; their messages
	// are dropped here) until it applies.
	eu := nodes["eu-west-1"]
	fmt.Println("received; visible in eu-west-1:", eu.Has(m.ID))
	for !eu.Has(m.ID) {
		rd := eu.Ready()
		eu.Tick(rd.Deadline)
	}
	for _, a := range eu.Ready().Applied {
		fmt.Println("applied", a.ID, "at", a.At.Sub(start), "lag", a.At.Sub(a.CommitTime()))
	}
	fmt.Println("same view:", eu.Digest() == origin.Digest())
	// Output:
	// committed us-east-2/1
	// received; visible in eu-west-1: false
	// applied us-east-2/1 at 7s lag 6s
	// same view: true
}

// Messages travel as bytes between live regions.
func ExampleDecodeMessage() {
	msg := replication.Message{Kind: replication.KindPushPullRequest, From: "eu-west-1",
		Vector: replication.VersionVector{"us-east-2": 17}}
	b := msg.Encode()
	got, err := replication.DecodeMessage(b)
	fmt.Println(got.Kind, got.From, got.Vector["us-east-2"], err, got.Kind.Reliable())
	_, err = replication.DecodeMessage(b[:len(b)-1])
	fmt.Println(err != nil)
	// Output:
	// push-pull-request eu-west-1 17 <nil> true
	// true
}
