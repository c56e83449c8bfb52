// Package runmetrics publishes a runner run's measurements as Prometheus
// metrics and serves them on /metrics while the run goes on. It lives apart
// from package runner so that the simulator path (and the WebAssembly
// playground) links neither Prometheus nor net/http.
package runmetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
)

// Server serves a run's own measurements (exposure windows, stale
// decisions per probe) on /metrics while the run goes on, so Prometheus
// scrapes them beside the region nodes'. It has its own registry, never the
// global one.
type Server struct {
	// Metrics are the runner's metrics; pass Observer(Metrics) in
	// runner.Options.Observer.
	Metrics *metrics.Runner
	// Addr is the address the server listens on, port resolved.
	Addr string

	srv  *http.Server
	done chan error
}

// Serve listens on addr and serves /metrics from a new registry
// holding the runner's metrics and the Go and process collectors. An addr
// without a host (":9464" or "9464") listens on loopback only: exposing the
// runner beyond this machine is a choice made by naming an interface
// ("0.0.0.0:9464").
func Serve(addr string) (*Server, error) {
	addr, err := loopbackDefault(addr)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	m, err := metrics.NewRunner(reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s := &Server{
		Metrics: m, Addr: ln.Addr().String(), done: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server, letting scrapes in flight finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// loopbackDefault completes a host-less listen address with 127.0.0.1 and
// checks the port.
func loopbackDefault(addr string) (string, error) {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr %q: want HOST:PORT or PORT: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("--metrics-addr %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Registerer is where an in-process cluster registers its regions'
// metrics (realtime.Backends.Registerer), so one scrape gives the runner's
// measurements and the nodes' both.
func (s *Server) Registerer() prometheus.Registerer { return s.Metrics.Registerer() }

// Observer returns the runner.Observer that records a run's measurements in
// m.
func Observer(m *metrics.Runner) runner.Observer { return observer{m} }

// observer records a run in the runner's metrics.
type observer struct{ m *metrics.Runner }

// RunStarted creates every series of the run at zero, so a rate() over the
// run sees the first increase and panels show zeros, not gaps.
func (o observer) RunStarted(sc *scenarios.Scenario, mode runner.Mode) {
	m := o.m
	for i := range sc.Probes {
		pr := &sc.Probes[i]
		m.ExposureWindow.WithLabelValues(sc.Name, pr.Name, pr.Region)
		m.ProbeRequests.WithLabelValues(sc.Name, pr.Name, pr.Region)
		for _, k := range []string{metrics.KindExposure, metrics.KindDenial} {
			m.StaleDecisions.WithLabelValues(sc.Name, pr.Name, pr.Region, k)
		}
	}
	m.Trials.WithLabelValues(sc.Name, mode.String()).Set(0)
	m.Converged.WithLabelValues(sc.Name, mode.String()).Set(1)
	m.Passed.DeleteLabelValues(sc.Name, mode.String())
}

// TrialMeasured publishes one measured trial. The windows are exact (from
// the nodes' commit and apply instants), so they are known once the trial
// has converged, not while it runs: each trial's values appear when it
// ends.
func (o observer) TrialMeasured(sc *scenarios.Scenario, mode runner.Mode, s runner.TrialSample) {
	m := o.m
	for i := range s.Exposure {
		if i >= len(sc.Probes) {
			break
		}
		spec := &sc.Probes[i]
		m.ExposureWindow.WithLabelValues(sc.Name, spec.Name, spec.Region).Observe(s.Exposure[i])
		m.StaleDecisions.WithLabelValues(sc.Name, spec.Name, spec.Region, metrics.KindExposure).Add(s.StaleAllows[i])
		m.StaleDecisions.WithLabelValues(sc.Name, spec.Name, spec.Region, metrics.KindDenial).Add(s.StaleDenies[i])
		m.ProbeRequests.WithLabelValues(sc.Name, spec.Name, spec.Region).Add(s.Requests[i])
	}
	m.Trials.WithLabelValues(sc.Name, mode.String()).Inc()
	if !s.Converged {
		m.Converged.WithLabelValues(sc.Name, mode.String()).Set(0)
	}
}

// RunFinished records whether the run's expectations passed.
func (o observer) RunFinished(sc *scenarios.Scenario, mode runner.Mode, passed bool) {
	v := 0.0
	if passed {
		v = 1
	}
	o.m.Passed.WithLabelValues(sc.Name, mode.String()).Set(v)
}
