package controlplane

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"sort"
	"sync"

	"github.com/iamprop/iamprop/evaluator"
)

// callCtx is what a call's check sees besides its arguments.
type callCtx struct {
	call    Call
	account string // Call.Account, or "" when the caller named none
}

// applyFn performs a checked call's writes. It runs only after every check
// passed, so a call is applied whole or not at all.
type applyFn func(s *State)

// callDef is one supported call.
type callDef struct {
	action   string
	desc     string
	argsType reflect.Type
	errors   []string
	revoke   string              // the documented IsRevoke rule
	isRevoke func(args any) bool // nil = never a revoke
	check    func(s *State, x *callCtx, args any) (applyFn, *APIError)
}

// def builds a callDef from a typed argument struct A. check must not write
// to s: it returns the writes as an applyFn.
func def[A any](action, desc string, errs []string, revoke string, isRevoke func(*A) bool,
	check func(s *State, x *callCtx, a *A) (applyFn, *APIError)) *callDef {
	d := &callDef{
		action:   action,
		desc:     desc,
		argsType: reflect.TypeOf((*A)(nil)).Elem(),
		errors:   errs,
		revoke:   revoke,
		check: func(s *State, x *callCtx, args any) (applyFn, *APIError) {
			return check(s, x, args.(*A))
		},
	}
	if isRevoke != nil {
		d.isRevoke = func(args any) bool { return isRevoke(args.(*A)) }
	}
	return d
}

func always[A any](*A) bool { return true }

var (
	registryOnce sync.Once
	registry     map[string]*callDef
	registryList []*callDef
)

func calls() map[string]*callDef {
	registryOnce.Do(func() {
		var all []*callDef
		all = append(all, iamCalls()...)
		all = append(all, s3Calls()...)
		all = append(all, orgCalls()...)
		registry = make(map[string]*callDef, len(all))
		for _, d := range all {
			registry[d.action] = d
		}
		registryList = all
	})
	return registry
}

// lookup finds the call's definition and decodes its arguments.
func lookup(c Call) (*callDef, any, *APIError) {
	d, ok := calls()[c.Action]
	if !ok {
		return nil, nil, apiErr(ErrUnknownAction, "unknown call %q: see docs/mutations.md for the supported calls (names like \"iam:CreateUser\", \"s3:PutBucketPolicy\")", c.Action)
	}
	if args, ok := argsCache.get(d, c.Args); ok {
		return d, args, nil
	}
	args := reflect.New(d.argsType).Interface()
	if err := decodeArgs(c.Action, c.Args, args); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, nil, ae
		}
		return nil, nil, validationErr("%s: %v", c.Action, err)
	}
	argsCache.put(d, c.Args, args)
	return d, args, nil
}

// argsCache keeps decoded arguments per (call, argument bytes). One
// committed mutation is applied by every region (10,000 of them in a large
// simulation), again at every re-fold, and validated first at its origin;
// decoding its JSON by reflection each time cost more than the rest of the
// apply. Decoded argument structs are never written to (checks read them
// and return closures), so sharing one is safe; a hit returns exactly what
// decoding would, so results never depend on the cache. Only successful
// decodes are kept, bounded by the bytes of argument text held.
var argsCache decodedArgs

type decodedArgs struct {
	sync.RWMutex // parallel trials mostly read
	m            map[*callDef]map[string]any
	bytes        int // held, estimated: the key copy and the decoded value are each counted as the text's size
}

const argsCacheMaxBytes = 16 << 20

func (c *decodedArgs) get(d *callDef, raw []byte) (any, bool) {
	c.RLock()
	v, ok := c.m[d][string(raw)]
	c.RUnlock()
	return v, ok
}

func (c *decodedArgs) put(d *callDef, raw []byte, args any) {
	c.Lock()
	defer c.Unlock()
	if c.m == nil || c.bytes+2*len(raw) > argsCacheMaxBytes {
		c.m, c.bytes = map[*callDef]map[string]any{}, 0
	}
	byArgs := c.m[d]
	if byArgs == nil {
		byArgs = map[string]any{}
		c.m[d] = byArgs
	}
	byArgs[string(raw)] = args
	c.bytes += 2 * len(raw)
}

func (s *State) check(c Call) (applyFn, *APIError) {
	d, args, err := lookup(c)
	if err != nil {
		return nil, err
	}
	return d.check(s, &callCtx{call: c, account: c.Account}, args)
}

// Validate runs AWS's checks for c against this view, as the origin region
// does before committing: it returns an *APIError (never a panic) naming the
// argument and the reason, and changes nothing.
func (s *State) Validate(c Call) error {
	if _, err := s.check(c); err != nil {
		return err
	}
	return nil
}

// Apply folds one committed call into the view. It never fails: a call
// that no longer passes its checks at this place in the fold (another region
// committed a conflicting mutation that comes first in the total order) is
// a no-op, counted by Conflicts. Apply runs the same checks as Validate, so
// the fold of a sequence is exactly "each call takes effect iff it would be
// accepted at that point".
func (s *State) Apply(c Call) { _ = s.TryApply(c) }

// TryApply is Apply that also says why a call was a no-op: it returns the
// *APIError the call failed with at this place in the fold (nil when it took
// effect), for traces and timelines that narrate conflicts.
func (s *State) TryApply(c Call) error {
	s.applied++
	fn, err := s.check(c)
	if err != nil {
		s.conflicts++
		return err
	}
	fn(s)
	// The cache is this state's alone (Clone gives the clone its own), and
	// no reader runs during Apply: reset it in place.
	if s.digest == nil {
		s.digest = &digestCache{}
	} else {
		s.digest.v.Store(nil)
		s.digest.auth.Store(nil)
	}
	return nil
}

// IsDataPlane reports whether action is an S3 data-plane write
// (s3:PutObject, s3:DeleteObject) rather than a control-plane change: it is
// made in the bucket's home region, in force there at once (S3's
// read-after-write consistency), and never held back by the control
// plane's propagation delay.
func IsDataPlane(action string) bool {
	return action == "s3:PutObject" || action == "s3:DeleteObject"
}

// IsRevoke reports whether c narrows access, to pick the revoke propagation
// delay model. The classification is by call, not by the effect of the
// documents involved (a view-free function cannot compare documents):
//
//   - Deleting or detaching something that grants (users, keys, groups,
//     memberships, inline or managed policies, policy versions, bucket
//     policies, objects) is a revoke.
//   - Deleting a restriction (a permissions boundary, a Block Public Access
//     configuration) or detaching an SCP/RCP is a grant.
//   - Replacing a policy document in place (PutBucketPolicy, Put*Policy,
//     UpdateAssumeRolePolicy, CreatePolicyVersion with set_as_default,
//     SetDefaultPolicyVersion, organizations:UpdatePolicy) is a revoke:
//     rewriting a document is how access is tightened in practice ("make the
//     bucket private"), and the exposure the simulator measures comes from
//     revokes, so an ambiguous rewrite takes the revoke model.
//   - Adding a restriction (a permissions boundary, Block Public Access with
//     any setting true, attaching an SCP or RCP) is a revoke.
//   - UpdateAccessKey to Inactive is a revoke, to Active a grant.
//   - Everything that creates, attaches or adds is a grant.
//
// Unknown calls and calls whose arguments do not decode are not revokes.
// Catalog() lists the rule of each call.
func IsRevoke(c Call) bool {
	d, args, err := lookup(c)
	if err != nil || d.isRevoke == nil {
		return false
	}
	return d.isRevoke(args)
}

// Catalog lists every supported call with its arguments and errors, in a
// stable order, generated from the typed argument structs.
func Catalog() []CallSpec {
	calls()
	out := make([]CallSpec, 0, len(registryList))
	for _, d := range registryList {
		errs := append([]string{ErrValidation}, d.errors...)
		sort.Strings(errs)
		errs = dedup(errs)
		rev := d.revoke
		if rev == "" {
			rev = "grant"
		}
		out = append(out, CallSpec{Action: d.action, Description: d.desc, Args: specOf(d.argsType), Errors: errs, Revoke: rev})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Action < out[j].Action })
	return out
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Policies are parsed once per distinct (name, kind, document) and shared:
// every region folds the same committed calls, and a re-fold re-applies
// them, so without the cache 10,000 simulated regions would parse every
// document 10,000 times. Parsed policies are immutable, so sharing is safe;
// the cache is bounded and deterministic (it never changes a result).
var policyCache struct {
	sync.Mutex
	m map[[32]byte]*evaluator.Policy
}

const policyCacheMax = 4096

func parsePolicy(name string, kind evaluator.Kind, doc []byte) (*evaluator.Policy, error) {
	h := sha256.New()
	h.Write([]byte{byte(kind)})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(doc)
	var key [32]byte
	h.Sum(key[:0])
	policyCache.Lock()
	p, ok := policyCache.m[key]
	policyCache.Unlock()
	if ok {
		return p, nil
	}
	p, err := evaluator.Parse(name, kind, doc)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("the evaluator returned no policy")
	}
	policyCache.Lock()
	if policyCache.m == nil || len(policyCache.m) >= policyCacheMax {
		policyCache.m = make(map[[32]byte]*evaluator.Policy)
	}
	policyCache.m[key] = p
	policyCache.Unlock()
	return p, nil
}

// compile parses a document argument, turning the evaluator's validation
// error into the API's malformed-document error that names the argument.
func compile(code, arg, name string, kind evaluator.Kind, doc Document) (*evaluator.Policy, *APIError) {
	p, err := parsePolicy(name, kind, doc)
	if err != nil {
		var ve *evaluator.ValidationError
		if errors.As(err, &ve) {
			return nil, apiErr(code, "%s: %s", arg, ve.Error())
		}
		return nil, apiErr(code, "%s: %v", arg, err)
	}
	return p, nil
}
