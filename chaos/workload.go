package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
)

// SharedGroup is the group every worker adds its users to and removes them
// from: memberships of users of every region in one group. Its inline
// policy allows reading chaos-group/*, which is how a probe sees whether a
// membership is in a view.
const SharedGroup = "chaos-shared"

// request is one call a worker is about to send.
type request struct {
	call    string
	with    json.RawMessage
	user    string // the worker's user it touches
	deletes []Item // what it removes, if acknowledged
	onAck   func() // updates the worker's model
}

// wuser is what a worker knows of one of its users: exactly the view after
// its own acknowledged commits, since no other worker touches it.
type wuser struct {
	name     string
	keys     []string
	policies []string
	inGroup  bool
}

// worker is one sequential client committing at one region. Its users are
// its own (names carry the worker), so workers never conflict, and after an
// unknown outcome it abandons the user concerned: the possibly-committed
// mutation then commutes with everything that follows (see Check).
type worker struct {
	name   string // "us-east-2/w0"
	region string
	prefix string // "u3w0": unique per worker
	r      *rand.Rand
	n      int
	users  []*wuser
}

func newWorker(region string, regionIndex, index int, r *rand.Rand) *worker {
	return &worker{name: fmt.Sprintf("%s/w%d", region, index), region: region, prefix: fmt.Sprintf("u%dw%d", regionIndex, index), r: r}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and documents are marshalled
	}
	return b
}

func allowDoc(resource string) map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}}}
}

// setupRequests are committed once, before the schedule, at the first
// region: the shared group and its policy.
func setupRequests() []request {
	return []request{
		{call: "iam:CreateGroup", with: mustJSON(map[string]any{"group_name": SharedGroup})},
		{call: "iam:PutGroupPolicy", with: mustJSON(map[string]any{"group_name": SharedGroup, "policy_name": "read-group",
			"policy_document": allowDoc("arn:aws:s3:::chaos-group/*")})},
	}
}

// The probe of an item whose presence is "authenticated": any request will do.
const (
	probeAction   = "s3:ListBucket"
	probeResource = "arn:aws:s3:::chaos-probe"
)

func inlineResource(user, policy string) string {
	return "arn:aws:s3:::chaos-inline/" + user + "/" + policy + "/*"
}

// next picks the worker's next call. Every call is valid against the view
// the worker knows, so an AWS error means the origin lost something.
func (w *worker) next() request {
	for {
		switch k := w.r.IntN(10); {
		case k < 2 || len(w.users) == 0:
			if len(w.users) >= 6 {
				continue
			}
			w.n++
			u := &wuser{name: fmt.Sprintf("%sn%d", w.prefix, w.n)}
			return request{call: "iam:CreateUser", with: mustJSON(map[string]any{"user_name": u.name}), user: u.name,
				onAck: func() { w.users = append(w.users, u) }}
		case k == 2:
			u := w.pick(func(u *wuser) bool { return len(u.keys) < 2 })
			if u == nil {
				continue
			}
			w.n++
			id := fmt.Sprintf("AKIA%sN%d", w.prefix, w.n)
			return request{call: "iam:CreateAccessKey", with: mustJSON(map[string]any{"user_name": u.name, "access_key_id": id}), user: u.name,
				onAck: func() { u.keys = append(u.keys, id) }}
		case k == 3:
			u := w.pick(func(u *wuser) bool { return len(u.keys) > 0 })
			if u == nil {
				continue
			}
			id := u.keys[w.r.IntN(len(u.keys))]
			return request{call: "iam:DeleteAccessKey", with: mustJSON(map[string]any{"user_name": u.name, "access_key_id": id}), user: u.name,
				deletes: []Item{{Kind: "key", Name: id, Principal: "key:" + id, Action: probeAction, Resource: probeResource}},
				onAck:   func() { u.keys = slices.DeleteFunc(u.keys, func(s string) bool { return s == id }) }}
		case k == 4:
			u := w.pick(func(u *wuser) bool { return len(u.policies) < 2 })
			if u == nil {
				continue
			}
			w.n++
			p := fmt.Sprintf("p%d", w.n)
			return request{call: "iam:PutUserPolicy", with: mustJSON(map[string]any{"user_name": u.name, "policy_name": p,
				"policy_document": allowDoc(inlineResource(u.name, p))}), user: u.name,
				onAck: func() { u.policies = append(u.policies, p) }}
		case k == 5:
			u := w.pick(func(u *wuser) bool { return len(u.policies) > 0 })
			if u == nil {
				continue
			}
			p := u.policies[w.r.IntN(len(u.policies))]
			return request{call: "iam:DeleteUserPolicy", with: mustJSON(map[string]any{"user_name": u.name, "policy_name": p}), user: u.name,
				deletes: []Item{{Kind: "inline-policy", Name: u.name + "/" + p, Principal: "user:" + u.name, Action: "s3:GetObject",
					Resource: "arn:aws:s3:::chaos-inline/" + u.name + "/" + p + "/object"}},
				onAck: func() { u.policies = slices.DeleteFunc(u.policies, func(s string) bool { return s == p }) }}
		case k == 6:
			u := w.pick(func(u *wuser) bool { return !u.inGroup })
			if u == nil {
				continue
			}
			return request{call: "iam:AddUserToGroup", with: mustJSON(map[string]any{"user_name": u.name, "group_name": SharedGroup}), user: u.name,
				onAck: func() { u.inGroup = true }}
		case k == 7:
			u := w.pick(func(u *wuser) bool { return u.inGroup })
			if u == nil {
				continue
			}
			return request{call: "iam:RemoveUserFromGroup", with: mustJSON(map[string]any{"user_name": u.name, "group_name": SharedGroup}), user: u.name,
				deletes: []Item{{Kind: "membership", Name: u.name + "@" + SharedGroup, Principal: "user:" + u.name, Action: "s3:GetObject",
					Resource: "arn:aws:s3:::chaos-group/object"}},
				onAck: func() { u.inGroup = false }}
		default:
			u := w.pick(func(u *wuser) bool { return len(u.keys) == 0 && len(u.policies) == 0 && !u.inGroup })
			if u == nil {
				continue
			}
			return request{call: "iam:DeleteUser", with: mustJSON(map[string]any{"user_name": u.name}), user: u.name,
				deletes: []Item{{Kind: "user", Name: u.name, Principal: "user:" + u.name, Action: probeAction, Resource: probeResource}},
				onAck:   func() { w.forget(u.name) }}
		}
	}
}

// pick returns a random user satisfying ok, or nil.
func (w *worker) pick(ok func(*wuser) bool) *wuser {
	var c []*wuser
	for _, u := range w.users {
		if ok(u) {
			c = append(c, u)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[w.r.IntN(len(c))]
}

func (w *worker) forget(name string) {
	w.users = slices.DeleteFunc(w.users, func(u *wuser) bool { return u.name == name })
}

// forgetAll abandons every user: after its region lost its disk, what the
// worker saw acknowledged there may be gone, so a call valid against it
// would be refused for a loss the checker already counts as lost.
func (w *worker) forgetAll() { w.users = nil }

// done records the outcome of req: an acknowledged call updates the model,
// an unknown one makes the worker abandon the user.
func (w *worker) done(req request, o Outcome) {
	switch o {
	case Acked:
		if req.onAck != nil {
			req.onAck()
		}
	case Unknown:
		w.forget(req.user)
	}
}
