package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// excerpt marks a block of docs/report.md copied from a renderer's output
// for the fixture, named by its golden file:
//
//	<!-- excerpt: terminal.golden -->      the whole file
//	<!-- excerpt: narrate.golden 5-13 -->  lines 5 to 13
//
// followed by a ```text fence.
var excerpt = regexp.MustCompile("(?s)<!-- excerpt: (\\S+)(?: (\\d+)-(\\d+))? -->\n```text\n(.*?)```")

// TestDocsExcerpts keeps the examples of docs/report.md equal to what the
// renderers produce for the fixture, so the guide cannot drift.
// With -update it rewrites them.
func TestDocsExcerpts(t *testing.T) {
	path := filepath.Join("..", "docs", "report.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	var failed []string
	out := excerpt.ReplaceAllStringFunc(string(doc), func(block string) string {
		m := excerpt.FindStringSubmatch(block)
		found++
		var data []byte
		for _, r := range renderers {
			if r.golden == m[1] {
				data = render(t, r.render, fixture())
			}
		}
		if data == nil {
			failed = append(failed, "no renderer writes "+m[1])
			return block
		}
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		from, to := 1, len(lines)
		if m[2] != "" {
			from, _ = strconv.Atoi(m[2])
			to, _ = strconv.Atoi(m[3])
		}
		if from < 1 || to > len(lines) || from > to {
			failed = append(failed, "bad line range in "+m[0][:strings.Index(m[0], "\n")])
			return block
		}
		want := strings.Join(lines[from-1:to], "")
		if m[4] != want {
			failed = append(failed, m[1]+" "+m[2]+"-"+m[3])
		}
		return strings.Replace(block, "```text\n"+m[4]+"```", "```text\n"+want+"```", 1)
	})
	if found < 3 {
		t.Fatalf("found %d excerpts in %s, want at least 3", found, path)
	}
	if *update && out != string(doc) {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(failed) > 0 {
		t.Fatalf("%s is out of date (run go test ./report/ -run Docs -update): %s", path, strings.Join(failed, "; "))
	}
}
