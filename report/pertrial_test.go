package report

import "testing"

func TestPerTrialFigures(t *testing.T) {
	tests := []struct {
		total, trials int
		long, cell    string
	}{
		{270251, 1000, "270.3 stale allows per trial (270,251 over 1,000 trials)", "270.3 (270,251)"},
		{2000, 50, "40 stale allows per trial (2,000 over 50 trials)", "40 (2,000)"},
		{40, 1, "40 stale allows", "40"},
		{0, 20, "0 stale allows per trial (0 over 20 trials)", "0 (0)"},
		{1234567, 1, "1,234,567 stale allows", "1,234,567"},
	}
	for _, tt := range tests {
		if got := countPerTrial(tt.total, tt.trials, "stale allows"); got != tt.long {
			t.Errorf("countPerTrial(%d, %d) = %q, want %q", tt.total, tt.trials, got, tt.long)
		}
		if got := cellPerTrial(tt.total, tt.trials); got != tt.cell {
			t.Errorf("cellPerTrial(%d, %d) = %q, want %q", tt.total, tt.trials, got, tt.cell)
		}
	}
}
