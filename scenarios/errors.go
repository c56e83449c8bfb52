package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Issue is one problem found in a scenario file.
type Issue struct {
	File   string
	Line   int // 1-based
	Column int // 1-based
	Field  string
	Reason string // what is wrong and what is expected
}

// String renders the issue as "file:line:col: field: reason", the form
// editors and CI annotations recognise.
func (i Issue) String() string {
	if i.Field == "" {
		return fmt.Sprintf("%s:%d:%d: %s", i.File, i.Line, i.Column, i.Reason)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", i.File, i.Line, i.Column, i.Field, i.Reason)
}

// Error lists every problem found in one scenario file, sorted by position.
// Load and Parse return it (as *Error) instead of a half-loaded scenario, so
// a user sees all mistakes at once rather than one per run.
type Error struct {
	File   string
	Issues []Issue
}

// Error renders one issue per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return strings.Join(lines, "\n")
}

// sortIssues orders issues by position, keeping the order of discovery for
// issues at the same position, and drops exact duplicates (one bad node can
// be reached twice, e.g. through an alias).
func sortIssues(issues []Issue) []Issue {
	sort.SliceStable(issues, func(i, j int) bool {
		if issues[i].Line != issues[j].Line {
			return issues[i].Line < issues[j].Line
		}
		return issues[i].Column < issues[j].Column
	})
	out := issues[:0]
	for i, is := range issues {
		if i > 0 && is == issues[i-1] {
			continue
		}
		out = append(out, is)
	}
	return out
}
