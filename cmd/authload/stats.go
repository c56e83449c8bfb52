package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// sketchAccuracy is the relative error of every latency quantile (0.5%):
// enough to tell 1 ms from 1.01 ms, in a few kilobytes per recorder.
const sketchAccuracy = 0.005

// recorder accounts for one worker's requests: one per goroutine, merged
// at the end, so the hot path takes no lock.
type recorder struct {
	sketch *ddsketch.DDSketch // latencies in microseconds, answered requests only
	// sent counts requests sent; answered those that got an HTTP answer
	// (any status); failed those that got none (transport errors).
	sent, answered, failed uint64
	// unexpected counts 200 answers whose decision was not the one
	// expected (a view change that altered the answer, or a wrong setup).
	unexpected uint64
	status     map[int]uint64
	max        time.Duration
}

func newRecorder() *recorder {
	s, err := ddsketch.NewDefaultDDSketch(sketchAccuracy)
	if err != nil {
		panic(err) // only for an accuracy outside (0, 1)
	}
	return &recorder{sketch: s, status: map[int]uint64{}}
}

// observe records one answered request: its latency (from the instant it
// was due, for a fixed rate), its status, and whether its decision was
// the expected one (ignored unless the status is 200).
func (r *recorder) observe(lat time.Duration, status int, expected bool) {
	r.sent++
	r.answered++
	r.status[status]++
	if status == 200 && !expected {
		r.unexpected++
	}
	r.max = max(r.max, lat)
	// A latency under a microsecond is recorded as one: the sketch takes
	// only positive values, and no loopback round trip is that fast.
	_ = r.sketch.Add(max(float64(lat)/float64(time.Microsecond), 1))
}

// fail records a request that got no answer (connection refused, reset,
// malformed response).
func (r *recorder) fail() {
	r.sent++
	r.failed++
}

// merge adds o's counts and latencies to r.
func (r *recorder) merge(o *recorder) {
	r.sent += o.sent
	r.answered += o.answered
	r.failed += o.failed
	r.unexpected += o.unexpected
	for k, v := range o.status {
		r.status[k] += v
	}
	r.max = max(r.max, o.max)
	_ = r.sketch.MergeWith(o.sketch)
}

// quantileMS is a latency quantile in milliseconds; 0 with no answers.
func (r *recorder) quantileMS(q float64) float64 {
	if r.sketch.IsEmpty() {
		return 0
	}
	v, err := r.sketch.GetValueAtQuantile(q)
	if err != nil {
		return 0
	}
	return v / 1000
}

// Summary is the report of one run (printed, or as JSON with --json).
type Summary struct {
	// Requests counts the authorize requests sent in the measured span;
	// Answered those with an HTTP answer; Failed those without;
	// Unexpected the 200 answers whose decision was not the expected one.
	Requests   uint64 `json:"requests"`
	Answered   uint64 `json:"answered"`
	Failed     uint64 `json:"failed"`
	Unexpected uint64 `json:"unexpected_decisions"`
	// Status counts answers by HTTP status ("200": n).
	Status map[string]uint64 `json:"status"`
	// Seconds is the measured span; RPS is Answered / Seconds.
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"requests_per_second"`
	// Latencies in milliseconds (quantiles within 0.5%; Max exact).
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
	// Commits is the mutation load, when --commit-rate is set.
	Commits *CommitSummary `json:"commits,omitempty"`
	// Server is the server's CPU time over the span, when --pid is given
	// (/proc/PID/stat): CPU per request is what the figure would be on an
	// idle machine, where the client does not compete for the cores.
	Server *ServerCPU `json:"server,omitempty"`
	// Generator is this process's own CPU time over the span (Linux
	// /proc/self/stat): on one machine the generator and the server share
	// the cores, so the estimate for both is 2 cores / (server + generator
	// CPU per request).
	Generator *GeneratorCPU `json:"generator,omitempty"`
	// Conns and TargetRPS echo the load's shape (0 = closed loop).
	Conns     int     `json:"connections"`
	TargetRPS float64 `json:"target_rps"`
}

// CommitSummary reports the mutations committed beside the reads.
type CommitSummary struct {
	Committed uint64  `json:"committed"`
	Failed    uint64  `json:"failed"`
	PerSecond float64 `json:"per_second"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
}

// ServerCPU is the server process's CPU use over the measured span.
type ServerCPU struct {
	CPUSeconds    float64 `json:"cpu_seconds"`
	MicrosPerReq  float64 `json:"cpu_us_per_request"`
	CoresBusy     float64 `json:"cores_busy"`
	IdleEstimate2 float64 `json:"estimated_rps_on_2_idle_cores"`
}

// GeneratorCPU is the load generator's CPU use over the measured span;
// IdleEstimate2Both, with --pid, is 2 cores / (server + generator CPU per
// request): the rate both could sustain on an idle 2-core machine.
type GeneratorCPU struct {
	CPUSeconds        float64 `json:"cpu_seconds"`
	MicrosPerReq      float64 `json:"cpu_us_per_request"`
	IdleEstimate2Both float64 `json:"estimated_rps_on_2_idle_cores_with_server,omitempty"`
}

func (r *recorder) summary(elapsed time.Duration) Summary {
	s := Summary{
		Requests: r.sent, Answered: r.answered, Failed: r.failed, Unexpected: r.unexpected,
		Status: make(map[string]uint64, len(r.status)), Seconds: elapsed.Seconds(),
		P50MS: r.quantileMS(0.5), P90MS: r.quantileMS(0.9), P99MS: r.quantileMS(0.99), P999MS: r.quantileMS(0.999),
		MaxMS: float64(r.max) / float64(time.Millisecond),
	}
	for _, k := range slices.Sorted(maps.Keys(r.status)) {
		s.Status[strconv.Itoa(k)] = r.status[k]
	}
	if elapsed > 0 {
		s.RPS = float64(r.answered) / elapsed.Seconds()
	}
	return s
}

// String is the human-readable report.
func (s Summary) String() string {
	shape := "closed loop"
	if s.TargetRPS > 0 {
		shape = fmt.Sprintf("target %.0f req/s", s.TargetRPS)
	}
	out := fmt.Sprintf("%d connections, %s, %.1fs measured\n", s.Conns, shape, s.Seconds)
	out += fmt.Sprintf("requests  %d sent, %d answered, %d failed, %d unexpected decisions, status %v\n",
		s.Requests, s.Answered, s.Failed, s.Unexpected, s.Status)
	out += fmt.Sprintf("rate      %.0f req/s\n", s.RPS)
	out += fmt.Sprintf("latency   p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p999 %.3f ms  max %.3f ms\n",
		s.P50MS, s.P90MS, s.P99MS, s.P999MS, s.MaxMS)
	if c := s.Commits; c != nil {
		out += fmt.Sprintf("commits   %d committed (%.0f/s), %d failed, p50 %.3f ms  p99 %.3f ms\n",
			c.Committed, c.PerSecond, c.Failed, c.P50MS, c.P99MS)
	}
	if sv := s.Server; sv != nil {
		out += fmt.Sprintf("server    %.2f CPU s, %.1f µs CPU per request, %.2f cores busy; estimate on 2 idle cores: %.0f req/s\n",
			sv.CPUSeconds, sv.MicrosPerReq, sv.CoresBusy, sv.IdleEstimate2)
	}
	if g := s.Generator; g != nil {
		out += fmt.Sprintf("generator %.2f CPU s, %.1f µs CPU per request", g.CPUSeconds, g.MicrosPerReq)
		if g.IdleEstimate2Both > 0 {
			out += fmt.Sprintf("; estimate for both on 2 idle cores: %.0f req/s", g.IdleEstimate2Both)
		}
		out += "\n"
	}
	return out
}
