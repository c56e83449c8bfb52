package live

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/controlplane"
)

// TestMaxLagFailsClosedInAPartition: in a healthy quiet cluster max_lag
// reads are answered (heartbeat acks); once eu-west-1 is cut off, a commit
// at us-east-2 never reaches it, and both sides refuse max_lag reads
// (neither can know what the other committed), eu-west-1 naming the region
// it has not heard from. Once the operator removes eu-west-1, the others
// answer again.
func TestMaxLagFailsClosedInAPartition(t *testing.T) {
	const us, eu, ap = "us-east-2", "eu-west-1", "ap-southeast-2"
	c := startCluster(t, []string{us, eu, ap}, ClusterOptions{})
	probe := controlplane.Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
	maxLag := Consistency{Mode: ModeMaxLag, MaxLag: 500 * time.Millisecond}
	answers := func(r string) error {
		_, err := c.Node(r).Authorize(context.Background(), probe, maxLag)
		return err
	}
	for _, r := range []string{us, eu, ap} {
		within(t, 10*time.Second, r+" answers max_lag in a quiet cluster", func(ctx context.Context) error {
			return poll(ctx, func() bool { return answers(r) == nil })
		})
	}
	cut := FaultSpec{Partition: [][]string{{eu}, {us, ap}}}
	if err := c.SetFaults(cut); err != nil {
		t.Fatal(err)
	}
	m, err := c.Commit(us, createUser("dave"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // twice the bound
	if c.Has(eu, m.ID) {
		t.Fatalf("%s got %s across the partition", eu, m.ID)
	}
	err = answers(eu)
	if !errors.Is(err, ErrTooStale) || !strings.Contains(err.Error(), us) && !strings.Contains(err.Error(), ap) {
		t.Errorf("%s, cut off, without %s: max_lag error %v; want ErrTooStale naming a region it has not heard from", eu, m.ID, err)
	}
	if err := answers(us); !errors.Is(err, ErrTooStale) {
		t.Errorf("%s: max_lag error %v; want ErrTooStale (eu-west-1 may have committed anything)", us, err)
	}
	// eu-west-1 is gone for good: once the others' failure detector calls
	// it dead, the operator removes it, and they answer again.
	for _, r := range []string{us, ap} {
		within(t, 30*time.Second, r+" removes eu-west-1", func(ctx context.Context) error {
			return poll(ctx, func() bool { return c.Node(r).RemoveMember(eu) == nil })
		})
	}
	for _, r := range []string{us, ap} {
		within(t, 5*time.Second, r+" answers once eu-west-1 is removed", func(ctx context.Context) error {
			return poll(ctx, func() bool { return answers(r) == nil })
		})
	}
}
