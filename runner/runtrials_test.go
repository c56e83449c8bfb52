package runner

import (
	"context"
	"errors"
	"testing"
)

// runTrials folds in trial order with any number of workers (the browser
// runs one), stops at the fold's first error and returns a cancelled
// context's error.
func TestRunTrialsFoldsInOrder(t *testing.T) {
	stop := errors.New("stop")
	for _, tc := range []struct {
		name     string
		workers  int
		failAt   int // fold returns stop at this trial; -1 never
		cancel   bool
		wantErr  error
		wantFold int
	}{
		{"one worker", 1, -1, false, nil, 50},
		{"two workers", 2, -1, false, nil, 50},
		{"four workers", 4, -1, false, nil, 50},
		{"one worker, fold fails", 1, 7, false, stop, 8},
		{"two workers, fold fails", 2, 7, false, stop, 8},
		{"one worker, cancelled", 1, -1, true, context.Canceled, 0},
		{"two workers, cancelled", 2, -1, true, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			var folded []int
			err := runTrials(ctx, func(i int) *trialResult { return &trialResult{index: i} }, 50, tc.workers,
				func(r *trialResult) error {
					folded = append(folded, r.index)
					if r.index == tc.failAt {
						return stop
					}
					return nil
				})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if tc.cancel {
				if len(folded) > 4*tc.workers {
					t.Errorf("folded %d trials after the context was cancelled", len(folded))
				}
				return
			}
			if len(folded) != tc.wantFold {
				t.Errorf("folded %d trials, want %d", len(folded), tc.wantFold)
			}
			for i, idx := range folded {
				if idx != i {
					t.Fatalf("fold %d got trial %d: out of order", i, idx)
				}
			}
		})
	}
}
