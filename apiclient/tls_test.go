package apiclient

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A node on HTTPS with a certificate from a private CA is reached with
// that CA's file; without it the certificate is refused.
func TestCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	plain, err := New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Ready(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate error", err)
	}
	withCA, err := NewWith(srv.URL, Options{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if err := withCA.Ready(ctx); err != nil {
		t.Errorf("with the CA: %v", err)
	}
	for _, bad := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		if _, err := NewWith(srv.URL, Options{CAFile: bad}); err == nil {
			t.Errorf("CA file %s accepted", bad)
		}
	}
}
