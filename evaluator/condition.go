package evaluator

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// family groups condition operators that compare values the same way.
type family uint8

const (
	famString family = iota + 1
	famStringFold
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// typed: the family's values must parse as a number, date, bool, address
// or base64 text; one that does not is a warning, never an error.
func (f family) typed() bool {
	switch f {
	case famNumeric, famDate, famBool, famIP, famBinary:
		return true
	}
	return false
}

// cmpOp is the comparison a Numeric or Date operator makes.
type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// setOp is the ForAnyValue/ForAllValues qualifier.
type setOp uint8

const (
	setNone setOp = iota
	setAny
	setAll
)

type opInfo struct {
	fam    family
	cmp    cmpOp
	negate bool
}

// operators maps lower-cased base operator names (no set prefix, no
// IfExists suffix) to their meaning.
var operators = map[string]opInfo{
	"stringequals":              {fam: famString},
	"stringnotequals":           {fam: famString, negate: true},
	"stringequalsignorecase":    {fam: famStringFold},
	"stringnotequalsignorecase": {fam: famStringFold, negate: true},
	"stringlike":                {fam: famStringLike},
	"stringnotlike":             {fam: famStringLike, negate: true},
	"numericequals":             {fam: famNumeric},
	"numericnotequals":          {fam: famNumeric, negate: true},
	"numericlessthan":           {fam: famNumeric, cmp: cmpLt},
	"numericlessthanequals":     {fam: famNumeric, cmp: cmpLe},
	"numericgreaterthan":        {fam: famNumeric, cmp: cmpGt},
	"numericgreaterthanequals":  {fam: famNumeric, cmp: cmpGe},
	"dateequals":                {fam: famDate},
	"datenotequals":             {fam: famDate, negate: true},
	"datelessthan":              {fam: famDate, cmp: cmpLt},
	"datelessthanequals":        {fam: famDate, cmp: cmpLe},
	"dategreaterthan":           {fam: famDate, cmp: cmpGt},
	"dategreaterthanequals":     {fam: famDate, cmp: cmpGe},
	"bool":                      {fam: famBool},
	"binaryequals":              {fam: famBinary},
	"ipaddress":                 {fam: famIP},
	"notipaddress":              {fam: famIP, negate: true},
	"arnequals":                 {fam: famARN},
	"arnlike":                   {fam: famARN},
	"arnnotequals":              {fam: famARN, negate: true},
	"arnnotlike":                {fam: famARN, negate: true},
	"null":                      {fam: famNull},
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (info opInfo, set setOp, ifExists bool, ok bool) {
	base := name
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "foranyvalue:"):
		set, base = setAny, base[len("foranyvalue:"):]
	case strings.HasPrefix(lower, "forallvalues:"):
		set, base = setAll, base[len("forallvalues:"):]
	}
	lb := strings.ToLower(base)
	if strings.HasSuffix(lb, "ifexists") && lb != "ifexists" {
		ifExists, lb = true, lb[:len(lb)-len("ifexists")]
	}
	info, ok = operators[lb]
	if ok && info.fam == famNull && (ifExists || set != setNone) {
		return info, set, ifExists, false // Null takes no qualifiers
	}
	return info, set, ifExists, ok
}

// condition is one compiled (operator, key, values) triple.
type condition struct {
	op, key  string // as written, for explanations
	lkey     string // lower-cased key for lookups
	info     opInfo
	set      setOp
	ifExists bool
	vals     []condVal
}

// condVal is one policy value, pre-parsed for its family.
type condVal struct {
	raw  string
	pat  pattern // string families
	num  float64
	date int64 // unix nanoseconds
	pfx  netip.Prefix
	arn  arnPattern
	b    bool
	bad  bool // did not parse for its operator (a warning): matches no request value
}

// eval decides the condition. ok is false when a policy variable in a value
// could not be resolved: the whole statement then does not match.
func (c *condition) eval(rc *reqCtx) (result, ok bool) {
	v, present := rc.lookup(c.lkey)
	if present && v.isList && len(v.list) == 0 {
		present = false // AWS treats an empty set like a missing key here
	}
	if c.info.fam == famNull {
		return present != c.vals[0].b, true
	}
	if !present {
		switch {
		case c.ifExists:
			return true, true
		case c.set == setAny:
			return false, true
		case c.set == setAll:
			return true, true
		}
		return c.info.negate, true // negated operators match a missing key
	}
	if !v.isList {
		return c.matchOne(v.one, &v, rc)
	}
	n := v.n()
	if c.set == setAll {
		for i := range n {
			m, ok := c.matchOne(v.at(i), nil, rc)
			if !ok {
				return false, false
			}
			if !m {
				return false, true
			}
		}
		return true, true
	}
	for i := range n {
		m, ok := c.matchOne(v.at(i), nil, rc)
		if !ok {
			return false, false
		}
		if m {
			return true, true
		}
	}
	return false, true
}

// matchOne: does one request value satisfy the operator? Positive operators
// need some policy value to match (values OR); negated ones need none to.
// pre, when not nil, holds s pre-parsed.
func (c *condition) matchOne(s string, pre *ctxValue, rc *reqCtx) (bool, bool) {
	hit := false
	for i := range c.vals {
		m, ok := c.valMatch(&c.vals[i], s, pre, rc)
		if !ok {
			return false, false
		}
		if m {
			hit = true
			break
		}
	}
	return hit != c.info.negate, true
}

func (c *condition) valMatch(cv *condVal, s string, pre *ctxValue, rc *reqCtx) (bool, bool) {
	if cv.bad {
		return false, true
	}
	switch c.info.fam {
	case famString, famStringFold, famStringLike:
		fold := c.info.fam == famStringFold
		if !cv.pat.hasVar {
			return cv.pat.matches(s, fold), true
		}
		if !fold && !strings.HasPrefix(s, cv.pat.litPrefix) {
			return false, true
		}
		var buf [maxSegs]seg
		segs, ok := cv.pat.resolve(&buf, rc)
		if !ok {
			return false, false
		}
		return globMatch(segs, s, fold), true
	case famNumeric:
		if pre != nil && pre.isNum {
			return compare(pre.num, cv.num, c.info.cmp), true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, true
		}
		return compare(f, cv.num, c.info.cmp), true
	case famDate:
		t, ok := parseDate(s)
		if !ok {
			return false, true
		}
		return compare(float64(t), float64(cv.date), c.info.cmp), true
	case famBool:
		if cv.pat.hasVar {
			var buf [maxSegs]seg
			segs, ok := cv.pat.resolve(&buf, rc)
			if !ok {
				return false, false
			}
			return globMatch(segs, s, true), true
		}
		return strings.EqualFold(s, cv.raw), true
	case famBinary:
		return s == cv.raw, true
	case famIP:
		if pre != nil && pre.hasIP {
			return cv.pfx.Contains(pre.ip), true
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false, true
		}
		return cv.pfx.Contains(a.Unmap()), true
	case famARN:
		return cv.arn.matchString(s, rc)
	}
	return false, true
}

func compare(a, b float64, op cmpOp) bool {
	switch op {
	case cmpLt:
		return a < b
	case cmpLe:
		return a <= b
	case cmpGt:
		return a > b
	case cmpGe:
		return a >= b
	}
	return a == b
}

// parseDate reads ISO 8601 (date, or date and time with a zone) or epoch
// seconds, the forms AWS accepts for Date operators.
func parseDate(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return 0, false
		}
		return int64(f * 1e9), true
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// parseCIDR accepts a CIDR or a bare address (a /32 or /128).
func parseCIDR(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
