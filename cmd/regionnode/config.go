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
	APITokenFile   string        `yaml:"api-token-file"`
	ClusterLabel   string        `yaml:"cluster-label"`
	Account        string        `yaml:"account"`
	Delay          string        `yaml:"delay"`
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
	ExpectPeers    bool          `yaml:"expect_peers"`
	Seed           uint64        `yaml:"seed"`

	// Secrets, read from the files above or from IAMPROP_GOSSIP_KEY
	// (base64) and IAMPROP_API_TOKEN; never from flags (visible in ps).
	gossipKey []byte
	apiToken  string
	delay     *delay.Model
}

func defaults() config {
	return config{
		Gossip: "127.0.0.1:7946", HTTP: "127.0.0.1:8080", ClusterLabel: "iamprop",
		Account: "111122223333", Preset: live.PresetLAN, LogLevel: "info", LogFormat: "json",
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
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: regionnode --region NAME [flags]\n\nEvery flag can also be set as IAMPROP_<FLAG> (e.g. IAMPROP_DATA_DIR) or in --config.\n\n")
		fs.PrintDefaults()
	}
	configFile := fs.String("config", "", "optional YAML or JSON config file (keys as the flag names)")
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
	fs.StringVar(&f.APITokenFile, "api-token-file", "", "file holding the API token required for writes and faults (or set IAMPROP_API_TOKEN)")
	fs.StringVar(&f.ClusterLabel, "cluster-label", cfg.ClusterLabel, "memberlist cluster label: gossip of other clusters is refused")
	fs.StringVar(&f.Account, "account", cfg.Account, "account created in the initial state (the default account); identical on every node")
	fs.StringVar(&f.Delay, "delay", "", `propagation delay: "2s", "1s..3s", plus per-link "origin>dest=DIST", comma-separated`)
	fs.StringVar(&f.Preset, "gossip-preset", cfg.Preset, "memberlist timing: local, lan or wan")
	fs.DurationVar(&f.GossipInterval, "gossip-interval", 0, "override the preset's gossip interval")
	fs.IntVar(&f.GossipNodes, "gossip-nodes", 0, "override the preset's gossip fanout")
	fs.IntVar(&f.RetransmitMult, "retransmit-mult", 0, "override the preset's retransmit multiplier")
	fs.DurationVar(&f.PushPull, "push-pull-interval", 0, "override the preset's push/pull (anti-entropy) interval")
	fs.DurationVar(&f.ProbeInterval, "probe-interval", 0, "override the preset's failure-detector probe interval")
	fs.DurationVar(&f.ProbeTimeout, "probe-timeout", 0, "override the preset's probe timeout")
	fs.StringVar(&f.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&f.LogFormat, "log-format", cfg.LogFormat, "json or console")
	fs.BoolVar(&f.Insecure, "insecure", false, "allow binding a non-loopback address without a gossip key and an API token (not for production)")
	fs.BoolVar(&f.NoSync, "no-sync", false, "skip fsync of the mutation log (benchmarks only: a crash may lose acknowledged mutations)")
	fs.BoolVar(&f.Recover, "recover", false, "start on a mutation log damaged before its end: keep every intact record, set the damaged bytes aside next to it (mutations.log.corrupt-OFFSET) and rewrite it")
	fs.BoolVar(&f.ExpectPeers, "expect-peers", false, "this region is one of several: started without its log's content (new or wiped), refuse writes until it heard from its peers, even without --join")
	fs.Uint64Var(&f.Seed, "seed", 0, "seed of the node's randomness (0: random)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
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
	case "api-token-file":
		c.APITokenFile = v
	case "cluster-label":
		c.ClusterLabel = v
	case "account":
		c.Account = v
	case "delay":
		c.Delay = v
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
	if c.Delay != "" {
		d, err := delay.ParseModel(c.Delay, live.ValidRegion)
		if err != nil {
			return fmt.Errorf("--delay: %w", err)
		}
		c.delay = d
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
	c.apiToken = getenv("IAMPROP_API_TOKEN")
	if c.APITokenFile != "" {
		b, err := os.ReadFile(c.APITokenFile)
		if err != nil {
			return fmt.Errorf("--api-token-file: %w", err)
		}
		c.apiToken = string(b)
	}
	c.apiToken = strings.TrimSpace(c.apiToken)
	if c.apiToken != "" && len(c.apiToken) < 16 {
		return errors.New("API token: shorter than 16 characters; use a random one (head -c 24 /dev/urandom | base64)")
	}
	return c.checkExposure()
}

// checkExposure refuses to listen beyond loopback without both a gossip key
// and an API token, unless --insecure says so explicitly.
func (c *config) checkExposure() error {
	var exposed []string
	for _, a := range []struct{ flag, addr string }{{"--gossip", c.Gossip}, {"--http", c.HTTP}} {
		if !isLoopback(a.addr) {
			exposed = append(exposed, a.flag+" "+a.addr)
		}
	}
	if len(exposed) == 0 || (len(c.gossipKey) > 0 && c.apiToken != "") || c.Insecure {
		return nil
	}
	var missing []string
	if len(c.gossipKey) == 0 {
		missing = append(missing, "a gossip key (--gossip-key-file or IAMPROP_GOSSIP_KEY)")
	}
	if c.apiToken == "" {
		missing = append(missing, "an API token (--api-token-file or IAMPROP_API_TOKEN)")
	}
	return fmt.Errorf("refusing to listen beyond loopback (%s) without %s; pass --insecure to override for a throwaway experiment",
		strings.Join(exposed, ", "), strings.Join(missing, " and "))
}

// exposedInsecurely reports whether --insecure is actually overriding.
func (c *config) exposedInsecurely() bool {
	return (!isLoopback(c.Gossip) || !isLoopback(c.HTTP)) && (len(c.gossipKey) == 0 || c.apiToken == "")
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
