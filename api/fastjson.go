package api

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/iamprop/iamprop/evaluator"
)

// The authorize request is the API's hot path (docs/benchmarks.md,
// "regionnode under load"): encoding/json's reflection, decoder and
// scanner allocations were a fifth of the server's CPU per request. Its
// common shape (principal, action, resource, a flat context) is parsed
// here by hand; anything else (consistency, escapes, non-ASCII text,
// duplicate or differently cased keys, nulls, errors of any kind) falls
// back to decode on the same bytes, so every answer but the speed is
// decode's. FuzzAuthorizeFastPath checks that whatever this parser
// accepts, encoding/json decodes to the same request.

// bodyPool holds request body buffers.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decodeAuthorize reads the body of POST /v1/authorize into dst, writing
// the error response itself as decode does. With rc, the context and the
// fields come from its recent ones when their bytes are the same, and ce
// is the context's entry there (nil otherwise).
func decodeAuthorize(w http.ResponseWriter, r *http.Request, dst *AuthorizeRequest, rc *reqCache) (ce *ctxEntry, ok bool) {
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			bodyPool.Put(bp)
		}
	}()
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	buf, err := readAll(body, (*bp)[:0])
	*bp = buf
	if err == nil {
		if ce, ok := parseAuthorizeWith(buf, dst, rc); ok {
			return ce, true
		}
	}
	*dst = AuthorizeRequest{}
	var rest io.Reader = bytes.NewReader(buf)
	if err != nil {
		// decode meets the same bytes, then the same error, as it would
		// have reading the body itself.
		rest = io.MultiReader(rest, errReader{err})
	}
	return nil, decodeFrom(w, rest, dst)
}

// readAll appends r's content to buf until EOF or an error.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// parseAuthorize parses the common shape of an authorize request; false
// means "not this shape", never "invalid": the caller then decodes the
// same bytes with encoding/json, which accepts or refuses them.
func parseAuthorize(b []byte, dst *AuthorizeRequest) bool {
	_, ok := parseAuthorizeWith(b, dst, nil)
	return ok
}

// parseAuthorizeWith is parseAuthorize taking the context and the field
// strings from rc (may be nil) when their bytes were seen recently; ce is
// the context's entry in rc.
func parseAuthorizeWith(b []byte, dst *AuthorizeRequest, rc *reqCache) (ce *ctxEntry, ok bool) {
	p := parser{b: b, rc: rc}
	ok = p.request(dst)
	return p.ce, ok
}

func (p *parser) request(dst *AuthorizeRequest) bool {
	p.ws()
	if !p.eat('{') {
		return false
	}
	var seen [4]bool // principal, action, resource, context
	p.ws()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		var field int
		switch string(key) {
		case "principal":
			field = 0
		case "action":
			field = 1
		case "resource":
			field = 2
		case "context":
			field = 3
		default:
			return false
		}
		if seen[field] {
			return false
		}
		seen[field] = true
		if field == 3 {
			ctx, ok := p.cachedContext()
			if !ok {
				return false
			}
			dst.Context = ctx
		} else {
			v, ok := p.plainString()
			if !ok {
				return false
			}
			switch field {
			case 0:
				dst.Principal = p.rc.str(v)
			case 1:
				dst.Action = p.rc.str(v)
			case 2:
				dst.Resource = p.rc.str(v)
			}
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end()
		}
		return false
	}
}

type parser struct {
	b  []byte
	i  int
	rc *reqCache // nil: no cache
	ce *ctxEntry // the context's entry in rc
}

// cachedContext is context, from rc when the object's bytes were seen
// recently. The cache is keyed by the object's exact text, and only
// objects this parser read completely are stored, so a hit decodes to
// what parsing the same bytes gives.
func (p *parser) cachedContext() (map[string]any, bool) {
	if p.rc == nil {
		return p.context()
	}
	if end := objectEnd(p.b[p.i:]); end > 0 {
		if e := p.rc.context(p.b[p.i : p.i+end]); e != nil {
			p.i += end
			p.ce = e
			return e.m, true
		}
	}
	start := p.i
	m, ok := p.context()
	if !ok {
		return nil, false
	}
	p.ce = p.rc.addContext(p.b[start:p.i], m)
	return m, true
}

// objectEnd is the length of b up to its first '}' outside a string
// (strings without escapes, as the fast path reads them), or 0: a
// candidate for a cache lookup, not a parse.
func objectEnd(b []byte) int {
	in := false
	for i, c := range b {
		switch {
		case c == '"':
			in = !in
		case c == '}' && !in:
			return i + 1
		}
	}
	return 0
}

// reqCache holds the recent authorize requests' contexts (their decoded
// values and, built once, their evaluator context) and field strings, by
// their exact bytes: clients repeat them, and decoding a context and
// building its evaluator form were a third of an answer's allocations.
// Two generations bound it: when the current one is full it becomes the
// old one, and what is found in the old one moves back to the current.
type reqCache struct {
	mu            sync.Mutex
	ctxs, oldCtxs map[string]*ctxEntry
	strs, oldStrs map[string]string
}

// reqCacheGen is the entries of one generation of each map; longer
// strings and contexts are not cached.
const (
	reqCacheGen    = 1024
	reqCacheMaxLen = 1024
)

// ctxEntry is a request context: the values as decoded (shared by the
// requests that sent the same bytes: read only) and their evaluator form.
type ctxEntry struct {
	m    map[string]any
	once sync.Once
	ctx  *evaluator.Context // nil: NewContext refused the values
}

// prepared is the evaluator context of the entry's values, built once;
// nil when they are not a valid context (the caller then lets Authorize
// build it and report why).
func (e *ctxEntry) prepared() *evaluator.Context {
	e.once.Do(func() { e.ctx, _ = evaluator.NewContext(e.m) })
	return e.ctx
}

func (c *reqCache) context(raw []byte) *ctxEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.ctxs[string(raw)]; ok {
		return e
	}
	if e, ok := c.oldCtxs[string(raw)]; ok {
		c.putContext(string(raw), e)
		return e
	}
	return nil
}

func (c *reqCache) addContext(raw []byte, m map[string]any) *ctxEntry {
	if len(raw) > reqCacheMaxLen {
		return nil
	}
	e := &ctxEntry{m: m}
	c.mu.Lock()
	c.putContext(string(raw), e)
	c.mu.Unlock()
	return e
}

func (c *reqCache) putContext(k string, e *ctxEntry) {
	if c.ctxs == nil || len(c.ctxs) >= reqCacheGen {
		c.oldCtxs, c.ctxs = c.ctxs, make(map[string]*ctxEntry, 64)
	}
	c.ctxs[k] = e
}

// str returns b as a string, the same one as recent requests' when their
// bytes were the same. A nil cache allocates a new one.
func (c *reqCache) str(b []byte) string {
	if c == nil || len(b) > reqCacheMaxLen {
		return string(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.strs[string(b)]; ok {
		return s
	}
	s, ok := c.oldStrs[string(b)]
	if !ok {
		s = string(b)
	}
	if c.strs == nil || len(c.strs) >= reqCacheGen {
		c.oldStrs, c.strs = c.strs, make(map[string]string, 64)
	}
	c.strs[s] = s
	return s
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end accepts only trailing whitespace.
func (p *parser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// plainString reads a string of printable ASCII without escapes: what
// encoding/json would decode to the same bytes.
func (p *parser) plainString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// context reads a flat object of strings, numbers, booleans and lists of
// those (what contextValue accepts; anything else falls back).
func (p *parser) context() (map[string]any, bool) {
	if !p.eat('{') {
		return nil, false
	}
	m := make(map[string]any, 4)
	p.ws()
	if p.eat('}') {
		return m, true
	}
	for {
		p.ws()
		k, ok := p.plainString()
		if !ok {
			return nil, false
		}
		key := string(k)
		if _, dup := m[key]; dup {
			return nil, false
		}
		p.ws()
		if !p.eat(':') {
			return nil, false
		}
		p.ws()
		var v any
		if p.eat('[') {
			list := []any{}
			p.ws()
			if !p.eat(']') {
				for {
					p.ws()
					e, ok := p.scalar()
					if !ok {
						return nil, false
					}
					list = append(list, e)
					p.ws()
					if p.eat(',') {
						continue
					}
					if p.eat(']') {
						break
					}
					return nil, false
				}
			}
			v = list
		} else if v, ok = p.scalar(); !ok {
			return nil, false
		}
		m[key] = v
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return m, true
		}
		return nil, false
	}
}

// scalar reads a plain string, a number or a boolean.
func (p *parser) scalar() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.plainString()
		return string(s), ok
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, false
}

func (p *parser) literal(word string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return false
	}
	p.i += len(word)
	return true
}

// number reads a JSON number (RFC 8259 grammar) as encoding/json decodes
// it into an interface: a float64.
func (p *parser) number() (any, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil {
		return nil, false // out of range: encoding/json's error, through the fallback
	}
	return f, true
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
