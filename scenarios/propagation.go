package scenarios

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// LoadPropagation reads a delay model for a region server (`regionnode
// --propagation FILE`) in the words of a scenario's `propagation:` block,
// so the server accepts every distribution a scenario does. The file (YAML
// or JSON) holds either the block itself ({default, links, revoke}) or a
// mapping with a `propagation` key, so a scenario file works as it is.
// Links may name any region. Problems are an *Error with positions.
func LoadPropagation(path string) (Propagation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Propagation{}, err
	}
	return ParsePropagation(path, data)
}

// ParsePropagation is LoadPropagation on a document in memory; file names
// it in errors.
func ParsePropagation(file string, data []byte) (Propagation, error) {
	shown := file
	if shown == "" {
		shown = "<input>"
	}
	root, err := parseYAML(data)
	if err != nil {
		return Propagation{}, &Error{File: shown, Issues: []Issue{{File: shown, Line: 1, Column: 1, Reason: "invalid YAML: " + err.Error()}}}
	}
	d := &decoder{file: shown, budget: jsonNodeBudget}
	l := newLoader(d, file, nil)
	l.anyRegion = true
	block := root
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "propagation" {
				block = root.Content[i+1]
			}
		}
	}
	l.propagation(block)
	if len(d.issues) > 0 {
		return Propagation{}, &Error{File: shown, Issues: sortIssues(d.issues)}
	}
	return l.sc.Propagation, nil
}

// anyRegionName vets a link's region in a standalone propagation block,
// where there is no `regions` list to check it against.
func (l *loader) anyRegionName(n *yaml.Node, field string) (string, bool) {
	s, ok := l.nonEmpty(n, field)
	if !ok {
		return "", false
	}
	if !regionName.MatchString(s) || len(s) > 64 {
		l.errorf(n, field, "%s", fmt.Sprintf("region %q: want lower-case letters, digits and dashes, e.g. eu-west-1", s))
		return "", false
	}
	return s, true
}
