package main

import (
	"bufio"
	"math"
	"strings"
	"testing"
	"time"
)

// TestRecorderAccounting: counts, statuses, unexpected decisions and
// latency quantiles of known inputs, merged from several recorders as the
// workers' are.
func TestRecorderAccounting(t *testing.T) {
	// 1,000 answers of 1..1000 µs over four recorders, a tenth of them
	// 503s, every 50th 200 with an unexpected decision; 7 failures.
	recs := []*recorder{newRecorder(), newRecorder(), newRecorder(), newRecorder()}
	for i := 1; i <= 1000; i++ {
		r := recs[i%len(recs)]
		status := 200
		if i%10 == 0 {
			status = 503
		}
		r.observe(time.Duration(i)*time.Microsecond, status, i%50 != 1)
	}
	for range 7 {
		recs[0].fail()
	}
	all := newRecorder()
	for _, r := range recs {
		all.merge(r)
	}
	s := all.summary(2 * time.Second)
	within := func(got, want float64) bool { return math.Abs(got-want) <= want*sketchAccuracy*1.01 }
	tests := []struct {
		name      string
		got, want float64
		approx    bool
	}{
		{"requests", float64(s.Requests), 1007, false},
		{"answered", float64(s.Answered), 1000, false},
		{"failed", float64(s.Failed), 7, false},
		{"status 200", float64(s.Status["200"]), 900, false},
		{"status 503", float64(s.Status["503"]), 100, false},
		{"unexpected (only 200s count)", float64(s.Unexpected), 20, false},
		{"requests/s", s.RPS, 500, false},
		{"max ms", s.MaxMS, 1.0, false},
		{"p50 ms", s.P50MS, 0.500, true},
		{"p90 ms", s.P90MS, 0.900, true},
		{"p99 ms", s.P99MS, 0.990, true},
		{"p999 ms", s.P999MS, 0.999, true},
	}
	for _, tt := range tests {
		ok := tt.got == tt.want
		if tt.approx {
			// DDSketch's rank for quantile q over 1..1000 is within one
			// value of q*1000, then within its relative accuracy.
			ok = within(tt.got, tt.want) || within(tt.got, tt.want-0.001) || within(tt.got, tt.want+0.001)
		}
		if !ok {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if empty := newRecorder().summary(time.Second); empty.P99MS != 0 || empty.RPS != 0 {
		t.Errorf("empty recorder: %+v", empty)
	}
}

// TestReadResponse: the minimal client reads fixed-length and chunked
// bodies, keeps the connection unless told to close, and refuses what is
// not HTTP.
func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		code      int
		body      string
		closeConn bool
		err       bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello", 200, "hello", false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", 200, "abcde", false, false},
		{"close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 503, "{}", true, false},
		{"to end", "HTTP/1.0 200 OK\r\n\r\nrest", 200, "rest", true, false},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", 0, "", false, true},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 0, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keep []byte
			code, body, closeAfter, err := readResponse(bufio.NewReader(strings.NewReader(tt.raw)), nil, &keep)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if code != tt.code || string(body) != tt.body || closeAfter != tt.closeConn {
				t.Errorf("got %d %q close=%v, want %d %q close=%v", code, body, closeAfter, tt.code, tt.body, tt.closeConn)
			}
		})
	}
}
