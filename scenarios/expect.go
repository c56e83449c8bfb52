package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Expectation kinds, by the value they compare.
var (
	durationKinds = []string{"exposure", "denial", "lag"}
	countKinds    = []string{"stale_allows", "stale_denies", "confidential_reads"}
	statNames     = []string{"min", "p50", "p90", "p99", "max", "mean"}
	opNames       = []string{"<=", ">=", "==", "!=", "<", ">"} // two-character operators first
)

const expectGrammar = "exposure(PROBE).STAT OP DURATION, denial(PROBE).STAT OP DURATION, lag(REGION).STAT OP DURATION, " +
	"stale_allows(PROBE) OP INT, stale_denies(PROBE) OP INT, confidential_reads(PROBE) OP INT, converged or not converged"

// exprError is a syntax error at a byte offset of the expression.
type exprError struct {
	off int
	msg string
}

// ParseExpectation parses one expectation (the grammar of
// docs/scenario-format.md) without checking that its probe or region
// exists; Load does that against the scenario.
func ParseExpectation(expr string) (Expectation, error) {
	e, xe := parseExpr(expr)
	if xe != nil {
		return Expectation{}, fmt.Errorf("column %d: %s", xe.off+1, xe.msg)
	}
	return e, nil
}

// exprScanner walks an expression, skipping blanks between tokens.
type exprScanner struct {
	s   string
	pos int
}

func (sc *exprScanner) skip() {
	for sc.pos < len(sc.s) && (sc.s[sc.pos] == ' ' || sc.s[sc.pos] == '\t') {
		sc.pos++
	}
}

// word reads [A-Za-z0-9_.@-]* (a name, a statistic, a number, a duration).
func (sc *exprScanner) word(allowDot bool) string {
	sc.skip()
	start := sc.pos
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '@' || (allowDot && c == '.') {
			sc.pos++
			continue
		}
		if c >= 0x80 { // µs
			sc.pos++
			continue
		}
		break
	}
	return sc.s[start:sc.pos]
}

func (sc *exprScanner) expect(c byte, what string) *exprError {
	sc.skip()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != c {
		return sc.errHere("expected %s", what)
	}
	sc.pos++
	return nil
}

func (sc *exprScanner) errHere(format string, args ...any) *exprError {
	msg := fmt.Sprintf(format, args...)
	if sc.pos >= len(sc.s) {
		msg += " at the end"
	} else {
		msg += fmt.Sprintf(", got %q", sc.s[sc.pos:])
	}
	return &exprError{off: sc.pos, msg: msg}
}

func parseExpr(expr string) (Expectation, *exprError) {
	e := Expectation{Expr: expr}
	sc := &exprScanner{s: expr}
	sc.skip()
	start := sc.pos
	kind := sc.word(false)
	switch {
	case kind == "converged" || kind == "not":
		e.Kind, e.Negated = "converged", kind == "not"
		if e.Negated {
			at := sc.pos
			if w := sc.word(false); w != "converged" {
				sc.pos = at
				return e, sc.errHere("expected converged after not")
			}
		}
		sc.skip()
		if sc.pos < len(sc.s) {
			return e, sc.errHere("expected nothing after converged")
		}
		return e, nil
	case contains(durationKinds, kind), contains(countKinds, kind):
		e.Kind = kind
	case kind == "":
		return e, sc.errHere("expected an expectation (%s)", expectGrammar)
	default:
		return e, &exprError{off: start, msg: fmt.Sprintf("unknown expectation %q; expected one of: %s", kind, expectGrammar)}
	}
	if err := sc.expect('(', "( after "+kind); err != nil {
		return e, err
	}
	sc.skip()
	targetAt := sc.pos
	e.Target = sc.word(true)
	what := "a probe name"
	if kind == "lag" {
		what = "a region name"
	}
	if e.Target == "" {
		return e, sc.errHere("expected %s", what)
	}
	if strings.Contains(e.Target, "@") {
		return e, &exprError{off: targetAt, msg: fmt.Sprintf("%q: PROBE@REGION is not supported; a probe has one region, so name the probe alone", e.Target)}
	}
	if err := sc.expect(')', ") after "+what); err != nil {
		return e, err
	}
	if contains(durationKinds, kind) {
		if err := sc.expect('.', "."+strings.Join(statNames, "|")+" after "+kind+"(...)"); err != nil {
			return e, err
		}
		sc.skip()
		at := sc.pos
		e.Stat = sc.word(false)
		if !contains(statNames, e.Stat) {
			sc.pos = at
			return e, sc.errHere("expected a statistic (%s)", strings.Join(statNames, ", "))
		}
	}
	sc.skip()
	for _, op := range opNames {
		if strings.HasPrefix(sc.s[sc.pos:], op) {
			e.Op = op
			sc.pos += len(op)
			break
		}
	}
	if e.Op == "" {
		return e, sc.errHere("expected a comparison (<, <=, >, >=, ==, !=)")
	}
	sc.skip()
	valAt := sc.pos
	val := sc.word(true)
	if val == "" {
		if contains(durationKinds, kind) {
			return e, sc.errHere("expected a duration such as 0s, 500ms or 6s")
		}
		return e, sc.errHere("expected a whole number")
	}
	if contains(durationKinds, kind) {
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			hint := ""
			if _, nerr := strconv.ParseFloat(val, 64); nerr == nil {
				hint = " (add a unit: " + val + "s)"
			}
			return e, &exprError{off: valAt, msg: fmt.Sprintf("expected a duration such as 0s, 500ms or 6s, got %q%s", val, hint)}
		}
		e.Duration = d
	} else {
		c, err := strconv.Atoi(val)
		if err != nil || c < 0 {
			return e, &exprError{off: valAt, msg: fmt.Sprintf("expected a whole number (a count of requests), got %q", val)}
		}
		e.Count = c
	}
	sc.skip()
	if sc.pos < len(sc.s) {
		return e, sc.errHere("expected the end of the expectation")
	}
	return e, nil
}

func (l *loader) expectations(n *yaml.Node) {
	for i, it := range l.list(n, "expect", `expectations such as "exposure(attacker-read).p50 > 0s"`) {
		f := index("expect", i)
		s, ok := l.nonEmpty(it, f)
		if !ok {
			continue
		}
		e, xe := parseExpr(s)
		e.Line, e.Column = it.Line, it.Column
		if xe != nil {
			l.exprError(it, f, xe)
			continue
		}
		if e.Kind != "converged" && l.full() {
			l.dropped++
			continue
		}
		if e.Kind != "converged" {
			known, what, names := l.probes, "probe", sortedKeys(l.probes)
			if e.Kind == "lag" {
				known, what, names = l.regions, "region", l.sc.Regions
			}
			if !known[e.Target] {
				off := strings.Index(s, "(") + 1
				for off < len(s) && (s[off] == ' ' || s[off] == '\t') {
					off++
				}
				l.exprError(it, f, &exprError{off: off, msg: fmt.Sprintf("unknown %s %q; expected one of: %s%s", what, e.Target, oneOf(names), suggest(e.Target, names))})
				continue
			}
		}
		l.sc.Expect = append(l.sc.Expect, e)
	}
}

// exprError reports a syntax error at its column inside the YAML scalar
// (a quoted scalar starts one column before its text).
func (l *loader) exprError(n *yaml.Node, f string, xe *exprError) {
	at := *n
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		at.Column++
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && !strings.Contains(n.Value, "\n") {
		// Columns count characters, offsets bytes.
		at.Column += utf8.RuneCountInString(n.Value[:min(xe.off, len(n.Value))])
	}
	l.errorf(&at, f, "%s", xe.msg)
}
