// Package yamlcheck holds what the scenario loader and the policy-test
// loader share when they check a user's YAML file: the bound on how far
// aliases may expand it, and the "did you mean" suggestion for a misspelt
// name. Both loaders report the same way because they use the same code.
package yamlcheck

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limit is the most YAML values one file may expand to once its aliases
// are followed. A real file is far below it; a "billion laughs" file (a few
// kilobytes of aliases to aliases) reaches it in milliseconds and fails with
// an error instead of exhausting memory.
const Limit = 1 << 20

// Size returns how many values n stands for with every alias followed,
// counting no further than max (so measuring a bomb is cheap too).
func Size(n *yaml.Node, max int) int {
	count := 0
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || count >= max || depth > 100 {
			return
		}
		if n.Kind == yaml.AliasNode {
			walk(n.Alias, depth+1)
			return
		}
		count++
		for _, k := range n.Content {
			walk(k, depth+1)
		}
	}
	walk(n, 0)
	return min(count, max)
}

// Suggest returns ` (did you mean "NAME"?)` for the allowed name closest to
// got (case-insensitively, at most two edits away), or "" when none is.
func Suggest(got string, allowed []string) string {
	if len(allowed) > 100 {
		return "" // not worth the time on a huge list
	}
	best, bestD := "", 3
	for _, a := range allowed {
		if d := EditDistance(strings.ToLower(got), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance of two short strings, for "did
// you mean" suggestions; strings over 64 bytes are "far" (99).
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
