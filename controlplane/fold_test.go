package controlplane

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// pool is a mix of calls, many of which conflict with each other depending
// on their order (creates and deletes of the same names, attachments of
// policies that may not exist yet, a sixth version, ...).
func pool() []Call {
	var cs []Call
	for _, u := range []string{"alice", "bob"} {
		cs = append(cs,
			mk("iam:CreateUser", `{"user_name":"`+u+`"}`),
			mk("iam:DeleteUser", `{"user_name":"`+u+`"}`),
			mk("iam:AddUserToGroup", `{"group_name":"devs","user_name":"`+u+`"}`),
			mk("iam:RemoveUserFromGroup", `{"group_name":"devs","user_name":"`+u+`"}`),
			mk("iam:PutUserPolicy", `{"user_name":"`+u+`","policy_name":"p","policy_document":`+readDocs+`}`),
			mk("iam:DeleteUserPolicy", `{"user_name":"`+u+`","policy_name":"p"}`),
			mk("iam:AttachUserPolicy", `{"user_name":"`+u+`","policy_arn":"`+readDocsARN+`"}`),
			mk("iam:DetachUserPolicy", `{"user_name":"`+u+`","policy_arn":"`+readDocsARN+`"}`),
			mk("iam:CreateAccessKey", `{"user_name":"`+u+`","access_key_id":"AKIA`+u+`1"}`),
			mk("iam:DeleteAccessKey", `{"access_key_id":"AKIA`+u+`1"}`),
		)
	}
	cs = append(cs,
		mk("iam:CreateGroup", `{"group_name":"devs"}`),
		mk("iam:DeleteGroup", `{"group_name":"devs"}`),
		mk("iam:CreatePolicy", `{"policy_name":"ReadDocs","policy_document":`+readDocs+`}`),
		mk("iam:DeletePolicy", `{"policy_arn":"`+readDocsARN+`"}`),
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`,"set_as_default":true}`),
		mk("iam:DeletePolicyVersion", `{"policy_arn":"`+readDocsARN+`","version_id":"v2"}`),
		mk("iam:SetDefaultPolicyVersion", `{"policy_arn":"`+readDocsARN+`","version_id":"v1"}`),
		mk("s3:CreateBucket", `{"bucket":"docs"}`),
		mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`),
		mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+ownerOnly+`}`),
		mk("s3:DeleteBucketPolicy", `{"bucket":"docs"}`),
		mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_policy":true}`),
		mk("s3:PutObject", `{"bucket":"docs","key":"a"}`),
		mk("s3:DeleteObject", `{"bucket":"docs","key":"a"}`),
	)
	return cs
}

func freshAccounts(t testing.TB) *State {
	s := NewState()
	mustApply(t, s, mk("organizations:CreateAccount", `{"account_id":"`+acctA+`"}`))
	return s
}

// TestFoldDeterminism: the same calls in the same order give the same
// digest and the same conflict count, whatever else is going on.
func TestFoldDeterminism(t *testing.T) {
	p := pool()
	for seed := uint64(1); seed <= 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		seq := make([]Call, 60)
		for i := range seq {
			seq[i] = p[r.IntN(len(p))]
		}
		a, b := freshAccounts(t), freshAccounts(t)
		for _, c := range seq {
			a.Apply(c)
		}
		// b folds the same sequence through a chain of clones, as a
		// region re-folding from checkpoints does.
		for i, c := range seq {
			if i%7 == 0 {
				b = b.Clone()
			}
			b.Apply(c)
		}
		if a.Digest() != a.computeDigest() || b.Digest() != b.computeDigest() {
			t.Fatalf("seed %d: the cached digest is stale", seed)
		}
		if a.Digest() != b.Digest() || a.Conflicts() != b.Conflicts() {
			t.Fatalf("seed %d: same calls, same order, different results (conflicts %d vs %d)", seed, a.Conflicts(), b.Conflicts())
		}
	}
}

// TestDigestDistinguishes: different content gives different digests, and
// the two spellings of a policy argument (object, JSON string) the same.
func TestDigestDistinguishes(t *testing.T) {
	mkState := func(calls ...Call) [32]byte {
		s := freshAccounts(t)
		mustApply(t, s, calls...)
		return s.Digest()
	}
	bucket := mk("s3:CreateBucket", `{"bucket":"docs"}`)
	pub := mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)
	pubStr := mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+str(publicRead)+`}`)
	pubSpaced := mk("s3:PutBucketPolicy", `{"bucket":"docs","policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/*"}]}}`)
	priv := mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+ownerOnly+`}`)
	user := mk("iam:CreateUser", `{"user_name":"alice"}`)
	del := mk("iam:DeleteUser", `{"user_name":"alice"}`)

	digests := map[string][32]byte{
		"empty":                   mkState(),
		"bucket":                  mkState(bucket),
		"public":                  mkState(bucket, pub),
		"private":                 mkState(bucket, priv),
		"public then private":     mkState(bucket, pub, priv),
		"user":                    mkState(user),
		"user created, deleted":   mkState(user, del),
		"user deleted, recreated": mkState(user, del, user),
	}
	seen := map[[32]byte]string{}
	names := make([]string, 0, len(digests))
	for n := range digests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := digests[n]
		if other, dup := seen[d]; dup && !(n == "private" && other == "public then private") && !(n == "public then private" && other == "private") {
			t.Errorf("%q and %q have the same digest", n, other)
		}
		seen[d] = n
	}
	if mkState(bucket, pub) != mkState(bucket, pubStr) {
		t.Errorf("the same policy spelled as an object and as a JSON string folds to different digests")
	}
	// Documents are kept as given (so error positions point into them):
	// white space is content.
	if mkState(bucket, pub) == mkState(bucket, pubSpaced) {
		t.Errorf("documents that differ in white space fold to the same digest")
	}
	// Overwriting a policy leaves no trace: the content is what counts.
	if mkState(bucket, pub, priv) != mkState(bucket, priv) {
		t.Errorf("replacing a bucket policy left a trace in the digest")
	}
}

// TestCloneIndependence: writes to a clone never show in the original,
// nor the reverse, in every table.
func TestCloneIndependence(t *testing.T) {
	s := authWorld(t)
	orig := s.Digest()
	c := s.Clone()
	cc := c.Clone()
	mustApply(t, c,
		mk("iam:CreateUser", `{"user_name":"zed"}`),
		mk("iam:RemoveUserFromGroup", `{"group_name":"devs","user_name":"alice"}`),
		mk("iam:UpdateAccessKey", `{"access_key_id":"AKIAALICE1","status":"Inactive"}`),
		mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`,"set_as_default":true}`),
		mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`),
		mk("s3:PutObject", `{"bucket":"docs","key":"new"}`),
		mk("organizations:CreatePolicy", `{"name":"deny","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`),
		mk("organizations:AttachPolicy", `{"policy_id":"deny","target_id":"root"}`),
		mk("s3control:PutPublicAccessBlock", `{"restrict_public_buckets":true}`),
	)
	if s.Digest() != orig {
		t.Fatalf("applying to a clone changed the original")
	}
	if cc.Digest() != orig {
		t.Fatalf("applying to a clone changed a sibling clone")
	}
	if c.Digest() == orig {
		t.Fatalf("the clone did not change")
	}
	cd := c.Digest()
	mustApply(t, s, mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAALICE2"}`), mk("s3:DeleteObject", `{"bucket":"docs","key":"q3.pdf"}`))
	if c.Digest() != cd || cc.Digest() != orig {
		t.Fatalf("applying to the original changed a clone")
	}
	if d, _ := c.Authorize(Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3}); d.Effect != 0 {
		t.Errorf("the clone's inactive key still authenticates")
	}
	if _, res := s.Authorize(Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3}); !res.Authenticated {
		t.Errorf("the original's key was deactivated through the clone")
	}
}

// mutation is a call with its place in the total order, as replication
// stamps it.
type mutation struct {
	ts   int
	call Call
}

// foldSorted folds the mutations a region holds in total order, which is
// what replication does (re-folding from a checkpoint on late arrivals).
func foldSorted(t testing.TB, held []mutation) *State {
	ms := append([]mutation(nil), held...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].ts < ms[j].ts })
	s := freshAccounts(t)
	for _, m := range ms {
		s.Apply(m.call)
	}
	return s
}

// TestTombstones: whatever order the mutations arrive in, folding them in
// total order gives one digest, and a delete is never undone by an older
// message arriving late. Mutations from one origin arrive in their origin's
// sequence order (replication applies each origin's log contiguously);
// the two origins interleave at random.
func TestTombstones(t *testing.T) {
	history := []mutation{
		{1, mk("iam:CreateUser", `{"user_name":"alice"}`)},                                       // origin A
		{2, mk("iam:CreateAccessKey", `{"user_name":"alice","access_key_id":"AKIAALICE1"}`)},     // A
		{3, mk("iam:CreateGroup", `{"group_name":"devs"}`)},                                      // B
		{4, mk("iam:AddUserToGroup", `{"group_name":"devs","user_name":"alice"}`)},               // A
		{5, mk("iam:RemoveUserFromGroup", `{"group_name":"devs","user_name":"alice"}`)},          // A
		{6, mk("iam:DeleteAccessKey", `{"access_key_id":"AKIAALICE1"}`)},                         // A
		{7, mk("iam:CreatePolicy", `{"policy_name":"ReadDocs","policy_document":`+readDocs+`}`)}, // B
		{8, mk("iam:DeletePolicy", `{"policy_arn":"`+readDocsARN+`"}`)},                          // B
		{9, mk("iam:DeleteUser", `{"user_name":"alice"}`)},                                       // A
	}
	origins := [][]int{{0, 1, 3, 4, 5, 8}, {2, 6, 7}}
	want := foldSorted(t, history)
	if want.Conflicts() != 0 {
		t.Fatalf("the history itself conflicts: %d", want.Conflicts())
	}
	r := rand.New(rand.NewPCG(3, 3))
	for trial := 0; trial < 200; trial++ {
		var order []int
		next := []int{0, 0}
		for len(order) < len(history) {
			o := r.IntN(2)
			if next[o] == len(origins[o]) {
				o = 1 - o
			}
			order = append(order, origins[o][next[o]])
			next[o]++
		}
		var held []mutation
		for _, i := range order {
			held = append(held, history[i])
			// A region re-folds after each arrival; none of its views may
			// show a deleted thing revived once its delete has arrived.
			v := foldSorted(t, held)
			for _, h := range held {
				if h.ts == 9 && v.users.len() != 0 {
					t.Fatalf("trial %d: user alice visible after its delete arrived (order %v)", trial, order)
				}
				if _, ok := v.keys.get("AKIAALICE1"); h.ts == 6 && ok {
					t.Fatalf("trial %d: key visible after its delete arrived", trial)
				}
				if _, ok := v.policies.get(entityKey(acctA, "ReadDocs")); h.ts == 8 && ok {
					t.Fatalf("trial %d: policy visible after its delete arrived", trial)
				}
			}
		}
		if v := foldSorted(t, held); v.Digest() != want.Digest() {
			t.Fatalf("trial %d: arrival order %v gives a different view", trial, order)
		}
	}
	// A replayed create of a deleted key is a no-op: key ids never return.
	s := want.Clone()
	mustApply(t, s, mk("iam:CreateUser", `{"user_name":"alice"}`))
	replay := history[1].call
	if err := s.Validate(replay); codeOf(t, err) != ErrEntityAlreadyExists {
		t.Fatalf("re-creating a deleted key id: %v, want EntityAlreadyExists", err)
	}
	before := s.Conflicts()
	s.Apply(replay)
	if s.Conflicts() != before+1 {
		t.Fatalf("a replayed key create was not a counted no-op")
	}
	if _, res := s.Authorize(Probe{Principal: "key:AKIAALICE1", Action: "s3:GetObject", Resource: getQ3}); res.Authenticated {
		t.Fatalf("a deleted key authenticates again")
	}
	// The tombstones are content: "created then deleted" is not "never".
	if want.Digest() == freshAccounts(t).Digest() {
		t.Fatalf("a view with tombstones has the digest of an empty view")
	}
}

// TestConcurrentConflicts: two regions commit conflicting calls against
// the same view; every region folds them in the same order and the loser
// is a counted no-op.
func TestConcurrentConflicts(t *testing.T) {
	tests := []struct {
		name   string
		setup  []Call
		first  Call
		second Call
	}{
		{"two creates of one user", nil,
			mk("iam:CreateUser", `{"user_name":"alice"}`), mk("iam:CreateUser", `{"user_name":"Alice","path":"/x/"}`)},
		{"inline policy on a user deleted concurrently", []Call{mk("iam:CreateUser", `{"user_name":"alice"}`)},
			mk("iam:DeleteUser", `{"user_name":"alice"}`), mk("iam:PutUserPolicy", `{"user_name":"alice","policy_name":"p","policy_document":`+readDocs+`}`)},
		{"a sixth version from two regions", []Call{
			mk("iam:CreatePolicy", `{"policy_name":"ReadDocs","policy_document":`+readDocs+`}`),
			mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`}`),
			mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`}`),
			mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`}`)},
			mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+listDocs+`}`),
			mk("iam:CreatePolicyVersion", `{"policy_arn":"`+readDocsARN+`","policy_document":`+readDocs+`}`)},
		{"public policy against a concurrent Block Public Access", []Call{mk("s3:CreateBucket", `{"bucket":"docs"}`)},
			mk("s3:PutPublicAccessBlock", `{"bucket":"docs","block_public_policy":true}`), mk("s3:PutBucketPolicy", `{"bucket":"docs","policy":`+publicRead+`}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := freshAccounts(t)
			mustApply(t, s, tc.setup...)
			// Both were valid at their origins, against the same view.
			for _, c := range []Call{tc.first, tc.second} {
				if err := s.Validate(c); err != nil {
					t.Fatalf("%s rejected at its origin: %v", c.Action, err)
				}
			}
			views := []*State{s.Clone(), s.Clone()}
			for _, v := range views {
				v.Apply(tc.first)
				v.Apply(tc.second)
			}
			if views[0].Conflicts() != 1 || views[1].Conflicts() != 1 {
				t.Fatalf("conflicts = %d, %d; want the second call to be a no-op", views[0].Conflicts(), views[1].Conflicts())
			}
			if views[0].Digest() != views[1].Digest() {
				t.Fatalf("the regions diverged")
			}
		})
	}
}

func TestIsRevoke(t *testing.T) {
	tests := []struct {
		call Call
		want bool
	}{
		{mk("iam:CreateUser", `{"user_name":"a"}`), false},
		{mk("iam:DeleteUser", `{"user_name":"a"}`), true},
		{mk("iam:AttachUserPolicy", `{"user_name":"a","policy_arn":"x"}`), false},
		{mk("iam:DetachRolePolicy", `{"role_name":"a","policy_arn":"x"}`), true},
		{mk("iam:RemoveUserFromGroup", `{"user_name":"a","group_name":"g"}`), true},
		{mk("iam:AddUserToGroup", `{"user_name":"a","group_name":"g"}`), false},
		{mk("iam:UpdateAccessKey", `{"access_key_id":"K","status":"Inactive"}`), true},
		{mk("iam:UpdateAccessKey", `{"access_key_id":"K","status":"Active"}`), false},
		{mk("iam:DeleteAccessKey", `{"access_key_id":"K"}`), true},
		{mk("iam:CreatePolicyVersion", `{"policy_arn":"x","policy_document":{},"set_as_default":true}`), true},
		{mk("iam:CreatePolicyVersion", `{"policy_arn":"x","policy_document":{}}`), false},
		{mk("iam:PutUserPermissionsBoundary", `{"user_name":"a","permissions_boundary":"x"}`), true},
		{mk("iam:DeleteUserPermissionsBoundary", `{"user_name":"a"}`), false},
		{mk("s3:PutBucketPolicy", `{"bucket":"b","policy":{}}`), true},
		{mk("s3:DeleteBucketPolicy", `{"bucket":"b"}`), true},
		{mk("s3:PutPublicAccessBlock", `{"bucket":"b","restrict_public_buckets":true}`), true},
		{mk("s3:PutPublicAccessBlock", `{"bucket":"b"}`), false},
		{mk("s3:DeletePublicAccessBlock", `{"bucket":"b"}`), false},
		{mk("s3control:PutPublicAccessBlock", `{"block_public_policy":true}`), true},
		{mk("s3:PutObject", `{"bucket":"b","key":"k"}`), false},
		{mk("organizations:AttachPolicy", `{"policy_id":"p","target_id":"root"}`), true},
		{mk("organizations:DetachPolicy", `{"policy_id":"p","target_id":"root"}`), false},
		{mk("iam:Nope", `{}`), false},
		{mk("iam:DeleteUser", `{"bad":1}`), false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %s", tc.call.Action, tc.call.Args), func(t *testing.T) {
			if got := IsRevoke(tc.call); got != tc.want {
				t.Errorf("IsRevoke = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTryApply(t *testing.T) {
	s := base(t)
	if err := s.TryApply(mk("iam:CreateUser", `{"user_name":"bob"}`)); err != nil {
		t.Fatalf("TryApply of a valid call: %v", err)
	}
	err := s.TryApply(mk("iam:CreateUser", `{"user_name":"BOB"}`))
	if codeOf(t, err) != ErrEntityAlreadyExists {
		t.Fatalf("TryApply of a conflicting call: %v, want EntityAlreadyExists", err)
	}
	if s.Conflicts() != 1 || s.Applied() < 2 {
		t.Fatalf("conflicts %d, applied %d", s.Conflicts(), s.Applied())
	}
}

func TestExport(t *testing.T) {
	s := authWorld(t)
	mustApply(t, s,
		mk("organizations:CreatePolicy", `{"name":"deny","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`),
		mk("organizations:AttachPolicy", `{"policy_id":"deny","target_id":"`+acctB+`"}`))
	v := s.Export()
	if v.DefaultAccount != acctA || len(v.Accounts) != 3 || !v.Accounts[0].Management {
		t.Errorf("accounts: %+v", v.Accounts)
	}
	if len(v.Users) != 3 || v.Users[0].ARN != "arn:aws:iam::"+acctA+":user/alice" || len(v.Users[0].Groups) != 1 {
		t.Errorf("users: %+v", v.Users)
	}
	if len(v.Groups) != 1 || len(v.Groups[0].Members) != 1 || v.Groups[0].Members[0] != "alice" {
		t.Errorf("groups: %+v", v.Groups)
	}
	if len(v.Buckets) != 2 || v.Buckets[0].Name != "bdocs" || v.Buckets[1].Objects[0] != "q3.pdf" || v.Buckets[0].Policy == nil {
		t.Errorf("buckets: %+v", v.Buckets)
	}
	if len(v.OrgPolicies) != 2 || len(v.Tombstones) != 1 {
		t.Errorf("org policies %+v, tombstones %v", v.OrgPolicies, v.Tombstones)
	}
	if _, err := json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	// The export is a copy: changing it leaves the state alone.
	before := s.Digest()
	v.Users[0].Groups[0] = "hacked"
	v.Accounts[1].OrgPolicies[0] = "hacked"
	if s.Digest() != before {
		t.Fatalf("changing an export changed the state")
	}
}

// TestConcurrentReaders: Clone, Digest, Authorize and Export of one view may
// run concurrently (run with -race); writes go to the clones.
func TestConcurrentReaders(t *testing.T) {
	s := authWorld(t)
	want := s.Digest()
	done := make(chan *State)
	for g := 0; g < 4; g++ {
		go func() {
			c := s.Clone()
			s.Authorize(Probe{Principal: "user:alice", Action: "s3:GetObject", Resource: getQ3})
			s.Export()
			c.Apply(mk("iam:CreateUser", `{"user_name":"zed"}`))
			done <- c
		}()
	}
	for g := 0; g < 4; g++ {
		if c := <-done; c.Digest() == want {
			t.Errorf("a clone's write was lost")
		}
	}
	if s.Digest() != want || s.computeDigest() != want {
		t.Fatalf("concurrent clones changed the original")
	}
}
