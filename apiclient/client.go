// Package apiclient calls a region node's HTTP API (docs/api.md). It
// imports only the standard library and package wire, so programs that
// drive a cluster from outside (the chaos harness, `scenario cluster`,
// `scenario run --cluster`) do not link the node, memberlist included.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/iamprop/iamprop/wire"
)

// Client calls a region node's API: what `scenario run --cluster URL,...`
// uses to drive external regionnode processes.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// maxResponseBytes bounds what the client reads from a node.
const maxResponseBytes = 8 << 20

// Option configures a Client.
type Option func(*options) error

type options struct {
	roots *x509.CertPool
}

// WithCAFile trusts the PEM certificates in path (a private CA) for nodes
// on https://, instead of the system's roots.
func WithCAFile(path string) Option {
	return func(o *options) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("apiclient: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("apiclient: CA file %s: no PEM certificate in it", path)
		}
		o.roots = pool
		return nil
	}
}

// New returns a client for the node at baseURL ("http://host:port" or
// "https://host:port"), sending token (if not empty) on writes and fault
// requests.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apiclient: node URL %q: want http://host:port", baseURL)
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	hc := &http.Client{
		// The longest call is a wait (at_least or a status long poll) plus
		// the answer.
		Timeout: max(wire.MaxWait, wire.MaxStatusWait) + 10*time.Second,
	}
	if o.roots != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: hc}, nil
}

// Error is a non-2xx answer, with the API's error code (an AWS code for a
// rejected mutation).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, in, out any, auth bool) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("apiclient: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("apiclient: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("apiclient: %s %s: read answer: %w", method, path, err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("apiclient: %s %s: answer exceeds %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		var eb wire.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return &Error{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("apiclient: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Commit commits one mutation at the node's region.
func (c *Client) Commit(ctx context.Context, r wire.MutationRequest) (wire.MutationResponse, error) {
	var out wire.MutationResponse
	err := c.do(ctx, "POST", "/v1/mutations", r, &out, true)
	return out, err
}

// Authorize decides a request against the node's view.
func (c *Client) Authorize(ctx context.Context, r wire.AuthorizeRequest) (wire.AuthorizeResponse, error) {
	var out wire.AuthorizeResponse
	err := c.do(ctx, "POST", "/v1/authorize", r, &out, false)
	return out, err
}

// Mutation reports which regions have applied the mutation id.
func (c *Client) Mutation(ctx context.Context, id string) (wire.MutationStatus, error) {
	var out wire.MutationStatus
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id), nil, &out, false)
	return out, err
}

// WaitMutation is Mutation as a long poll: the node answers as soon as
// every region has applied id (Complete), or with the status at hand when
// wait (at most MaxStatusWait) runs out.
func (c *Client) WaitMutation(ctx context.Context, id string, wait time.Duration) (wire.MutationStatus, error) {
	var out wire.MutationStatus
	q := url.Values{"wait": {wait.String()}}
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id)+"?"+q.Encode(), nil, &out, false)
	return out, err
}

// RemoveMember takes a region that is down out of the node's cluster for
// good (it no longer counts in a mutation's "every region").
func (c *Client) RemoveMember(ctx context.Context, region string) (wire.RemoveMemberResponse, error) {
	var out wire.RemoveMemberResponse
	err := c.do(ctx, "DELETE", "/v1/cluster/members/"+url.PathEscape(region), nil, &out, true)
	return out, err
}

// View returns the node's view summary.
func (c *Client) View(ctx context.Context) (wire.ViewInfo, error) {
	var out wire.ViewInfo
	err := c.do(ctx, "GET", "/v1/view", nil, &out, false)
	return out, err
}

// Cluster returns the members as the node sees them.
func (c *Client) Cluster(ctx context.Context) (wire.ClusterInfo, error) {
	var out wire.ClusterInfo
	err := c.do(ctx, "GET", "/v1/cluster", nil, &out, false)
	return out, err
}

// Faults returns the node's injected faults (an empty spec when none).
func (c *Client) Faults(ctx context.Context) (wire.FaultSpec, error) {
	var out wire.FaultSpec
	err := c.do(ctx, "GET", "/v1/faults", nil, &out, false)
	return out, err
}

// URL returns the node's base URL, as given to New without a trailing
// slash.
func (c *Client) URL() string { return c.base }

// SetFaults replaces the node's injected faults.
func (c *Client) SetFaults(ctx context.Context, s wire.FaultSpec) error {
	return c.do(ctx, "POST", "/v1/faults", s, nil, true)
}

// ClearFaults removes the node's injected faults.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/faults", nil, nil, true)
}

// Ready reports whether the node answers /readyz with 200.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, "GET", "/readyz", nil, nil, false)
}
