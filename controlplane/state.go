package controlplane

import (
	"sort"
	"strings"
	"sync/atomic"

	"github.com/iamprop/iamprop/evaluator"
)

// table is a copy-on-write map in two levels: tableShards shards, each a
// map, behind one shared array. Clone shares the array between the two
// states and marks it shared; the first write on either side copies the
// array (tableShards pointers) and then the one shard it touches (about
// 1/tableShards of the entries). A simulator holds one view per region and
// checkpoints views (clones) as it folds, so cloning must cost O(1) and the
// write after a clone must not copy the whole table: with a single map,
// the fold of a stream of CreateUser calls spent most of its time copying
// the users map, a cost that grew with the state.
// Values are pointers to immutable records: a change replaces the record.
type table[V any] struct {
	sh *shardSet[V] // nil: empty
}

const tableShards = 64

type shardSet[V any] struct {
	shared atomic.Bool // held by more than one state: copy before any write
	n      int
	s      [tableShards]*shard[V]
	// sum caches the table's digest (tableSum); a write clears it.
	sum atomic.Pointer[[32]byte]
}

// A shard may be written in place only by the set that made it (owner),
// and only while that set is not shared. A set copied from a shared one
// owns none of its shards yet, so nothing needs marking when the array is
// copied: a plain copy of tableShards pointers.
type shard[V any] struct {
	owner *shardSet[V]
	m     map[string]V
	// sum caches the digest of the shard's entries (shardSum); a write
	// clears it. A shard reachable from two states is never written, so
	// its sum stays true for both.
	sum atomic.Pointer[[32]byte]
}

// shardOf is FNV-1a of the key: deterministic, so nothing about a run
// depends on a process's hash seed.
func shardOf(k string) int {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return int(h % tableShards)
}

func (t *table[V]) get(k string) (V, bool) {
	if t.sh != nil {
		if p := t.sh.s[shardOf(k)]; p != nil {
			v, ok := p.m[k]
			return v, ok
		}
	}
	var zero V
	return zero, false
}

// at is get without the presence flag (the zero value when absent).
func (t *table[V]) at(k string) V {
	v, _ := t.get(k)
	return v
}

func (t *table[V]) len() int {
	if t.sh == nil {
		return 0
	}
	return t.sh.n
}

// own makes the shard of k private to this state before a write, and
// returns it.
func (t *table[V]) own(k string) *shard[V] {
	switch {
	case t.sh == nil:
		t.sh = &shardSet[V]{}
	case t.sh.shared.Load():
		t.sh = &shardSet[V]{n: t.sh.n, s: t.sh.s}
	}
	i := shardOf(k)
	p := t.sh.s[i]
	switch {
	case p == nil:
		p = &shard[V]{owner: t.sh, m: map[string]V{}}
		t.sh.s[i] = p
	case p.owner != t.sh:
		m := make(map[string]V, len(p.m)+1)
		for k, v := range p.m {
			m[k] = v
		}
		p = &shard[V]{owner: t.sh, m: m}
		t.sh.s[i] = p
	default:
		p.sum.Store(nil)
	}
	t.sh.sum.Store(nil)
	return p
}

func (t *table[V]) set(k string, v V) {
	p := t.own(k)
	if _, ok := p.m[k]; !ok {
		t.sh.n++
	}
	p.m[k] = v
}

func (t *table[V]) del(k string) {
	if _, ok := t.get(k); !ok {
		return
	}
	delete(t.own(k).m, k)
	t.sh.n--
}

// share marks the table as held by more than one state. It only touches an
// atomic flag, so Clone may run concurrently with readers and other Clones.
func (t *table[V]) share() {
	if t.sh != nil {
		t.sh.shared.Store(true)
	}
}

// all iterates the entries in no particular order; callers that leak the
// order into results sort (see keys).
func (t *table[V]) all() func(yield func(string, V) bool) {
	return func(yield func(string, V) bool) {
		if t.sh == nil {
			return
		}
		for _, p := range t.sh.s {
			if p == nil {
				continue
			}
			for k, v := range p.m {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// keys returns the keys in sorted order, for deterministic iteration.
func (t *table[V]) keys() []string {
	ks := make([]string, 0, t.len())
	for k := range t.all() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// inlinePolicy is a policy embedded in a user, group or role.
type inlinePolicy struct {
	Name   string
	Policy *evaluator.Policy
}

// principalCommon is what users, groups and roles share.
type principalCommon struct {
	Account, Name, Path string
	Attached            []string       // managed policy ARNs, sorted
	Inline              []inlinePolicy // sorted by lower-cased name
}

type user struct {
	principalCommon
	Groups   []string // lower-cased group names, sorted
	Boundary string   // managed policy ARN; "" = none
}

type group struct {
	principalCommon
}

type role struct {
	principalCommon
	Trust    *evaluator.Policy
	Boundary string
}

type policyVersion struct {
	ID     string // "v1", "v2", ...; never reused within one policy
	Policy *evaluator.Policy
}

type managedPolicy struct {
	Account, Name, Path, ARN, Description string
	Versions                              []policyVersion // in creation order
	Default                               string
	Next                                  int // number of the next version id
}

// Access key statuses.
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
)

type accessKey struct {
	ID, Account, User string // User is the lower-cased user name
	Status            string
}

type account struct {
	ID, Name, Email string
	Seq             int                          // creation order: the first account is the default and the management account
	Parent          string                       // organization parent: rootID or an OU id
	BPA             *evaluator.BlockPublicAccess // account-level Block Public Access; nil = none configured
}

type bucket struct {
	Name, Region, Account string
	Policy                *evaluator.Policy
	BPA                   *evaluator.BlockPublicAccess // nil = none configured
}

type orgUnit struct {
	ID, Name, Parent string
}

// Organizations policy types.
const (
	TypeSCP = "SERVICE_CONTROL_POLICY"
	TypeRCP = "RESOURCE_CONTROL_POLICY"
)

type orgPolicy struct {
	ID, Name, Type, Description string
	Policy                      *evaluator.Policy
	AWSManaged                  bool
}

// The organization's root id, and the ids of the AWS-managed policies that
// AWS attaches to every root, OU and account when a policy type is enabled.
const (
	rootID          = "r-root"
	fullAWSAccessID = "p-FullAWSAccess"
	rcpFullAccessID = "p-RCPFullAWSAccess"
)

// State is one view of the control plane: the fold of the mutations applied
// to it. The zero value is an empty state, like NewState's. A State is not safe
// for concurrent writes; readers (Authorize, Digest, Clone) may run
// concurrently with each other but not with Apply.
type State struct {
	accounts    table[*account]       // account id
	users       table[*user]          // account/lower(name)
	groups      table[*group]         // account/lower(name)
	roles       table[*role]          // account/lower(name)
	policies    table[*managedPolicy] // account/lower(name)
	keys        table[*accessKey]     // access key id
	buckets     table[*bucket]        // bucket name
	objects     table[struct{}]       // bucket + "/" + key
	ous         table[*orgUnit]       // ou id
	orgPolicies table[*orgPolicy]     // policy id
	attachments table[[]string]       // target id -> attached org policy ids, sorted
	enabled     table[struct{}]       // enabled organizations policy types
	// tombstones records every deletion (kind + ":" + key -> how many times
	// it was deleted). Deletes are never mere absences: the digest of a view
	// that applied "create, delete" differs from one that applied nothing,
	// and an access key id, once deleted, can never be created again.
	tombstones table[int]

	nextAccount int
	first       string // the first account created: default and management account
	applied     int
	conflicts   int
	// digest caches Digest until the next change: convergence checks ask
	// every region's digest often, and most views have not changed since.
	digest *digestCache
}

// digestCache is shared by nobody: each state gets its own on Clone and
// resets it on every change, so atomic pointers suffice for concurrent
// readers. Besides the digest it holds Authorize's resolutions (auth),
// reset alike.
type digestCache struct {
	v    atomic.Pointer[[32]byte]
	auth atomic.Pointer[authCache]
}

// NewState returns the empty control plane: no accounts, no organization
// policies. The first account created becomes the default account and the
// organization's management account.
func NewState() *State { return &State{digest: &digestCache{}} }

// Clone returns an independent copy in O(1): tables are shared copy-on-write
// and records are immutable, so applying to the clone never changes s (and
// applying to s never changes the clone).
func (s *State) Clone() *State {
	c := *s
	s.accounts.share()
	s.users.share()
	s.groups.share()
	s.roles.share()
	s.policies.share()
	s.keys.share()
	s.buckets.share()
	s.objects.share()
	s.ous.share()
	s.orgPolicies.share()
	s.attachments.share()
	s.enabled.share()
	s.tombstones.share()
	c.digest = &digestCache{}
	if s.digest != nil {
		c.digest.v.Store(s.digest.v.Load())
	}
	return &c
}

// Conflicts is how many applied calls were no-ops because they no longer
// applied at their place in the fold (a concurrent conflicting mutation from
// another region came first in the total order).
func (s *State) Conflicts() int { return s.conflicts }

// Applied is how many calls were folded into this view, conflicts included.
func (s *State) Applied() int { return s.applied }

// DefaultAccount is the account of a call that names none: the first account
// created. It is "" while the state has no account.
func (s *State) DefaultAccount() string { return s.first }

// ManagementAccount is the organization's management account (the first
// account created), which SCPs and RCPs never restrict.
func (s *State) ManagementAccount() string { return s.DefaultAccount() }

// ObjectExists reports whether the view holds object key in bucket.
func (s *State) ObjectExists(bucketName, key string) bool {
	_, ok := s.objects.get(bucketName + "/" + key)
	return ok
}

// BucketExists reports whether the view holds the bucket.
func (s *State) BucketExists(name string) bool {
	_, ok := s.buckets.get(name)
	return ok
}

// Counts summarises a view, for status pages and reports.
type Counts struct {
	Accounts      int `json:"accounts"`
	Users         int `json:"users"`
	Groups        int `json:"groups"`
	Roles         int `json:"roles"`
	Policies      int `json:"policies"` // customer-managed IAM policies
	AccessKeys    int `json:"access_keys"`
	ActiveKeys    int `json:"active_keys"`
	Buckets       int `json:"buckets"`
	PublicBuckets int `json:"public_buckets"` // buckets whose policy is public and not blocked by BPA
	Objects       int `json:"objects"`
	OrgPolicies   int `json:"org_policies"` // SCPs and RCPs, AWS-managed ones excluded
	OrgUnits      int `json:"org_units"`
	Tombstones    int `json:"tombstones"`
	Applied       int `json:"applied"`
	Conflicts     int `json:"conflicts"`
}

// Counts returns the summary counts of this view.
func (s *State) Counts() Counts {
	c := Counts{
		Accounts: s.accounts.len(), Users: s.users.len(), Groups: s.groups.len(), Roles: s.roles.len(),
		Policies: s.policies.len(), AccessKeys: s.keys.len(), Buckets: s.buckets.len(), Objects: s.objects.len(),
		OrgUnits: s.ous.len(), Tombstones: s.tombstones.len(), Applied: s.applied, Conflicts: s.conflicts,
	}
	for _, k := range s.keys.all() {
		if k.Status == KeyActive {
			c.ActiveKeys++
		}
	}
	for _, p := range s.orgPolicies.all() {
		if !p.AWSManaged {
			c.OrgPolicies++
		}
	}
	for _, b := range s.buckets.all() {
		if b.Policy != nil && b.Policy.IsPublic() && !s.effectiveBPA(b).RestrictPublicBuckets {
			c.PublicBuckets++
		}
	}
	return c
}

// effectiveBPA merges the bucket's and its owner account's Block Public
// Access settings: S3 applies the most restrictive combination (OR).
func (s *State) effectiveBPA(b *bucket) evaluator.BlockPublicAccess {
	var out evaluator.BlockPublicAccess
	or := func(x *evaluator.BlockPublicAccess) {
		if x == nil {
			return
		}
		out.BlockPublicAcls = out.BlockPublicAcls || x.BlockPublicAcls
		out.IgnorePublicAcls = out.IgnorePublicAcls || x.IgnorePublicAcls
		out.BlockPublicPolicy = out.BlockPublicPolicy || x.BlockPublicPolicy
		out.RestrictPublicBuckets = out.RestrictPublicBuckets || x.RestrictPublicBuckets
	}
	or(b.BPA)
	if a, ok := s.accounts.get(b.Account); ok {
		or(a.BPA)
	}
	return out
}

// entityKey is the key of a user, group, role or managed policy: IAM names
// are unique per account regardless of case ("ADMINS" and "admins" clash).
func entityKey(acct, name string) string { return acct + "/" + strings.ToLower(name) }

func (s *State) tomb(kind, key string) {
	n, _ := s.tombstones.get(kind + ":" + key)
	s.tombstones.set(kind+":"+key, n+1)
}

func (s *State) tombstoned(kind, key string) bool {
	_, ok := s.tombstones.get(kind + ":" + key)
	return ok
}

// insertSorted returns a new slice with v added (if absent), sorted.
func insertSorted(list []string, v string) []string {
	i := sort.SearchStrings(list, v)
	if i < len(list) && list[i] == v {
		return list
	}
	out := make([]string, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, v)
	return append(out, list[i:]...)
}

// removeSorted returns a new slice without v.
func removeSorted(list []string, v string) []string {
	i := sort.SearchStrings(list, v)
	if i >= len(list) || list[i] != v {
		return list
	}
	out := make([]string, 0, len(list)-1)
	out = append(out, list[:i]...)
	return append(out, list[i+1:]...)
}

func containsSorted(list []string, v string) bool {
	i := sort.SearchStrings(list, v)
	return i < len(list) && list[i] == v
}

// withInline returns a copy of list with p added or replaced.
func withInline(list []inlinePolicy, p inlinePolicy) []inlinePolicy {
	out := make([]inlinePolicy, 0, len(list)+1)
	done := false
	for _, q := range list {
		if strings.EqualFold(q.Name, p.Name) {
			out = append(out, p)
			done = true
			continue
		}
		out = append(out, q)
	}
	if !done {
		out = append(out, p)
		sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	}
	return out
}

// withoutInline returns a copy of list without the policy named name.
func withoutInline(list []inlinePolicy, name string) []inlinePolicy {
	out := make([]inlinePolicy, 0, len(list))
	for _, q := range list {
		if !strings.EqualFold(q.Name, name) {
			out = append(out, q)
		}
	}
	return out
}

func findInline(list []inlinePolicy, name string) (inlinePolicy, bool) {
	for _, q := range list {
		if strings.EqualFold(q.Name, name) {
			return q, true
		}
	}
	return inlinePolicy{}, false
}
