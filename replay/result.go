package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

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
	// HomeRegionUnknown: an S3 resource whose bucket's home region the
	// trail does not give, so its windows are in every region but the
	// committing one.
	HomeRegionUnknown bool `json:"home_region_unknown,omitempty"`
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

// Result folds the measurement into the replay's result, without the
// skipped records and the suspect requests, which may be many
// (Plan.EachSkip and EachSuspect stream them; Collect adds them), and so
// without DeniedFromStart, which the suspects' pass counts.
func (a *Analysis) Result(m *Measurement, duplicates int, propagation string) *Result {
	p := a.Plan
	r := &Result{Records: p.Records, Duplicates: duplicates, Unmodelled: p.Unmodelled, Unknown: a.Unknown,
		Trials: m.Trials, Propagation: propagation, Regions: a.Regions,
		Changes: []ChangeResult{}, Skipped: []SkipResult{}, Windows: []WindowResult{}, Suspects: []SuspectResult{}}
	if r.Unknown == nil {
		r.Unknown = []string{}
	}
	for _, c := range p.Changes {
		r.Changes = append(r.Changes, ChangeResult{c.EventID, c.EventName, c.Call.Action, c.Region, c.Time, c.Revoke, c.Applied, c.Reason})
	}
	for i, w := range a.Windows {
		wr := WindowResult{EventID: w.ChangeEventID, Kind: w.Kind, Region: w.Region, Principal: w.Principal, Action: w.Action, Resource: w.Resource,
			HomeRegionUnknown: w.HomeRegionUnknown}
		s := statsOf(m.Seconds(i))
		if w.Kind == "exposure" {
			wr.Exposure = &s
		} else {
			wr.Denial = &s
		}
		r.Windows = append(r.Windows, wr)
	}
	return r
}

// SuspectResult is s with its probability: the share of trials in which
// its region still decided the old way when the request came (0 in the
// region that committed the change, which applied it at once).
func (m *Measurement) SuspectResult(s Suspect) SuspectResult {
	return SuspectResult{s.EventID, s.ChangeEventID, s.Region, s.Principal, s.Action, s.Resource, m.Probability(s.Window, s.At)}
}

// EachSuspectResult streams the suspects with their probabilities (see
// EachSuspect), and returns the count of requests denied from the start.
func (a *Analysis) EachSuspectResult(m *Measurement, fn func(SuspectResult) error) (int, error) {
	return a.EachSuspect(func(s Suspect) error { return fn(m.SuspectResult(s)) })
}

// Collect adds every skipped record and suspect, and DeniedFromStart, to
// r: for tests and small trails; a large trail's output streams them
// instead (WriteJSON).
func (a *Analysis) Collect(m *Measurement, r *Result) error {
	err := a.Plan.EachSkip(func(s Skip) error {
		r.Skipped = append(r.Skipped, SkipResult{s.EventID, s.EventName, s.Reason})
		return nil
	})
	if err != nil {
		return err
	}
	n, err := a.EachSuspectResult(m, func(s SuspectResult) error {
		r.Suspects = append(r.Suspects, s)
		return nil
	})
	r.DeniedFromStart = n
	return err
}

// WriteJSON writes r as `scenario replay --json` prints it, with the
// skipped records and the suspects streamed from a (r.Skipped,
// r.Suspects and r.DeniedFromStart are ignored): the output of a trail of
// millions of records is never held.
func (r *Result) WriteJSON(w io.Writer, a *Analysis, m *Measurement) error {
	bw := bufio.NewWriter(w)
	field := func(name string, v any, last bool) error {
		raw, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "  %q: %s", name, raw)
		if !last {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
		return nil
	}
	bw.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{{"records", r.Records}, {"duplicates", r.Duplicates}, {"changes", r.Changes},
		{"unmodelled", r.Unmodelled}, {"unknown_prior_state", r.Unknown}, {"windows", r.Windows},
		{"trials", r.Trials}, {"propagation", r.Propagation}, {"regions", r.Regions}} {
		if err := field(f.name, f.v, false); err != nil {
			return err
		}
	}
	// list streams one array: each(item) is called for every element.
	list := func(name string, each func(func(any) error) error) error {
		fmt.Fprintf(bw, "  %q: [", name)
		n := 0
		err := each(func(v any) error {
			raw, err := json.MarshalIndent(v, "    ", "  ")
			if err != nil {
				return err
			}
			if n > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n    ")
			bw.Write(raw)
			n++
			return nil
		})
		if n > 0 {
			bw.WriteString("\n  ")
		}
		bw.WriteString("],\n")
		return err
	}
	err := list("skipped", func(emit func(any) error) error {
		return a.Plan.EachSkip(func(s Skip) error { return emit(SkipResult{s.EventID, s.EventName, s.Reason}) })
	})
	if err != nil {
		return err
	}
	var denied int
	err = list("suspect_requests", func(emit func(any) error) error {
		var err error
		denied, err = a.EachSuspectResult(m, func(s SuspectResult) error { return emit(s) })
		return err
	})
	if err != nil {
		return err
	}
	if err := field("denied_from_start", denied, true); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
