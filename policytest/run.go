package policytest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/iamprop/iamprop/evaluator"
)

// Result is the outcome of one case. Its JSON form is the `cases[]` element
// of `scenario test-policy --json` (docs/design.md, "Policy test file").
type Result struct {
	Name        string                `json:"name"`
	File        string                `json:"file"`
	Expected    string                `json:"expected"`
	Got         string                `json:"got"`
	Passed      bool                  `json:"passed"`
	Explanation evaluator.Explanation `json:"explanation"`
	Doc         string                `json:"-"` // shown on failure in text output only; the JSON shape is fixed
}

// Report is the outcome of one or more suites.
type Report struct {
	Passed int      `json:"passed"`
	Failed int      `json:"failed"`
	Cases  []Result `json:"cases"`
}

// GotError is the `got` of a case whose evaluation panicked: not a decision,
// so it can never equal an expectation.
const GotError = "error"

// Run evaluates every case of the suite and returns one Result per case, in
// file order.
func (s *Suite) Run() []Result {
	out := make([]Result, 0, len(s.Cases))
	for _, c := range s.Cases {
		out = append(out, c.run(s.File))
	}
	return out
}

func (c *Case) run(file string) (r Result) {
	r = Result{Name: c.Name, File: file, Expected: DecisionName(c.Expect), Doc: c.Doc}
	defer func() {
		// The evaluator promises never to panic; if it does, that case fails
		// with the panic as its explanation, and the other cases still run.
		if p := recover(); p != nil {
			r.Got, r.Passed = GotError, false
			r.Explanation = evaluator.Explanation{Decision: GotError, Summary: fmt.Sprintf("the evaluator panicked: %v", p)}
		}
	}()
	req := c.Request // Evaluate takes pointers; keep the case itself untouched
	in := c.Input
	d := evaluator.Evaluate(&req, &in)
	r.Got = DecisionName(d.Effect)
	r.Passed = d.Effect == c.Expect
	// The full explanation (statements that did not apply, missing keys)
	// walks every statement; a passing case prints one line, so only a
	// failure pays for it.
	if r.Passed {
		r.Explanation = d.Explain()
	} else {
		r.Explanation = evaluator.ExplainRequest(&req, &in)
	}
	return r
}

// Add appends results and updates the counts.
func (rep *Report) Add(results ...Result) {
	for _, r := range results {
		if r.Passed {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Cases = append(rep.Cases, r)
	}
}

// WriteText writes one line per case (`PASS  file: name` or
// `FAIL  file: name: expected X, got Y` followed by the indented
// explanation), then the summary line `N passed, M failed`.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, r := range rep.Cases {
		b.WriteString(r.Text())
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", rep.Passed, rep.Failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// Text renders one result as `scenario test-policy` prints it: the PASS
// line, or the FAIL line followed by the indented explanation.
func (r Result) Text() string {
	var b strings.Builder
	if r.Passed {
		fmt.Fprintf(&b, "PASS  %s: %s\n", r.File, r.Name)
		return b.String()
	}
	fmt.Fprintf(&b, "FAIL  %s: %s: expected %s, got %s\n", r.File, r.Name, r.Expected, r.Got)
	writeExplanation(&b, r)
	return b.String()
}

func writeExplanation(b *strings.Builder, r Result) {
	const indent = "      "
	e := r.Explanation
	if s := strings.TrimSpace(e.Summary); s != "" {
		for _, line := range strings.Split(s, "\n") {
			b.WriteString(indent + line + "\n")
		}
	}
	if e.BlockedBy != "" {
		fmt.Fprintf(b, "%sblocked by: %s\n", indent, e.BlockedBy)
	}
	if len(e.Matched) == 0 {
		b.WriteString(indent + "matched: no statement\n")
	}
	for _, m := range e.Matched {
		id := m.Sid
		if id == "" {
			id = fmt.Sprintf("#%d", m.Index)
		}
		kind := ""
		if m.Kind != "" {
			kind = " (" + m.Kind + ")"
		}
		fmt.Fprintf(b, "%smatched: %s%s statement %s: %s\n", indent, m.Policy, kind, id, m.Effect)
	}
	WriteWhyNot(b, indent, e)
	if r.Doc != "" {
		fmt.Fprintf(b, "%ssee: %s\n", indent, r.Doc)
	}
}

// WriteJSON writes the report as one JSON document:
// {"passed": N, "failed": M, "cases": [{"name", "file", "expected", "got", "passed", "explanation"}]}.
func (rep *Report) WriteJSON(w io.Writer) error {
	out := *rep
	// `[]`, not `null`, for consumers that iterate.
	out.Cases = make([]Result, len(rep.Cases))
	for i, r := range rep.Cases {
		if r.Explanation.Matched == nil {
			r.Explanation.Matched = []evaluator.MatchedStatement{}
		}
		out.Cases[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ExpandPaths turns command-line arguments into test files: a file stands for
// itself, a directory for its *.yaml and *.yml files (not recursive), in name
// order.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
				out = append(out, filepath.Join(a, e.Name()))
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no *.yaml test files in this directory", a)
		}
	}
	return out, nil
}

// WriteWhyNot writes, one per line after indent, the statements about the
// action that did not apply (`not applied: POLICY (KIND) statement SID:
// EFFECT: ELEMENT: REASON`) and the context keys the policies read that the
// request lacked (`missing context keys: K1, K2`). test-policy and
// authorize print the same lines.
func WriteWhyNot(b *strings.Builder, indent string, e evaluator.Explanation) {
	for _, n := range e.NotApplied {
		id := n.Sid
		if id == "" {
			id = fmt.Sprintf("#%d", n.Index)
		}
		fmt.Fprintf(b, "%snot applied: %s (%s) statement %s: %s: %s: %s\n", indent, n.Policy, n.Kind, id, n.Effect, n.Element, n.Reason)
	}
	if len(e.MissingKeys) > 0 {
		fmt.Fprintf(b, "%smissing context keys: %s\n", indent, strings.Join(e.MissingKeys, ", "))
	}
}
