package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iamprop/iamprop/live"
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

// ClientOptions configures NewClientWith.
type ClientOptions struct {
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

// maxResponseBytes bounds what the client reads from a node.
const maxResponseBytes = 8 << 20

// NewClient returns a client for the node at baseURL ("http://host:port"
// or "https://host:port", verified against the system roots), sending
// token (if not empty) on every request that needs one.
func NewClient(baseURL, token string) (*Client, error) {
	return NewClientWith(baseURL, ClientOptions{Token: token, ReadToken: token, AdminToken: token})
}

// NewClientWith returns a client for the node at baseURL with tokens by
// role and, for https:// URLs, a CA file and a client certificate.
func NewClientWith(baseURL string, o ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api: node URL %q: want http://host:port or https://host:port", baseURL)
	}
	tlsCfg, err := ClientTLS(o.CAFile, o.CertFile, o.KeyFile)
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
		http: &http.Client{Timeout: max(MaxWait, MaxStatusWait) + 10*time.Second, Transport: tr},
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
			return fmt.Errorf("api: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := c.tokens[need]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("api: %s %s: read answer: %w", method, path, err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("api: %s %s: answer exceeds %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return &Error{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("api: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Commit commits one mutation at the node's region.
func (c *Client) Commit(ctx context.Context, r MutationRequest) (MutationResponse, error) {
	var out MutationResponse
	err := c.do(ctx, "POST", "/v1/mutations", r, &out, roleWrite)
	return out, err
}

// Authorize decides a request against the node's view.
func (c *Client) Authorize(ctx context.Context, r AuthorizeRequest) (AuthorizeResponse, error) {
	var out AuthorizeResponse
	err := c.do(ctx, "POST", "/v1/authorize", r, &out, roleRead)
	return out, err
}

// Mutation reports which regions have applied the mutation id.
func (c *Client) Mutation(ctx context.Context, id string) (live.MutationStatus, error) {
	var out live.MutationStatus
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id), nil, &out, roleRead)
	return out, err
}

// WaitMutation is Mutation as a long poll: the node answers as soon as
// every region has applied id (Complete), or with the status at hand when
// wait (at most MaxStatusWait) runs out.
func (c *Client) WaitMutation(ctx context.Context, id string, wait time.Duration) (live.MutationStatus, error) {
	var out live.MutationStatus
	q := url.Values{"wait": {wait.String()}}
	err := c.do(ctx, "GET", "/v1/mutations/"+url.PathEscape(id)+"?"+q.Encode(), nil, &out, roleRead)
	return out, err
}

// RemoveMember takes a region that is down out of the node's cluster for
// good (it no longer counts in a mutation's "every region").
func (c *Client) RemoveMember(ctx context.Context, region string) (RemoveMemberResponse, error) {
	var out RemoveMemberResponse
	err := c.do(ctx, "DELETE", "/v1/cluster/members/"+url.PathEscape(region), nil, &out, roleAdmin)
	return out, err
}

// View returns the node's view summary.
func (c *Client) View(ctx context.Context) (live.ViewInfo, error) {
	var out live.ViewInfo
	err := c.do(ctx, "GET", "/v1/view", nil, &out, roleRead)
	return out, err
}

// ClusterInfo is the answer of GET /v1/cluster.
type ClusterInfo struct {
	Region  string            `json:"region"`
	Members []live.MemberInfo `json:"members"`
}

// Cluster returns the members as the node sees them.
func (c *Client) Cluster(ctx context.Context) (ClusterInfo, error) {
	var out ClusterInfo
	err := c.do(ctx, "GET", "/v1/cluster", nil, &out, roleRead)
	return out, err
}

// SetFaults replaces the node's injected faults.
func (c *Client) SetFaults(ctx context.Context, s live.FaultSpec) error {
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
func (c *Client) GossipKeys(ctx context.Context) (live.GossipKeys, error) {
	var out live.GossipKeys
	err := c.do(ctx, "GET", "/v1/gossip/keys", nil, &out, roleAdmin)
	return out, err
}

// ChangeGossipKey runs one step of a gossip key rotation on the node: op
// is install, use or remove; key is the raw key (16, 24 or 32 bytes).
func (c *Client) ChangeGossipKey(ctx context.Context, op string, key []byte) (live.GossipKeys, error) {
	var out live.GossipKeys
	err := c.do(ctx, "POST", "/v1/gossip/keys", GossipKeyRequest{Op: op, Key: base64.StdEncoding.EncodeToString(key)}, &out, roleAdmin)
	return out, err
}
