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
	"encoding/base64"
	"encoding/json"
	"errors"
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
	base string
	// tokens[r] is what the client sends for role r: the most specific
	// token it has at or above r (see Config for the ladder).
	tokens [3]string
	http   *http.Client
}

// Options configures NewWith.
type Options struct {
	// Token is the write token; ReadToken and AdminToken the others. Each
	// request sends the lowest-ranked token that opens it, so a client
	// with only the write token can also read.
	Token, ReadToken, AdminToken string
	// CAFile verifies an https:// node against this PEM bundle instead of
	// the system roots.
	CAFile string
	// CertFile and KeyFile are a client certificate for a node that
	// requires one (--client-ca).
	CertFile, KeyFile string
}

// role is what a request needs; each token opens its role and those
// below it: read < write < admin (docs/api.md).
type role int

const (
	roleRead role = iota
	roleWrite
	roleAdmin
)

// maxResponseBytes bounds what the client reads from a node.
const maxResponseBytes = 8 << 20

// New returns a client for the node at baseURL ("http://host:port"
// or "https://host:port", verified against the system roots), sending
// token (if not empty) on every request that needs one.
func New(baseURL, token string) (*Client, error) {
	return NewWith(baseURL, Options{Token: token, ReadToken: token, AdminToken: token})
}

// NewWith returns a client for the node at baseURL with tokens by
// role and, for https:// URLs, a CA file and a client certificate.
func NewWith(baseURL string, o Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apiclient: node URL %q: want http://host:port or https://host:port", baseURL)
	}
	tlsCfg, err := TLSConfig(o.CAFile, o.CertFile, o.KeyFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	pick := func(ts ...string) string {
		for _, t := range ts {
			if t != "" {
				return t
			}
		}
		return ""
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"),
		tokens: [3]string{
			roleRead:  pick(o.ReadToken, o.Token, o.AdminToken),
			roleWrite: pick(o.Token, o.AdminToken),
			roleAdmin: o.AdminToken,
		},
		// The longest call is a wait (at_least or a status long poll) plus
		// the answer.
		http: &http.Client{Timeout: max(wire.MaxWait, wire.MaxStatusWait) + 10*time.Second, Transport: tr},
	}, nil
}

// Error is a non-2xx answer, with the API's error code (an AWS code for a
// rejected mutation).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, in, out any, need role) error {
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
	if tok := c.tokens[need]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
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
	err := c.do(ctx, "POST", "/v1/mutations", r, &out, roleWrite)
	return out, err
}

// Authorize decides a request against the node's view.
func (c *Client) Authorize(ctx context.Context, r wire.AuthorizeRequest) (wire.AuthorizeResponse, error) {
	var out wire.AuthorizeResponse
	err := c.do(ctx, "POST", "/v1/authorize", r, &out, roleRead)
	return out, err
}

// Mutation reports which regions have applied the mutation id.
func (c *Client) Mutation(ctx context.Context, id string) (wire.MutationStatus, error) {
	var out wire.MutationStatus
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id), nil, &out, roleRead)
	return out, err
}

// WaitMutation is Mutation as a long poll: the node answers as soon as
// every region has applied id (Complete), or with the status at hand when
// wait (at most MaxStatusWait) runs out.
func (c *Client) WaitMutation(ctx context.Context, id string, wait time.Duration) (wire.MutationStatus, error) {
	var out wire.MutationStatus
	q := url.Values{"wait": {wait.String()}}
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id)+"?"+q.Encode(), nil, &out, roleRead)
	return out, err
}

// RemoveMember takes a region that is down out of the node's cluster for
// good (it no longer counts in a mutation's "every region").
func (c *Client) RemoveMember(ctx context.Context, region string) (wire.RemoveMemberResponse, error) {
	var out wire.RemoveMemberResponse
	err := c.do(ctx, "DELETE", "/v1/cluster/members/"+url.PathEscape(region), nil, &out, roleAdmin)
	return out, err
}

// View returns the node's view summary.
func (c *Client) View(ctx context.Context) (wire.ViewInfo, error) {
	var out wire.ViewInfo
	err := c.do(ctx, "GET", "/v1/view", nil, &out, roleRead)
	return out, err
}

// Cluster returns the members as the node sees them.
func (c *Client) Cluster(ctx context.Context) (wire.ClusterInfo, error) {
	var out wire.ClusterInfo
	err := c.do(ctx, "GET", "/v1/cluster", nil, &out, roleRead)
	return out, err
}

// SetFaults replaces the node's injected faults.
func (c *Client) SetFaults(ctx context.Context, s wire.FaultSpec) error {
	return c.do(ctx, "POST", "/v1/faults", s, nil, roleAdmin)
}

// ClearFaults removes the node's injected faults.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/faults", nil, nil, roleAdmin)
}

// Ready reports whether the node answers /readyz with 200.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, "GET", "/readyz", nil, nil, roleRead)
}

// GossipKeys lists the node's gossip keyring by fingerprints.
func (c *Client) GossipKeys(ctx context.Context) (wire.GossipKeys, error) {
	var out wire.GossipKeys
	err := c.do(ctx, "GET", "/v1/gossip/keys", nil, &out, roleAdmin)
	return out, err
}

// ChangeGossipKey runs one step of a gossip key rotation on the node: op
// is install, use or remove; key is the raw key (16, 24 or 32 bytes).
func (c *Client) ChangeGossipKey(ctx context.Context, op string, key []byte) (wire.GossipKeys, error) {
	var out wire.GossipKeys
	err := c.do(ctx, "POST", "/v1/gossip/keys", wire.GossipKeyRequest{Op: op, Key: base64.StdEncoding.EncodeToString(key)}, &out, roleAdmin)
	return out, err
}

// Faults returns the node's injected faults (an empty spec when none).
func (c *Client) Faults(ctx context.Context) (wire.FaultSpec, error) {
	var out wire.FaultSpec
	err := c.do(ctx, "GET", "/v1/faults", nil, &out, roleAdmin)
	return out, err
}

// URL returns the node's base URL, as given to New without a trailing
// slash.
func (c *Client) URL() string { return c.base }

// TLSConfig returns a client's TLS configuration: TLS 1.2 or later,
// servers verified against caFile (the system roots when empty) and, when
// certFile and keyFile are set, that key pair offered to a server that
// asks for one (mTLS).
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadCertPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("apiclient: CA file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("apiclient: a client certificate needs both its certificate and key files")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("apiclient: client key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// LoadCertPool reads the PEM certificates in file (a private CA).
func LoadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
