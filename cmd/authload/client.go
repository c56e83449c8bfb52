package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection that sends the same prepared
// request over and over. It is a minimal client on purpose: the load
// generator shares the machine with the server, and net/http's client
// spends several times the CPU per request of writing prepared bytes and
// reading a status line, headers and a body into reused buffers.
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	body []byte // the last response body, reused
	// deadline is the connection's I/O deadline: moved forward only when
	// less than half of requestTimeout is left, not at every request
	// (each move resets a runtime timer: CPU the server's cores pay for).
	deadline time.Time
}

func dial(addr string) (*conn, error) {
	c := &conn{addr: addr}
	return c, c.redial()
}

func (c *conn) redial() error {
	if c.c != nil {
		_ = c.c.Close()
	}
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		c.c = nil
		return err
	}
	c.c = nc
	c.deadline = time.Time{}
	if c.r == nil {
		c.r = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.r.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
	}
}

// buildRequest renders a POST of body to path with keep-alive.
func buildRequest(host, path, token string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, host, len(body))
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// do sends req and reads the answer; the body stays valid until the next
// call. A connection the server closed is redialled once.
func (c *conn) do(req []byte) (int, []byte, error) {
	if c.c == nil {
		if err := c.redial(); err != nil {
			return 0, nil, err
		}
	}
	code, body, closeAfter, err := c.roundTrip(req)
	if err != nil {
		c.close()
		c.c = nil
		return 0, nil, err
	}
	if closeAfter {
		c.close()
		c.c = nil
	}
	return code, body, nil
}

// requestTimeout bounds a connection's I/O: a round trip fails after
// between half of it and all of it without progress, so a server that
// stops answering fails the request instead of hanging the generator.
const requestTimeout = 30 * time.Second

func (c *conn) roundTrip(req []byte) (code int, body []byte, closeAfter bool, err error) {
	if now := time.Now(); c.deadline.Sub(now) < requestTimeout/2 {
		c.deadline = now.Add(requestTimeout)
		if err = c.c.SetDeadline(c.deadline); err != nil {
			return 0, nil, false, err
		}
	}
	if _, err = c.c.Write(req); err != nil {
		return 0, nil, false, err
	}
	return readResponse(c.r, c.body[:0], &c.body)
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse parses one HTTP/1.1 response from r: status line, headers
// (Content-Length or chunked), body appended to buf (kept in *keep for
// reuse).
func readResponse(r *bufio.Reader, buf []byte, keep *[]byte) (code int, body []byte, closeAfter bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, errMalformed
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, errMalformed
	}
	length, chunked := -1, false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			line, err = r.ReadSlice('\n')
			if err != nil {
				return 0, nil, false, err
			}
			line = bytes.TrimRight(line, "\r\n")
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			n, perr := strconv.ParseUint(string(line), 16, 32)
			if perr != nil {
				return 0, nil, false, errMalformed
			}
			if n == 0 {
				// Trailers, then the empty line.
				for {
					line, err = r.ReadSlice('\n')
					if err != nil {
						return 0, nil, false, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			start := len(buf)
			buf = append(buf, make([]byte, n)...)
			if _, err = io.ReadFull(r, buf[start:]); err != nil {
				return 0, nil, false, err
			}
			if _, err = r.Discard(2); err != nil { // the chunk's CRLF
				return 0, nil, false, err
			}
		}
	case length >= 0:
		if cap(buf) < length {
			buf = make([]byte, length)
		}
		buf = buf[:length]
		if _, err = io.ReadFull(r, buf); err != nil {
			return 0, nil, false, err
		}
	default:
		// No length: the body runs to the end of the connection.
		rest, rerr := io.ReadAll(r)
		if rerr != nil {
			return 0, nil, false, rerr
		}
		buf, closeAfter = append(buf, rest...), true
	}
	*keep = buf
	return code, buf, closeAfter, nil
}
