package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
)

func TestClientAgainstServer(t *testing.T) {
	f, srv, _ := newServer(t, token)
	ctx := context.Background()
	c, err := apiclient.NewWith(srv.URL, apiclient.Options{Token: token, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Commit(ctx, MutationRequest{Call: "iam:CreateUser", With: []byte(`{"user_name":"a"}`)})
	if err != nil || m.ID != "eu-west-1/1" || len(f.commits) != 1 {
		t.Fatalf("Commit = %+v, %v", m, err)
	}
	a, err := c.Authorize(ctx, AuthorizeRequest{Principal: "anonymous", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
		Consistency: &ConsistencyReq{Mode: "at_least", Token: m.Token, Timeout: "1s"}})
	if err != nil || a.Decision != "Allow" || f.cons[0].Token != m.Token {
		t.Fatalf("Authorize = %+v, %v", a, err)
	}
	if st, err := c.Mutation(ctx, "us-east-2/17"); err != nil || st.ID != "us-east-2/17" || f.lastStatus.Seq != 17 {
		t.Errorf("Mutation = %+v, %v", st, err)
	}
	if st, err := c.WaitMutation(ctx, "us-east-2/17", 20*time.Second); err != nil || !st.Complete || len(f.waits) != 1 || f.waits[0] != 20*time.Second {
		t.Errorf("WaitMutation = %+v, %v; backend waits %v", st, err, f.waits)
	}
	if r, err := c.RemoveMember(ctx, "ap-southeast-2"); err != nil || r.Removed != "ap-southeast-2" || len(f.removed) != 1 {
		t.Errorf("RemoveMember = %+v, %v; backend got %v", r, err, f.removed)
	}
	if _, err := c.WaitMutation(ctx, "us-east-2/17", 2*time.Minute); err == nil {
		t.Error("WaitMutation past the bound accepted")
	}
	if v, err := c.View(ctx); err != nil || v.Region != "eu-west-1" {
		t.Errorf("View = %+v, %v", v, err)
	}
	if cl, err := c.Cluster(ctx); err != nil || len(cl.Members) != 1 {
		t.Errorf("Cluster = %+v, %v", cl, err)
	}
	spec := live.FaultSpec{Links: []live.LinkSpec{{From: "*", To: "*", Latency: live.Duration(20 * time.Millisecond)}}}
	if err := c.SetFaults(ctx, spec); err != nil || f.setFaults != 1 {
		t.Errorf("SetFaults: %v", err)
	}
	if got, err := c.Faults(ctx); err != nil || len(got.Links) != 1 || got.Links[0].Latency != spec.Links[0].Latency {
		t.Errorf("Faults = %+v, %v", got, err)
	}
	if err := c.ClearFaults(ctx); err != nil || f.setFaults != 2 {
		t.Errorf("ClearFaults: %v", err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}

	// Errors come back typed, with the API's code.
	f.commitErr = &controlplane.APIError{Code: "NoSuchEntity", Message: "no"}
	_, err = c.Commit(ctx, MutationRequest{Call: "iam:DeleteUser"})
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "NoSuchEntity" {
		t.Errorf("AWS error: %v", err)
	}
	noToken, _ := apiclient.New(srv.URL, "")
	if err := noToken.SetFaults(ctx, spec); !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("without token: %v", err)
	}
	// The write token reads, but cannot inject faults.
	writer, _ := apiclient.New(srv.URL, token)
	if _, err := writer.View(ctx); err != nil {
		t.Errorf("writer reading: %v", err)
	}
	if err := writer.SetFaults(ctx, spec); !errors.As(err, &ae) || ae.Status != 401 || f.setFaults != 2 {
		t.Errorf("writer injecting faults: %v (backend calls %d)", err, f.setFaults)
	}
	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := apiclient.New(bad, ""); err == nil {
			t.Errorf("apiclient.New(%q) accepted", bad)
		}
	}
}
