package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/live"
)

// An in-process cluster of three regions on loopback, as `scenario run
// --live` drives it: commit at one region, read another region's local
// view while the modelled delay runs, wait for propagation.
func ExampleStartCluster() {
	initial := controlplane.NewState()
	_ = initial.TryApply(controlplane.Call{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)})
	oneToTwo, _ := delay.Uniform(time.Second, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := live.StartCluster(ctx, []string{"us-east-2", "eu-west-1", "ap-southeast-2"}, live.ClusterOptions{
		Initial: initial,
		Delay:   delay.NewModel(oneToTwo),
		Seed:    1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Shutdown()
	m, err := c.Commit("us-east-2", controlplane.Call{Action: "iam:CreateUser", Args: json.RawMessage(`{"user_name":"alice"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := c.Authorize("eu-west-1", controlplane.Probe{Principal: "user:alice", Action: "s3:ListBucket", Resource: "arn:aws:s3:::docs"})
	fmt.Println("eu-west-1 knows alice yet:", d.Authenticated)
	if err := c.WaitApplied(ctx, m.ID); err != nil {
		fmt.Println(err)
		return
	}
	// The id's epoch is random (a new log), so print the rest.
	fmt.Println("applied everywhere:", m.ID.Origin, m.ID.Seq)
	// Output:
	// eu-west-1 knows alice yet: false
	// applied everywhere: us-east-2 1
}
