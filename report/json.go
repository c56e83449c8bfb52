package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// JSON writes r as the run report of docs/design.md ("Run report"): nested
// objects indented by two spaces, one field per line, in the struct's field
// order; objects and arrays of plain values (a statistics block, a timeline
// event, the exposure histogram) on one line (docs/report.md), so a
// 10,000-trial histogram is one line rather than 10,000. The same Run always
// gives the same bytes, and the output ends in a newline.
func JSON(w io.Writer, r *Run) error {
	// No HTML escaping: the report is read by people and tools, not
	// embedded in a page, and "\u003e" for ">" in an expectation hurts.
	var enc bytes.Buffer
	e := json.NewEncoder(&enc)
	e.SetEscapeHTML(false)
	err := e.Encode(withPerTrial(r))
	compact := bytes.TrimSuffix(enc.Bytes(), []byte("\n"))
	if err != nil {
		// Only a NaN or an infinity in a statistic gets here: JSON has no
		// spelling for them, and writing a half report would be worse.
		return fmt.Errorf("report: encoding the run report: %w", err)
	}
	var out bytes.Buffer
	p := jsonPrinter{in: compact, out: &out}
	p.value(0)
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// jsonPrinter re-indents the compact output of encoding/json. It trusts its
// input to be valid JSON (encoding/json made it) and copies every scalar
// byte for byte, so numbers and escapes stay exactly as encoding/json wrote them.
type jsonPrinter struct {
	in  []byte
	pos int
	out *bytes.Buffer
}

func (p *jsonPrinter) newline(depth int) {
	p.out.WriteByte('\n')
	for i := 0; i < depth; i++ {
		p.out.WriteString("  ")
	}
}

// value prints the value at p.pos, indented for depth.
func (p *jsonPrinter) value(depth int) {
	switch p.in[p.pos] {
	case '{':
		if _, ok := p.flatEnd(); ok {
			p.inlineObject()
			return
		}
		p.pos++
		if p.in[p.pos] == '}' {
			p.pos++
			p.out.WriteString("{}")
			return
		}
		p.out.WriteByte('{')
		for {
			p.newline(depth + 1)
			p.scalar() // the key
			p.pos++    // ':'
			p.out.WriteString(": ")
			p.value(depth + 1)
			if p.in[p.pos] == '}' {
				p.pos++
				break
			}
			p.pos++ // ','
			p.out.WriteByte(',')
		}
		p.newline(depth)
		p.out.WriteByte('}')
	case '[':
		if _, ok := p.flatEnd(); ok {
			p.pos++
			p.out.WriteByte('[')
			for p.in[p.pos] != ']' {
				if p.in[p.pos] == ',' {
					p.pos++
					p.out.WriteString(", ")
				}
				p.scalar()
			}
			p.pos++
			p.out.WriteByte(']')
			return
		}
		p.pos++
		p.out.WriteByte('[')
		for {
			p.newline(depth + 1)
			p.value(depth + 1)
			if p.in[p.pos] == ']' {
				p.pos++
				break
			}
			p.pos++ // ','
			p.out.WriteByte(',')
		}
		p.newline(depth)
		p.out.WriteByte(']')
	default:
		p.scalar()
	}
}

// flatEnd reports whether the object or array at p.pos holds no object or
// array, and where it ends.
func (p *jsonPrinter) flatEnd() (int, bool) {
	inString := false
	for i := p.pos + 1; i < len(p.in); i++ {
		ch := p.in[i]
		switch {
		case inString && ch == '\\':
			i++
		case ch == '"':
			inString = !inString
		case inString:
		case ch == '{' || ch == '[':
			return 0, false
		case ch == '}' || ch == ']':
			return i + 1, true
		}
	}
	return len(p.in), true
}

// inlineObject prints an object of plain values on one line: {"min": 0, "p50": 4.2}.
func (p *jsonPrinter) inlineObject() {
	p.pos++
	p.out.WriteByte('{')
	for p.in[p.pos] != '}' {
		if p.in[p.pos] == ',' {
			p.pos++
			p.out.WriteString(", ")
		}
		p.scalar() // the key
		p.pos++    // ':'
		p.out.WriteString(": ")
		p.scalar()
	}
	p.pos++
	p.out.WriteByte('}')
}

// scalar copies one string, number, true, false or null.
func (p *jsonPrinter) scalar() {
	start := p.pos
	if p.in[p.pos] == '"' {
		p.pos++
		for p.in[p.pos] != '"' {
			if p.in[p.pos] == '\\' {
				p.pos++
			}
			p.pos++
		}
		p.pos++
	} else {
		for p.pos < len(p.in) && !bytes.ContainsRune([]byte(",]}:"), rune(p.in[p.pos])) {
			p.pos++
		}
	}
	p.out.Write(p.in[start:p.pos])
}

// withPerTrial returns a copy of r whose probes carry their per-trial
// figures, derived from the sums; r is not changed.
func withPerTrial(r *Run) *Run {
	rc := *r
	if r.Probes == nil {
		return &rc
	}
	rc.Probes = slices.Clone(r.Probes)
	for i := range rc.Probes {
		p := &rc.Probes[i]
		p.StaleAllowsPerTrial = perTrial(p.StaleAllows, r.Trials)
		p.StaleDeniesPerTrial = perTrial(p.StaleDenies, r.Trials)
	}
	return &rc
}
