package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/apiclient"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	dir                                string
	caFile, certFile, keyFile          string
	clientCert, clientKey, otherCAFile string
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, der
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, usage x509.ExtKeyUsage, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "iamprop-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kb)
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	p := testPKI{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server-key.pem"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client-key.pem"), otherCAFile: filepath.Join(dir, "other-ca.pem")}
	ca, caKey, caDER := newCA(t, "iamprop test CA")
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	issue(t, ca, caKey, 2, x509.ExtKeyUsageServerAuth, p.certFile, p.keyFile)
	issue(t, ca, caKey, 3, x509.ExtKeyUsageClientAuth, p.clientCert, p.clientKey)
	_, _, otherDER := newCA(t, "another CA")
	writePEM(t, p.otherCAFile, "CERTIFICATE", otherDER)
	return p
}

func tlsServer(t *testing.T, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(Handler(Config{Backend: &fake{}, ReadToken: readTok}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPS(t *testing.T) {
	p := newPKI(t)
	plain, err := ServerTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	mutual, err := ServerTLS(p.certFile, p.keyFile, p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name   string
		server *tls.Config
		opts   apiclient.Options
		errHas string // "" for success
	}{
		{"CA file verifies the server", plain, apiclient.Options{ReadToken: readTok, CAFile: p.caFile}, ""},
		{"system roots do not know the test CA", plain, apiclient.Options{ReadToken: readTok}, "certificate"},
		{"another CA is refused", plain, apiclient.Options{ReadToken: readTok, CAFile: p.otherCAFile}, "certificate"},
		{"TLS without the read token", plain, apiclient.Options{CAFile: p.caFile}, "401"},
		{"mTLS with a client certificate", mutual, apiclient.Options{ReadToken: readTok, CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}, ""},
		{"mTLS without a client certificate", mutual, apiclient.Options{ReadToken: readTok, CAFile: p.caFile}, "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tlsServer(t, tc.server.Clone())
			if !strings.HasPrefix(srv.URL, "https://") {
				t.Fatalf("server URL %s", srv.URL)
			}
			c, err := apiclient.NewWith(srv.URL, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.View(ctx)
			switch {
			case tc.errHas == "" && (err != nil || v.Region != "eu-west-1"):
				t.Errorf("View = %+v, %v", v, err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("err = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

func TestHTTPSRefusesOldTLSAndPlainHTTP(t *testing.T) {
	p := newPKI(t)
	cfg, err := ServerTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsServer(t, cfg)
	pool, _ := apiclient.LoadCertPool(p.caFile)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: v, MaxVersion: v}}}
		if resp, err := cl.Get(srv.URL + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	plainURL := "http://" + strings.TrimPrefix(srv.URL, "https://")
	if resp, err := http.Get(plainURL + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
		resp.Body.Close()
	}
}

func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	junk := filepath.Join(p.dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for name, f := range map[string]func() error{
		"server without key":      func() error { _, err := ServerTLS(p.certFile, "", ""); return err },
		"server key mismatch":     func() error { _, err := ServerTLS(p.certFile, p.clientKey, ""); return err },
		"server client CA junk":   func() error { _, err := ServerTLS(p.certFile, p.keyFile, junk); return err },
		"client CA missing":       func() error { _, err := apiclient.TLSConfig(filepath.Join(p.dir, "nope"), "", ""); return err },
		"client cert without key": func() error { _, err := apiclient.TLSConfig("", p.clientCert, ""); return err },
		"client URL not http(s)":  func() error { _, err := apiclient.NewWith("ftp://x", apiclient.Options{}); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(inner, 2).(*limitListener)
	defer ln.Close()
	var dialed []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dialed = append(dialed, c)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	if len(ln.sem) != cap(ln.sem) {
		t.Fatalf("%d of %d slots taken after two accepts", len(ln.sem), cap(ln.sem))
	}
	third := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		third <- err
	}()
	// The third Accept can only return once a slot frees: closing twice
	// frees one slot, not two.
	a.Close()
	a.Close()
	if err := <-third; err != nil {
		t.Fatalf("third accept: %v", err)
	}
	if got := len(ln.sem); got != 1 {
		t.Errorf("%d slots taken, want 1 (the second connection)", got)
	}
	// Close unblocks a waiting Accept.
	ln.sem <- struct{}{}
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	ln.Close()
	if err := <-done; err == nil {
		t.Error("Accept after Close succeeded")
	}
	if LimitListener(inner, 0) != inner {
		t.Error("n=0 wrapped the listener")
	}
}
