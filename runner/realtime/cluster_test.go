package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/internal/loopback"
	"github.com/iamprop/iamprop/report"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// A cluster run drives real regionnode processes through their HTTP API:
// the runner seeds the initial state, commits the steps, asks the nodes,
// and measures the exposure from the instants the nodes report. The nodes'
// own --delay holds the privacy write back 1.5 s on its way to eu-west-1.
func TestClusterRunAgainstRegionNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts regionnode processes; skipped with -short")
	}
	token := "test-token-0123456789abcdef"
	urls := startRegionNodes(t, token, "1s,us-east-2>eu-west-1=1500ms", "us-east-2", "eu-west-1")

	src := strings.NewReplacer("NAME", "cluster", "DELAY", "1500ms", "duration: 30s", "duration: 4s",
		"until: 30s", "until: 4s", "regions: [us-east-2, eu-west-1, ap-southeast-2]", "regions: [us-east-2, eu-west-1]").Replace(bucketCase)
	sc, err := scenarios.Parse("cluster.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The nodes' default delay (1s) is not the scenario's (2s): refused,
	// saying how they differ, before anything is committed.
	_, err = runner.Run(ctx, sc, runner.Options{Trials: 1, Cluster: urls, RealTime: Backends{Token: token}})
	var mm *ModelMismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "node has default constant(1s)") || !strings.Contains(err.Error(), "scenario has default constant(2s)") ||
		strings.Contains(strings.SplitN(err.Error(), "); start the nodes", 2)[0], "link us-east-2>eu-west-1") {
		t.Fatalf("run on nodes with another model: err = %v, want a ModelMismatchError naming the defaults only", err)
	}
	run, err := runner.Run(ctx, sc, runner.Options{Trials: 1, Cluster: urls, RealTime: Backends{Token: token, AcceptNodeModel: true}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Mode != "cluster" {
		t.Errorf("mode = %q, want cluster", run.Mode)
	}
	p := run.Probes[0]
	exposure := time.Duration(p.ExposureSeconds.Max * float64(time.Second))
	if exposure < 1500*time.Millisecond || exposure > 2500*time.Millisecond {
		t.Errorf("cluster exposure = %v, want the nodes' 1.5s delay plus a small overhead", exposure)
	}
	if p.StaleAllows < 10 || p.StaleAllows > 25 {
		t.Errorf("%d stale allows served, want about 15", p.StaleAllows)
	}
	if !run.Converged {
		t.Error("cluster did not converge")
	}
	// The privacy write (1s) is in force everywhere when eu-west-1 applies
	// it; its origin's own status says when it could know that.
	m := run.Mutations[0]
	if m.Complete != 1 || m.CompleteAtSeconds.Max < 2.5 || m.CompleteAtSeconds.Max > 3 {
		t.Errorf("step 1 complete in %d trials at %vs, want 1 at 2.5s plus a small overhead", m.Complete, m.CompleteAtSeconds.Max)
	}
	if m.KnownComplete != 1 || m.KnownCompleteAtSeconds.Max < m.CompleteAtSeconds.Max {
		t.Errorf("step 1 known complete in %d trials at %vs, want 1 after it was complete (%vs)", m.KnownComplete, m.KnownCompleteAtSeconds.Max, m.CompleteAtSeconds.Max)
	}

	// The nodes now hold state: a second run is refused with a clear reason.
	if _, err := runner.Run(ctx, sc, runner.Options{Trials: 1, Cluster: urls, RealTime: Backends{Token: token, AcceptNodeModel: true}}); err == nil || !strings.Contains(err.Error(), "fresh nodes") {
		t.Errorf("second run on a used cluster: err = %v, want a 'fresh nodes' error", err)
	}
}

// A cluster run asks the region nodes about probes that go through a VPC
// endpoint, sending the endpoint's policy with each request: an endpoint
// that lets the read through leaves the stale public policy's exposure
// as it is, one that only lets another bucket through stops the read in
// every region at every instant, so it exposes nothing.
func TestClusterRunThroughEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts regionnode processes; skipped with -short")
	}
	token := "test-token-0123456789abcdef"
	urls := startRegionNodes(t, token, "2s,us-east-2>eu-west-1=1500ms", "us-east-2", "eu-west-1")

	const endpoints = `policies:
  vpce-this-bucket:
    Version: "2012-10-17"
    Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::important-financial-documents/*"}]
  vpce-other-bucket:
    Version: "2012-10-17"
    Statement: [{Effect: Allow, Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::other-bucket/*"}]
`
	const probe = `  - {name: attacker-read, region: eu-west-1, principal: anonymous, action: s3:GetObject, resource: "arn:aws:s3:::important-financial-documents/q3.pdf", every: 100ms, from: 0s, until: 4s}
`
	src := strings.NewReplacer("NAME", "cluster-vpce", "DELAY", "1500ms", "duration: 30s", "duration: 4s",
		"until: 30s", "until: 4s", "regions: [us-east-2, eu-west-1, ap-southeast-2]", "regions: [us-east-2, eu-west-1]",
		"policies:\n", endpoints).Replace(bucketCase)
	src = strings.Replace(src, probe, probe+
		strings.NewReplacer("attacker-read,", "through-this-bucket-endpoint,", "every:", "endpoint: vpce-this-bucket, every:").Replace(probe)+
		strings.NewReplacer("attacker-read,", "through-other-bucket-endpoint,", "every:", "endpoint: vpce-other-bucket, every:").Replace(probe), 1)
	sc, err := scenarios.Parse("cluster-vpce.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Probes) != 4 || sc.Probes[1].Endpoint != "vpce-this-bucket" || sc.Probes[2].Endpoint != "vpce-other-bucket" {
		t.Fatalf("test bug: probes %+v", sc.Probes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := runner.Run(ctx, sc, runner.Options{Trials: 1, Cluster: urls, RealTime: Backends{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	direct, through, blocked := run.Probes[0], run.Probes[1], run.Probes[2]
	for _, p := range []report.Probe{direct, through} {
		exposure := time.Duration(p.ExposureSeconds.Max * float64(time.Second))
		if exposure < 1500*time.Millisecond || exposure > 2500*time.Millisecond || p.StaleAllows < 10 {
			t.Errorf("%s: exposure %v with %d stale allows, want the nodes' 1.5s delay and about 15", p.Name, exposure, p.StaleAllows)
		}
	}
	if blocked.Requests < 30 || blocked.ExposureSeconds.Max != 0 || blocked.StaleAllows != 0 {
		t.Errorf("%s: %d requests, exposure %vs, %d stale allows; want about 40 requests, none allowed",
			blocked.Name, blocked.Requests, blocked.ExposureSeconds.Max, blocked.StaleAllows)
	}
}

// startRegionNodes builds regionnode and starts one process per region on
// loopback, joined into one cluster, with the API token and the --delay
// spec given; it returns their API URLs once every node is ready. The
// processes are killed when the test ends.
func startRegionNodes(t *testing.T, token, delay string, regions ...string) []string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "regionnode")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/regionnode").CombinedOutput(); err != nil {
		t.Fatalf("building regionnode: %v\n%s", err, out)
	}
	env := append(os.Environ(), "IAMPROP_API_TOKEN="+token, "IAMPROP_GOSSIP_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	var urls []string
	var firstGossip string
	for _, region := range regions {
		gossip, httpAddr := fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t))
		args := []string{"--region", region, "--gossip", gossip, "--http", httpAddr,
			"--data-dir", filepath.Join(dir, region), "--gossip-preset", "local", "--delay", delay}
		if firstGossip != "" {
			args = append(args, "--join", firstGossip)
		} else {
			firstGossip = gossip
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stderr, cmd.Stdout = nil, nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		url := "http://" + httpAddr
		// Serving first: the first region is not ready (it refuses writes
		// with its empty log) until another has joined it.
		waitStatus(t, region, url+"/healthz")
		urls = append(urls, url)
	}
	for i, url := range urls {
		waitStatus(t, regions[i], url+"/readyz")
	}
	return urls
}

// waitStatus polls url until it answers 200, failing the test after 20 s.
func waitStatus(t *testing.T, region, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not 200 within 20s", region, url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
