package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
)

// BenchmarkAuthorizeHTTP drives POST /v1/authorize of a real region node
// over loopback TCP with keep-alive from 32 concurrent clients (the load
// generator shares the machine's cores with the server). Target:
// at least 20,000 requests/s with p99 under 5ms on 2 cores.
//
//	go test -run '^$' -bench AuthorizeHTTP -benchtime 200000x ./api/
func BenchmarkAuthorizeHTTP(b *testing.B) {
	st := controlplane.NewState()
	for _, c := range []controlplane.Call{
		{Action: "organizations:CreateAccount", Args: json.RawMessage(`{"account_id":"111122223333"}`)},
		{Action: "s3:CreateBucket", Args: json.RawMessage(`{"bucket":"docs","location_constraint":"eu-west-1"}`)},
		{Action: "s3:PutBucketPolicy", Args: json.RawMessage(`{"bucket":"docs","policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}]}}`)},
	} {
		if err := st.TryApply(c); err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	n, err := live.Start(context.Background(), live.Config{Region: "eu-west-1", Preset: live.PresetLocal, Initial: st, Registerer: reg, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), Handler(Config{Backend: n, Gatherer: reg, Metrics: n.Metrics()}))
	go srv.Serve(ln)
	defer srv.Close()

	url := "http://" + ln.Addr().String() + "/v1/authorize"
	body := []byte(`{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::docs/q3.pdf","context":{"aws:SourceIp":"203.0.113.5"}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16) // 32 clients on 2 cores
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 4096)
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
