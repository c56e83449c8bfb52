package policytest

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoad: whatever the bytes, Load returns a Suite or Errors whose every
// entry names the file and a position at or after 1:1; it never panics and
// never reports an internal error (which would be a bug here or in the
// evaluator's parser). Seeds: testdata/fuzz/FuzzLoad, plus the examples below.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"cases: []",
		"cases:\n  - {name: c, request: {principal: anonymous, action: s3:GetObject, resource: \"*\"}, expect: allow}\n",
		"policies: {p: {Version: 2012-10-17, Statement: {Effect: Allow, Action: \"*\", Resource: \"*\"}}}\ncases: [{name: c, request: {principal: anonymous, action: \"s3:GetObject\", resource: \"*\"}, identity: [p], scps: [[p]], expect: implicit-deny}]\n",
		"x: &a [*a]",
		"cases: [{name: c, request: {principal: anonymous, action: a:b, resource: r, context: {\"k:k\": [1, true, x, 2.5]}}, expect: allow}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.yaml", data)
		if err == nil {
			if s == nil {
				t.Fatal("no suite and no error")
			}
			for _, c := range s.Cases {
				if c.Name == "" && c.Line == 0 {
					t.Errorf("a case without position: %+v", c)
				}
			}
			_ = s.Run() // a loaded suite always runs
			return
		}
		if s != nil {
			t.Fatal("a suite returned together with an error")
		}
		var es Errors
		if !errors.As(err, &es) {
			return // a read error; not possible from bytes, but not a bug either
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Column < 1 {
				t.Errorf("error without a proper position: %#v", e)
			}
			if strings.Contains(e.Reason, "internal error") {
				t.Errorf("internal error on input %q: %v", data, e)
			}
		}
	})
}
