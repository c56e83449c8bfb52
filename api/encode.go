package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// writeAuthorize answers 200 with resp, as writeJSON would, byte for byte,
// without reflection: expJSON is resp.Explanation already encoded (the
// view caches it, see controlplane.State.ExplainJSON); nil falls back to
// writeJSON. Encoding the answer by reflection was a tenth of the server's
// CPU per request.
func writeAuthorize(w http.ResponseWriter, resp *AuthorizeResponse, expJSON []byte) {
	if expJSON == nil || math.IsInf(resp.View.LagSeconds, 0) || math.IsNaN(resp.View.LagSeconds) {
		// A copy, so resp itself does not escape: the handler's answer
		// stays on its stack on the usual path.
		writeJSON(w, http.StatusOK, *resp)
		return
	}
	bp := bodyPool.Get().(*[]byte)
	b := appendAuthorize((*bp)[:0], resp, expJSON)
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		bodyPool.Put(bp)
	}
}

// appendAuthorize appends json.Marshal(resp) and a newline, with
// expJSON standing for resp.Explanation.
func appendAuthorize(b []byte, resp *AuthorizeResponse, expJSON []byte) []byte {
	b = append(b, `{"decision":`...)
	b = appendJSONString(b, resp.Decision)
	b = append(b, `,"explanation":`...)
	b = append(b, expJSON...)
	if resp.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, resp.Reason)
	}
	b = append(b, `,"authenticated":`...)
	b = strconv.AppendBool(b, resp.Authenticated)
	v := &resp.View
	b = append(b, `,"view":{"region":`...)
	b = appendJSONString(b, v.Region)
	if v.Digest != "" {
		b = append(b, `,"digest":`...)
		b = appendJSONString(b, v.Digest)
	}
	if len(v.Vector) > 0 {
		b = append(b, `,"version_vector":`...)
		b = appendVector(b, v.Vector)
	}
	if len(v.Above) > 0 {
		b = append(b, `,"applied_above":`...)
		b = appendAbove(b, v.Above)
	}
	if v.AboveTruncated {
		b = append(b, `,"applied_above_truncated":true`...)
	}
	b = append(b, `,"lag_seconds":`...)
	b = appendJSONFloat(b, v.LagSeconds)
	b = append(b, `,"stale":`...)
	b = strconv.AppendBool(b, v.Stale)
	return append(b, "}}\n"...)
}

// appendVector writes a version vector as encoding/json writes a map:
// keys sorted. A node's vector has an entry per origin epoch (a handful);
// sorting them on the stack keeps this free of allocations.
func appendVector(b []byte, m map[string]uint64) []byte {
	var small [16]string
	keys := sortedKeys(small[:0], m)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = strconv.AppendUint(b, m[k], 10)
	}
	return append(b, '}')
}

// sortedKeys appends m's keys to keys, sorted: insertion sort, for the
// few keys of a vector.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// appendAbove writes ViewRef.Above as encoding/json writes it: keys
// sorted, each a list of [from, to] pairs. Under concurrent commits a
// good share of answers carry it (late arrivals), so the keys are sorted
// on the stack too.
func appendAbove(b []byte, m map[string][][2]uint64) []byte {
	var small [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(small[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		rs := m[k]
		if rs == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, r := range rs {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendUint(b, r[0], 10)
			b = append(b, ',')
			b = strconv.AppendUint(b, r[1], 10)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString writes s as encoding/json does (HTML escaped): plain
// printable ASCII directly, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, err := json.Marshal(s)
			if err != nil { // not expected for a string
				return append(b, `""`...)
			}
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat writes f as encoding/json writes a float64 (finite:
// encoding/json refuses the others, and writeAuthorize leaves them to it).
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
