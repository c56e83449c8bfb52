// Command regionnode runs one region of a live iamprop cluster: the
// replication node on hashicorp/memberlist over real sockets, its durable
// mutation log, and the HTTP API of docs/api.md with Prometheus metrics.
//
//	regionnode --region eu-west-1 --gossip 127.0.0.1:7946 --join 127.0.0.1:7947 \
//	    --http 127.0.0.1:8080 --data-dir /var/lib/iamprop/eu-west-1
//
// It binds loopback by default and refuses any other address without a
// gossip key and an API token, and a non-loopback API without TLS
// (--insecure overrides, with a warning). docs/deploy.md sets up a
// deployment across hosts.
// SIGTERM or SIGINT leaves the cluster, drains the API and closes the log.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/api"
	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	code, out, errText := exitCode(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
	fmt.Fprint(os.Stdout, out)
	fmt.Fprint(os.Stderr, errText)
	os.Exit(code)
}

// run starts the region and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		var info *infoRequest
		if errors.As(err, &info) {
			return err
		}
		return &configError{err}
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return &configError{err}
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if cfg.Insecure && cfg.exposedInsecurely() {
		log.Warn().Str("gossip", cfg.Gossip).Str("http", cfg.HTTP).Strs("missing", cfg.missingProtection()).
			Msg("--insecure: listening beyond loopback unprotected; anyone who can reach these ports may join, read, write or eavesdrop")
	}
	initial := controlplane.NewState()
	if cfg.Account != "" {
		args, _ := json.Marshal(map[string]string{"account_id": cfg.Account})
		if err := initial.TryApply(controlplane.Call{Action: "organizations:CreateAccount", Args: args}); err != nil {
			return &configError{fmt.Errorf("--account %q: %w", cfg.Account, err)}
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := bridgeMemberlistMetrics(reg); err != nil {
		return err
	}

	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		if tlsCfg, err = api.ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA); err != nil {
			return err
		}
	}
	// Listen before joining, so the advertised API is up when peers look.
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("--http %s: %w", cfg.HTTP, err)
	}
	defer ln.Close()
	ln = api.LimitListener(ln, cfg.MaxConns)

	host, portText, _ := net.SplitHostPort(cfg.Gossip)
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("--gossip %q: bad port", cfg.Gossip)
	}
	lc := live.Config{
		Region: cfg.Region, BindAddr: host, BindPort: port, Join: cfg.Join, HTTPAddr: ln.Addr().String(),
		DataDir: cfg.DataDir, NoSync: cfg.NoSync, Recover: cfg.Recover, ExpectPeers: cfg.ExpectPeers, GossipKey: cfg.gossipKey, ClusterLabel: cfg.ClusterLabel,
		Preset: cfg.Preset, Initial: initial, Seed: cfg.Seed, Logger: log, Registerer: reg,
		Tune: func(c *memberlist.Config) {
			if cfg.GossipInterval > 0 {
				c.GossipInterval = cfg.GossipInterval
			}
			if cfg.GossipNodes > 0 {
				c.GossipNodes = cfg.GossipNodes
			}
			if cfg.RetransmitMult > 0 {
				c.RetransmitMult = cfg.RetransmitMult
			}
			if cfg.PushPull > 0 {
				c.PushPullInterval = cfg.PushPull
			}
			if cfg.ProbeInterval > 0 {
				c.ProbeInterval = cfg.ProbeInterval
			}
			if cfg.ProbeTimeout > 0 {
				c.ProbeTimeout = cfg.ProbeTimeout
			}
		},
	}
	if cfg.delay != nil {
		lc.Delay = cfg.delay
	}
	if cfg.Advertise != "" {
		ah, ap, _ := net.SplitHostPort(cfg.Advertise)
		lc.AdvertiseAddr = ah
		if lc.AdvertisePort, err = strconv.Atoi(ap); err != nil {
			return fmt.Errorf("--advertise %q: bad port", cfg.Advertise)
		}
	}
	// Every mutation is signed: with the key given (which must exist: a
	// mistyped path must not mint a key nobody trusts), or the one
	// generated into the data directory on first start.
	keyFile := cfg.SigningKeyFile
	var created bool
	if keyFile != "" {
		lc.SigningKey, err = live.ReadSigningKey(keyFile)
	} else {
		keyFile = filepath.Join(cfg.DataDir, live.SigningKeyFile)
		lc.SigningKey, created, err = live.LoadOrCreateSigningKey(keyFile)
	}
	if err != nil {
		return &configError{fmt.Errorf("--signing-key: %w", err)}
	}
	if cfg.TrustFile != "" {
		keys, err := live.ReadTrustFile(cfg.TrustFile)
		if err != nil {
			return &configError{fmt.Errorf("--trust: %w", err)}
		}
		lc.Trust = live.NewTrust(keys)
	}
	pub := live.EncodePublicKey(lc.SigningKey.Public().(ed25519.PublicKey))
	if created {
		log.Info().Str("file", keyFile).Str("public_key", pub).Msg("generated a signing key: add this region's public key to the trust file")
	}
	node, err := live.Start(ctx, lc)
	if err != nil {
		return err
	}
	h := api.Handler(api.Config{Backend: node, Token: cfg.apiToken, ReadToken: cfg.readToken, AdminToken: cfg.adminToken,
		FaultAPI: cfg.FaultAPI, MetricsNeedToken: cfg.ProtectMetrics, Gatherer: reg, Metrics: node.Metrics(), Logger: log})
	srv := api.NewServer(cfg.HTTP, h)
	srv.TLSConfig = tlsCfg
	// net/http's own complaints (bad requests, aborted handshakes) join the
	// structured log instead of going to stderr as plain text.
	srv.ErrorLog = stdlog.New(log.With().Str("component", "http").Logger(), "", 0)
	if cfg.PProf != "" {
		stopProf, err := servePProf(cfg.PProf)
		if err != nil {
			return fmt.Errorf("--pprof %s: %w", cfg.PProf, err)
		}
		defer stopProf()
		log.Warn().Str("pprof", cfg.PProf).Msg("serving Go's profiler on loopback (--pprof)")
	}
	serveErr := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			serveErr <- srv.ServeTLS(ln, "", "") // the key pair is in TLSConfig
			return
		}
		serveErr <- srv.Serve(ln)
	}()
	log.Info().Str("http", ln.Addr().String()).Str("gossip", node.GossipAddr()).Str("data_dir", cfg.DataDir).
		Bool("tls", tlsCfg != nil).Bool("mtls", cfg.ClientCA != "").Bool("api_token", cfg.apiToken != "").
		Bool("read_token", cfg.readToken != "").Bool("admin_token", cfg.adminToken != "").Bool("fault_api", cfg.FaultAPI).
		Str("signing_key", pub).Bool("trust_file", cfg.TrustFile != "").Msg("serving")

	select {
	case <-ctx.Done():
		log.Info().Msg("signal received: leaving the cluster")
	case err = <-serveErr:
		log.Error().Err(err).Msg("HTTP server failed")
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Warn().Err(serr).Msg("HTTP shutdown")
	}
	if nerr := node.Shutdown(5 * time.Second); nerr != nil {
		log.Warn().Err(nerr).Msg("node shutdown")
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// servePProf serves net/http/pprof on its own loopback listener and mux
// (never the API's, never http.DefaultServeMux), for profiling a node under
// load; the returned func closes it.
func servePProf(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// bridgeMemberlistMetrics sends memberlist's own metrics (probe and gossip
// timings, messages by type, push/pull, queue depth, health) to reg, as
// memberlist_* series with a region label. memberlist reports only through
// hashicorp/go-metrics' process-wide sink, so the bridge is installed here,
// in main, which owns the process; library code never touches the global.
func bridgeMemberlistMetrics(reg prometheus.Registerer) error {
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Registerer: reg, Expiration: 2 * time.Minute})
	if err != nil {
		return fmt.Errorf("memberlist metrics bridge: %w", err)
	}
	mc := gometrics.DefaultConfig("")
	mc.EnableHostname = false
	mc.EnableHostnameLabel = false
	mc.EnableRuntimeMetrics = false // the Go collector covers the runtime
	if _, err := gometrics.NewGlobal(mc, sink); err != nil {
		return fmt.Errorf("memberlist metrics bridge: %w", err)
	}
	return nil
}

func newLogger(cfg config, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339Nano}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
