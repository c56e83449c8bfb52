package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// config is the region server's configuration. Every field comes, in
// order of precedence, from a flag, an IAMPROP_* environment variable, the
// optional config file (YAML or JSON, keys as the flag names) or its
// default.
type config struct {
	Region         string        `yaml:"region"`
	Gossip         string        `yaml:"gossip"`    // bind host:port
	Advertise      string        `yaml:"advertise"` // host:port peers dial; default the bind address
	Join           []string      `yaml:"join"`
	HTTP           string        `yaml:"http"`
	DataDir        string        `yaml:"data-dir"`
	GossipKeyFile  string        `yaml:"gossip-key-file"`
	SigningKeyFile string        `yaml:"signing-key"`
	TrustFile      string        `yaml:"trust"`
	APITokenFile   string        `yaml:"api-token-file"`
	ReadTokenFile  string        `yaml:"read-token-file"`
	AdminTokenFile string        `yaml:"admin-token-file"`
	FaultAPI       bool          `yaml:"enable-fault-api"`
	ProtectMetrics bool          `yaml:"protect-metrics"`
	TLSCert        string        `yaml:"tls-cert"`
	TLSKey         string        `yaml:"tls-key"`
	ClientCA       string        `yaml:"client-ca"`
	MaxConns       int           `yaml:"max-connections"`
	ClusterLabel   string        `yaml:"cluster-label"`
	Account        string        `yaml:"account"`
	Delay          string        `yaml:"delay"`
	Propagation    string        `yaml:"propagation"`
	Preset         string        `yaml:"gossip-preset"`
	GossipInterval time.Duration `yaml:"gossip-interval"`
	GossipNodes    int           `yaml:"gossip-nodes"`
	RetransmitMult int           `yaml:"retransmit-mult"`
	PushPull       time.Duration `yaml:"push-pull-interval"`
	ProbeInterval  time.Duration `yaml:"probe-interval"`
	ProbeTimeout   time.Duration `yaml:"probe-timeout"`
	LogLevel       string        `yaml:"log-level"`
	LogFormat      string        `yaml:"log-format"`
	Insecure       bool          `yaml:"insecure"`
	NoSync         bool          `yaml:"no-sync"`
	Recover        bool          `yaml:"recover"`
	ExpectPeers    bool          `yaml:"expect-peers"`
	Seed           uint64        `yaml:"seed"`
	PProf          string        `yaml:"pprof"`
	GCPercent      int           `yaml:"gc-percent"`

	// Secrets, read from the files above or from IAMPROP_GOSSIP_KEY
	// (base64), IAMPROP_API_TOKEN, IAMPROP_READ_TOKEN and
	// IAMPROP_ADMIN_TOKEN; never from flags (visible in ps).
	gossipKey  []byte
	apiToken   string
	readToken  string
	adminToken string
	delay      *delay.Model
}

// defaultGCPercent is --gc-percent's default. A region node keeps little
// live data between requests (its view and log index) and allocates per
// request in net/http; collecting at 4x the live heap rather than Go's 2x
// cut the CPU per authorize answer by about a tenth under load
// (docs/benchmarks.md, "regionnode under load") for a few tens of MB.
const defaultGCPercent = 400

func defaults() config {
	return config{
		Gossip: "127.0.0.1:7946", HTTP: "127.0.0.1:8080", ClusterLabel: "iamprop",
		Account: "111122223333", Preset: live.PresetLAN, LogLevel: "info", LogFormat: "json",
		GCPercent: defaultGCPercent,
		MaxConns:  1024,
		// A region is one of several unless told otherwise: a seed whose
		// disk was wiped must not validate writes against an empty view,
		// and nothing on its (empty) disk can tell it apart from a new one.
		ExpectPeers: true,
	}
}

// envName maps a flag name to its environment variable: data-dir ->
// IAMPROP_DATA_DIR.
func envName(flagName string) string {
	return "IAMPROP_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig parses args, the environment and the config file.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := defaults()
	fs := flag.NewFlagSet("regionnode", flag.ContinueOnError)
	// The flag package would print its error and the whole usage to
	// stderr; the caller prints one line instead, and --help on stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	configFile := fs.String("config", "", "optional YAML or JSON config file (keys as the flag names)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	// Bind the flags to a scratch copy; apply those set explicitly last.
	var f config
	join := ""
	fs.StringVar(&f.Region, "region", "", "this region's name, e.g. eu-west-1 (required)")
	fs.StringVar(&f.Gossip, "gossip", cfg.Gossip, "gossip bind address host:port (UDP and TCP)")
	fs.StringVar(&f.Advertise, "advertise", "", "gossip address peers dial, host:port (default: the bind address)")
	fs.StringVar(&join, "join", "", "comma-separated gossip addresses of existing members")
	fs.StringVar(&f.HTTP, "http", cfg.HTTP, "HTTP API listen address host:port")
	fs.StringVar(&f.DataDir, "data-dir", "", "directory of the durable mutation log (default ./iamprop-data/REGION)")
	fs.StringVar(&f.GossipKeyFile, "gossip-key-file", "", "file holding the gossip encryption key, base64 of 16, 24 or 32 bytes (or set IAMPROP_GOSSIP_KEY)")
	fs.StringVar(&f.SigningKeyFile, "signing-key", "", "file holding this region's Ed25519 signing key, base64 of its 32-byte seed, mode 0600; must exist (default DATA-DIR/signing.key, generated on first start)")
	fs.StringVar(&f.TrustFile, "trust", "", "trust file, YAML or JSON: region -> base64 Ed25519 public key; without it each region's first advertised key is pinned (trust on first use)")
	fs.StringVar(&f.APITokenFile, "api-token-file", "", "file holding the write token, for POST /v1/mutations and reads (or set IAMPROP_API_TOKEN)")
	fs.StringVar(&f.ReadTokenFile, "read-token-file", "", "file holding the read token, for the endpoints that reveal IAM state (or set IAMPROP_READ_TOKEN)")
	fs.StringVar(&f.AdminTokenFile, "admin-token-file", "", "file holding the admin token, for faults, member removal and gossip key rotation (or set IAMPROP_ADMIN_TOKEN)")
	fs.BoolVar(&f.FaultAPI, "enable-fault-api", false, "serve POST and DELETE /v1/faults (experiments; off, they answer 403)")
	fs.BoolVar(&f.ProtectMetrics, "protect-metrics", false, "require the read token on /metrics")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "PEM certificate (chain) of the HTTPS API; with --tls-key")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.ClientCA, "client-ca", "", "PEM CA bundle: require API clients to present a certificate it signed (mTLS)")
	fs.IntVar(&f.MaxConns, "max-connections", cfg.MaxConns, "cap on the API's open connections (0: no cap)")
	fs.StringVar(&f.ClusterLabel, "cluster-label", cfg.ClusterLabel, "memberlist cluster label: gossip of other clusters is refused")
	fs.StringVar(&f.Account, "account", cfg.Account, "account created in the initial state (the default account); identical on every node")
	fs.StringVar(&f.Delay, "delay", "", `propagation delay model: DIST, per-link "origin>dest=DIST" and "revoke=DIST", comma-separated; DIST is "2s", "1s..3s" or any scenario distribution as a call, e.g. "lognormal(median 4s, p99 10s)" (docs/api.md)`)
	fs.StringVar(&f.Propagation, "propagation", "", "propagation delay model from a file: a scenario's propagation block, or a scenario file (every distribution a scenario takes)")
	fs.StringVar(&f.Preset, "gossip-preset", cfg.Preset, "memberlist timing: local, lan or wan")
	fs.DurationVar(&f.GossipInterval, "gossip-interval", 0, "override the preset's gossip interval")
	fs.IntVar(&f.GossipNodes, "gossip-nodes", 0, "override the preset's gossip fanout")
	fs.IntVar(&f.RetransmitMult, "retransmit-mult", 0, "override the preset's retransmit multiplier")
	fs.DurationVar(&f.PushPull, "push-pull-interval", 0, "override the preset's push/pull (anti-entropy) interval")
	fs.DurationVar(&f.ProbeInterval, "probe-interval", 0, "override the preset's failure-detector probe interval")
	fs.DurationVar(&f.ProbeTimeout, "probe-timeout", 0, "override the preset's probe timeout")
	fs.StringVar(&f.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&f.LogFormat, "log-format", cfg.LogFormat, "json or console")
	fs.BoolVar(&f.Insecure, "insecure", false, "allow binding a non-loopback address without a gossip key, an API token or TLS (not for production)")
	fs.BoolVar(&f.NoSync, "no-sync", false, "skip fsync of the mutation log (benchmarks only: a crash may lose acknowledged mutations)")
	fs.BoolVar(&f.Recover, "recover", false, "start on a mutation log damaged before its end: keep every intact record, set the damaged bytes aside next to it (mutations.log.corrupt-OFFSET), rewrite it in a new epoch, and recover from every reachable peer before committing")
	fs.BoolVar(&f.ExpectPeers, "expect-peers", cfg.ExpectPeers, "this region is one of several: started without its log's content (new or wiped), refuse writes until it heard from its peers, even without --join; --expect-peers=false for a region that is a whole cluster by itself")
	fs.Uint64Var(&f.Seed, "seed", 0, "seed of the node's randomness (0: random)")
	fs.StringVar(&f.PProf, "pprof", "", "serve Go's profiler (net/http/pprof) on this loopback host:port, for profiling under load (off by default)")
	fs.IntVar(&f.GCPercent, "gc-percent", cfg.GCPercent, "the garbage collector's target, as GOGC: the heap may grow this many percent over the live data before a collection (-1: off); GOGC in the environment wins")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, &infoRequest{text: usageText(fs)}
		}
		// The flag package names flags with one dash; the docs use two.
		msg := strings.Replace(err.Error(), "flag provided but not defined: -", "unknown flag --", 1)
		msg = strings.Replace(msg, " for flag -", " for flag --", 1)
		return cfg, errors.New(msg)
	}
	if *showVersion {
		return cfg, &infoRequest{text: "regionnode " + versionString() + "\n"}
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q (flags only)", fs.Args())
	}
	f.Join = splitList(join)

	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if *configFile == "" {
		*configFile = getenv("IAMPROP_CONFIG")
	}
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config file %s: %w", *configFile, err)
		}
	}
	// Environment over file, flags over environment.
	var errs []error
	fs.VisitAll(func(fl *flag.Flag) {
		if fl.Name == "config" {
			return
		}
		var v string
		if set[fl.Name] {
			v = fl.Value.String()
			if fl.Name == "join" {
				v = join
			}
		} else if e := getenv(envName(fl.Name)); e != "" {
			v = e
		} else {
			return
		}
		if err := cfg.set(fl.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fl.Name, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	return cfg, cfg.finish(getenv)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// set assigns one setting from its string form (flag or environment).
func (c *config) set(name, v string) error {
	var err error
	dur := func(d *time.Duration) { *d, err = time.ParseDuration(v) }
	integer := func(i *int) { *i, err = strconv.Atoi(v) }
	switch name {
	case "region":
		c.Region = v
	case "gossip":
		c.Gossip = v
	case "advertise":
		c.Advertise = v
	case "join":
		c.Join = splitList(v)
	case "http":
		c.HTTP = v
	case "data-dir":
		c.DataDir = v
	case "gossip-key-file":
		c.GossipKeyFile = v
	case "signing-key":
		c.SigningKeyFile = v
	case "trust":
		c.TrustFile = v
	case "api-token-file":
		c.APITokenFile = v
	case "read-token-file":
		c.ReadTokenFile = v
	case "admin-token-file":
		c.AdminTokenFile = v
	case "enable-fault-api":
		c.FaultAPI, err = strconv.ParseBool(v)
	case "protect-metrics":
		c.ProtectMetrics, err = strconv.ParseBool(v)
	case "tls-cert":
		c.TLSCert = v
	case "tls-key":
		c.TLSKey = v
	case "client-ca":
		c.ClientCA = v
	case "max-connections":
		integer(&c.MaxConns)
	case "cluster-label":
		c.ClusterLabel = v
	case "account":
		c.Account = v
	case "delay":
		c.Delay = v
	case "propagation":
		c.Propagation = v
	case "gossip-preset":
		c.Preset = v
	case "gossip-interval":
		dur(&c.GossipInterval)
	case "gossip-nodes":
		integer(&c.GossipNodes)
	case "retransmit-mult":
		integer(&c.RetransmitMult)
	case "push-pull-interval":
		dur(&c.PushPull)
	case "probe-interval":
		dur(&c.ProbeInterval)
	case "probe-timeout":
		dur(&c.ProbeTimeout)
	case "log-level":
		c.LogLevel = v
	case "log-format":
		c.LogFormat = v
	case "insecure":
		c.Insecure, err = strconv.ParseBool(v)
	case "no-sync":
		c.NoSync, err = strconv.ParseBool(v)
	case "recover":
		c.Recover, err = strconv.ParseBool(v)
	case "expect-peers":
		c.ExpectPeers, err = strconv.ParseBool(v)
	case "seed":
		c.Seed, err = strconv.ParseUint(v, 10, 64)
	case "pprof":
		c.PProf = v
	case "gc-percent":
		integer(&c.GCPercent)
	default:
		return fmt.Errorf("unknown setting")
	}
	return err
}

// finish validates, reads the secrets and applies the security rule.
func (c *config) finish(getenv func(string) string) error {
	if c.Region == "" {
		return errors.New("--region is required (e.g. --region eu-west-1)")
	}
	if _, _, err := net.SplitHostPort(c.Gossip); err != nil {
		return fmt.Errorf("--gossip %q: want host:port: %v", c.Gossip, err)
	}
	// The profiler reveals memory contents and costs CPU on demand: never
	// beyond loopback, whatever --insecure says.
	if c.PProf != "" && !isLoopback(c.PProf) {
		return fmt.Errorf("--pprof %q: want a loopback host:port, e.g. 127.0.0.1:6060", c.PProf)
	}
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("--http %q: want host:port: %v", c.HTTP, err)
	}
	if c.Advertise != "" {
		if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
			return fmt.Errorf("--advertise %q: want host:port: %v", c.Advertise, err)
		}
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return fmt.Errorf("--join %q: want host:port: %v", j, err)
		}
	}
	if c.DataDir == "" {
		c.DataDir = "iamprop-data/" + c.Region
	}
	switch c.Preset {
	case live.PresetLocal, live.PresetLAN, live.PresetWAN:
	default:
		return fmt.Errorf("--gossip-preset %q: want local, lan or wan", c.Preset)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return fmt.Errorf("--log-format %q: want json or console", c.LogFormat)
	}
	if c.Delay != "" && c.Propagation != "" {
		return errors.New("--delay and --propagation exclude each other: give the model once")
	}
	if c.Delay != "" {
		d, err := delay.ParseModel(c.Delay, live.ValidRegion)
		if err != nil {
			return fmt.Errorf("--delay: %w", err)
		}
		c.delay = d
	}
	if c.Propagation != "" {
		// The scenario runner's own reader and builder, so the node runs
		// exactly the model a scenario with this block would.
		pr, err := scenarios.LoadPropagation(c.Propagation)
		if err != nil {
			return fmt.Errorf("--propagation: %w", err)
		}
		if c.delay, err = runner.PropagationModel(pr); err != nil {
			return fmt.Errorf("--propagation %s: %w", c.Propagation, err)
		}
	}
	// Secrets: file first, then environment.
	keyText := getenv("IAMPROP_GOSSIP_KEY")
	if c.GossipKeyFile != "" {
		b, err := os.ReadFile(c.GossipKeyFile)
		if err != nil {
			return fmt.Errorf("--gossip-key-file: %w", err)
		}
		keyText = string(b)
	}
	if keyText = strings.TrimSpace(keyText); keyText != "" {
		k, err := base64.StdEncoding.DecodeString(keyText)
		if err != nil {
			return fmt.Errorf("gossip key: not base64: %v (generate one with: head -c 32 /dev/urandom | base64)", err)
		}
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return fmt.Errorf("gossip key: %d bytes; want 16, 24 or 32 (generate one with: head -c 32 /dev/urandom | base64)", l)
		}
		c.gossipKey = k
	}
	var err error
	if c.apiToken, err = readToken("API token", "--api-token-file", c.APITokenFile, getenv("IAMPROP_API_TOKEN")); err != nil {
		return err
	}
	if c.readToken, err = readToken("read token", "--read-token-file", c.ReadTokenFile, getenv("IAMPROP_READ_TOKEN")); err != nil {
		return err
	}
	if c.adminToken, err = readToken("admin token", "--admin-token-file", c.AdminTokenFile, getenv("IAMPROP_ADMIN_TOKEN")); err != nil {
		return err
	}
	// One secret for two roles would let its holder act in the higher one.
	toks := []struct{ name, v string }{{"read", c.readToken}, {"API (write)", c.apiToken}, {"admin", c.adminToken}}
	for i := range toks {
		for j := i + 1; j < len(toks); j++ {
			if toks[i].v != "" && toks[i].v == toks[j].v {
				return fmt.Errorf("the %s token and the %s token are the same; give each role its own token", toks[i].name, toks[j].name)
			}
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return errors.New("--client-ca needs --tls-cert and --tls-key (client certificates are checked in the TLS handshake)")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("--max-connections %d: want 0 (no cap) or more", c.MaxConns)
	}
	if c.GCPercent < 1 && c.GCPercent != -1 {
		return fmt.Errorf("--gc-percent %d: want 1 or more, or -1 (off)", c.GCPercent)
	}
	return c.checkExposure()
}

// readToken reads a token from its file or, without one, from the
// environment value env.
func readToken(what, flagName, file, env string) (string, error) {
	tok := env
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flagName, err)
		}
		tok = string(b)
	}
	tok = strings.TrimSpace(tok)
	if tok != "" && len(tok) < 16 {
		return "", fmt.Errorf("%s: shorter than 16 characters; use a random one (head -c 24 /dev/urandom | base64)", what)
	}
	return tok, nil
}

// checkExposure refuses to listen beyond loopback without a gossip key and
// an API token, and to serve the API beyond loopback without TLS, unless
// --insecure says so explicitly. (Once a token is set every endpoint but
// the probes needs one; see api.Config.)
func (c *config) checkExposure() error {
	var exposed []string
	for _, a := range []struct{ flag, addr string }{{"--gossip", c.Gossip}, {"--http", c.HTTP}} {
		if !isLoopback(a.addr) {
			exposed = append(exposed, a.flag+" "+a.addr)
		}
	}
	missing := c.missingProtection()
	if len(exposed) == 0 || len(missing) == 0 || c.Insecure {
		return nil
	}
	return fmt.Errorf("refusing to listen beyond loopback (%s) without %s; pass --insecure to override for a throwaway experiment",
		strings.Join(exposed, ", "), strings.Join(missing, " and "))
}

// missingProtection lists what a node listening beyond loopback lacks.
func (c *config) missingProtection() []string {
	exposed := !isLoopback(c.Gossip) || !isLoopback(c.HTTP)
	if !exposed {
		return nil
	}
	var missing []string
	if len(c.gossipKey) == 0 {
		missing = append(missing, "a gossip key (--gossip-key-file or IAMPROP_GOSSIP_KEY)")
	}
	if c.apiToken == "" {
		missing = append(missing, "an API token (--api-token-file or IAMPROP_API_TOKEN)")
	}
	if !isLoopback(c.HTTP) && c.TLSCert == "" {
		missing = append(missing, "TLS on the API (--tls-cert and --tls-key)")
	}
	return missing
}

// exposedInsecurely reports whether --insecure is actually overriding.
func (c *config) exposedInsecurely() bool {
	return len(c.missingProtection()) > 0
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
