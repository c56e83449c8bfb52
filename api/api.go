// Package api is a region node's HTTP API (JSON): commit mutations,
// authorize requests against the local view with a consistency option,
// follow a mutation's propagation, inspect the view and the cluster, and
// switch injected faults. docs/api.md is its reference.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/replication"
	"github.com/iamprop/iamprop/wire"
)

// Backend is what the API serves: a *live.Node, or a fake in tests.
type Backend interface {
	Region() string
	Commit(controlplane.Call) (replication.Mutation, error)
	Authorize(context.Context, controlplane.Probe, live.Consistency) (live.Decision, error)
	Status(replication.MutationID) (live.MutationStatus, error)
	WaitStatus(context.Context, replication.MutationID, time.Duration) (live.MutationStatus, error)
	RemoveMember(region string) error
	View() live.ViewInfo
	Members() []live.MemberInfo
	SetFaults(live.FaultSpec)
	Faults() live.FaultSpec
	Ready() error
	Healthy() error
}

var _ Backend = (*live.Node)(nil)

// Limits of the API, defined in package wire so clients share them.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = wire.MaxBodyBytes
	// MaxWait bounds an at_least timeout.
	MaxWait = wire.MaxWait
	// DefaultWait is the at_least timeout when the request sets none.
	DefaultWait = wire.DefaultWait
	// MaxStatusWait bounds the long poll of GET /v1/mutations/{id}?wait=.
	MaxStatusWait = wire.MaxStatusWait
)

// The documents of the API live in package wire (stdlib only, for
// clients); these aliases keep the server's names.
type (
	// MutationRequest is the body of POST /v1/mutations.
	MutationRequest = wire.MutationRequest
	// MutationResponse answers a committed mutation.
	MutationResponse = wire.MutationResponse
	// AuthorizeRequest is the body of POST /v1/authorize.
	AuthorizeRequest = wire.AuthorizeRequest
	// ConsistencyReq is the consistency option of an authorize request.
	ConsistencyReq = wire.ConsistencyReq
	// Endpoint is the VPC endpoint an authorize request goes through.
	Endpoint = wire.Endpoint
	// AuthorizeResponse answers an authorize request.
	AuthorizeResponse = wire.AuthorizeResponse
	// RemoveMemberResponse answers DELETE /v1/cluster/members/{region}.
	RemoveMemberResponse = wire.RemoveMemberResponse
	// ClusterInfo is the answer of GET /v1/cluster.
	ClusterInfo = wire.ClusterInfo

	errorBody = wire.ErrorBody
	apiError  = wire.ErrorDetail
	viewRef   = wire.ViewRef
)

// Config configures the handler.
//
// The three tokens form a ladder, read < write < admin: each opens its own
// endpoints and those of the roles below it, sent as "Authorization:
// Bearer TOKEN". Every endpoint but /healthz and /readyz is open only
// while no token at all is set (a loopback experiment); once any is, each
// needs a token of its role or above, and a role with no such token set is
// closed. So a deployment that sets only a write token has closed reads
// (the write token opens them) and a closed admin API.
type Config struct {
	Backend Backend
	// Token is the write token: POST /v1/mutations.
	Token string
	// ReadToken is the read token: every endpoint that reveals IAM state
	// (POST /v1/authorize, GET /v1/view, GET /v1/mutations/{id},
	// GET /v1/cluster, GET /v1/faults, and /metrics with MetricsNeedToken).
	ReadToken string
	// AdminToken is the admin token: faults, removing a member, gossip key
	// rotation.
	AdminToken string
	// FaultAPI enables POST and DELETE /v1/faults; without it they answer
	// 403 FaultAPIDisabled whatever the token.
	FaultAPI bool
	// MetricsNeedToken puts GET /metrics behind the read token.
	MetricsNeedToken bool
	// Gatherer serves GET /metrics; nil serves 404 there.
	Gatherer prometheus.Gatherer
	// Metrics counts requests; may be nil.
	Metrics *metrics.Region
	// Logger logs requests at debug level and failures above it. Request
	// bodies and the token are never logged.
	Logger zerolog.Logger
}

// role is a rung of the token ladder.
type role int

const (
	roleRead role = iota
	roleWrite
	roleAdmin
)

var (
	roleNames = [...]string{roleRead: "read", roleWrite: "write", roleAdmin: "admin"}
	roleFlags = [...]string{roleRead: "--read-token-file", roleWrite: "--api-token-file", roleAdmin: "--admin-token-file"}
)

type server struct {
	cfg Config
	// authorizeH is POST /v1/authorize behind its token check, and
	// authorizeOK its request counter for status 200, looked up at the
	// first such answer: the hot path skips the mux's second match and the
	// counter's label lookup.
	authorizeH  http.HandlerFunc
	authorizeOK atomic.Pointer[prometheus.Counter]
	// hashes[r] holds the SHA-256 of role r's token; set[r] whether it is
	// configured.
	hashes [3][32]byte
	set    [3]bool
	mux    *http.ServeMux
	// recent holds the recent authorize requests' contexts and fields.
	recent reqCache
}

// authorizePattern is the route of the hot path.
const authorizePattern = "POST /v1/authorize"

// Handler returns the API's http.Handler.
func Handler(cfg Config) http.Handler {
	s := &server{cfg: cfg, mux: http.NewServeMux()}
	for r, tok := range [3]string{roleRead: cfg.ReadToken, roleWrite: cfg.Token, roleAdmin: cfg.AdminToken} {
		if tok != "" {
			s.hashes[r], s.set[r] = sha256.Sum256([]byte(tok)), true
		}
	}
	s.mux.HandleFunc("POST /v1/mutations", s.auth(roleWrite, s.commit))
	s.mux.HandleFunc("GET /v1/mutations/{id...}", s.auth(roleRead, s.status))
	s.authorizeH = s.auth(roleRead, s.authorize)
	s.mux.HandleFunc(authorizePattern, s.authorizeH)
	s.mux.HandleFunc("GET /v1/view", s.auth(roleRead, s.view))
	s.mux.HandleFunc("GET /v1/cluster", s.auth(roleRead, s.cluster))
	s.mux.HandleFunc("DELETE /v1/cluster/members/{region}", s.auth(roleAdmin, s.removeMember))
	s.mux.HandleFunc("GET /v1/faults", s.auth(roleRead, s.getFaults))
	s.mux.HandleFunc("POST /v1/faults", s.auth(roleAdmin, s.faultAPI(s.setFaults)))
	s.mux.HandleFunc("DELETE /v1/faults", s.auth(roleAdmin, s.faultAPI(s.clearFaults)))
	s.mux.HandleFunc("GET /v1/gossip/keys", s.auth(roleAdmin, s.listKeys))
	s.mux.HandleFunc("POST /v1/gossip/keys", s.auth(roleAdmin, s.changeKeys))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Gatherer != nil {
		var h http.HandlerFunc = promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: nil}).ServeHTTP
		if cfg.MetricsNeedToken {
			h = s.auth(roleRead, h)
		}
		s.mux.Handle("GET /metrics", h)
	}
	return s
}

// NewServer returns an http.Server for h with timeouts on every phase, so
// a slow or idle client cannot hold a connection forever.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      max(MaxWait, MaxStatusWait) + 15*time.Second, // the longest wait plus the answer
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// ServeHTTP routes, answers unknown routes with JSON errors and counts
// requests by route pattern (never by raw path: ids would explode the
// label set).
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/authorize" {
		// The route the mux would pick: it has no wildcard, so the
		// handler needs nothing the mux would set on r.
		s.authorizeH(rw, r)
		s.countAuthorize(rw.code)
		s.cfg.Logger.Debug().Str("method", r.Method).Str("route", authorizePattern).Int("status", rw.code).Msg("http request")
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// Let the mux decide between 404 and 405 (it sets Allow), then
		// answer in JSON.
		probe := &statusWriter{ResponseWriter: discardWriter{h: w.Header()}, code: http.StatusOK}
		h.ServeHTTP(probe, r)
		code := probe.code
		msg := "no such endpoint: " + r.Method + " " + r.URL.Path + " (see docs/api.md)"
		errCode := "NotFound"
		if code == http.StatusMethodNotAllowed {
			msg = r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + w.Header().Get("Allow")
			errCode = "MethodNotAllowed"
		}
		writeError(rw, code, errCode, msg)
		pattern = "unmatched"
	} else {
		s.mux.ServeHTTP(rw, r)
	}
	if m := s.cfg.Metrics; m != nil {
		m.HTTPRequests.WithLabelValues(pattern, strconv.Itoa(rw.code)).Inc()
	}
	s.cfg.Logger.Debug().Str("method", r.Method).Str("route", pattern).Int("status", rw.code).Msg("http request")
}

// countAuthorize counts one answer of POST /v1/authorize.
func (s *server) countAuthorize(code int) {
	m := s.cfg.Metrics
	if m == nil {
		return
	}
	if code != http.StatusOK {
		m.HTTPRequests.WithLabelValues(authorizePattern, strconv.Itoa(code)).Inc()
		return
	}
	if c := s.authorizeOK.Load(); c != nil {
		(*c).Inc()
		return
	}
	c := m.HTTPRequests.WithLabelValues(authorizePattern, "200")
	s.authorizeOK.Store(&c)
	c.Inc()
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets promhttp stream through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// The header values every answer carries, shared (net/http only reads
// them) so that setting them allocates nothing.
var (
	contentTypeJSON = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

// encodePool holds response buffers: encoding into a reused buffer saves
// json.Marshal's result and its copy with the newline on every answer.
var encodePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeJSON(w http.ResponseWriter, code int, v any) {
	buf := encodePool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			encodePool.Put(buf)
		}
	}()
	// Encode writes what json.Marshal returns (HTML escaped alike), and
	// the newline.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"InternalError","message":"encoding the response failed"}}` + "\n")
	}
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, errorBody{Error: apiError{Code: errCode, Message: msg}})
}

// auth lets a request through when it carries a token of role need or
// above, or when the node has no token at all. Comparisons are of SHA-256
// digests in constant time, every configured rung compared whatever
// matched, so neither a token's content, its length nor which role it
// belongs to leaks through timing.
func (s *server) auth(need role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.set != [3]bool{} {
			tok, ok := bearer(r.Header.Get("Authorization"))
			got := sha256.Sum256([]byte(tok))
			match := 0
			for rr := need; rr <= roleAdmin; rr++ {
				if s.set[rr] {
					match |= subtle.ConstantTimeCompare(got[:], s.hashes[rr][:])
				}
			}
			if !ok || match != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="iamprop"`)
				msg := "this endpoint needs the " + roleNames[need] + " token: Authorization: Bearer TOKEN"
				if need < roleAdmin {
					msg = "this endpoint needs the " + roleNames[need] + " token or one above it: Authorization: Bearer TOKEN"
				}
				if match == 0 && !s.configured(need) {
					msg = "this endpoint needs the " + roleNames[need] + " token, and the node has none (regionnode --" + roleNames[need] + "-token-file)"
				}
				writeError(w, http.StatusUnauthorized, "Unauthorized", msg)
				return
			}
		}
		next(w, r)
	}
}

// configured reports whether a token of role need or above is set.
func (s *server) configured(need role) bool {
	for rr := need; rr <= roleAdmin; rr++ {
		if s.set[rr] {
			return true
		}
	}
	return false
}

// bearer takes the token out of an Authorization header. The scheme is
// case-insensitive (RFC 9110, section 11.1); the token is not.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// faultAPI refuses fault injection unless the node enables it: a cluster
// that is not an experiment has no use for it, and it is the one API that
// can cut regions apart.
func (s *server) faultAPI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.FaultAPI {
			writeError(w, http.StatusForbidden, "FaultAPIDisabled", "fault injection is off on this node (regionnode --enable-fault-api turns it on)")
			return
		}
		next(w, r)
	}
}

// decode reads exactly one JSON object of at most MaxBodyBytes, refusing
// unknown fields and trailing data, and writes the error response itself.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	// The Content-Type is not checked: `curl -d` sends a form type by
	// default, and the body must parse as JSON anyway.
	return decodeFrom(w, http.MaxBytesReader(w, r.Body, MaxBodyBytes), dst)
}

// decodeFrom is decode on a body already limited to MaxBodyBytes.
func decodeFrom(w http.ResponseWriter, body io.Reader, dst any) bool {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes))
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "MalformedJSON", "the body is empty; send a JSON object")
		case errors.As(err, &se):
			writeError(w, http.StatusBadRequest, "MalformedJSON", fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err))
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "the body"
			}
			writeError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("%s: want %s, got JSON %s", field, te.Type, te.Value))
		case errors.Is(err, io.ErrUnexpectedEOF):
			writeError(w, http.StatusBadRequest, "MalformedJSON", "the JSON ends early")
		default:
			writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		}
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, "MalformedJSON", "trailing data after the JSON object")
		return false
	}
	return true
}

func (s *server) commit(w http.ResponseWriter, r *http.Request) {
	var req MutationRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Call == "" {
		writeError(w, http.StatusBadRequest, "InvalidRequest", `"call" is required, e.g. "s3:PutBucketPolicy"`)
		return
	}
	with := bytes.TrimSpace(req.With)
	if len(with) == 0 || string(with) == "null" {
		with = []byte("{}")
	}
	if with[0] != '{' {
		writeError(w, http.StatusBadRequest, "InvalidRequest", `"with" must be a JSON object of the call's arguments`)
		return
	}
	mu, err := s.cfg.Backend.Commit(controlplane.Call{Action: req.Call, Account: req.Account, Region: req.Region, Args: json.RawMessage(with)})
	if err != nil {
		var ae *controlplane.APIError
		switch {
		case errors.As(err, &ae):
			writeError(w, http.StatusBadRequest, ae.Code, ae.Message)
		case errors.Is(err, replication.ErrMalformed):
			writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		case errors.Is(err, live.ErrCatchingUp):
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "CatchingUp", err.Error())
		case errors.Is(err, live.ErrStopped), errors.Is(err, live.ErrNotDurable):
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error())
		default:
			s.cfg.Logger.Error().Err(err).Msg("commit failed")
			writeError(w, http.StatusInternalServerError, "InternalError", "the commit failed; see the node's log")
		}
		return
	}
	writeJSON(w, http.StatusOK, MutationResponse{
		ID: mu.ID.String(), Timestamp: mu.CommitTime(), HLC: mu.TS.String(), Token: mu.ID.String(),
		Revoke: mu.Revoke, Region: s.cfg.Backend.Region(),
	})
}

const maxFieldLen = 2048

func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	var req AuthorizeRequest
	ce, ok := decodeAuthorize(w, r, &req, &s.recent)
	if !ok {
		return
	}
	for _, f := range []struct{ name, v string }{{"principal", req.Principal}, {"action", req.Action}, {"resource", req.Resource}} {
		if f.v == "" {
			writeError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("%q is required", f.name))
			return
		}
		if len(f.v) > maxFieldLen {
			writeError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("%q is longer than %d bytes", f.name, maxFieldLen))
			return
		}
	}
	for k, v := range req.Context {
		if err := contextValue(v); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("context %q: %v", k, err))
			return
		}
	}
	cons, err := parseConsistency(req.Consistency)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	probe := controlplane.Probe{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context}
	if ce != nil {
		probe.Prepared = ce.prepared()
	}
	if req.Endpoint != nil {
		ep, code, err := endpointPolicy(req.Endpoint)
		if err != nil {
			writeError(w, http.StatusBadRequest, code, err.Error())
			return
		}
		probe.Endpoint = ep
	}
	d, err := s.cfg.Backend.Authorize(r.Context(), probe, cons)
	region := s.cfg.Backend.Region()
	if err != nil {
		switch {
		case errors.Is(err, live.ErrNotFresh):
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: apiError{Code: "NotFresh", Message: err.Error() + " (failing closed)"}})
		case errors.Is(err, live.ErrTooStale):
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: apiError{Code: "TooStale", Message: err.Error() + " (failing closed)"},
				View: &viewRef{Region: region, LagSeconds: d.Lag.Seconds(), Stale: true}})
		case errors.Is(err, live.ErrBadToken):
			writeError(w, http.StatusBadRequest, "InvalidToken", err.Error())
		case errors.Is(err, live.ErrStopped):
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error())
		default:
			writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		}
		return
	}
	writeAuthorize(w, &AuthorizeResponse{
		Decision: d.Effect, Explanation: d.Explanation, Reason: d.Reason, Authenticated: d.Authenticated,
		View: viewRef{Region: region, Digest: d.Digest, Vector: d.Vector, Above: d.Above, AboveTruncated: d.AboveTruncated,
			LagSeconds: d.Lag.Seconds(), Stale: d.Stale},
	}, d.ExplanationJSON)
}

// endpointPolicy compiles the policy of the VPC endpoint a request goes
// through, or says why not with the error code to answer: InvalidRequest
// for a request without one, MalformedPolicyDocument for a document AWS
// would refuse as an endpoint policy.
func endpointPolicy(e *Endpoint) (*evaluator.Policy, string, error) {
	name := e.Name
	if name == "" {
		name = "endpoint"
	}
	if len(name) > maxFieldLen {
		return nil, "InvalidRequest", fmt.Errorf("\"endpoint.name\" is longer than %d bytes", maxFieldLen)
	}
	doc := bytes.TrimSpace(e.Policy)
	if len(doc) == 0 || string(doc) == "null" {
		return nil, "InvalidRequest", errors.New("\"endpoint.policy\" is required: the endpoint policy document, a JSON object")
	}
	if doc[0] == '"' {
		// AWS's APIs take policy documents as strings; accept one here too.
		var str string
		if err := json.Unmarshal(doc, &str); err != nil {
			return nil, "InvalidRequest", fmt.Errorf("endpoint.policy: %v", err)
		}
		doc = []byte(str)
	}
	p, err := evaluator.Parse(name, evaluator.KindEndpoint, doc)
	if err != nil {
		return nil, controlplane.ErrMalformedPolicyDocument, fmt.Errorf("endpoint.policy: %w", err)
	}
	return p, "", nil
}

// contextValue accepts what IAM condition keys hold: a string, number,
// bool, or a list of those.
func contextValue(v any) error {
	switch x := v.(type) {
	case string, float64, bool:
		return nil
	case []any:
		if len(x) > 256 {
			return errors.New("a list of more than 256 values")
		}
		for _, e := range x {
			switch e.(type) {
			case string, float64, bool:
			default:
				return errors.New("list values must be strings, numbers or booleans")
			}
		}
		return nil
	default:
		return errors.New("want a string, number, boolean or a list of those")
	}
}

func parseConsistency(c *ConsistencyReq) (live.Consistency, error) {
	if c == nil {
		return live.Consistency{Mode: live.ModeLocal}, nil
	}
	out := live.Consistency{Mode: c.Mode, Token: c.Token}
	dur := func(name, v string, def time.Duration) (time.Duration, error) {
		if v == "" {
			return def, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("consistency.%s %q: want a duration like \"2s\"", name, v)
		}
		return d, nil
	}
	var err error
	switch c.Mode {
	case "", live.ModeLocal:
		out.Mode = live.ModeLocal
		if c.Token != "" || c.Timeout != "" || c.MaxLag != "" {
			return out, errors.New("consistency mode local takes no token, timeout or max_lag")
		}
	case live.ModeAtLeast:
		if c.Token == "" {
			return out, errors.New("consistency mode at_least needs a token (the \"token\" of a POST /v1/mutations answer)")
		}
		if c.MaxLag != "" {
			return out, errors.New("consistency mode at_least takes no max_lag")
		}
		if out.Timeout, err = dur("timeout", c.Timeout, DefaultWait); err != nil {
			return out, err
		}
		if out.Timeout > MaxWait {
			return out, fmt.Errorf("consistency.timeout %v exceeds %v", out.Timeout, MaxWait)
		}
	case live.ModeMaxLag:
		if c.MaxLag == "" {
			return out, errors.New("consistency mode max_lag needs max_lag, e.g. \"1s\"")
		}
		if c.Token != "" || c.Timeout != "" {
			return out, errors.New("consistency mode max_lag takes no token or timeout")
		}
		if out.MaxLag, err = dur("max_lag", c.MaxLag, 0); err != nil {
			return out, err
		}
	default:
		return out, fmt.Errorf("consistency mode %q: want local, at_least or max_lag", c.Mode)
	}
	return out, nil
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	id, err := replication.ParseMutationID(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	wait, err := parseWait(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	var st live.MutationStatus
	if wait < 0 {
		st, err = s.cfg.Backend.Status(id)
	} else {
		st, err = s.cfg.Backend.WaitStatus(r.Context(), id, wait)
	}
	if err != nil {
		if errors.Is(err, live.ErrUnknownMutation) {
			writeError(w, http.StatusNotFound, "NoSuchMutation", err.Error())
			return
		}
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// parseWait reads the only query parameter of GET /v1/mutations/{id}:
// wait, a duration up to MaxStatusWait; -1 when absent.
func parseWait(q url.Values) (time.Duration, error) {
	for k := range q {
		if k != "wait" {
			return 0, fmt.Errorf("unknown query parameter %q; the only one is wait, e.g. ?wait=30s", k)
		}
	}
	vs, ok := q["wait"]
	if !ok {
		return -1, nil
	}
	if len(vs) != 1 {
		return 0, errors.New("wait given more than once")
	}
	d, err := time.ParseDuration(vs[0])
	if err != nil || d < 0 {
		return 0, fmt.Errorf("wait %q: want a duration like \"30s\"", vs[0])
	}
	if d > MaxStatusWait {
		return 0, fmt.Errorf("wait %v exceeds %v", d, MaxStatusWait)
	}
	return d, nil
}

func (s *server) view(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Backend.View())
}

func (s *server) cluster(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ClusterInfo{Region: s.cfg.Backend.Region(), Members: s.cfg.Backend.Members()})
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	if err := s.cfg.Backend.RemoveMember(region); err != nil {
		switch {
		case errors.Is(err, live.ErrNoSuchMember):
			writeError(w, http.StatusNotFound, "NoSuchMember", err.Error())
		case errors.Is(err, live.ErrMemberAlive):
			writeError(w, http.StatusConflict, "MemberAlive", err.Error())
		default:
			writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		}
		return
	}
	s.cfg.Logger.Warn().Str("member", region).Msg("member removed through the API")
	writeJSON(w, http.StatusOK, RemoveMemberResponse{Removed: region, Members: s.cfg.Backend.Members()})
}

func (s *server) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Backend.Faults())
}

func (s *server) setFaults(w http.ResponseWriter, r *http.Request) {
	var spec live.FaultSpec
	if !decode(w, r, &spec) {
		return
	}
	if err := spec.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidFaults", err.Error())
		return
	}
	s.cfg.Backend.SetFaults(spec)
	writeJSON(w, http.StatusOK, s.cfg.Backend.Faults())
}

func (s *server) clearFaults(w http.ResponseWriter, r *http.Request) {
	s.cfg.Backend.SetFaults(live.FaultSpec{})
	writeJSON(w, http.StatusOK, s.cfg.Backend.Faults())
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Backend.Healthy(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "Unhealthy", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Backend.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "NotReady", err.Error())
		return
	}
	if v := s.cfg.Backend.View(); v.Conflicts > 0 {
		// Serving, but an operator must look: two different mutations were
		// met under one id (forged, corrupted or a bug), see /v1/view.
		writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "conflicts": v.Conflicts,
			"reason": "two different mutations met under one id; see recent_conflicts in /v1/view"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// KeyRing is what gossip key rotation needs from the backend; *live.Node
// has it. A backend without it answers 501 on /v1/gossip/keys.
type KeyRing interface {
	GossipKeys() (live.GossipKeys, error)
	InstallGossipKey([]byte) error
	UseGossipKey([]byte) error
	RemoveGossipKey([]byte) error
}

var _ KeyRing = (*live.Node)(nil)

// GossipKeyRequest is the body of POST /v1/gossip/keys (wire.GossipKeyRequest).
type GossipKeyRequest = wire.GossipKeyRequest

func (s *server) keyRing(w http.ResponseWriter) (KeyRing, bool) {
	kr, ok := s.cfg.Backend.(KeyRing)
	if !ok {
		writeError(w, http.StatusNotImplemented, "NotImplemented", "this backend has no gossip keyring")
	}
	return kr, ok
}

func (s *server) writeKeys(w http.ResponseWriter, kr KeyRing) {
	keys, err := kr.GossipKeys()
	if err != nil {
		s.keyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, keys)
}

func (s *server) keyError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, live.ErrNoKeyring):
		writeError(w, http.StatusConflict, "NoKeyring", err.Error())
	case errors.Is(err, live.ErrBadGossipKey):
		writeError(w, http.StatusBadRequest, "InvalidKey", err.Error())
	case errors.Is(err, live.ErrUnknownGossipKey):
		writeError(w, http.StatusNotFound, "NoSuchKey", err.Error())
	case errors.Is(err, live.ErrPrimaryGossipKey):
		writeError(w, http.StatusConflict, "KeyInUse", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request) {
	if kr, ok := s.keyRing(w); ok {
		s.writeKeys(w, kr)
	}
}

func (s *server) changeKeys(w http.ResponseWriter, r *http.Request) {
	kr, ok := s.keyRing(w)
	if !ok {
		return
	}
	var req GossipKeyRequest
	if !decode(w, r, &req) {
		return
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(req.Key))
	if err != nil || len(key) == 0 {
		writeError(w, http.StatusBadRequest, "InvalidKey", `"key" must be base64 of 16, 24 or 32 bytes (head -c 32 /dev/urandom | base64)`)
		return
	}
	switch req.Op {
	case "install":
		err = kr.InstallGossipKey(key)
	case "use":
		err = kr.UseGossipKey(key)
	case "remove":
		err = kr.RemoveGossipKey(key)
	default:
		writeError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf(`"op" %q: want install, use or remove`, req.Op))
		return
	}
	if err != nil {
		s.keyError(w, err)
		return
	}
	// The key itself is never logged; its fingerprint is enough to follow
	// a rotation.
	s.cfg.Logger.Warn().Str("op", req.Op).Str("key", live.KeyFingerprint(key)).Msg("gossip keyring changed through the API")
	s.writeKeys(w, kr)
}
