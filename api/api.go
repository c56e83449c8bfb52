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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/live"
	"github.com/iamprop/iamprop/metrics"
	"github.com/iamprop/iamprop/replication"
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

// Limits of the API.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 1 << 20
	// MaxWait bounds an at_least timeout.
	MaxWait = 30 * time.Second
	// DefaultWait is the at_least timeout when the request sets none.
	DefaultWait = time.Second
	// MaxStatusWait bounds the long poll of GET /v1/mutations/{id}?wait=.
	MaxStatusWait = 60 * time.Second
)

// Config configures the handler.
type Config struct {
	Backend Backend
	// Token, when not empty, is required as "Authorization: Bearer TOKEN"
	// on writes (POST /v1/mutations), on fault injection and on removing a
	// cluster member.
	Token string
	// Gatherer serves GET /metrics; nil serves 404 there.
	Gatherer prometheus.Gatherer
	// Metrics counts requests; may be nil.
	Metrics *metrics.Region
	// Logger logs requests at debug level and failures above it. Request
	// bodies and the token are never logged.
	Logger zerolog.Logger
}

type server struct {
	cfg       Config
	tokenHash [32]byte
	mux       *http.ServeMux
}

// Handler returns the API's http.Handler.
func Handler(cfg Config) http.Handler {
	s := &server{cfg: cfg, mux: http.NewServeMux()}
	if cfg.Token != "" {
		s.tokenHash = sha256.Sum256([]byte(cfg.Token))
	}
	s.mux.HandleFunc("POST /v1/mutations", s.auth(s.commit))
	s.mux.HandleFunc("GET /v1/mutations/{id...}", s.status)
	s.mux.HandleFunc("POST /v1/authorize", s.authorize)
	s.mux.HandleFunc("GET /v1/view", s.view)
	s.mux.HandleFunc("GET /v1/cluster", s.cluster)
	s.mux.HandleFunc("DELETE /v1/cluster/members/{region}", s.auth(s.removeMember))
	s.mux.HandleFunc("GET /v1/faults", s.getFaults)
	s.mux.HandleFunc("POST /v1/faults", s.auth(s.setFaults))
	s.mux.HandleFunc("DELETE /v1/faults", s.auth(s.clearFaults))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: nil}))
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

// errorBody is every error's shape: {"error": {"code", "message"}}, with
// AWS's codes for rejected mutations.
type errorBody struct {
	Error apiError `json:"error"`
	View  *viewRef `json:"view,omitempty"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"InternalError","message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, errorBody{Error: apiError{Code: errCode, Message: msg}})
}

// auth requires the bearer token when one is configured. The comparison
// is of SHA-256 digests in constant time, so neither the token's content
// nor its length leaks through timing.
func (s *server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			h := r.Header.Get("Authorization")
			tok, ok := strings.CutPrefix(h, "Bearer ")
			got := sha256.Sum256([]byte(tok))
			if !ok || subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="iamprop"`)
				writeError(w, http.StatusUnauthorized, "Unauthorized", "this endpoint needs the API token: Authorization: Bearer TOKEN")
				return
			}
		}
		next(w, r)
	}
}

// decode reads exactly one JSON object of at most MaxBodyBytes, refusing
// unknown fields and trailing data, and writes the error response itself.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	// The Content-Type is not checked: `curl -d` sends a form type by
	// default, and the body must parse as JSON anyway.
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
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

// MutationRequest is the body of POST /v1/mutations.
type MutationRequest struct {
	Account string          `json:"account,omitempty"`
	Call    string          `json:"call"`
	With    json.RawMessage `json:"with,omitempty"`
	Region  string          `json:"region,omitempty"`
}

// MutationResponse answers a committed mutation.
type MutationResponse struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	HLC       string    `json:"hlc"`
	Token     string    `json:"token"`
	Revoke    bool      `json:"revoke"`
	Region    string    `json:"region"`
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

// AuthorizeRequest is the body of POST /v1/authorize.
type AuthorizeRequest struct {
	Principal   string          `json:"principal"`
	Action      string          `json:"action"`
	Resource    string          `json:"resource"`
	Context     map[string]any  `json:"context,omitempty"`
	Consistency *ConsistencyReq `json:"consistency,omitempty"`
}

// ConsistencyReq is the consistency option of an authorize request.
type ConsistencyReq struct {
	Mode    string `json:"mode"`
	Token   string `json:"token,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	MaxLag  string `json:"max_lag,omitempty"`
}

type viewRef struct {
	Region     string                    `json:"region"`
	Digest     string                    `json:"digest,omitempty"`
	Vector     replication.VersionVector `json:"version_vector,omitempty"`
	LagSeconds float64                   `json:"lag_seconds"`
	Stale      bool                      `json:"stale"`
}

// AuthorizeResponse answers an authorize request.
type AuthorizeResponse struct {
	Decision      string  `json:"decision"`
	Explanation   any     `json:"explanation"`
	Reason        string  `json:"reason,omitempty"`
	Authenticated bool    `json:"authenticated"`
	View          viewRef `json:"view"`
}

const maxFieldLen = 2048

func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	var req AuthorizeRequest
	if !decode(w, r, &req) {
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
	d, err := s.cfg.Backend.Authorize(r.Context(), controlplane.Probe{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context}, cons)
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
	writeJSON(w, http.StatusOK, AuthorizeResponse{
		Decision: d.Effect, Explanation: d.Explanation, Reason: d.Reason, Authenticated: d.Authenticated,
		View: viewRef{Region: region, Digest: d.Digest, Vector: d.Vector, LagSeconds: d.Lag.Seconds(), Stale: d.Stale},
	})
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
	writeJSON(w, http.StatusOK, map[string]any{"region": s.cfg.Backend.Region(), "members": s.cfg.Backend.Members()})
}

// RemoveMemberResponse answers DELETE /v1/cluster/members/{region}.
type RemoveMemberResponse struct {
	Removed string            `json:"removed"`
	Members []live.MemberInfo `json:"members"`
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
