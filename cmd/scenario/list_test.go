package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/scenarios"
)

func TestListCommand(t *testing.T) {
	want, err := scenarios.List()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{
			name: "a table of names and titles",
			args: []string{"list"},
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "TITLE") {
					t.Fatalf("want a header and %d rows, got:\n%s", len(want), out)
				}
				for i, s := range want {
					row := lines[i+1]
					if !strings.HasPrefix(row, s.Name+" ") || !strings.HasSuffix(row, s.Title) {
						t.Errorf("row %d = %q, want %s ... %s", i+1, row, s.Name, s.Title)
					}
					if len(row) > 100 {
						t.Errorf("row %d is %d columns wide", i+1, len(row))
					}
				}
				if !strings.Contains(out, "public-s3-bucket  ") {
					t.Errorf("the classic case is missing:\n%s", out)
				}
			},
		},
		{
			name: "json",
			args: []string{"list", "--json"},
			check: func(t *testing.T, out string) {
				var got []scenarios.Summary
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				if len(got) != len(want) || got[0] != want[0] {
					t.Errorf("got %+v, want %+v", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != 0 {
				t.Fatalf("exit status %d, stderr:\n%s", code, errOut.String())
			}
			tt.check(t, out.String())
		})
	}
}

func TestListRejectsArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"list", "extra"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("exit status %d, stderr %q; want 2 and a usage error", code, errOut.String())
	}
}
