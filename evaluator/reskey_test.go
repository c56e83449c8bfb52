package evaluator

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// withoutResourceIndex returns a copy of p that scans its service lists,
// the evaluation the resource index must agree with.
func withoutResourceIndex(p *Policy) *Policy {
	q := *p
	q.byService = append([]svcStmts(nil), p.byService...)
	for i := range q.byService {
		q.byService[i].keyed, q.byService[i].unkeyed, q.byService[i].mask = nil, nil, 0
	}
	return &q
}

// TestResourceIndexAgreesWithScan: for resource patterns of every shape
// (exact, prefixes ending at and between separators, wildcards and
// variables in the middle, ':' separators, NotResource, "*", deep paths
// past the key depth), deciding through the resource index gives the same
// effect and the same matched statements as scanning every statement.
func TestResourceIndexAgreesWithScan(t *testing.T) {
	patterns := []string{
		"arn:aws:s3:::docs", "arn:aws:s3:::docs/*", "arn:aws:s3:::docs/a.pdf", "arn:aws:s3:::doc*",
		"arn:aws:s3:::docs/home/${aws:username}/*", "arn:aws:s3:::docs/home/*/x", "arn:aws:s3:::docs/h?me/*",
		"arn:aws:s3:::*/a.pdf", "*", "arn:aws:s3:::docs/1/2/3/4/5/6/7/8/9/10/*", "arn:aws:s3:::docs/1/2/3/4/5/6/7/8/9/10/f",
		"arn:aws:s3:::other/*", "arn:aws:s3:*:*:docs/*", "arn:aws:s3:::docs:v1/*", "arn:aws:s3:::docs/home/",
	}
	resources := []string{
		"arn:aws:s3:::docs", "arn:aws:s3:::docs/a.pdf", "arn:aws:s3:::docs/home/alice/r.csv", "arn:aws:s3:::docs/home/bob/x",
		"arn:aws:s3:::docs/hime/q", "arn:aws:s3:::docsx/a.pdf", "arn:aws:s3:::other/a.pdf", "arn:aws:s3:::docs/1/2/3/4/5/6/7/8/9/10/f",
		"arn:aws:s3:::docs/1/2/3/4/5/6/7/8/9/10/g", "arn:aws:s3:::docs:v1/k", "arn:aws:s3:::docs/home/", "*", "not-an-arn", "arn:aws:s3:::",
	}
	var stmts []string
	for i, p := range patterns {
		eff := "Allow"
		if i%4 == 3 {
			eff = "Deny"
		}
		stmts = append(stmts, fmt.Sprintf(`{"Sid":"R%d","Effect":"%s","Action":"s3:GetObject","Resource":"%s"}`, i, eff, p))
		stmts = append(stmts, fmt.Sprintf(`{"Sid":"N%d","Effect":"Allow","Action":"s3:GetObject","NotResource":"%s"}`, i, p))
	}
	// two resources with the same key, and with different keys
	stmts = append(stmts, `{"Sid":"Two","Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::docs/a/*","arn:aws:s3:::docs/b"]}`,
		`{"Sid":"Mixed","Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::docs/a/*","arn:aws:s3:::other/b"]}`)
	// one statement per pattern, and every pattern alone: subsets exercise
	// both lists that are indexed and lists too short to be
	for n := 1; n <= len(stmts); n += 5 {
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts[:n], ",") + `]}`
		p := mustParse(t, "p", KindIdentity, doc)
		q := withoutResourceIndex(p)
		for _, res := range resources {
			for _, who := range []Principal{alice, bob} {
				req := &Request{Principal: who, Action: "s3:GetObject", Resource: res}
				got := Evaluate(req, &Input{Identity: []*Policy{p}})
				want := Evaluate(req, &Input{Identity: []*Policy{q}})
				// once a policy allows, further Allows are skipped, so
				// which Allow is listed may differ; Denies are all listed
				if got.Effect != want.Effect || matchedSet(got, "Deny") != matchedSet(want, "Deny") {
					t.Errorf("%d statements, %s on %s: indexed %v %s, scan %v %s", n, who.Name, res, got.Effect, matchedSet(got, ""), want.Effect, matchedSet(want, ""))
				}
			}
		}
	}

	// each statement alone among padding that keeps the list indexed: the
	// effect says exactly whether that statement matched
	var pad []string
	for i := range keyedMin {
		pad = append(pad, fmt.Sprintf(`{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::pad-%d/*"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::zz-%d/*"}`, i, i))
	}
	for _, st := range stmts {
		p := mustParse(t, "p", KindIdentity, `{"Version":"2012-10-17","Statement":[`+strings.Join(pad, ",")+","+st+`]}`)
		if p.byService[0].keyed == nil {
			t.Fatalf("the padded policy is not indexed")
		}
		q := withoutResourceIndex(p)
		for _, res := range resources {
			req := &Request{Principal: alice, Action: "s3:GetObject", Resource: res}
			got, want := Evaluate(req, &Input{Identity: []*Policy{p}}), Evaluate(req, &Input{Identity: []*Policy{q}})
			if got.Effect != want.Effect || matchedSet(got, "") != matchedSet(want, "") {
				t.Errorf("%s on %s: indexed %v, scan %v", st, res, got.Effect, want.Effect)
			}
		}
	}
}

// matchedSet lists the matched statements with the given effect ("" for all).
func matchedSet(d Decision, effect string) string {
	var ids []string
	for _, m := range d.Explain().Matched {
		if effect == "" || m.Effect == effect {
			ids = append(ids, fmt.Sprintf("%s#%d", m.Sid, m.Index))
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// TestResourceIndexIsUsed: a long service list is split by resource key, and
// a request only visits the statements on its own keys.
func TestResourceIndexIsUsed(t *testing.T) {
	var stmts []string
	for i := range 20 {
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::team-%d/*"}`, i))
	}
	stmts = append(stmts, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`)
	p := mustParse(t, "p", KindIdentity, `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`)
	e := &p.byService[0]
	if len(e.keyed) != 20 || len(e.unkeyed) != 1 {
		t.Fatalf("keyed %d, unkeyed %d; want 20 and 1", len(e.keyed), len(e.unkeyed))
	}
}
