package realtime

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/api"
	"github.com/iamprop/iamprop/apiclient"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// TestClusterRunFaults: a scenario with faults against nodes whose fault
// API is off (or without the admin token) fails up front with the reason,
// instead of running without its faults and reporting exposures as if the
// partition had happened; against nodes that take faults, the faults end
// when the scenario says (the run converges and no node holds any).
func TestClusterRunFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a live cluster")
	}
	regions := []string{"us-east-2", "eu-west-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writeTok, adminTok = "write-token-0123456789", "admin-token-0123456789"
	cases := []struct {
		name     string
		faultAPI bool
		admin    string // the admin token the runner has
		refused  bool
	}{
		{"fault API off", false, adminTok, true},
		{"no admin token", true, "", true},
		{"fault API on, admin token given", true, adminTok, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := live.StartCluster(ctx, regions, live.ClusterOptions{Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown()
			var urls []string
			for _, n := range c.Nodes() {
				srv := httptest.NewServer(api.Handler(api.Config{Backend: n, Token: writeTok, AdminToken: adminTok, FaultAPI: tc.faultAPI}))
				defer srv.Close()
				urls = append(urls, srv.URL)
			}
			src := strings.NewReplacer("NAME", "cluster-faults", "DELAY", "1s", "duration: 30s", "duration: 3s",
				"until: 30s", "until: 3s", "regions: [us-east-2, eu-west-1, ap-southeast-2]", "regions: [us-east-2, eu-west-1]",
				"expect:", "faults:\n  - {at: 500ms, partition: [[eu-west-1], [us-east-2]], for: 1s}\nexpect:").Replace(bucketCase)
			sc, err := scenarios.Parse("cluster-faults.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = runner.Run(ctx, sc, runner.Options{Trials: 1, Cluster: urls, RealTime: Backends{Token: writeTok, ClusterTLS: apiclient.Options{AdminToken: tc.admin}, AcceptNodeModel: true}})
			if !tc.refused {
				if err != nil {
					t.Fatalf("a cluster that takes faults: %v", err)
				}
				// The partition ended at 1.5 s: the nodes hold no faults.
				for _, n := range c.Nodes() {
					if f := n.Faults(); len(f.Partition) > 0 || f.PartitionOneway != nil || len(f.Links) > 0 {
						t.Errorf("%s still holds faults after the run: %+v", n.Region(), f)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "--enable-fault-api") {
				t.Fatalf("err = %v, want a refusal naming --enable-fault-api", err)
			}
			// Refused before anything was committed.
			for _, n := range c.Nodes() {
				if v := n.View(); v.Applied != 0 {
					t.Errorf("%s holds %d mutations after the refusal", n.Region(), v.Applied)
				}
			}
		})
	}
}
