package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/internal/authworld"
	"github.com/iamprop/iamprop/live"
)

// TestAuthorizeAnswersThroughCaches: concurrent requests (run with -race)
// through the handler's caches (recent contexts, the view's resolutions
// and explanations) get the answers a first, cold request got, and a
// change of the view changes the cached answer.
func TestAuthorizeAnswersThroughCaches(t *testing.T) {
	n, err := live.Start(context.Background(), live.Config{Region: "eu-west-1", Preset: live.PresetLocal, Registerer: prometheus.NewRegistry(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(time.Second)
	h := Handler(Config{Backend: n})
	post := func(path, body string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	for _, c := range authworld.Calls(authworld.Account, 1) {
		if code, body := post("/v1/mutations", c); code != 200 {
			t.Fatalf("%s: %d %s", c, code, body)
		}
	}
	bodies := []string{
		string(authworld.Body()),
		`{"principal":"user:alice","action":"s3:GetObject","resource":"` + authworld.Resource + `","context":{"aws:SourceIp":"192.0.2.1","aws:SecureTransport":true}}`,
		`{"principal":"user:alice","action":"s3:GetObject","resource":"` + authworld.Resource + `","context":{"aws:SourceIp":"203.0.113.5","aws:SecureTransport":false}}`,
		`{"principal":"user:alice","action":"s3:PutObject","resource":"arn:aws:s3:::` + authworld.Bucket + `/uploads/alice/x"}`,
		`{"principal":"anonymous","action":"s3:GetObject","resource":"` + authworld.Resource + `"}`,
		`{"principal":"user:nobody","action":"s3:GetObject","resource":"` + authworld.Resource + `"}`,
		`{"principal":"user:alice","action":"s3:GetObject","resource":"` + authworld.Resource + `","context":{"aws:SourceIp":"203.0.113.5","AWS:SourceIp":"1.2.3.4"}}`,
	}
	want := make([]string, len(bodies))
	for i, b := range bodies {
		_, want[i] = post("/v1/authorize", b) // the first: every cache cold
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 40 {
				i := (g + k) % len(bodies)
				if _, got := post("/v1/authorize", bodies[i]); got != want[i] {
					errs <- fmt.Sprintf("request %d: %s\nfirst answer %s", i, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if !strings.Contains(want[0], `"decision":"Allow"`) || !strings.Contains(want[2], `"decision":"ExplicitDeny"`) {
		t.Fatalf("unexpected decisions: %s\n%s", want[0], want[2])
	}
	// Alice loses a policy (the bucket policy still allows her): the same
	// request, answered from the same recent context, must say so.
	detach := fmt.Sprintf(`{"account":%q,"call":"iam:DetachUserPolicy","with":{"user_name":"alice","policy_arn":"arn:aws:iam::%s:policy/app-read"}}`, authworld.Account, authworld.Account)
	if code, body := post("/v1/mutations", detach); code != 200 {
		t.Fatalf("detach: %d %s", code, body)
	}
	if !strings.Contains(want[0], "ReadReports") || !strings.Contains(want[0], "2 identity policies of its own") {
		t.Fatalf("before the detach: %s", want[0])
	}
	if _, got := post("/v1/authorize", bodies[0]); strings.Contains(got, "ReadReports") || !strings.Contains(got, "1 identity policy of its own") {
		t.Errorf("after the detach: %s", got)
	}
}
