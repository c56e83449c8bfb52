package replay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/internal/extsort"
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
	// Region is the region whose view decided it: a bucket's home region
	// for an S3 request (whichever endpoint logged it), else the region
	// that served it (Plan.DecidingRegion).
	Region    string
	Principal string // a probe principal: an ARN, key:AKID or anonymous
	Action    string // "s3:GetObject"
	Resource  string // an ARN
}

// Plan is a classified trail: what Map found, before Analyze. It holds
// the changes whole (they are few), counts, and the distinct request
// triples; the requests themselves stay in the builder's sorted store and
// are read again, in trail order, by EachRequest.
type Plan struct {
	Start   time.Time // eventTime of the first record; scenario time 0
	End     time.Time // eventTime of the last record
	Records int
	Changes []Change
	// Failed counts the failed calls (records with an errorCode) and
	// Unmapped lists the changes whose record could not be mapped: both
	// are skipped, and EachSkip lists them in trail order (the failed
	// calls read again from the sorted store, as they may be many).
	Failed     int
	Unmapped   []Skip
	Unmodelled map[string]int // "ec2:RunInstances" -> records; never silently dropped
	// Requests is the number of decidable requests (EachRequest reads them).
	Requests int
	Buckets  map[string]string // bucket -> home region, from the trail
	Snapshot *trail.Snapshot   // nil without --snapshot
	Account  string            // the default account
	created  map[string]bool   // buckets created in the trail
	// bucketSource ranks how Buckets learned a region (bucketOf).
	bucketSource map[string]int
	keys         map[string]bool   // access keys created in the trail
	keyOwner     map[string]string // access key -> user, for keys created in the trail
	orgNames     map[string]string // organization ids (p-..., ou-..., r-...) -> iamprop references
	reqRegions   map[string]bool   // regions that served requests
	source       *extsort.Sorter   // the sorted records, for EachRequest
	triples      []tuple           // distinct request triples, principals resolved
	tripleIndex  map[tuple]int
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

// bucketConfigCalls are the calls that configure a bucket's access.
var bucketConfigCalls = map[string]bool{"s3:PutBucketPolicy": true, "s3:DeleteBucketPolicy": true, "s3:PutPublicAccessBlock": true, "s3:DeletePublicAccessBlock": true}

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
// required argument) is skipped with the reason, never dropped. It holds
// the records in memory: for whole trails, stream them into a Builder.
func Map(events []trail.Event, snap *trail.Snapshot) *Plan {
	b := NewBuilder(snap, BuilderOptions{MemLimit: math.MaxInt})
	for _, e := range events {
		_ = b.Add(e)
	}
	p, _ := b.Plan() // in memory: nothing to fail
	return p
}

// BuilderOptions bound a Builder's memory.
type BuilderOptions struct {
	// TempDir is where sorted runs are written when the records outgrow
	// MemLimit; "" is the system's temporary directory.
	TempDir string
	// MemLimit is how many bytes of classified records are held before a
	// sorted run is written to disk (extsort.DefaultLimit when 0).
	MemLimit int
}

// Builder classifies records as they are decoded, in any order and from
// any number of files. Each record is reduced at once to what the replay
// needs (a change whole; a request as its triple; a failed call as its
// error; the rest as a name to count) and handed to an external sort by
// (eventTime, eventID), so memory stays bounded by BuilderOptions.MemLimit
// however long the trail. Plan reads the sorted records once; the
// requests are read again by Plan.EachRequest. Records with the eventID
// and eventTime of one already added are redeliveries and are dropped.
type Builder struct {
	p       *Plan
	sorter  *extsort.Sorter
	scratch []byte
	account string
	strs    map[string]string
}

// NewBuilder starts a plan; snap (the state before the trail) may be nil.
// Close removes what it wrote to disk.
func NewBuilder(snap *trail.Snapshot, o BuilderOptions) *Builder {
	p := &Plan{Unmodelled: map[string]int{}, Buckets: map[string]string{}, Snapshot: snap, bucketSource: map[string]int{},
		created: map[string]bool{}, keys: map[string]bool{}, keyOwner: map[string]string{}, orgNames: map[string]string{"root": "root"},
		reqRegions: map[string]bool{}}
	b := &Builder{p: p, sorter: extsort.New(o.TempDir, o.MemLimit), strs: map[string]string{}}
	if snap != nil {
		b.account = snap.Account()
	}
	p.source = b.sorter
	return b
}

// Close removes the builder's sorted runs; the plan's EachRequest no
// longer works after it.
func (b *Builder) Close() error { return b.sorter.Close() }

// Duplicates is the number of records dropped as redeliveries; known once
// Plan has run.
func (b *Builder) Duplicates() int { return b.sorter.Duplicates() }

func (b *Builder) intern(s string) string {
	if v, ok := b.strs[s]; ok {
		return v
	}
	b.strs[s] = s
	return s
}

// item flags.
const (
	fFailed = 1 << iota
	fChange
	fRequest
	fUnmodelled
)

// item is a record reduced to what the replay uses, as the sort stores it.
type item struct {
	flags                              byte
	name, service, region, account     string
	errCode                            string
	bucket, bucketRegion               string // bucketRegion: where the record places the bucket
	bucketRank                         byte   // see Plan.bucketSource
	principal, action, resource, keyID string
	change                             []byte // the whole record (JSON) of a change
}

func (it *item) encode(buf []byte) []byte {
	buf = append(buf, it.flags, it.bucketRank)
	for _, s := range []string{it.name, it.service, it.region, it.account, it.errCode, it.bucket, it.bucketRegion, it.principal, it.action, it.resource, it.keyID} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(it.change)))
	return append(buf, it.change...)
}

var errItem = errors.New("a sorted trail record is corrupt")

func (b *Builder) decode(buf []byte) (item, error) {
	var it item
	if len(buf) < 2 {
		return it, errItem
	}
	it.flags, it.bucketRank, buf = buf[0], buf[1], buf[2:]
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(buf)
		if k <= 0 || uint64(len(buf)-k) < n {
			return nil, errItem
		}
		v := buf[k : k+int(n)]
		buf = buf[k+int(n):]
		return v, nil
	}
	for _, dst := range []*string{&it.name, &it.service, &it.region, &it.account, &it.errCode, &it.bucket, &it.bucketRegion, &it.principal, &it.action, &it.resource, &it.keyID} {
		v, err := next()
		if err != nil {
			return it, err
		}
		*dst = b.intern(string(v))
	}
	v, err := next()
	it.change = v
	return it, err
}

// Add classifies one record; its signature fits trail.Decode's callback.
func (b *Builder) Add(ev trail.Event) error {
	e := &ev
	if b.account == "" {
		b.account = firstNonEmpty(e.Recipient, e.Identity.AccountID)
	}
	it := item{name: e.EventName, service: e.Service(), region: e.AWSRegion, account: firstNonEmpty(e.Recipient, e.Identity.AccountID)}
	if e.Failed() {
		it.flags |= fFailed
		it.errCode = e.ErrorCode
	} else {
		var rp reqParams
		switch e.Service() {
		case "s3", "iam", "sts":
			_ = json.Unmarshal(e.RequestParameters, &rp)
		}
		if e.Service() == "s3" {
			it.bucket, it.bucketRegion, it.bucketRank = bucketOf(e, &rp)
		}
		call := callFor(e)
		if call != "" {
			it.flags |= fChange
			raw, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			it.change = raw
		}
		if r, ok := b.p.request(e, &rp, b.account); ok {
			it.flags |= fRequest
			it.principal, it.action, it.resource = r.Principal, r.Action, r.Resource
			if e.Identity.Type == "IAMUser" {
				it.keyID = e.Identity.AccessKeyID
			}
		} else if call == "" {
			it.flags |= fUnmodelled
		}
	}
	b.scratch = it.encode(b.scratch[:0])
	return b.sorter.Add(extsort.Key{T: e.EventTime.UnixNano(), ID: e.EventID}, b.scratch)
}

// bucketOf is the bucket a successful S3 record names and where it places
// the bucket: CreateBucket's location (none: us-east-1, as S3 does) ranks
// 3; a data event's region ranks 2, since S3 serves and logs an object
// request in the bucket's region; any other call's region ranks 1, since
// a configuration call can be sent to another region's endpoint.
func bucketOf(e *trail.Event, rp *reqParams) (bucket, region string, rank byte) {
	if rp.BucketName == "" {
		return "", "", 0
	}
	switch {
	case e.EventName == "CreateBucket":
		region = GlobalRegion
		if rp.Config != nil && rp.Config.LocationConstraint != "" {
			region = rp.Config.LocationConstraint
		}
		return rp.BucketName, region, 3
	case e.EventCategory == "Data" || strings.HasSuffix(e.EventName, "Object") || strings.HasSuffix(e.EventName, "Objects"):
		return rp.BucketName, e.AWSRegion, 2
	}
	return rp.BucketName, e.AWSRegion, 1
}

// noteBucket learns a bucket's region from the best-ranked record, the
// earliest among equals.
func (p *Plan) noteBucket(bucket, region string, rank int) {
	if region != "" && rank > p.bucketSource[bucket] {
		p.Buckets[bucket], p.bucketSource[bucket] = region, rank
	}
}

// rawTriple is a request's triple before keys are resolved.
type rawTriple struct{ principal, keyID, action, resource string }

// Plan reads the sorted records once, maps the changes in trail order and
// collects the distinct request triples. The requests themselves are not
// kept: EachRequest reads them again.
func (b *Builder) Plan() (*Plan, error) {
	p := b.p
	p.Account = b.account
	var changes []trail.Event
	raw := map[rawTriple]bool{}
	err := b.sorter.Each(func(k extsort.Key, payload []byte) error {
		it, err := b.decode(payload)
		if err != nil {
			return err
		}
		t := time.Unix(0, k.T).UTC()
		if p.Records == 0 {
			p.Start = t
		}
		p.End = t
		p.Records++
		if it.bucket != "" {
			p.noteBucket(it.bucket, it.bucketRegion, int(it.bucketRank))
		}
		switch {
		case it.flags&fFailed != 0:
			p.Failed++
			return nil
		case it.flags&fChange != 0:
			var ev trail.Event
			if err := json.Unmarshal(it.change, &ev); err != nil {
				return err
			}
			changes = append(changes, ev)
		}
		if it.flags&fRequest != 0 {
			p.Requests++
			p.reqRegions[it.region] = true
			raw[rawTriple{it.principal, it.keyID, it.action, it.resource}] = true
		} else if it.flags&fUnmodelled != 0 {
			p.Unmodelled[it.service+":"+it.name]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range changes {
		e := &changes[i]
		c, err := p.mapChange(e, callFor(e))
		if err != nil {
			p.Unmapped = append(p.Unmapped, Skip{e.EventID, e.EventName, err.Error(), e.EventTime})
		} else {
			p.Changes = append(p.Changes, c)
		}
	}
	p.tripleIndex = map[tuple]int{}
	for r := range raw {
		k := tuple{p.resolve(r.principal, r.keyID), r.action, r.resource}
		if _, ok := p.tripleIndex[k]; !ok {
			p.tripleIndex[k] = 0
			p.triples = append(p.triples, k)
		}
	}
	// Triples in a fixed order, so that windows are listed the same way
	// every run.
	sort.Slice(p.triples, func(i, j int) bool {
		a, c := p.triples[i], p.triples[j]
		if a.principal != c.principal {
			return a.principal < c.principal
		}
		if a.action != c.action {
			return a.action < c.action
		}
		return a.resource < c.resource
	})
	for i, k := range p.triples {
		p.tripleIndex[k] = i
	}
	return p, nil
}

// resolve follows a key created in the trail by its id, so that deleting
// the key revokes the requests signed with it.
func (p *Plan) resolve(principal, keyID string) string {
	if keyID != "" && p.keys[keyID] {
		return "key:" + keyID
	}
	return principal
}

// each reads the builder's sorted records again, in trail order, and
// calls fn with those whose flags match want (so call it before
// Builder.Close).
func (p *Plan) each(want byte, fn func(k extsort.Key, it *item) error) error {
	if p.source == nil {
		return nil
	}
	b := &Builder{strs: map[string]string{}}
	return p.source.Each(func(k extsort.Key, payload []byte) error {
		if len(payload) == 0 || payload[0]&want == 0 {
			return nil
		}
		it, err := b.decode(payload)
		if err != nil {
			return err
		}
		if len(b.strs) > 1<<16 {
			b.strs = map[string]string{} // interning is for speed, not to hold the trail
		}
		return fn(k, &it)
	})
}

// EachRequest calls fn with every decidable request, in trail order, read
// again from the builder's sorted records (so call it before
// Builder.Close). An error from fn stops it and is returned.
func (p *Plan) EachRequest(fn func(Request) error) error {
	return p.each(fRequest, func(k extsort.Key, it *item) error {
		if it.flags&fFailed != 0 {
			return nil
		}
		region := it.region
		if r, _ := p.DecidingRegion(it.resource); r != "" {
			region = r
		}
		return fn(Request{EventID: k.ID, EventName: it.name, Time: time.Unix(0, k.T).UTC(), Region: region,
			Principal: p.resolve(it.principal, it.keyID), Action: it.action, Resource: it.resource})
	})
}

// Skips is the number of skipped records: failed calls and unmapped
// changes.
func (p *Plan) Skips() int { return p.Failed + len(p.Unmapped) }

// EachSkip calls fn with every skipped record in trail order: the failed
// calls, read again from the builder's sorted records (so call it before
// Builder.Close), and the unmapped changes.
func (p *Plan) EachSkip(fn func(Skip) error) error {
	next := 0
	err := p.each(fFailed, func(k extsort.Key, it *item) error {
		t := time.Unix(0, k.T).UTC()
		for ; next < len(p.Unmapped) && !after(p.Unmapped[next].Time, p.Unmapped[next].EventID, t, k.ID); next++ {
			if err := fn(p.Unmapped[next]); err != nil {
				return err
			}
		}
		return fn(Skip{k.ID, it.name, "failed: " + it.errCode, t})
	})
	if err != nil {
		return err
	}
	for _, s := range p.Unmapped[next:] {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
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
		// A bucket's configuration is committed where the call was
		// served (its record's awsRegion): normally the bucket's region,
		// but a call sent to another region's endpoint is committed away
		// from where it is enforced, which lint reports. Object writes
		// and deletions belong to the bucket's region.
		if r, ok := p.Buckets[bucket]; ok && !bucketConfigCalls[call] {
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

// reqParams are the requestParameters a request and a bucket's region are
// read from: decoded once per record (a field of another type is left
// empty, as encoding/json skips it).
type reqParams struct {
	BucketName string `json:"bucketName"`
	Key        string `json:"key"`
	UserName   string `json:"userName"`
	RoleName   string `json:"roleName"`
	GroupName  string `json:"groupName"`
	PolicyArn  string `json:"policyArn"`
	RoleArn    string `json:"roleArn"`
	Config     *struct {
		LocationConstraint string
	} `json:"CreateBucketConfiguration"`
}

// request turns a successful record into a decidable request, if it can.
func (p *Plan) request(e *trail.Event, rp *reqParams, account string) (Request, bool) {
	principal := p.principal(e)
	if principal == "" {
		return Request{}, false
	}
	str := func(k string) string {
		switch k {
		case "bucketName":
			return rp.BucketName
		case "key":
			return rp.Key
		case "userName":
			return rp.UserName
		case "roleName":
			return rp.RoleName
		case "groupName":
			return rp.GroupName
		case "policyArn":
			return rp.PolicyArn
		}
		return rp.RoleArn
	}
	acct := firstNonEmpty(e.Recipient, account)
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
