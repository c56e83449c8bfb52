package runner

import "testing"

// A mode's String is the report's and the metrics' `mode`: the strings
// must stay what the JSON format and the dashboards already use.
func TestModeString(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want string
	}{
		{ModeSim, "sim"},
		{ModeLive, "live"},
		{ModeCluster, "cluster"},
		{Mode(7), "Mode(7)"},
	} {
		if got := tc.mode.String(); got != tc.want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(tc.mode), got, tc.want)
		}
	}
}
