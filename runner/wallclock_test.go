package runner

import (
	"context"
	"testing"
	"time"
)

// fakeClock is a trial's clock whose timer wakes late by a fixed delay,
// as a loaded machine's does, and on which every reading of the time
// takes a microsecond.
type fakeClock struct {
	now, late time.Duration
	sleeps    []time.Duration
}

func (f *fakeClock) wall() wallClock {
	return wallClock{
		since: func() time.Duration { f.now += time.Microsecond; return f.now },
		sleep: func(ctx context.Context, d time.Duration) bool {
			f.sleeps = append(f.sleeps, d)
			f.now += max(d, 0) + f.late
			return ctx.Err() == nil
		},
	}
}

// A step is committed at its instant, not when a late timer wakes the
// driver: the spacing of two steps is a window (revoke-race's exposure is
// the 40 ms between its steps), and the simulator commits each at its
// `at` exactly.
func TestStepsWaitUntilTheirInstantExactly(t *testing.T) {
	for _, tc := range []struct {
		name string
		late time.Duration // how late the timer wakes
		from time.Duration // the clock when the wait begins
		at   time.Duration
	}{
		{"punctual timer", 0, 0, 100 * time.Millisecond},
		{"timer 1 ms late", time.Millisecond, 0, 100 * time.Millisecond},
		{"timer 3 ms late", 3 * time.Millisecond, 60 * time.Millisecond, 140 * time.Millisecond},
		{"timer as late as the lead", stepLead - 10*time.Microsecond, 0, 140 * time.Millisecond},
		{"instant already past", 3 * time.Millisecond, 150 * time.Millisecond, 140 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeClock{now: tc.from, late: tc.late}
			if !f.wall().untilExactly(context.Background(), tc.at) {
				t.Fatal("untilExactly = false with a live context")
			}
			want := max(tc.at, tc.from)
			if f.now < want || f.now > want+5*time.Microsecond {
				t.Errorf("returned at %v, want %v (a few readings of the clock after it)", f.now, want)
			}
		})
	}
	// A trial that is stopped stops waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeClock{}
	if f.wall().untilExactly(ctx, time.Second) {
		t.Error("untilExactly = true after the trial was stopped")
	}
}
