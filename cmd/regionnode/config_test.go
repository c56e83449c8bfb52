package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adminFile := filepath.Join(dir, "admin")
	if err := os.WriteFile(adminFile, []byte("admin-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(cfgFile, []byte("region: from-file\nhttp: 127.0.0.1:9000\ngossip-interval: 50ms\njoin: [127.0.0.1:1, 127.0.0.1:2]\nexpect-peers: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte("region: x\nunknown-key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c config)
		err   string
	}{
		{name: "loopback defaults", args: []string{"--region", "eu-west-1"}, check: func(t *testing.T, c config) {
			if c.Gossip != "127.0.0.1:7946" || c.HTTP != "127.0.0.1:8080" || c.DataDir != "iamprop-data/eu-west-1" || c.gossipKey != nil || c.apiToken != "" || c.Recover {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "region required", args: nil, err: "--region is required"},
		{name: "pprof on loopback", args: []string{"--region", "a", "--pprof", "127.0.0.1:6060"}, check: func(t *testing.T, c config) {
			if c.PProf != "127.0.0.1:6060" {
				t.Errorf("--pprof not set: %+v", c)
			}
		}},
		{name: "pprof never beyond loopback", args: []string{"--region", "a", "--pprof", "0.0.0.0:6060", "--insecure"}, err: "--pprof"},
		{name: "recover by flag", args: []string{"--region", "a", "--recover"}, check: func(t *testing.T, c config) {
			if !c.Recover {
				t.Errorf("--recover not set: %+v", c)
			}
		}},
		{name: "recover from env", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_RECOVER": "true"}, check: func(t *testing.T, c config) {
			if !c.Recover {
				t.Errorf("IAMPROP_RECOVER=true not applied: %+v", c)
			}
		}},
		{name: "recover not a bool", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_RECOVER": "maybe"}, err: "recover"},
		{name: "expect peers by default", args: []string{"--region", "a"}, check: func(t *testing.T, c config) {
			if !c.ExpectPeers {
				t.Errorf("a region does not expect peers by default: %+v", c)
			}
		}},
		{name: "a one-region cluster by flag", args: []string{"--region", "a", "--expect-peers=false"}, check: func(t *testing.T, c config) {
			if c.ExpectPeers {
				t.Errorf("--expect-peers=false not applied: %+v", c)
			}
		}},
		{name: "a one-region cluster from env", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_EXPECT_PEERS": "false"}, check: func(t *testing.T, c config) {
			if c.ExpectPeers {
				t.Errorf("IAMPROP_EXPECT_PEERS=false not applied: %+v", c)
			}
		}},
		{name: "env sets what flags do not", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_HTTP": "127.0.0.1:9999", "IAMPROP_JOIN": "127.0.0.1:1,127.0.0.1:2", "IAMPROP_GOSSIP_INTERVAL": "30ms"},
			check: func(t *testing.T, c config) {
				if c.HTTP != "127.0.0.1:9999" || len(c.Join) != 2 || c.GossipInterval != 30*time.Millisecond {
					t.Errorf("env: %+v", c)
				}
			}},
		{name: "flags beat env", args: []string{"--region", "a", "--http", "127.0.0.1:1234"}, env: map[string]string{"IAMPROP_HTTP": "127.0.0.1:9999", "IAMPROP_REGION": "b"},
			check: func(t *testing.T, c config) {
				if c.HTTP != "127.0.0.1:1234" || c.Region != "a" {
					t.Errorf("precedence: %+v", c)
				}
			}},
		{name: "config file, env over file", args: []string{"--config", cfgFile}, env: map[string]string{"IAMPROP_HTTP": "127.0.0.1:9999"},
			check: func(t *testing.T, c config) {
				if c.Region != "from-file" || c.HTTP != "127.0.0.1:9999" || c.GossipInterval != 50*time.Millisecond || len(c.Join) != 2 || c.ExpectPeers {
					t.Errorf("file: %+v", c)
				}
			}},
		{name: "config file unknown key", args: []string{"--config", badFile}, err: "unknown-key"},
		{name: "non-loopback refused without secrets", args: []string{"--region", "a", "--http", "0.0.0.0:8080"}, err: "refusing to listen beyond loopback"},
		{name: "non-loopback gossip refused with only a token", args: []string{"--region", "a", "--gossip", "10.0.0.5:7946", "--api-token-file", tokenFile}, err: "gossip key"},
		{name: "non-loopback API refused without TLS", args: []string{"--region", "a", "--http", "0.0.0.0:8080", "--gossip-key-file", keyFile, "--api-token-file", tokenFile}, err: "TLS on the API"},
		{name: "non-loopback gossip needs no TLS", args: []string{"--region", "a", "--gossip", "10.0.0.5:7946", "--gossip-key-file", keyFile, "--api-token-file", tokenFile},
			check: func(t *testing.T, c config) {
				if len(c.gossipKey) != 32 || c.apiToken != "file-token-0123456789" || c.exposedInsecurely() {
					t.Errorf("secrets: key %d bytes, token %q, insecure %v", len(c.gossipKey), c.apiToken, c.exposedInsecurely())
				}
			}},
		{name: "non-loopback allowed with key, token and TLS", args: []string{"--region", "a", "--http", "0.0.0.0:8080", "--gossip-key-file", keyFile, "--api-token-file", tokenFile,
			"--admin-token-file", adminFile, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--client-ca", "ca.pem", "--enable-fault-api"},
			env: map[string]string{"IAMPROP_READ_TOKEN": "read-token-0123456789"},
			check: func(t *testing.T, c config) {
				if c.apiToken != "file-token-0123456789" || c.adminToken != "admin-token-0123456789" || c.readToken != "read-token-0123456789" ||
					c.TLSCert != "c.pem" || c.ClientCA != "ca.pem" || !c.FaultAPI || c.exposedInsecurely() {
					t.Errorf("config: %+v", c)
				}
			}},
		{name: "fault API off by default, connections capped", args: []string{"--region", "a"}, check: func(t *testing.T, c config) {
			if c.FaultAPI || c.ProtectMetrics || c.MaxConns != 1024 {
				t.Errorf("defaults: fault API %v, protect metrics %v, max connections %d", c.FaultAPI, c.ProtectMetrics, c.MaxConns)
			}
		}},
		{name: "one token for two roles", args: []string{"--region", "a", "--api-token-file", tokenFile}, env: map[string]string{"IAMPROP_ADMIN_TOKEN": "file-token-0123456789"}, err: "are the same"},
		{name: "short admin token", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_ADMIN_TOKEN": "short"}, err: "admin token: shorter than 16"},
		{name: "tls cert without key", args: []string{"--region", "a", "--tls-cert", "c.pem"}, err: "go together"},
		{name: "client CA without TLS", args: []string{"--region", "a", "--client-ca", "ca.pem"}, err: "--client-ca needs"},
		{name: "negative connection cap", args: []string{"--region", "a", "--max-connections", "-1"}, err: "max-connections"},
		{name: "collector target by default", args: []string{"--region", "a"}, check: func(t *testing.T, c config) {
			if c.GCPercent != defaultGCPercent {
				t.Errorf("gc percent %d, want %d", c.GCPercent, defaultGCPercent)
			}
		}},
		{name: "collector target from the environment", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_GC_PERCENT": "-1"}, check: func(t *testing.T, c config) {
			if c.GCPercent != -1 {
				t.Errorf("gc percent %d, want -1", c.GCPercent)
			}
		}},
		{name: "zero collector target", args: []string{"--region", "a", "--gc-percent", "0"}, err: "--gc-percent 0"},
		{name: "non-loopback with --insecure", args: []string{"--region", "a", "--http", "0.0.0.0:8080", "--insecure", "--gossip-key-file", keyFile, "--api-token-file", tokenFile}, check: func(t *testing.T, c config) {
			if !c.exposedInsecurely() || !strings.Contains(strings.Join(c.missingProtection(), ","), "TLS") {
				t.Error("not flagged as insecure")
			}
		}},
		{name: "key from env", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_GOSSIP_KEY": testKey, "IAMPROP_API_TOKEN": "env-token-0123456789"},
			check: func(t *testing.T, c config) {
				if len(c.gossipKey) != 32 || c.apiToken != "env-token-0123456789" {
					t.Errorf("env secrets: %d %q", len(c.gossipKey), c.apiToken)
				}
			}},
		{name: "key wrong size", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_GOSSIP_KEY": "c2hvcnQ="}, err: "want 16, 24 or 32"},
		{name: "key not base64", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_GOSSIP_KEY": "!!!"}, err: "not base64"},
		{name: "short token", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_API_TOKEN": "short"}, err: "shorter than 16"},
		{name: "bad preset", args: []string{"--region", "a", "--gossip-preset", "fast"}, err: "want local, lan or wan"},
		{name: "bad delay", args: []string{"--region", "a", "--delay", "soon"}, err: "--delay"},
		{name: "bad address", args: []string{"--region", "a", "--http", "8080"}, err: "want host:port"},
		{name: "bad env duration", args: []string{"--region", "a"}, env: map[string]string{"IAMPROP_PROBE_INTERVAL": "often"}, err: "probe-interval"},
		{name: "stray argument", args: []string{"--region", "a", "extra"}, err: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--regoin", "a"}, err: "unknown flag --regoin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, err := loadConfig(tc.args, getenv, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:1": true, "127.5.5.5:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "example.com:1": false, "bad": false,
	}
	for in, want := range cases {
		if got := isLoopback(in); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}
