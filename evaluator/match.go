package evaluator

import (
	"strings"
	"unicode/utf8"
)

// segKind is one piece of a compiled pattern.
type segKind uint8

const (
	segLit  segKind = iota // literal text
	segStar                // '*': any run of characters, possibly empty
	segOne                 // '?': exactly one character
	segVar                 // ${key} or ${key, 'default'}, resolved per request to literal text
)

// seg is one piece of a pattern. A pattern is a slice of segs so that a
// variable can be resolved into a literal without building a new string
// (no allocation per request), and so a '*' inside a resolved value stays a
// literal character, as AWS treats substituted values.
type seg struct {
	kind   segKind
	lit    string // segLit: the text; segVar: the lower-cased context key
	def    string // segVar: the default value
	hasDef bool
}

// pattern is a compiled glob with optional policy variables.
type pattern struct {
	segs    []seg
	hasVar  bool
	anyStar bool // the pattern is exactly "*"
	shape   shape
	lit     string // shapeExact, shapePrefix, shapeSuffix: the literal part
	llit    string // lit lower-cased, when lit is ASCII ("" otherwise)
	// litPrefix is the literal text before the first wildcard or variable:
	// a cheap test that rejects most candidates before any variable is
	// resolved.
	litPrefix string
}

// shape classifies variable-free patterns so that most comparisons are a
// plain string compare instead of a glob walk (the benchmark's hot path).
type shape uint8

const (
	shapeGeneral shape = iota
	shapeExact         // "abc" (also "": matches only the empty string)
	shapeAny           // "*"
	shapePrefix        // "abc*"
	shapeSuffix        // "*abc"
)

// matches reports whether s matches the variable-free pattern p.
func (p *pattern) matches(s string, fold bool) bool {
	switch p.shape {
	case shapeAny:
		return true
	case shapeExact:
		if !fold {
			return p.lit == s
		}
		if p.llit != "" || p.lit == "" {
			return len(s) == len(p.llit) && eqLower(p.llit, s)
		}
		return strings.EqualFold(p.lit, s)
	case shapePrefix:
		if !fold {
			return strings.HasPrefix(s, p.lit)
		}
		if p.llit != "" {
			return len(s) >= len(p.llit) && eqLower(p.llit, s[:len(p.llit)])
		}
		return len(s) >= len(p.lit) && strings.EqualFold(p.lit, s[:len(p.lit)])
	case shapeSuffix:
		if fold {
			return len(s) >= len(p.lit) && strings.EqualFold(p.lit, s[len(s)-len(p.lit):])
		}
		return strings.HasSuffix(s, p.lit)
	}
	return globMatch(p.segs, s, fold)
}

func (p *pattern) classify() {
	defer func() {
		if isASCII(p.lit) {
			p.llit = strings.ToLower(p.lit)
		}
	}()
	if p.hasVar {
		return
	}
	switch segs := p.segs; {
	case len(segs) == 0:
		p.shape = shapeExact
	case len(segs) == 1 && segs[0].kind == segLit:
		p.shape, p.lit = shapeExact, segs[0].lit
	case len(segs) == 1 && segs[0].kind == segStar:
		p.shape = shapeAny
	case len(segs) == 2 && segs[0].kind == segLit && segs[1].kind == segStar:
		p.shape, p.lit = shapePrefix, segs[0].lit
	case len(segs) == 2 && segs[0].kind == segStar && segs[1].kind == segLit:
		p.shape, p.lit = shapeSuffix, segs[1].lit
	}
}

// maxSegs bounds how many segments a pattern may have when variables must be
// resolved into a stack buffer; longer patterns are rejected at validation.
const maxSegs = 32

// compilePattern turns text into segments. glob makes '*' and '?' wildcards;
// vars enables ${...} policy variables. It returns an error message for a
// malformed variable.
func compilePattern(text string, glob, vars bool) (pattern, string) {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.segs = append(p.segs, seg{kind: segLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case glob && c == '*':
			flush()
			p.segs = append(p.segs, seg{kind: segStar})
		case glob && c == '?':
			flush()
			p.segs = append(p.segs, seg{kind: segOne})
		case vars && c == '$' && i+1 < len(text) && text[i+1] == '{':
			end := strings.IndexByte(text[i:], '}')
			if end < 0 {
				return pattern{}, "unterminated policy variable in " + quote(text)
			}
			body := text[i+2 : i+end]
			i += end
			switch body {
			case "*", "?", "$": // escapes: the character itself, never a wildcard
				lit.WriteString(body)
				continue
			}
			key, def, hasDef, msg := parseVariable(body)
			if msg != "" {
				return pattern{}, msg
			}
			flush()
			p.segs = append(p.segs, seg{kind: segVar, lit: strings.ToLower(key), def: def, hasDef: hasDef})
			p.hasVar = true
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if len(p.segs) > maxSegs {
		return pattern{}, "pattern " + quote(text) + " has too many wildcards and variables"
	}
	p.anyStar = len(p.segs) == 1 && p.segs[0].kind == segStar
	if len(p.segs) > 0 && p.segs[0].kind == segLit {
		p.litPrefix = p.segs[0].lit
	}
	p.classify()
	return p, ""
}

// parseVariable splits "key" or "key, 'default'".
func parseVariable(body string) (key, def string, hasDef bool, msg string) {
	key = body
	if c := strings.IndexByte(body, ','); c >= 0 {
		key = body[:c]
		d := strings.TrimSpace(body[c+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return "", "", false, "the default of policy variable ${" + body + "} must be in single quotes"
		}
		def, hasDef = d[1:len(d)-1], true
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " ${}'") {
		return "", "", false, "malformed policy variable ${" + body + "}"
	}
	return key, def, hasDef, ""
}

func quote(s string) string { return "\"" + s + "\"" }

// resolve returns p's segments with variables replaced by literals, in buf
// (a caller's stack array). ok is false when a variable has no value and no
// default: AWS then treats the element as not matching.
func (p *pattern) resolve(buf *[maxSegs]seg, rc *reqCtx) ([]seg, bool) {
	if !p.hasVar {
		return p.segs, true
	}
	out := buf[:len(p.segs)]
	for i, s := range p.segs {
		if s.kind != segVar {
			out[i] = s
			continue
		}
		v, ok := rc.single(s.lit)
		if !ok {
			if !s.hasDef {
				return nil, false
			}
			v = s.def
		}
		out[i] = seg{kind: segLit, lit: v}
	}
	return out, true
}

// globMatch reports whether s matches segs. fold compares ASCII letters
// case-insensitively (actions are case-insensitive; ARNs and StringLike are
// not). Single backtrack point: the classic linear-ish wildcard algorithm,
// correct for '*' and '?' only patterns, with no allocation and no recursion.
func globMatch(segs []seg, s string, fold bool) bool {
	si, pi, po := 0, 0, 0
	starPi, starSi := -1, 0
	for {
		// skip empty literals and literals fully consumed
		for pi < len(segs) && segs[pi].kind == segLit && po >= len(segs[pi].lit) {
			pi++
			po = 0
		}
		if si >= len(s) {
			break
		}
		if pi < len(segs) {
			sg := &segs[pi]
			switch sg.kind {
			case segStar:
				pi++
				po = 0
				starPi, starSi = pi, si
				continue
			case segOne:
				_, w := utf8.DecodeRuneInString(s[si:])
				si += w
				pi++
				continue
			case segLit:
				if byteEq(sg.lit[po], s[si], fold) {
					po++
					si++
					continue
				}
			}
		}
		if starPi < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		si, pi, po = starSi, starPi, 0
	}
	for pi < len(segs) {
		sg := &segs[pi]
		if sg.kind == segStar || (sg.kind == segLit && po >= len(sg.lit)) {
			pi++
			po = 0
			continue
		}
		return false
	}
	return true
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lowerASCII(a) == lowerASCII(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// MatchWildcard reports whether s matches pattern, where '*' matches any run
// of characters and '?' exactly one; with foldCase, ASCII letters compare
// case-insensitively. It is the matcher behind Action, StringLike and the
// segments of ARNs, exported for tools and fuzzing.
func MatchWildcard(pattern, s string, foldCase bool) bool {
	p, _ := compilePattern(pattern, true, false)
	return p.matches(s, foldCase)
}

// arnParts splits an ARN into its six colon-separated parts; the last part
// (the resource) keeps any further colons. ok is false for fewer than six.
func arnParts(s string) (parts [6]string, ok bool) {
	for i := range 5 {
		c := strings.IndexByte(s, ':')
		if c < 0 {
			return parts, false
		}
		parts[i] = s[:c]
		s = s[c+1:]
	}
	parts[5] = s
	return parts, true
}

// arnPattern is an ARN pattern compiled part by part: AWS matches each of
// the six colon-delimited parts separately, so a '*' never spans a colon
// before the resource part.
type arnPattern struct {
	any   bool // "*"
	parts [6]pattern
	text  string
	// head is the text up to the fifth colon when those five parts are
	// plain literals ("arn:aws:s3:::"): one compare instead of five.
	head      string
	headExact bool
}

// compileARN compiles an ARN pattern; msg is non-empty when it is malformed.
func compileARN(text string, vars bool) (arnPattern, string) {
	if text == "*" {
		return arnPattern{any: true, text: text}, ""
	}
	raw, ok := splitARNOutsideVars(text)
	if !ok {
		return arnPattern{}, "malformed ARN " + quote(text) + ": expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE"
	}
	if raw[0] != "arn" && raw[0] != "*" {
		return arnPattern{}, "malformed ARN " + quote(text) + ": it must start with \"arn:\""
	}
	if raw[2] == "" {
		return arnPattern{}, "malformed ARN " + quote(text) + ": the service part is empty"
	}
	ap := arnPattern{text: text}
	for i, r := range raw {
		p, msg := compilePattern(r, true, vars)
		if msg != "" {
			return arnPattern{}, msg
		}
		ap.parts[i] = p
	}
	ap.headExact = true
	for i := range 5 {
		ap.headExact = ap.headExact && ap.parts[i].shape == shapeExact && !ap.parts[i].hasVar
	}
	if ap.headExact {
		ap.head = text[:len(text)-len(raw[5])]
	}
	return ap, ""
}

// splitARNOutsideVars splits on ':' except inside ${...}, whose keys
// (aws:username) contain colons.
func splitARNOutsideVars(s string) (parts [6]string, ok bool) {
	n, start, depth := 0, 0, 0
	for i := 0; i < len(s) && n < 5; i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return parts, false
	}
	parts[5] = s[start:]
	return parts, true
}

// match reports whether the request's resource matches; ok is false when a
// variable could not be resolved.
func (ap *arnPattern) match(rc *reqCtx) (matched, ok bool) {
	return ap.matchParts(&rc.arn, rc.head, rc.arnOK, rc)
}

// matchString matches any ARN (ArnLike and friends).
func (ap *arnPattern) matchString(s string, rc *reqCtx) (matched, ok bool) {
	parts, pok := arnParts(s)
	head := ""
	if pok {
		head = s[:len(s)-len(parts[5])]
	}
	return ap.matchParts(&parts, head, pok, rc)
}

func (ap *arnPattern) matchParts(arn *[6]string, head string, arnOK bool, rc *reqCtx) (matched, ok bool) {
	if ap.any {
		return true, true
	}
	if !arnOK {
		return false, true
	}
	order := [...]int{5, 2, 4, 3, 1, 0} // the resource part is the most selective
	n := len(order)
	if ap.headExact {
		if head != ap.head {
			return false, true
		}
		n = 1
	}
	for _, i := range order[:n] {
		pp := &ap.parts[i]
		if !pp.hasVar {
			if !pp.matches(arn[i], false) {
				return false, true
			}
			continue
		}
		if !strings.HasPrefix(arn[i], pp.litPrefix) {
			return false, true
		}
		var buf [maxSegs]seg
		segs, ok := pp.resolve(&buf, rc)
		if !ok {
			return false, false
		}
		if !globMatch(segs, arn[i], false) {
			return false, true
		}
	}
	return true, true
}

// MatchARN reports whether arn matches pattern part by part, the way AWS
// matches Resource elements and the ArnLike operator. Patterns may use '*'
// and '?' but not policy variables.
func MatchARN(pattern, arn string) bool {
	ap, msg := compileARN(pattern, false)
	if msg != "" {
		return false
	}
	m, _ := ap.matchString(arn, nil)
	return m
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// eqLower reports whether s equals lower (an ASCII, lower-case literal) with
// ASCII letters compared case-insensitively. A non-ASCII byte in s cannot
// fold to an ASCII letter except for the Kelvin sign and long s, which AWS
// action names never contain, so it simply does not match.
func eqLower(lower, s string) bool {
	for i := range len(lower) {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}
