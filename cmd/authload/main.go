// Command authload is a load generator for a region node's
// POST /v1/authorize, run as its own process so that what it measures is
// the server, over real keep-alive HTTP/1.1 connections. It sets up a
// realistic request first (a user with groups, managed and inline
// policies, a permissions boundary and a bucket policy, all through the
// API's mutations), then sends it from N connections, in a closed loop or
// at a fixed rate, optionally while committing mutations at the same node,
// and reports requests/s and latency quantiles (DDSketch, 0.5%).
//
//	regionnode --region eu-west-1 --http 127.0.0.1:8080 --data-dir /tmp/n1 --expect-peers=false &
//	authload --addr 127.0.0.1:8080 --conns 32 --duration 10s --commit-rate 1000 --pid $!
//
// docs/benchmarks.md records its figures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iamprop/iamprop/internal/authworld"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := runCLI(ctx, os.Args[1:], os.Getenv, os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "authload:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "authload:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// runCLI parses args, sets up and runs the load, and prints the report.
func runCLI(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("authload", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		o         options
		body      string
		tokenFile string
		doSetup   bool
		asJSON    bool
		maxFailed float64
	)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "the region node's API, `host:port` (plain HTTP; loopback)")
	fs.StringVar(&tokenFile, "token-file", "", "`file` holding the API token (default: $IAMPROP_API_TOKEN); the write token for --setup and --commit-rate, the read token otherwise")
	fs.IntVar(&o.Conns, "conns", 32, "keep-alive connections, one request in flight on each")
	fs.Float64Var(&o.Rate, "rate", 0, "target requests per `second` over all connections; 0: closed loop")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured span")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "load before the measured span, not counted")
	fs.Float64Var(&o.CommitRate, "commit-rate", 0, "mutations per `second` committed at the same node during the run (0: none)")
	fs.IntVar(&o.CommitConns, "commit-conns", 32, "connections committing in parallel (commits in flight together share an fsync)")
	fs.StringVar(&o.Account, "account", defaultAccount, "account of the setup and of the committed mutations")
	fs.StringVar(&body, "body", "", "authorize request `JSON` (default: the realistic request of the setup)")
	fs.StringVar(&o.Expect, "expect", "Allow", "decision every 200 answer must carry; others count as unexpected (\"\": no check)")
	fs.BoolVar(&doSetup, "setup", true, "commit the realistic request's users, groups, policies and bucket first (idempotent)")
	fs.IntVar(&o.PID, "pid", 0, "the server's process `id`: report its CPU time per request (Linux)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Float64Var(&maxFailed, "max-failed", 0.001, "exit 1 when more than this `fraction` of requests failed or had an unexpected decision")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: authload [flags]\n\nDrives POST /v1/authorize of a region node and reports requests/s and latency quantiles.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.Token = getenv("IAMPROP_API_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("%w: --token-file: %v", errUsage, err)
		}
		o.Token = strings.TrimSpace(string(b))
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Rate < 0 || o.CommitRate < 0 {
		return fmt.Errorf("%w: --duration must be positive, --warmup, --rate and --commit-rate not negative", errUsage)
	}
	if o.CommitConns < 1 || o.CommitConns > maxCommitConns {
		return fmt.Errorf("%w: --commit-conns %d: want 1 to %d", errUsage, o.CommitConns, maxCommitConns)
	}
	o.Body = authworld.Body()
	if body != "" {
		if !json.Valid([]byte(body)) {
			return fmt.Errorf("%w: --body is not valid JSON", errUsage)
		}
		o.Body = []byte(body)
	}
	if doSetup {
		if err := setup(o.Addr, o.Token, o.Account, o.CommitConns); err != nil {
			return err
		}
	}
	s, err := run(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, s.String())
	}
	bad := s.Failed + s.Unexpected
	for code, n := range s.Status {
		if code != "200" {
			bad += n
		}
	}
	if s.Requests == 0 {
		return errors.New("no request was sent")
	}
	if frac := float64(bad) / float64(s.Requests); frac > maxFailed {
		return fmt.Errorf("%.2f%% of requests failed or were answered unexpectedly (--max-failed %.2f%%)", 100*frac, 100*maxFailed)
	}
	return nil
}
