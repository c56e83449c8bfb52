package yamlcheck

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSuggest(t *testing.T) {
	allowed := []string{"policies", "cases", "name"}
	tests := []struct{ got, want string }{
		{"polices", ` (did you mean "policies"?)`},
		{"CASE", ` (did you mean "cases"?)`},
		{"zzzzzz", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.got, allowed); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.got, got, tt.want)
		}
	}
}

func TestSizeFollowsAliasesAndStops(t *testing.T) {
	tests := []struct {
		name string
		src  string
		max  int
		want int
	}{
		{"plain", "{a: 1, b: [1, 2]}", 100, 8},                              // document, mapping, a, 1, b, list, 1, 2
		{"alias counts its target again", "x: &v [1, 2]\ny: *v\n", 100, 10}, // document, mapping, x, list, 1, 2, y, list, 1, 2
		{"bomb stops at max", "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", 5000, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &n); err != nil {
				t.Fatal(err)
			}
			if got := Size(&n, tt.max); got != tt.want {
				t.Errorf("Size = %d, want %d (%s)", got, tt.want, strings.TrimSpace(tt.src))
			}
		})
	}
}
