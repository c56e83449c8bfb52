package main

import (
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// versionString is the -ldflags version, or the module version or VCS
// revision recorded in the binary when built from a clone.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return version
}

// infoRequest is --help or --version: text for stdout, then exit 0.
type infoRequest struct{ text string }

func (r *infoRequest) Error() string { return "help requested" }

// Unwrap lets callers test for flag.ErrHelp.
func (r *infoRequest) Unwrap() error { return flag.ErrHelp }

// configError is a bad flag, environment variable or config file: exit 2,
// as scenario does for invalid input. Failures at run time exit 1.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitCode maps run's error to the process exit status and what to print.
func exitCode(err error) (code int, stdout, stderr string) {
	var info *infoRequest
	var ce *configError
	switch {
	case err == nil:
		return 0, "", ""
	case errors.As(err, &info):
		return 0, info.text, ""
	case errors.As(err, &ce):
		msg := "regionnode: " + ce.Error()
		if !strings.HasPrefix(ce.Error(), "--") && strings.Contains(ce.Error(), "flag") {
			msg += " (see regionnode --help)"
		}
		return 2, "", msg + "\n"
	default:
		return 1, "", "regionnode: " + err.Error() + "\n"
	}
}

const helpHead = `usage: regionnode --region NAME [flags]

regionnode runs one region of a live iamprop cluster: the replication node on
hashicorp/memberlist (gossip over UDP and TCP), a durable mutation log, and the
HTTP API of docs/api.md with Prometheus metrics on /metrics. It binds loopback
by default and refuses any other address without a gossip key and an API token.
SIGTERM or SIGINT leaves the cluster, drains the API and closes the log.

Every flag can also be set as IAMPROP_<FLAG> (e.g. IAMPROP_DATA_DIR) or in
--config; flags win over the environment, the environment over the file.
Secrets come only from files or the environment: IAMPROP_GOSSIP_KEY (base64),
IAMPROP_API_TOKEN.

A region with an empty log (new, or its disk wiped) refuses writes until it
has heard from its peers, even without --join (--expect-peers, on by
default); a region that is a whole cluster by itself needs
--expect-peers=false.

Exit status: 0 stopped cleanly, 1 failed while running, 2 invalid flags or
configuration.

Examples:
  export IAMPROP_API_TOKEN=$(head -c 24 /dev/urandom | base64)
  export IAMPROP_GOSSIP_KEY=$(head -c 32 /dev/urandom | base64)
  regionnode --region us-east-2 --gossip 127.0.0.1:7946 --http 127.0.0.1:8080 --data-dir data/us-east-2
  regionnode --region eu-west-1 --gossip 127.0.0.1:7947 --http 127.0.0.1:8081 --data-dir data/eu-west-1 --join 127.0.0.1:7946
  regionnode --region us-west-1 --expect-peers=false ...   # a one-region cluster: accepts writes with an empty log
  regionnode --region eu-west-1 --delay '2s,us-east-2>eu-west-1=6s' --gossip-preset local ...
  regionnode --region eu-west-1 --delay 'lognormal(median 4s, p99 10s),revoke=exponential(mean 3s)' ...
  regionnode --region eu-west-1 --propagation scenarios/public-s3-bucket.yaml ...   # the scenario's own delay model
  regionnode --config /etc/iamprop/eu-west-1.yaml

Flags:
`

// usageText is --help: what regionnode does, examples, and every flag in
// the double-dash form the docs use.
func usageText(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(helpHead)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		b.WriteString(line + "\n      " + usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}
