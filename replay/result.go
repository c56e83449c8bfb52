package replay

import "time"

// Result is a replay's outcome, in the shape of `scenario replay --json`.
type Result struct {
	Records         int             `json:"records"`
	Duplicates      int             `json:"duplicates"`
	Changes         []ChangeResult  `json:"changes"`
	Skipped         []SkipResult    `json:"skipped"`
	Unmodelled      map[string]int  `json:"unmodelled"`
	Unknown         []string        `json:"unknown_prior_state"`
	DeniedFromStart int             `json:"denied_from_start"`
	Windows         []WindowResult  `json:"windows"`
	Suspects        []SuspectResult `json:"suspect_requests"`
	Trials          int             `json:"trials"`
	Propagation     string          `json:"propagation"`
	Regions         []string        `json:"regions"`
}

// ChangeResult is one replayed change.
type ChangeResult struct {
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	Call      string    `json:"call"`
	Region    string    `json:"region"`
	Time      time.Time `json:"time"`
	Revoke    bool      `json:"revoke"`
	Applied   bool      `json:"applied"`
	Reason    string    `json:"reason,omitempty"`
}

// SkipResult is one record that was not replayed.
type SkipResult struct {
	EventID   string `json:"event_id"`
	EventName string `json:"event_name"`
	Reason    string `json:"reason"`
}

// WindowResult is one measured window: for an exposure window, how long
// the region still allowed what the change revoked; for a denial window,
// how long it still denied what the change granted.
type WindowResult struct {
	EventID   string `json:"event_id"`
	Kind      string `json:"kind"`
	Region    string `json:"region"`
	Principal string `json:"principal"`
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	Exposure  *Stats `json:"exposure_seconds,omitempty"`
	Denial    *Stats `json:"denial_seconds,omitempty"`
}

// SuspectResult is one suspect request with the probability, over trials,
// that its region had not applied the change when it was served.
type SuspectResult struct {
	EventID       string  `json:"event_id"`
	ChangeEventID string  `json:"change_event_id"`
	Region        string  `json:"region"`
	Principal     string  `json:"principal"`
	Action        string  `json:"action"`
	Resource      string  `json:"resource"`
	Probability   float64 `json:"probability"`
}

// Result folds per-trial measurements into the replay's result. exposure
// and denial hold, per trial, each probe's window in seconds, in
// ProbeNames order (runner.TrialSample's Exposure and Denial). A suspect's
// probability is the share of trials whose window in its region was still
// open when it came; 0 in the region that committed the change.
func (a *Analysis) Result(exposure, denial [][]float64, duplicates int, propagation string) *Result {
	p := a.Plan
	r := &Result{Records: p.Records, Duplicates: duplicates, Unmodelled: p.Unmodelled, Unknown: a.Unknown,
		DeniedFromStart: a.DeniedFromStart, Trials: len(exposure), Propagation: propagation, Regions: a.Regions,
		Changes: []ChangeResult{}, Skipped: []SkipResult{}, Windows: []WindowResult{}, Suspects: []SuspectResult{}}
	if r.Unknown == nil {
		r.Unknown = []string{}
	}
	for _, c := range p.Changes {
		r.Changes = append(r.Changes, ChangeResult{c.EventID, c.EventName, c.Call.Action, c.Region, c.Time, c.Revoke, c.Applied, c.Reason})
	}
	for _, s := range p.Skipped {
		r.Skipped = append(r.Skipped, SkipResult{s.EventID, s.EventName, s.Reason})
	}
	column := func(m [][]float64, i int) []float64 {
		var out []float64
		for _, trial := range m {
			if i < len(trial) {
				out = append(out, trial[i])
			}
		}
		return out
	}
	for i, w := range a.Windows {
		wr := WindowResult{EventID: w.ChangeEventID, Kind: w.Kind, Region: w.Region, Principal: w.Principal, Action: w.Action, Resource: w.Resource}
		if w.Kind == "exposure" {
			s := statsOf(column(exposure, i))
			wr.Exposure = &s
		} else {
			s := statsOf(column(denial, i))
			wr.Denial = &s
		}
		r.Windows = append(r.Windows, wr)
	}
	for _, s := range a.Suspects {
		// The request was stale when its region still allowed it that long
		// after the change: the window's exposure in that trial outlasted it
		// (the window opens at the change; its region allowed until it
		// applied the change).
		prob := 0.0
		if s.window >= 0 {
			v := column(exposure, s.window)
			n := 0
			for _, x := range v {
				if x > s.since.Seconds() {
					n++
				}
			}
			if len(v) > 0 {
				prob = round3(float64(n) / float64(len(v)))
			}
		}
		r.Suspects = append(r.Suspects, SuspectResult{s.EventID, s.ChangeEventID, s.Region, s.Principal, s.Action, s.Resource, prob})
	}
	return r
}
