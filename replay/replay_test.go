package replay_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iamprop/iamprop/delay"
	"github.com/iamprop/iamprop/replay"
	"github.com/iamprop/iamprop/runner"
	"github.com/iamprop/iamprop/scenarios"
	"github.com/iamprop/iamprop/trail"
)

// load decodes trail fixtures of package trail and the snapshot, maps and
// analyzes them.
func load(t *testing.T, snapshot string, files ...string) (*replay.Analysis, *trail.Merger) {
	t.Helper()
	var m trail.Merger
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", "trail", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := trail.Decode(f, bytes.NewReader(data), m.Add); err != nil {
			t.Fatal(err)
		}
	}
	var snap *trail.Snapshot
	if snapshot != "" {
		data, err := os.ReadFile(filepath.Join("testdata", snapshot))
		if err != nil {
			t.Fatal(err)
		}
		if snap, err = trail.DecodeSnapshot(snapshot, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	p := replay.Map(m.Events(), snap)
	base, err := scenarios.Parse("replay.yaml", p.BaseScenario(replay.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, &m
}

func TestReplayWithoutSnapshot(t *testing.T) {
	a, _ := load(t, "", "trail/111122223333_CloudTrail_us-east-1_20261201T0900Z_iam.json",
		"trail/111122223333_CloudTrail_eu-west-1_20261201T0900Z_s3.json.gz", "trail/lookup-events.json")
	kinds := map[string]string{}
	for _, w := range a.Windows {
		kinds[w.ChangeEventID] = w.Kind
	}
	// PutUserPolicy granted alice her read (a denial window elsewhere);
	// DeleteUserPolicy revoked it (an exposure window).
	if kinds["00000000-0000-4000-8000-000000000002"] != "denial" || kinds["00000000-0000-4000-8000-000000000005"] != "exposure" || len(kinds) != 2 {
		t.Errorf("windows by change: %v", kinds)
	}
	// Without a snapshot the admin that made the calls is unknown.
	if n, err := a.EachSuspect(func(replay.Suspect) error { return nil }); err != nil || n == 0 {
		t.Error("requests of an unknown caller should count as denied from the start")
	}
	if _, err := scenarios.Parse("replay.yaml", a.YAML); err != nil {
		t.Errorf("emitted scenario does not load: %v", err)
	}
}

func TestReplayIncident(t *testing.T) {
	var m trail.Merger
	for _, f := range []string{"111122223333_CloudTrail_us-east-1_20261201T1000Z_iam.json", "111122223333_CloudTrail_eu-west-1_20261201T1000Z_s3.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "incident", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := trail.Decode(f, bytes.NewReader(data), m.Add); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "trail", "testdata", "snapshot", "authorization-details.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := trail.DecodeSnapshot("snapshot.json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := replay.Map(m.Events(), snap)
	base, err := scenarios.Parse("incident.yaml", p.BaseScenario(replay.Options{Name: "incident"}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{Name: "incident"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		deletion = "00000000-0000-4000-8000-000000000102"
		after    = "00000000-0000-4000-8000-000000000104"
	)
	// bob keeps read access through his inline policy until it is deleted:
	// the detach before it revokes nothing.
	if len(a.Windows) != 1 || a.Windows[0].ChangeEventID != deletion || a.Windows[0].Kind != "exposure" || a.Windows[0].Region != "eu-west-1" {
		t.Fatalf("windows %+v, want one exposure in eu-west-1 from %s", a.Windows, deletion)
	}
	// The read before the change and the denied read are not suspect.
	if sus := suspects(t, a); len(sus) != 1 || sus[0].EventID != after || sus[0].ChangeEventID != deletion {
		t.Fatalf("suspects %+v, want %s after %s", sus, after, deletion)
	}
	for _, c := range p.Changes {
		if !c.Applied {
			t.Errorf("change %s not applied: %s", c.EventID, c.Reason)
		}
	}
	sc, err := scenarios.Parse("incident.yaml", a.YAML)
	if err != nil {
		t.Fatalf("emitted scenario: %v\n%s", err, a.YAML)
	}
	model, err := runner.DelayModel(sc)
	if err != nil {
		t.Fatal(err)
	}
	meas := a.Measure(model, 200, 1)
	r := a.Result(meas, 0, replay.DefaultPropagation)
	if err := a.Collect(meas, r); err != nil {
		t.Fatal(err)
	}
	// The read came 2 s after the deletion; the median delay is 4 s.
	if p := r.Suspects[0].Probability; p < 0.5 || p > 1 {
		t.Errorf("probability %v, want most trials stale 2 s after a change with a 4 s median delay", p)
	}
	if w := r.Windows[0].Exposure; w == nil || w.P50 <= 0 || w.P99 < w.P50 || w.Max < w.P99 {
		t.Errorf("window stats %+v", w)
	}
	// The simulator, running the emitted scenario, measures the same
	// window: the replay's trials draw the same delays without the
	// network, so the two distributions agree within sampling error.
	var sim []float64
	if _, err := runner.Run(t.Context(), sc, runner.Options{Trials: 400, OnTrial: func(s runner.TrialSample) {
		sim = append(sim, s.Exposure[0])
	}}); err != nil {
		t.Fatal(err)
	}
	meas = a.Measure(model, 400, 1)
	if d := runner.KSDistance(sim, meas.Seconds(0)); d > 0.12 {
		t.Errorf("replay and simulator windows differ: KS distance %.3f over 400 trials (median %.2fs vs %.2fs)", d, runner.Median(meas.Seconds(0)), runner.Median(sim))
	}
}

// suspects collects an analysis' suspect requests.
func suspects(t *testing.T, a *replay.Analysis) []replay.Suspect {
	t.Helper()
	var out []replay.Suspect
	if _, err := a.EachSuspect(func(s replay.Suspect) error { out = append(out, s); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBuilderOrderFree: records streamed in any file order, duplicates
// included, give the plan of the merged trail.
func TestBuilderOrderFree(t *testing.T) {
	files := []string{"trail/lookup-events.json", "trail/111122223333_CloudTrail_us-east-1_20261201T0900Z_iam.json", "trail/111122223333_CloudTrail_eu-west-1_20261201T0900Z_s3.json.gz"}
	ids := func(p *replay.Plan) string {
		var s []string
		for _, c := range p.Changes {
			s = append(s, c.EventID)
		}
		s = append(s, "|")
		_ = p.EachRequest(func(r replay.Request) error {
			s = append(s, r.EventID+"="+r.Principal)
			return nil
		})
		s = append(s, "|")
		_ = p.EachSkip(func(k replay.Skip) error {
			s = append(s, k.EventID)
			return nil
		})
		return strings.Join(s, " ")
	}
	var want string
	for n, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		b := replay.NewBuilder(nil, replay.BuilderOptions{TempDir: t.TempDir(), MemLimit: 2000 * (n + 1)})
		defer b.Close()
		var m trail.Merger
		for _, i := range order {
			data, err := os.ReadFile(filepath.Join("..", "trail", "testdata", files[i]))
			if err != nil {
				t.Fatal(err)
			}
			if err := trail.Decode(files[i], bytes.NewReader(data), b.Add); err != nil {
				t.Fatal(err)
			}
			if err := trail.Decode(files[i], bytes.NewReader(data), m.Add); err != nil {
				t.Fatal(err)
			}
		}
		p, err := b.Plan()
		if err != nil {
			t.Fatal(err)
		}
		got := ids(p)
		if n == 0 {
			want = ids(replay.Map(m.Events(), nil))
		}
		if got != want || b.Duplicates() != 1 {
			t.Errorf("order %v: %d duplicates\n got %s\nwant %s", order, b.Duplicates(), got, want)
		}
	}
}

// TestReplayDeletedKey: a key created in the trail is followed by its id,
// so requests signed with it after its deletion are suspect.
func TestReplayDeletedKey(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admin := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin", AccountID: "111122223333", UserName: "admin", AccessKeyID: "AKIAADMIN"}
	alice := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", UserName: "alice", AccessKeyID: "AKIAALICE1"}
	ev := func(id string, sec int, src, name, region string, who trail.Identity, params, resp string) trail.Event {
		e := trail.Event{EventID: id, EventTime: t0.Add(time.Duration(sec) * time.Second), EventSource: src, EventName: name, AWSRegion: region,
			Recipient: "111122223333", Identity: who, RequestParameters: json.RawMessage(params)}
		if resp != "" {
			e.ResponseElements = json.RawMessage(resp)
		}
		return e
	}
	get := `{"bucketName": "example-reports", "key": "a.csv"}`
	events := []trail.Event{
		ev("e01", 0, "s3.amazonaws.com", "CreateBucket", "eu-west-1", admin, `{"bucketName": "example-reports", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}`, ""),
		ev("e02", 1, "iam.amazonaws.com", "CreateUser", "us-east-1", admin, `{"userName": "alice"}`, ""),
		ev("e03", 2, "iam.amazonaws.com", "PutUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}`, ""),
		ev("e04", 3, "iam.amazonaws.com", "CreateAccessKey", "us-east-1", admin, `{"userName": "alice"}`, `{"accessKey": {"accessKeyId": "AKIAALICE1", "userName": "alice", "status": "Active"}}`),
		ev("e05", 30, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get, ""),
		ev("e06", 40, "iam.amazonaws.com", "DeleteAccessKey", "us-east-1", admin, `{"userName": "alice", "accessKeyId": "AKIAALICE1"}`, ""),
		ev("e07", 41, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get, ""),
	}
	p := replay.Map(events, nil)
	base, err := scenarios.Parse("replay.yaml", p.BaseScenario(replay.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sus := suspects(t, a); len(sus) != 1 || sus[0].EventID != "e07" || sus[0].ChangeEventID != "e06" || sus[0].Principal != "key:AKIAALICE1" {
		t.Errorf("suspects %+v, want e07 after e06 signed by key:AKIAALICE1", sus)
	}
	var revoked []string
	for _, w := range a.Windows {
		if w.Kind == "exposure" {
			revoked = append(revoked, w.ChangeEventID)
		}
	}
	if strings.Join(revoked, ",") != "e06" {
		t.Errorf("exposure windows from %v, want e06", revoked)
	}
}

// TestReplayWindowsWhereDecided: AWS decides a bucket's requests only in
// the bucket's home region, so an IAM change committed in us-east-1 opens
// windows for a bucket in eu-west-1 there alone, and a suspect request
// for it is placed there, whatever endpoint logged it; a global
// resource's windows stay in every region but the committing one.
func TestReplayWindowsWhereDecided(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admin := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin", AccountID: "111122223333", UserName: "admin"}
	alice := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", UserName: "alice"}
	ev := func(id string, sec int, src, name, region string, who trail.Identity, params string) trail.Event {
		return trail.Event{EventID: id, EventTime: t0.Add(time.Duration(sec) * time.Second), EventSource: src, EventName: name, AWSRegion: region,
			Recipient: "111122223333", Identity: who, RequestParameters: json.RawMessage(params)}
	}
	get := `{"bucketName": "example-reports", "key": "a.csv"}`
	getUser := `{"userName": "alice"}`
	events := []trail.Event{
		ev("e01", 0, "s3.amazonaws.com", "CreateBucket", "eu-west-1", admin, `{"bucketName": "example-reports", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}`),
		ev("e02", 0, "s3.amazonaws.com", "CreateBucket", "ap-southeast-2", admin, `{"bucketName": "example-archive", "CreateBucketConfiguration": {"LocationConstraint": "ap-southeast-2"}}`),
		ev("e03", 1, "iam.amazonaws.com", "CreateUser", "us-east-1", admin, `{"userName": "alice"}`),
		ev("e04", 2, "iam.amazonaws.com", "PutUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"iam:GetUser\"],\"Resource\":\"*\"}]}"}`),
		ev("e05", 30, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get),
		ev("e06", 31, "iam.amazonaws.com", "GetUser", "us-east-1", alice, getUser),
		ev("e07", 40, "iam.amazonaws.com", "DeleteUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r"}`),
		ev("e08", 41, "s3.amazonaws.com", "GetObject", "eu-west-1", alice, get),
		// Logged by the us-east-1 endpoint, yet decided by eu-west-1's view.
		ev("e09", 42, "s3.amazonaws.com", "GetObject", "us-east-1", alice, get),
	}
	p := replay.Map(events, nil)
	base, err := scenarios.Parse("replay.yaml", p.BaseScenario(replay.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Regions, ","); got != "ap-southeast-2,eu-west-1,us-east-1" {
		t.Fatalf("regions %s", got)
	}
	regions := map[string][]string{}
	for _, w := range a.Windows {
		k := w.ChangeEventID + " " + w.Kind + " " + w.Action
		regions[k] = append(regions[k], w.Region)
		if w.HomeRegionUnknown {
			t.Errorf("window %+v: home region marked unknown", w)
		}
	}
	for _, tc := range []struct{ window, regions string }{
		{"e04 denial s3:GetObject", "eu-west-1"},
		{"e04 denial iam:GetUser", "ap-southeast-2,eu-west-1"},
		{"e07 exposure s3:GetObject", "eu-west-1"},
		{"e07 exposure iam:GetUser", "ap-southeast-2,eu-west-1"},
	} {
		got := append([]string(nil), regions[tc.window]...)
		sort.Strings(got)
		if strings.Join(got, ",") != tc.regions {
			t.Errorf("%s: windows in %v, want %s", tc.window, got, tc.regions)
		}
		delete(regions, tc.window)
	}
	if len(regions) != 0 {
		t.Errorf("unexpected windows %v", regions)
	}
	for _, w := range []string{"e08", "e09"} {
		var found bool
		for _, s := range suspects(t, a) {
			if s.EventID != w {
				continue
			}
			found = true
			if s.Region != "eu-west-1" || s.ChangeEventID != "e07" || s.Window < 0 || a.Windows[s.Window].Region != "eu-west-1" {
				t.Errorf("suspect %+v, want it in eu-west-1 (the bucket's home) after e07, in its window", s)
			}
		}
		if !found {
			t.Errorf("%s is not suspect", w)
		}
	}
	// The emitted scenario asks each bucket probe of the bucket's region.
	sc, err := scenarios.Parse("replay.yaml", a.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if ws := scenarios.Warnings(sc); len(ws) != 0 {
		t.Errorf("emitted scenario warns: %v", ws)
	}
}

// TestReplayWindowsHomeUnknown: a bucket whose home region no record
// gives keeps its windows in every region but the committing one, each
// marked, and the report says why.
func TestReplayWindowsHomeUnknown(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admin := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/admin", AccountID: "111122223333", UserName: "admin"}
	alice := trail.Identity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", UserName: "alice"}
	ev := func(id string, sec int, src, name, region string, who trail.Identity, params string) trail.Event {
		return trail.Event{EventID: id, EventTime: t0.Add(time.Duration(sec) * time.Second), EventSource: src, EventName: name, AWSRegion: region,
			Recipient: "111122223333", Identity: who, RequestParameters: json.RawMessage(params)}
	}
	get := `{"bucketName": "example-lost", "key": "a.csv"}`
	events := []trail.Event{
		ev("e01", 0, "s3.amazonaws.com", "CreateBucket", "eu-west-1", admin, `{"bucketName": "example-reports", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}`),
		ev("e02", 1, "iam.amazonaws.com", "CreateUser", "us-east-1", admin, `{"userName": "alice"}`),
		ev("e03", 2, "iam.amazonaws.com", "PutUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}"}`),
		// A record without its region (built by a program, not by AWS).
		ev("e04", 30, "s3.amazonaws.com", "GetObject", "", alice, get),
		ev("e05", 40, "iam.amazonaws.com", "DeleteUserPolicy", "us-east-1", admin, `{"userName": "alice", "policyName": "r"}`),
	}
	p := replay.Map(events, nil)
	base, err := scenarios.Parse("replay.yaml", p.BaseScenario(replay.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	initial, err := runner.InitialState(base)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Analyze(initial, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range a.Windows {
		if w.ChangeEventID == "e05" {
			got = append(got, w.Region)
		}
		if !w.HomeRegionUnknown {
			t.Errorf("window %+v: home region not marked unknown", w)
		}
	}
	if strings.Join(got, ",") != "eu-west-1" {
		t.Errorf("e05 windows in %v, want every region but us-east-1", got)
	}
	if !strings.Contains(strings.Join(a.Unknown, "\n"), "bucket example-lost: its home region is not in the trail") {
		t.Errorf("unknown prior state %q does not name the bucket", a.Unknown)
	}
	r := a.Result(a.Measure(mustModel(t, a), 10, 1), 0, replay.DefaultPropagation)
	raw, err := json.Marshal(r.Windows)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"home_region_unknown":true`) {
		t.Errorf("windows JSON %s lacks home_region_unknown", raw)
	}
}

// mustModel is the delay model of an analysis' emitted scenario.
func mustModel(t *testing.T, a *replay.Analysis) *delay.Model {
	t.Helper()
	sc, err := scenarios.Parse("replay.yaml", a.YAML)
	if err != nil {
		t.Fatal(err)
	}
	m, err := runner.DelayModel(sc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
