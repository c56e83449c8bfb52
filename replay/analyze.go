package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/iamprop/iamprop/controlplane"
	"github.com/iamprop/iamprop/evaluator"
)

// DefaultPropagation is the delay model when the caller gives none: the
// library's, a lognormal with a 4 s median (OFFENSAI's measured enforcement
// lag for IAM changes) and an assumed 10 s p99. DefaultSources cite it.
const DefaultPropagation = "default: {dist: lognormal, median: 4s, p99: 10s}"

// DefaultSources are the citations of DefaultPropagation.
var DefaultSources = []string{
	"https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency",
	"https://www.offensai.com/blog/eventual-consistency-resistant-iam-containment-aws-incident-response",
	"https://ferkakta.dev/iam-eventual-consistency-is-four-seconds",
}

// Options shape the scenario a replay runs.
type Options struct {
	Name        string        // scenario name; default "replay"
	Propagation string        // YAML of a propagation block; "" = DefaultPropagation
	Sources     []string      // citations of Propagation; DefaultSources with the default
	Tail        time.Duration // simulated time after the last record; 0 = 2m
	Seed        uint64        // scenario seed; 0 = 1
}

// Lead is the scenario time of the trail's first record: the snapshot's
// state holds from 0s, and the first change comes after it.
const Lead = time.Second

// Window is one (principal, action, resource) that a change revoked
// (Kind "exposure") or granted (Kind "denial"), in one region other than
// the one that committed it, measured from the change's commit until the
// truth's next decision change for it (or the end).
type Window struct {
	ChangeEventID string
	Kind          string // exposure | denial
	Region        string
	Principal     string
	Action        string
	Resource      string
	From, Until   time.Duration
	// HomeRegionUnknown marks a window of an S3 resource whose bucket's
	// home region the trail does not give: it is kept in every region
	// but the committing one, as for a global resource.
	HomeRegionUnknown bool
	probe             string
	tuple, flip       int
	allow             bool // the truth's decision during the window
}

// Suspect is a request that succeeded while the truth already denied it:
// it may have been served by a region that had not applied the change.
type Suspect struct {
	EventID       string
	ChangeEventID string // the change after which the truth denied it
	Region        string
	Principal     string
	Action        string
	Resource      string
	At            time.Duration
	// Window is the index in Windows of the change's window in Region
	// (-1: the region committed the change, so applied it at once); Since
	// is how long after the change the request came.
	Window int
	Since  time.Duration
}

// Analysis is an analyzed plan: the windows to measure, what the replay
// could not know, and the scenario that measures them. Suspect requests
// are not held: EachSuspect finds them as the requests stream by.
type Analysis struct {
	Plan    *Plan
	Windows []Window
	// Unknown lists entities the trail uses whose state before the trail
	// is unknown (no snapshot, or absent from it), with what refused them.
	Unknown  []string
	Regions  []string
	Duration time.Duration
	YAML     []byte // the scenario, probes included

	initial  []bool   // each triple's decision before the trail
	flips    [][]flip // each triple's decision changes, in trail order
	windowOf map[windowKey]int
	// before[j] is the truth just before change j; before[len(Changes)]
	// the truth after the trail. Clones share structure, so they cost
	// what the changes changed.
	before []*controlplane.State
	// touches[k] lists the changes whose scope names triple k's
	// entities; global lists the changes that may affect any triple.
	touches [][]int32
	global  []int32
}

type windowKey struct {
	tuple, flip int
	region      string
}

// At is the scenario time of a trail instant.
func (p *Plan) At(t time.Time) time.Duration { return p.at(t) }

func (p *Plan) at(t time.Time) time.Duration {
	return (t.Sub(p.Start) + Lead).Round(time.Millisecond)
}

type tuple struct{ principal, action, resource string }

type flip struct {
	change int
	at     time.Duration
	allow  bool
}

// Analyze replays the plan's changes in trail order on initial (the state
// before the trail, as the scenario's state builds it: see
// runner.InitialState) to find every decision of the trail's request
// triples that each change flipped, and writes the scenario that measures
// them. It marks each change Applied or not (with AWS's reason). Its cost
// grows with changes and distinct triples, not with requests.
func (p *Plan) Analyze(initial *controlplane.State, o Options) (*Analysis, error) {
	a := &Analysis{Plan: p}
	st := initial.Clone()
	tuples := p.triples
	decide := func(k tuple) bool {
		return st.Decide(controlplane.Probe{Principal: k.principal, Action: k.action, Resource: k.resource}).Effect == evaluator.Allow
	}
	cur := make([]bool, len(tuples))
	for i, k := range tuples {
		cur[i] = decide(k)
	}
	a.initial = append([]bool(nil), cur...)
	flips := make([][]flip, len(tuples))
	a.touches = make([][]int32, len(tuples))
	// Only the tuples a change can affect are decided again after it: a
	// trail of many changes and triples stays linear, not their product.
	all := make([]int, len(tuples))
	byEntity := map[string][]int{}
	for k, tp := range tuples {
		all[k] = k
		for _, e := range p.entities(tp) {
			byEntity[e] = append(byEntity[e], k)
		}
	}
	unknown := map[string]bool{}
	a.before = make([]*controlplane.State, 0, len(p.Changes)+1)
	for ci := range p.Changes {
		a.before = append(a.before, st.Clone())
		c := &p.Changes[ci]
		if err := st.Validate(c.Call); err != nil {
			c.Reason = err.Error()
			var ae *controlplane.APIError
			if errors.As(err, &ae) && ae.Code == "NoSuchEntity" {
				unknown[ae.Message] = true
			}
			continue
		}
		st.Apply(c.Call)
		c.Applied = true
		affected := all
		if scope := p.scopeOf(c.Call); scope != nil {
			affected = affected[:0:0]
			seen := map[int]bool{}
			for _, e := range scope {
				for _, k := range byEntity[e] {
					if !seen[k] {
						seen[k] = true
						affected = append(affected, k)
						a.touches[k] = append(a.touches[k], int32(ci))
					}
				}
			}
		} else {
			a.global = append(a.global, int32(ci))
		}
		for _, k := range affected {
			if d := decide(tuples[k]); d != cur[k] {
				cur[k] = d
				flips[k] = append(flips[k], flip{change: ci, at: p.at(c.Time), allow: d})
			}
		}
	}
	a.before = append(a.before, st)
	a.flips = flips
	a.Regions, a.Duration = p.regions(), p.duration(o)
	for k, fl := range flips {
		if len(fl) == 0 {
			continue
		}
		// Only the region that decides the triple's requests can hold a
		// window for it: a regional resource's home, else every region.
		where := a.Regions
		deciding, homeUnknown := p.DecidingRegion(tuples[k].resource)
		if deciding != "" {
			where = []string{deciding}
		}
		if homeUnknown {
			unknown[fmt.Sprintf("bucket %s: its home region is not in the trail (no CreateBucket, no record served there); its windows are kept in every region", bucketName(tuples[k].resource))] = true
		}
		for i, f := range fl {
			until := a.Duration
			if i+1 < len(fl) {
				until = fl[i+1].at
			}
			if until <= f.at {
				continue
			}
			kind := "exposure"
			if f.allow {
				kind = "denial"
			}
			for _, region := range where {
				if region == p.Changes[f.change].Region {
					continue // the committing region applies at commit
				}
				a.Windows = append(a.Windows, Window{ChangeEventID: p.Changes[f.change].EventID, Kind: kind, Region: region,
					Principal: tuples[k].principal, Action: tuples[k].action, Resource: tuples[k].resource, From: f.at, Until: until,
					HomeRegionUnknown: homeUnknown, tuple: k, flip: i, allow: f.allow})
			}
		}
	}
	sort.SliceStable(a.Windows, func(i, j int) bool { return a.Windows[i].From < a.Windows[j].From })
	a.windowOf = map[windowKey]int{}
	for i, w := range a.Windows {
		a.windowOf[windowKey{w.tuple, w.flip, w.Region}] = i
	}
	for u := range unknown {
		a.Unknown = append(a.Unknown, u)
	}
	a.Unknown = append(a.Unknown, p.unknownBuckets()...)
	sort.Strings(a.Unknown)
	y, err := a.scenarioYAML(o)
	if err != nil {
		return nil, err
	}
	a.YAML = y
	return a, nil
}

// EachSuspect reads the plan's requests again, in trail order, and calls
// fn with each suspect: a successful request whose triple the truth
// denied when it was made, after a change that flipped it (a request and
// a change of the same record: the request was authorized by the state
// before its own effect). It returns how many successful requests the
// replayed state denied before any change flipped them (denied from the
// start: state the replay lacks).
func (a *Analysis) EachSuspect(fn func(Suspect) error) (deniedFromStart int, err error) {
	p := a.Plan
	err = p.EachRequest(func(r Request) error {
		k, ok := p.tripleIndex[tuple{r.Principal, r.Action, r.Resource}]
		if !ok {
			return nil
		}
		fl := a.flips[k]
		// The last flip whose change comes before the request.
		n := sort.Search(len(fl), func(i int) bool {
			c := &p.Changes[fl[i].change]
			return !after(r.Time, r.EventID, c.Time, c.EventID)
		})
		allowed := a.initial[k]
		if n > 0 {
			allowed = fl[n-1].allow
		}
		if allowed {
			return nil
		}
		if n == 0 {
			deniedFromStart++
			return nil
		}
		last := fl[n-1]
		at := p.at(r.Time)
		s := Suspect{EventID: r.EventID, ChangeEventID: p.Changes[last.change].EventID, Region: r.Region, Principal: r.Principal,
			Action: r.Action, Resource: r.Resource, At: at, Since: at - last.at, Window: -1}
		if w, ok := a.windowOf[windowKey{k, n - 1, r.Region}]; ok {
			s.Window = w
		}
		return fn(s)
	})
	return deniedFromStart, err
}

// DecidingRegion is the region whose view AWS decides a request for
// resource in, wherever the caller is: an S3 bucket's or object's in the
// bucket's home region, another regional ARN's in the region it names,
// and "" for a global resource (IAM, STS, "*"), which any region decides.
// homeUnknown reports an S3 resource whose bucket's region the trail does
// not give ("" too: the replay then treats it as global).
func (p *Plan) DecidingRegion(resource string) (region string, homeUnknown bool) {
	if strings.HasPrefix(resource, "arn:aws:s3:::") {
		r := p.Buckets[bucketName(resource)]
		return r, r == ""
	}
	// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
	if parts := strings.SplitN(resource, ":", 6); len(parts) == 6 && parts[0] == "arn" {
		return parts[3], false
	}
	return "", false
}

// bucketName is the bucket of an S3 ARN.
func bucketName(resource string) string {
	b, _, _ := strings.Cut(strings.TrimPrefix(resource, "arn:aws:s3:::"), "/")
	return b
}

// entities are the users, roles, keys and buckets a request depends on
// directly: its principal's, and its resource's.
func (p *Plan) entities(t tuple) []string {
	var out []string
	pr := t.principal
	switch {
	case strings.HasPrefix(pr, "key:"):
		out = append(out, pr)
		if u := p.keyOwner[strings.TrimPrefix(pr, "key:")]; u != "" {
			out = append(out, "user:"+u)
		}
	case strings.Contains(pr, ":assumed-role/"):
		r, _, _ := strings.Cut(pr[strings.Index(pr, ":assumed-role/")+len(":assumed-role/"):], "/")
		out = append(out, "role:"+r)
	case strings.Contains(pr, ":user/"), strings.Contains(pr, ":role/"):
		kind := "user:"
		if strings.Contains(pr, ":role/") {
			kind = "role:"
		}
		out = append(out, kind+pr[strings.LastIndex(pr, "/")+1:])
	}
	res := t.resource
	switch {
	case strings.HasPrefix(res, "arn:aws:s3:::"):
		out = append(out, "bucket:"+bucketName(res))
	case strings.Contains(res, ":user/"):
		out = append(out, "user:"+res[strings.LastIndex(res, "/")+1:])
	case strings.Contains(res, ":role/"):
		out = append(out, "role:"+res[strings.LastIndex(res, "/")+1:])
	}
	return out
}

// scopeOf is the entities whose requests a call can change, nil when it
// may change any (a group's members, a managed policy's attachments, the
// organization, the account's Block Public Access).
func (p *Plan) scopeOf(c controlplane.Call) []string {
	var args map[string]any
	if json.Unmarshal(c.Args, &args) != nil {
		return nil
	}
	if _, ok := args["group_name"]; ok {
		return nil
	}
	var out []string
	for arg, kind := range map[string]string{"user_name": "user:", "role_name": "role:", "access_key_id": "key:", "bucket": "bucket:"} {
		if v, ok := args[arg].(string); ok && v != "" {
			out = append(out, kind+v)
		}
	}
	if v, ok := args["access_key_id"].(string); ok && p.keyOwner[v] != "" {
		out = append(out, "user:"+p.keyOwner[v])
	}
	switch {
	case len(out) == 0, strings.HasPrefix(c.Action, "organizations:"), strings.HasPrefix(c.Action, "s3control:"):
		return nil
	}
	return out
}

// regions are every region the trail commits or serves in, and us-east-1.
func (p *Plan) regions() []string {
	set := map[string]bool{GlobalRegion: true}
	for _, c := range p.Changes {
		set[c.Region] = true
	}
	for r := range p.reqRegions {
		set[r] = true
	}
	for _, r := range p.Buckets {
		set[r] = true
	}
	var out []string
	for r := range set {
		if r != "" {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// duration is the scenario's span: the trail, then o.Tail for the last
// changes to propagate.
func (p *Plan) duration(o Options) time.Duration {
	tail := o.Tail
	if tail <= 0 {
		tail = 2 * time.Minute
	}
	return p.at(p.End) + tail
}

// BaseScenario is the replay's scenario before Analyze: the state and the
// changes, no probes. Parse it and build its initial state
// (runner.InitialState) to hand to Analyze.
func (p *Plan) BaseScenario(o Options) []byte {
	a := &Analysis{Plan: p, Regions: p.regions(), Duration: p.duration(o)}
	y, _ := a.scenarioYAML(o)
	return y
}

// after reports whether record (t1, id1) comes after (t2, id2) in trail order.
func after(t1 time.Time, id1 string, t2 time.Time, id2 string) bool {
	if !t1.Equal(t2) {
		return t1.After(t2)
	}
	return id1 > id2
}

func (p *Plan) unknownBuckets() []string {
	var out []string
	for b := range p.Buckets {
		if !p.created[b] {
			out = append(out, fmt.Sprintf("bucket %s: its policy and Block Public Access before the trail are not in any snapshot (replayed as none)", b))
		}
	}
	return out
}

// Stats are a measurement's statistics over trials, in seconds.
type Stats struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func statsOf(v []float64) Stats {
	if len(v) == 0 {
		return Stats{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(p float64) float64 { // nearest rank, as the runner's reports
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return round3(s[max(0, min(i, len(s)-1))])
	}
	return Stats{P50: q(0.5), P99: q(0.99), Max: round3(s[len(s)-1])}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// ProbeNames returns the scenario's probe names in order, one per window.
// Result takes per-trial measurements in this order.
func (a *Analysis) ProbeNames() []string {
	var out []string
	for _, w := range a.Windows {
		out = append(out, w.probe)
	}
	return out
}

func yamlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
