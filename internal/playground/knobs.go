package playground

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Knobs are the values the page's controls edit in a scenario's YAML: the
// default delay's median and p99 (empty when the default is not a
// median/p99 distribution) and each step's time, in scenario order.
type Knobs struct {
	Seed   string `json:"seed"`
	Median string `json:"median"`
	P99    string `json:"p99"`
	Steps  []Step `json:"steps"`
}

// Step is one step's time and what it does, for its control's label.
type Step struct {
	At    string `json:"at"`
	Label string `json:"label"`
}

// knobSpots finds the knobs' scalars in src.
func knobSpots(src string) (seed, median, p99 *yaml.Node, steps []*yaml.Node, labels []string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, nil, nil, nil, nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, nil, nil, nil, fmt.Errorf("the scenario is not a mapping")
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		if m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	root := doc.Content[0]
	seed = get(root, "seed")
	def := get(get(root, "propagation"), "default")
	median, p99 = get(def, "median"), get(def, "p99")
	if st := get(root, "steps"); st != nil && st.Kind == yaml.SequenceNode {
		for i, s := range st.Content {
			steps = append(steps, get(s, "at"))
			label := fmt.Sprintf("step %d", i+1)
			if l := get(s, "label"); l != nil {
				label = l.Value
			} else if c := get(s, "call"); c != nil {
				label += " " + c.Value
			}
			labels = append(labels, label)
		}
	}
	return seed, median, p99, steps, labels, nil
}

// ReadKnobs reads the knobs from src.
func ReadKnobs(src string) (Knobs, error) {
	seed, median, p99, steps, labels, err := knobSpots(src)
	if err != nil {
		return Knobs{}, err
	}
	val := func(n *yaml.Node) string {
		if n == nil {
			return ""
		}
		return n.Value
	}
	k := Knobs{Seed: val(seed), Median: val(median), P99: val(p99)}
	for i, s := range steps {
		k.Steps = append(k.Steps, Step{At: val(s), Label: labels[i]})
	}
	return k, nil
}

// SetKnobs writes k's non-empty values into src in place: only the knobs'
// own scalars change, so the rest of the file (comments, layout) stays as
// the author wrote it.
func SetKnobs(src string, k Knobs) (string, error) {
	seed, median, p99, steps, _, err := knobSpots(src)
	if err != nil {
		return "", err
	}
	type edit struct {
		n   *yaml.Node
		val string
	}
	edits := []edit{{seed, k.Seed}, {median, k.Median}, {p99, k.P99}}
	for i, s := range k.Steps {
		if i < len(steps) {
			edits = append(edits, edit{steps[i], s.At})
		}
	}
	lines := strings.SplitAfter(src, "\n")
	// Apply from the end of the file back, so earlier positions stay valid.
	slices.SortStableFunc(edits, func(a, b edit) int {
		switch {
		case a.n == nil || b.n == nil:
			return 0
		case a.n.Line != b.n.Line:
			return a.n.Line - b.n.Line
		}
		return a.n.Column - b.n.Column
	})
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		if e.n == nil || e.val == "" || e.n.Value == e.val {
			continue
		}
		if e.n.Kind != yaml.ScalarNode || e.n.Style != 0 || strings.ContainsAny(e.val, ":#{}[],&*!|>'\"%@`\n") {
			return "", fmt.Errorf("line %d: cannot set %q here", e.n.Line, e.val)
		}
		l := lines[e.n.Line-1]
		col := e.n.Column - 1
		if col+len(e.n.Value) > len(l) || l[col:col+len(e.n.Value)] != e.n.Value {
			return "", fmt.Errorf("line %d: the value is not where the parser put it", e.n.Line)
		}
		lines[e.n.Line-1] = l[:col] + e.val + l[col+len(e.n.Value):]
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
	}
	return b.String(), nil
}
