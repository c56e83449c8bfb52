package api

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iamprop/iamprop/live"
)

const (
	readTok  = "read-token-0123456789"
	writeTok = "write-token-0123456789"
	adminTok = "admin-token-0123456789"
)

// keyFake is a backend with a keyring, recording the rotation steps.
type keyFake struct {
	fake
	ops []string
}

func (k *keyFake) GossipKeys() (live.GossipKeys, error) {
	return live.GossipKeys{Primary: "aa", Installed: []string{"aa"}}, nil
}
func (k *keyFake) InstallGossipKey(b []byte) error { k.ops = append(k.ops, "install"); return nil }
func (k *keyFake) UseGossipKey(b []byte) error     { k.ops = append(k.ops, "use"); return nil }
func (k *keyFake) RemoveGossipKey(b []byte) error {
	k.ops = append(k.ops, "remove")
	return live.ErrPrimaryGossipKey
}

// TestTokensByRole checks every protected endpoint against every token,
// under the configurations a deployment uses.
func TestTokensByRole(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	endpoints := []struct {
		name, method, path, body string
		need                     role
	}{
		{"commit", "POST", "/v1/mutations", `{"call":"iam:CreateUser","with":{"user_name":"a"}}`, roleWrite},
		{"authorize", "POST", "/v1/authorize", `{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}`, roleRead},
		{"view", "GET", "/v1/view", ``, roleRead},
		{"status", "GET", "/v1/mutations/us-east-2/1", ``, roleRead},
		{"cluster", "GET", "/v1/cluster", ``, roleRead},
		{"get faults", "GET", "/v1/faults", ``, roleRead},
		{"set faults", "POST", "/v1/faults", `{"partition":[["a"],["b"]]}`, roleAdmin},
		{"clear faults", "DELETE", "/v1/faults", ``, roleAdmin},
		{"remove member", "DELETE", "/v1/cluster/members/ap-southeast-2", ``, roleAdmin},
		{"list gossip keys", "GET", "/v1/gossip/keys", ``, roleAdmin},
		{"install gossip key", "POST", "/v1/gossip/keys", `{"op":"install","key":"` + key + `"}`, roleAdmin},
	}
	configs := []struct {
		name string
		cfg  Config
		// opens[tok] is the highest role the token opens; -1 none.
		opens map[string]role
		// open is the highest role open without a token; -1 none.
		open role
	}{
		{"no tokens: a loopback experiment", Config{FaultAPI: true},
			map[string]role{"": roleAdmin, "junk": roleAdmin}, roleAdmin},
		{"every token", Config{ReadToken: readTok, Token: writeTok, AdminToken: adminTok, FaultAPI: true},
			map[string]role{readTok: roleRead, writeTok: roleWrite, adminTok: roleAdmin, "junk": -1, "": -1}, -1},
		{"only a write token closes reads and admin", Config{Token: writeTok, FaultAPI: true},
			map[string]role{writeTok: roleWrite, "junk": -1, "": -1}, -1},
		{"only an admin token closes everything below", Config{AdminToken: adminTok, FaultAPI: true},
			map[string]role{adminTok: roleAdmin, "junk": -1}, -1},
	}
	for _, c := range configs {
		for tok, top := range c.opens {
			for _, e := range endpoints {
				t.Run(c.name+"/"+e.name+"/token "+tok, func(t *testing.T) {
					f := &keyFake{}
					c.cfg.Backend = f
					srv := httptest.NewServer(Handler(c.cfg))
					defer srv.Close()
					var hdr map[string]string
					if tok != "" {
						hdr = map[string]string{"Authorization": "Bearer " + tok}
					}
					code, out := do(t, srv, e.method, e.path, e.body, hdr)
					allowed := e.need <= top
					if allowed && code == 401 {
						t.Errorf("refused: %d %v", code, out)
					}
					if !allowed {
						if code != 401 || errCode(out) != "Unauthorized" {
							t.Errorf("got %d %v, want 401 Unauthorized", code, out)
						}
						if len(f.commits)+len(f.probes)+f.setFaults+len(f.removed)+len(f.ops) != 0 {
							t.Errorf("a refused request reached the backend")
						}
					}
				})
			}
		}
	}
}

func TestBearerScheme(t *testing.T) {
	srv := httptest.NewServer(Handler(Config{Backend: &fake{}, ReadToken: readTok}))
	defer srv.Close()
	cases := []struct {
		header string
		code   int
	}{
		{"Bearer " + readTok, 200},
		{"bearer " + readTok, 200},
		{"BEARER " + readTok, 200},
		{"Bearer   " + readTok + "  ", 200},
		{"Bearer " + readTok[:len(readTok)-1], 401},
		{"Bearer " + readTok + "x", 401},
		{"Basic " + readTok, 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{readTok, 401},
		{"Bearer " + "READ-TOKEN-0123456789", 401}, // the token itself is case-sensitive
	}
	for _, tc := range cases {
		if code, out := do(t, srv, "GET", "/v1/view", "", map[string]string{"Authorization": tc.header}); code != tc.code {
			t.Errorf("Authorization %q: %d %v, want %d", tc.header, code, out, tc.code)
		}
	}
}

func TestFaultAPIOffByDefault(t *testing.T) {
	f := &fake{}
	srv := httptest.NewServer(Handler(Config{Backend: f, AdminToken: adminTok}))
	defer srv.Close()
	admin := map[string]string{"Authorization": "Bearer " + adminTok}
	for _, m := range []string{"POST", "DELETE"} {
		code, out := do(t, srv, m, "/v1/faults", `{"partition":[["a"],["b"]]}`, admin)
		if code != 403 || errCode(out) != "FaultAPIDisabled" {
			t.Errorf("%s /v1/faults with the fault API off: %d %v", m, code, out)
		}
		// Without the token the answer is 401, not a hint about the switch.
		if code, _ := do(t, srv, m, "/v1/faults", `{}`, nil); code != 401 {
			t.Errorf("%s /v1/faults without a token: %d", m, code)
		}
	}
	if f.setFaults != 0 {
		t.Errorf("faults reached the backend %d times", f.setFaults)
	}
}

func TestMetricsBehindReadToken(t *testing.T) {
	for _, need := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		srv := httptest.NewServer(Handler(Config{Backend: &fake{}, ReadToken: readTok, Gatherer: reg, MetricsNeedToken: need}))
		want := 200
		if need {
			want = 401
		}
		if code, _ := do(t, srv, "GET", "/metrics", "", nil); code != want {
			t.Errorf("MetricsNeedToken=%v: /metrics without a token: %d, want %d", need, code, want)
		}
		if code, _ := do(t, srv, "GET", "/metrics", "", map[string]string{"Authorization": "Bearer " + readTok}); code != 200 {
			t.Errorf("MetricsNeedToken=%v: /metrics with the read token: %d", need, code)
		}
		// Probes stay open: orchestrators call them without secrets.
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, _ := do(t, srv, "GET", p, "", nil); code != 200 {
				t.Errorf("%s without a token: %d", p, code)
			}
		}
		srv.Close()
	}
}

func TestGossipKeyAPI(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	admin := map[string]string{"Authorization": "Bearer " + adminTok}
	f := &keyFake{}
	srv := httptest.NewServer(Handler(Config{Backend: f, AdminToken: adminTok}))
	defer srv.Close()
	cases := []struct {
		body    string
		code    int
		errCode string
	}{
		{`{"op":"install","key":"` + key + `"}`, 200, ""},
		{`{"op":"use","key":"` + key + `"}`, 200, ""},
		{`{"op":"remove","key":"` + key + `"}`, 409, "KeyInUse"},
		{`{"op":"rotate","key":"` + key + `"}`, 400, "InvalidRequest"},
		{`{"op":"install","key":"!!"}`, 400, "InvalidKey"},
		{`{"op":"install"}`, 400, "InvalidKey"},
	}
	for _, tc := range cases {
		code, out := do(t, srv, "POST", "/v1/gossip/keys", tc.body, admin)
		if code != tc.code || errCode(out) != tc.errCode {
			t.Errorf("%s: %d %v, want %d %q", tc.body, code, out, tc.code, tc.errCode)
		}
	}
	if got := len(f.ops); got != 3 {
		t.Errorf("backend saw %v, want install, use, remove", f.ops)
	}
	code, out := do(t, srv, "GET", "/v1/gossip/keys", "", admin)
	if code != 200 || out["primary"] != "aa" {
		t.Errorf("list: %d %v", code, out)
	}
	// A backend without a keyring says so.
	plain := httptest.NewServer(Handler(Config{Backend: &fake{}}))
	defer plain.Close()
	if code, out := do(t, plain, "GET", "/v1/gossip/keys", "", nil); code != 501 {
		t.Errorf("no keyring: %d %v", code, out)
	}
}
