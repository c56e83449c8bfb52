package controlplane

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

// cold answers p from a clone of s: a clone starts with an empty cache, so
// this is the answer resolved from the view's content alone.
func cold(s *State, p Probe) (evaluator.Decision, Resolution) {
	return s.Clone().Authorize(p)
}

// sameAnswer fails unless the two answers are the same: decision,
// explanation, and everything handed to the evaluator.
func sameAnswer(t *testing.T, what string, gd evaluator.Decision, gr Resolution, wd evaluator.Decision, wr Resolution) {
	t.Helper()
	if !reflect.DeepEqual(gd.Explain(), wd.Explain()) {
		t.Errorf("%s: decision %+v, resolved afresh %+v", what, gd.Explain(), wd.Explain())
	}
	if !reflect.DeepEqual(gr, wr) {
		t.Errorf("%s: resolution\n%+v\nresolved afresh\n%+v", what, gr, wr)
	}
}

// TestAuthorizeCacheFollowsTheView: the state answers its probes (filling
// its cache), then changes in place; every answer after the change is the
// one a cold cache gives, and the probe each change is about changes its
// decision (so a stale cache would fail the row).
func TestAuthorizeCacheFollowsTheView(t *testing.T) {
	s := authWorld(t)
	getQ3Alice := Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3}
	byKey := Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3}
	bob := Probe{Principal: "user:bob", Action: "s3:GetObject", Resource: getB}
	anon := Probe{Principal: "anonymous", Action: "s3:GetObject", Resource: getB}
	assume := Probe{Principal: "user:alice", Action: "sts:AssumeRole", Resource: "arn:aws:iam::" + acctA + ":role/deployer"}
	ext := Probe{Principal: "arn:aws:iam::" + acctB + ":user/bob", Action: "s3:GetObject", Resource: getB}
	probes := []Probe{getQ3Alice, byKey, bob, anon, assume, ext}
	steps := []struct {
		name   string
		change Call
		probe  Probe
		before evaluator.Effect
		after  evaluator.Effect
	}{
		{"detach the group's policy", mk("iam:DetachGroupPolicy", `{"group_name":"devs","policy_arn":"`+readDocsARN+`"}`),
			getQ3Alice, evaluator.Allow, evaluator.ImplicitDeny},
		{"attach it to the user", mk("iam:AttachUserPolicy", `{"user_name":"alice","policy_arn":"`+readDocsARN+`"}`),
			byKey, evaluator.ImplicitDeny, evaluator.Allow},
		{"deactivate the key", mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE1","status":"Inactive"}`),
			byKey, evaluator.Allow, evaluator.ImplicitDeny},
		{"a new policy version denies", mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+denyDocs+`,"set_as_default":true}`),
			getQ3Alice, evaluator.Allow, evaluator.ExplicitDeny},
		{"the bucket policy goes", as(acctB, mk("s3:DeleteBucketPolicy", `{"bucket":"bdocs"}`)),
			anon, evaluator.Allow, evaluator.ImplicitDeny},
		{"an SCP denies the member account", mk("organizations:CreatePolicy", `{"name":"deny-s3","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`),
			bob, evaluator.Allow, evaluator.Allow},
		{"attached to it", mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"`+acctB+`"}`),
			bob, evaluator.Allow, evaluator.ExplicitDeny},
		{"the role trusts another account", mk("iam:UpdateAssumeRolePolicy", `{"role_name":"deployer","policy_document":`+strings.ReplaceAll(trustA, acctA, acctB)+`}`),
			assume, evaluator.Allow, evaluator.ImplicitDeny},
		{"the user goes", as(acctB, mk("iam:DeleteUserPolicy", `{"user_name":"bob","policy_name":"read"}`)),
			ext, evaluator.ExplicitDeny, evaluator.ExplicitDeny},
	}
	for _, st := range steps {
		for _, p := range probes {
			s.Authorize(p) // fill the cache
			s.Authorize(p)
		}
		if d, _ := s.Authorize(st.probe); d.Effect != st.before {
			t.Fatalf("%s: before the change %v, want %v", st.name, d.Effect, st.before)
		}
		mustApply(t, s, st.change)
		if d, _ := s.Authorize(st.probe); d.Effect != st.after {
			t.Errorf("%s: after the change %v, want %v", st.name, d.Effect, st.after)
		}
		for _, p := range probes {
			gd, gr := s.Authorize(p)
			wd, wr := cold(s, p)
			sameAnswer(t, st.name+": "+p.Principal+" "+p.Action, gd, gr, wd, wr)
			exp, text := s.ExplainJSON(gd)
			want, _ := json.Marshal(wd.Explain())
			if !reflect.DeepEqual(exp, wd.Explain()) || string(text) != string(want) {
				t.Errorf("%s: %s: cached explanation %s, want %s", st.name, p.Principal, text, want)
			}
		}
	}
}

// TestAuthorizeCacheConcurrentReaders: readers fill one view's cache
// together (run with -race); each gets the answer a cold cache gives.
func TestAuthorizeCacheConcurrentReaders(t *testing.T) {
	s := authWorld(t)
	probes := []Probe{
		{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3},
		{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3},
		{Principal: "key:AKIAALICE2", Action: "s3:GetObject", Resource: getQ3},
		{Principal: "user:bob", Action: "s3:GetObject", Resource: getB},
		{Principal: "anonymous", Action: "s3:GetObject", Resource: getB},
		{Principal: "role:deployer/s1", Action: "s3:GetObject", Resource: getQ3},
		{Principal: "user:nobody", Action: "s3:GetObject", Resource: getQ3},
	}
	type answer struct {
		d evaluator.Explanation
		r Resolution
	}
	want := make([]answer, len(probes))
	for i, p := range probes {
		d, r := cold(s, p)
		want[i] = answer{d.Explain(), r}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(probes))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				i := (g + k) % len(probes)
				d, r := s.Authorize(probes[i])
				if !reflect.DeepEqual(answer{d.Explain(), r}, want[i]) {
					errs <- fmt.Sprintf("reader %d: %s differs from a cold answer", g, probes[i].Principal)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestAuthorizeCacheIsBounded: past maxAuthCache principals, or objects
// (an explanation each), the cache stops growing and the answers stay
// right; explanations do not crowd out the principals.
func TestAuthorizeCacheIsBounded(t *testing.T) {
	s := authWorld(t)
	for i := range maxAuthCache + 100 { // explanations: one per object
		p := Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: fmt.Sprintf("arn:aws:s3:::docs/o%d", i)}
		d, _ := s.Authorize(p)
		if exp, _ := s.ExplainJSON(d); exp.Decision != "Allow" {
			t.Fatalf("object %d: %+v", i, exp)
		}
	}
	s.Authorize(Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3})
	c := s.authCache()
	if _, ok := c.principals.Load("key:AKIAALICE1"); !ok {
		t.Errorf("a new principal was not cached: the explanations crowded it out")
	}
	for i := range maxAuthCache + 100 {
		p := Probe{Principal: fmt.Sprintf("user:u%d", i), Action: "s3:GetObject", Resource: getQ3}
		if d, r := s.Authorize(p); d.Effect != evaluator.ImplicitDeny || r.Authenticated {
			t.Fatalf("unknown user %d: %v, authenticated %v", i, d.Effect, r.Authenticated)
		}
	}
	if n, e := c.n.Load(), c.nExplained.Load(); n > maxAuthCache || e > maxAuthCache {
		t.Errorf("%d resolutions and %d explanations, bound %d each", n, e, maxAuthCache)
	}
	d, _ := s.Authorize(Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3})
	if d.Effect != evaluator.Allow {
		t.Errorf("alice past the bound: %v, want Allow", d.Effect)
	}
}
