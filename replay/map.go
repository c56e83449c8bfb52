package replay

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/trail"
)

// GlobalRegion is where AWS commits IAM and Organizations changes: both are
// global services whose control plane (and CloudTrail records) live in
// us-east-1.
const GlobalRegion = "us-east-1"

// Change is one state-changing record mapped to a control-plane call.
type Change struct {
	EventID   string
	EventName string
	Time      time.Time
	Region    string // where the change is committed
	Call      controlplane.Call
	Revoke    bool // controlplane.IsRevoke: the delay model's class
	// Applied is false when the call fails AWS's checks at its place in
	// the trail (Analyze sets it; Reason says why).
	Applied bool
	Reason  string
}

// Skip is a record that is not replayed, with the reason.
type Skip struct {
	EventID   string
	EventName string
	Reason    string
	Time      time.Time
}

// Request is a successful call that the access model can decide: a
// candidate suspect request, and the source of the (principal, action,
// resource) triples whose windows are measured.
type Request struct {
	EventID   string
	EventName string
	Time      time.Time
	Region    string // the region that served it
	Principal string // a probe principal: an ARN, key:AKID or anonymous
	Action    string // "s3:GetObject"
	Resource  string // an ARN
}

// Plan is a classified trail: what Map found, before Analyze.
type Plan struct {
	Start      time.Time // eventTime of the first record; scenario time 0
	End        time.Time // eventTime of the last record
	Records    int
	Changes    []Change
	Skipped    []Skip
	Unmodelled map[string]int // "ec2:RunInstances" -> records; never silently dropped
	Requests   []Request
	Buckets    map[string]string // bucket -> home region, from the trail
	Snapshot   *trail.Snapshot   // nil without --snapshot
	Account    string            // the default account
	created    map[string]bool   // buckets created in the trail
	keys       map[string]bool   // access keys created in the trail
	keyOwner   map[string]string // access key -> user, for keys created in the trail
	orgNames   map[string]string // organization ids (p-..., ou-..., r-...) -> iamprop references
}

// s3Calls maps S3 eventNames (as CloudTrail writes them) to calls.
var s3Calls = map[string]string{
	"CreateBucket":                   "s3:CreateBucket",
	"DeleteBucket":                   "s3:DeleteBucket",
	"PutBucketPolicy":                "s3:PutBucketPolicy",
	"DeleteBucketPolicy":             "s3:DeleteBucketPolicy",
	"PutBucketPublicAccessBlock":     "s3:PutPublicAccessBlock",
	"DeleteBucketPublicAccessBlock":  "s3:DeletePublicAccessBlock",
	"PutObject":                      "s3:PutObject",
	"DeleteObject":                   "s3:DeleteObject",
	"PutAccountPublicAccessBlock":    "s3control:PutPublicAccessBlock",
	"DeleteAccountPublicAccessBlock": "s3control:DeletePublicAccessBlock",
}

// modelled is the set of catalog calls, and their argument names.
var modelled = func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, c := range controlplane.Catalog() {
		args := map[string]bool{}
		for _, a := range c.Args {
			args[a.Name] = true
		}
		out[c.Action] = args
	}
	return out
}()

// callFor names the catalog call of a record, "" when iamprop does not
// model it.
func callFor(e *trail.Event) string {
	var call string
	switch e.EventSource {
	case "iam.amazonaws.com":
		call = "iam:" + e.EventName
	case "organizations.amazonaws.com":
		call = "organizations:" + e.EventName
	case "s3.amazonaws.com", "s3-control.amazonaws.com":
		call = s3Calls[e.EventName]
	}
	if _, ok := modelled[call]; !ok {
		return ""
	}
	return call
}

// Map classifies merged trail records (in trail order). snap may be nil.
// A record that cannot be mapped (a modelled call whose parameters lack a
// required argument) is skipped with the reason, never dropped.
func Map(events []trail.Event, snap *trail.Snapshot) *Plan {
	b := NewBuilder(snap)
	for _, e := range events {
		_ = b.Add(e)
	}
	return b.Plan()
}

// Builder classifies records as they are decoded, in any order, holding
// only what the replay needs: state changes whole (they are few), each
// request as a few interned strings, counts for the rest. It drops records
// whose eventID it has seen (by a 64-bit hash of the id). Plan orders what
// it kept by eventTime, ties by eventID.
type Builder struct {
	p       *Plan
	changes []trail.Event
	reqs    []pending
	seen    map[uint64]struct{}
	dups    int
	strs    map[string]string
}

// pending is a request whose principal is resolved once every record is
// in (a key created anywhere in the trail is followed by its id).
type pending struct {
	Request
	keyID string
}

// NewBuilder starts a plan; snap (the state before the trail) may be nil.
func NewBuilder(snap *trail.Snapshot) *Builder {
	p := &Plan{Unmodelled: map[string]int{}, Buckets: map[string]string{}, Snapshot: snap,
		created: map[string]bool{}, keys: map[string]bool{}, keyOwner: map[string]string{}, orgNames: map[string]string{"root": "root"}}
	if snap != nil {
		p.Account = snap.Account()
	}
	return &Builder{p: p, seen: map[uint64]struct{}{}, strs: map[string]string{}}
}

// Duplicates is the number of records dropped for an eventID seen before.
func (b *Builder) Duplicates() int { return b.dups }

func (b *Builder) intern(s string) string {
	if v, ok := b.strs[s]; ok {
		return v
	}
	b.strs[s] = s
	return s
}

// Add classifies one record; its signature fits trail.Decode's callback.
func (b *Builder) Add(ev trail.Event) error {
	h := fnv.New64a()
	h.Write([]byte(ev.EventID))
	if _, dup := b.seen[h.Sum64()]; dup {
		b.dups++
		return nil
	}
	b.seen[h.Sum64()] = struct{}{}
	p, e := b.p, &ev
	p.Records++
	if p.Start.IsZero() || e.EventTime.Before(p.Start) {
		p.Start = e.EventTime
	}
	if e.EventTime.After(p.End) {
		p.End = e.EventTime
	}
	if p.Account == "" {
		p.Account = firstNonEmpty(e.Recipient, e.Identity.AccountID)
	}
	if !e.Failed() && e.Service() == "s3" {
		p.noteBucket(e)
	}
	call := callFor(e)
	if e.Failed() {
		p.Skipped = append(p.Skipped, Skip{e.EventID, b.intern(e.EventName), "failed: " + b.intern(e.ErrorCode), e.EventTime})
		return nil
	}
	if call != "" {
		b.changes = append(b.changes, ev)
	}
	if r, ok := p.request(e); ok {
		r.EventName, r.Region, r.Principal, r.Action, r.Resource = b.intern(r.EventName), b.intern(r.Region), b.intern(r.Principal), b.intern(r.Action), b.intern(r.Resource)
		keyID := ""
		if e.Identity.Type == "IAMUser" {
			keyID = b.intern(e.Identity.AccessKeyID)
		}
		b.reqs = append(b.reqs, pending{r, keyID})
	} else if call == "" {
		p.Unmodelled[e.Service()+":"+e.EventName]++
	}
	return nil
}

// noteBucket learns a bucket's region: CreateBucket's location, else the
// region of the bucket's events.
func (p *Plan) noteBucket(e *trail.Event) {
	var rp struct {
		BucketName string `json:"bucketName"`
		Config     *struct {
			LocationConstraint string
		} `json:"CreateBucketConfiguration"`
	}
	_ = json.Unmarshal(e.RequestParameters, &rp)
	if rp.BucketName == "" {
		return
	}
	if e.EventName == "CreateBucket" {
		region := GlobalRegion // no LocationConstraint: us-east-1, as S3 does
		if rp.Config != nil && rp.Config.LocationConstraint != "" {
			region = rp.Config.LocationConstraint
		}
		p.Buckets[rp.BucketName] = region
		return
	}
	if _, ok := p.Buckets[rp.BucketName]; !ok {
		p.Buckets[rp.BucketName] = e.AWSRegion
	}
}

// Plan maps the changes in trail order and resolves the requests.
func (b *Builder) Plan() *Plan {
	p := b.p
	sort.Slice(b.changes, func(i, j int) bool { return trail.Less(&b.changes[i], &b.changes[j]) })
	for i := range b.changes {
		e := &b.changes[i]
		c, err := p.mapChange(e, callFor(e))
		if err != nil {
			p.Skipped = append(p.Skipped, Skip{e.EventID, e.EventName, err.Error(), e.EventTime})
		} else {
			p.Changes = append(p.Changes, c)
		}
	}
	b.changes = nil
	sort.Slice(b.reqs, func(i, j int) bool {
		a, c := &b.reqs[i], &b.reqs[j]
		if !a.Time.Equal(c.Time) {
			return a.Time.Before(c.Time)
		}
		return a.EventID < c.EventID
	})
	p.Requests = make([]Request, 0, len(b.reqs))
	for _, r := range b.reqs {
		if r.keyID != "" && p.keys[r.keyID] {
			r.Principal = "key:" + r.keyID
		}
		p.Requests = append(p.Requests, r.Request)
	}
	b.reqs = nil
	sort.SliceStable(p.Skipped, func(i, j int) bool {
		if !p.Skipped[i].Time.Equal(p.Skipped[j].Time) {
			return p.Skipped[i].Time.Before(p.Skipped[j].Time)
		}
		return p.Skipped[i].EventID < p.Skipped[j].EventID
	})
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// UnmodelledNames lists Unmodelled's names, most frequent first.
func (p *Plan) UnmodelledNames() []string {
	var names []string
	for n := range p.Unmodelled {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if p.Unmodelled[names[i]] != p.Unmodelled[names[j]] {
			return p.Unmodelled[names[i]] > p.Unmodelled[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}

// snake turns requestParameters' lowerCamelCase into the catalog's
// snake_case (policyArn -> policy_arn).
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mapChange builds the call of a state-changing record.
func (p *Plan) mapChange(e *trail.Event, call string) (Change, error) {
	var rp map[string]json.RawMessage
	if len(e.RequestParameters) > 0 {
		if err := json.Unmarshal(e.RequestParameters, &rp); err != nil {
			return Change{}, fmt.Errorf("requestParameters: not an object: %v", err)
		}
	}
	args := map[string]any{}
	known := modelled[call]
	for k, v := range rp {
		if n := snake(k); known[n] {
			args[n] = v
		}
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(rp[k], &s)
		return s
	}
	region := e.AWSRegion
	switch strings.SplitN(call, ":", 2)[0] {
	case "iam", "organizations":
		region = GlobalRegion
	case "s3":
		bucket := str("bucketName")
		args["bucket"] = bucket
		if r, ok := p.Buckets[bucket]; ok {
			region = r
		}
	}
	switch call {
	case "iam:CreateAccessKey":
		var re struct {
			AccessKey struct{ AccessKeyId, UserName string } `json:"accessKey"`
		}
		_ = json.Unmarshal(e.ResponseElements, &re)
		if re.AccessKey.AccessKeyId == "" {
			return Change{}, fmt.Errorf("responseElements.accessKey.accessKeyId: missing; the new key's id is needed to follow its use")
		}
		args["access_key_id"] = re.AccessKey.AccessKeyId
		args["user_name"] = firstNonEmpty(str("userName"), re.AccessKey.UserName, e.Identity.UserName)
		p.keys[re.AccessKey.AccessKeyId] = true
		p.keyOwner[re.AccessKey.AccessKeyId] = args["user_name"].(string)
	case "iam:CreatePolicy":
		delete(args, "path") // policies are addressed as arn:aws:iam::ACCOUNT:policy/NAME
	case "s3:CreateBucket":
		args["location_constraint"] = p.Buckets[str("bucketName")]
		region = p.Buckets[str("bucketName")]
		p.created[str("bucketName")] = true
	case "s3:PutBucketPolicy":
		if pol, ok := rp["bucketPolicy"]; ok {
			args["policy"] = pol
		}
	case "s3:PutPublicAccessBlock", "s3control:PutPublicAccessBlock":
		var cfg map[string]json.RawMessage
		_ = json.Unmarshal(rp["PublicAccessBlockConfiguration"], &cfg)
		for _, k := range []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"} {
			if v, ok := cfg[k]; ok {
				args[snake(k)] = v
			}
		}
		if call == "s3control:PutPublicAccessBlock" {
			args["account_id"] = firstNonEmpty(str("accountId"), e.Recipient)
		}
	case "s3control:DeletePublicAccessBlock":
		args["account_id"] = firstNonEmpty(str("accountId"), e.Recipient)
	case "organizations:CreatePolicy", "organizations:CreateOrganizationalUnit":
		var re struct {
			Policy *struct {
				PolicySummary struct{ Id, Name string } `json:"policySummary"`
			} `json:"policy"`
			OU *struct{ Id, Name string } `json:"organizationalUnit"`
		}
		_ = json.Unmarshal(e.ResponseElements, &re)
		if re.Policy != nil {
			p.orgNames[re.Policy.PolicySummary.Id] = re.Policy.PolicySummary.Name
		}
		if re.OU != nil {
			p.orgNames[re.OU.Id] = "ou:" + re.OU.Name
		}
	case "organizations:CreateAccount":
		var re struct {
			Status struct{ AccountId string } `json:"createAccountStatus"`
		}
		_ = json.Unmarshal(e.ResponseElements, &re)
		if re.Status.AccountId == "" {
			return Change{}, fmt.Errorf("responseElements.createAccountStatus.accountId: missing (CreateAccount is asynchronous; the account id is in a later event)")
		}
		args["account_id"] = re.Status.AccountId
	}
	// Organization ids become the names iamprop refers to them by.
	for _, k := range []string{"policy_id", "target_id", "parent_id", "source_parent_id", "destination_parent_id"} {
		if v, ok := args[k]; ok {
			var id string
			if json.Unmarshal(v.(json.RawMessage), &id) == nil {
				if name, ok := p.orgNames[id]; ok {
					args[k] = name
				} else if strings.HasPrefix(id, "r-") {
					args[k] = "root"
				}
			}
		}
	}
	for _, k := range []string{"policy_arn", "permissions_boundary"} {
		if v, ok := args[k]; ok {
			var arn string
			if json.Unmarshal(v.(json.RawMessage), &arn) == nil {
				args[k] = p.localPolicyARN(arn)
			}
		}
	}
	for _, spec := range controlplane.Catalog() {
		if spec.Action != call {
			continue
		}
		for _, a := range spec.Args {
			if _, ok := args[a.Name]; a.Required && !ok {
				return Change{}, fmt.Errorf("requestParameters: no %s for %s", a.Name, call)
			}
		}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return Change{}, err
	}
	c := controlplane.Call{Action: call, Region: region, Args: raw}
	if e.Recipient != "" && p.Account != "" && e.Recipient != p.Account {
		c.Account = e.Recipient
	}
	return Change{EventID: e.EventID, EventName: e.EventName, Time: e.EventTime, Region: region, Call: c, Revoke: controlplane.IsRevoke(c)}, nil
}

// localPolicyARN addresses a managed policy the way iamprop does,
// arn:aws:iam::ACCOUNT:policy/NAME: paths are not modelled, and
// AWS-managed policies (arn:aws:iam::aws:policy/...) are replayed as the
// account's own copy taken from the snapshot.
func (p *Plan) localPolicyARN(arn string) string {
	acct := trail.ARNAccount(arn)
	i := strings.LastIndex(arn, "/")
	if acct == "" || i < 0 || !strings.Contains(arn, ":policy/") {
		return arn
	}
	if acct == "aws" {
		acct = p.Account
	}
	return "arn:aws:iam::" + acct + ":policy/" + arn[i+1:]
}

// request turns a successful record into a decidable request, if it can.
func (p *Plan) request(e *trail.Event) (Request, bool) {
	principal := p.principal(e)
	if principal == "" {
		return Request{}, false
	}
	var rp map[string]json.RawMessage
	_ = json.Unmarshal(e.RequestParameters, &rp)
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(rp[k], &s)
		return s
	}
	acct := firstNonEmpty(e.Recipient, p.Account)
	var resource string
	switch e.Service() {
	case "s3":
		b := str("bucketName")
		if b == "" {
			return Request{}, false
		}
		resource = "arn:aws:s3:::" + b
		if k := str("key"); k != "" {
			resource += "/" + k
		}
	case "iam":
		switch {
		case str("userName") != "":
			resource = "arn:aws:iam::" + acct + ":user/" + str("userName")
		case str("roleName") != "":
			resource = "arn:aws:iam::" + acct + ":role/" + str("roleName")
		case str("groupName") != "":
			resource = "arn:aws:iam::" + acct + ":group/" + str("groupName")
		case str("policyArn") != "":
			resource = str("policyArn")
		default:
			return Request{}, false
		}
	case "sts":
		if resource = str("roleArn"); resource == "" {
			return Request{}, false
		}
	default:
		return Request{}, false
	}
	region := e.AWSRegion
	return Request{EventID: e.EventID, EventName: e.EventName, Time: e.EventTime, Region: region,
		Principal: principal, Action: e.Service() + ":" + e.EventName, Resource: resource}, true
}

// principal is the probe principal of a record's caller, "" when iamprop
// cannot decide for it (an AWS service, a federated web identity).
// A key created in the trail is followed by its id instead (Builder.Plan),
// so its deletion is a revocation of the requests signed with it.
func (p *Plan) principal(e *trail.Event) string {
	id := e.Identity
	switch {
	case id.Type == "AWSAccount" && (id.AccountID == "anonymous" || id.PrincipalID == ""):
		return "anonymous"
	case id.Type == "IAMUser" || id.Type == "AssumedRole" || id.Type == "Root":
		if id.Type == "Root" && id.ARN == "" && id.AccountID != "" {
			return "arn:aws:iam::" + id.AccountID + ":root"
		}
		return id.ARN
	}
	return ""
}
