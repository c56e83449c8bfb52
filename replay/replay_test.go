package replay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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


func TestReplayFixture(t *testing.T) {
	a, _ := load(t, "", "trail/111122223333_CloudTrail_us-east-1_20261201T0900Z_iam.json",
		"trail/111122223333_CloudTrail_eu-west-1_20261201T0900Z_s3.json.gz", "trail/lookup-events.json")
	t.Logf("%s", a.YAML)
	t.Logf("windows %+v\nsuspects %+v\nunknown %v\nchanges %+v\nskipped %+v\nunmodelled %v", a.Windows, a.Suspects, a.Unknown, a.Plan.Changes, a.Plan.Skipped, a.Plan.Unmodelled)
}
