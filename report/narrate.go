package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Narration is `scenario explain` in parts, for --json: the heading, the
// introduction, one sentence per probe, the story in time order, the
// summary and the scenario's lesson.
type Narration struct {
	Head    string   `json:"head"`
	Intro   string   `json:"intro"`
	Probes  []string `json:"probes"`
	Story   []string `json:"story"`
	Summary []string `json:"summary"`
	Lesson  string   `json:"lesson,omitempty"`
}

// Narrated tells the first trial of r in parts (see Narrate).
func Narrated(r *Run) Narration {
	n := newNarrator(r)
	out := Narration{Head: r.Scenario, Intro: n.intro(), Lesson: strings.TrimSpace(r.Lesson)}
	if r.Title != "" {
		out.Head += ": " + r.Title
	}
	for _, p := range r.Probes {
		if req := requestLong(p); req != "" {
			out.Probes = append(out.Probes, fmt.Sprintf("The probe %s asks %s: %s.", p.Name, p.Region, req))
		} else {
			out.Probes = append(out.Probes, fmt.Sprintf("The probe %s asks %s.", p.Name, p.Region))
		}
	}
	if r.Timeline == nil {
		out.Story = []string{"No timeline was recorded for this run."}
	} else {
		out.Story = n.story()
	}
	out.Summary = n.summary()
	return out
}

// Narrate writes the first trial of r as plain prose for `scenario explain`:
// one sentence per commit, apply, fault and stale window, in time order, with
// runs of identical probe answers told once ("13 requests -> all ALLOWED"),
// then a summary and the scenario's lesson. Each sentence starts with the
// virtual instant ("t=7.021s") so a reader can follow the order of events.
func Narrate(w io.Writer, r *Run) error {
	bw := bufio.NewWriter(w)
	n := Narrated(r)
	fmt.Fprintln(bw, n.Head)
	fmt.Fprintln(bw, n.Intro)
	for _, s := range n.Probes {
		fmt.Fprintln(bw, s)
	}
	fmt.Fprintln(bw)
	for _, s := range n.Story {
		fmt.Fprintln(bw, s)
	}
	fmt.Fprintln(bw)
	for _, s := range n.Summary {
		fmt.Fprintln(bw, s)
	}
	if n.Lesson != "" {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Lesson: "+n.Lesson)
	}
	return bw.Flush()
}

// eps is how close two instants must be to count as the same one: instants
// come from float seconds, and a window that closes "at" an apply may differ
// from it in the last bits.
const eps = 1e-9

// narrator indexes the timeline once (commits and applies by mutation,
// windows by probe) so each sentence can say why a region was stale without
// rescanning the whole story.
type narrator struct {
	r       *Run
	tl      *Timeline
	commits map[string]TimelineEvent      // mutation id -> its commit
	applies map[string]map[string]float64 // region -> mutation id -> apply instant
	probes  map[string]Probe              // name -> probe
	closed  map[int]bool                  // window indexes told as part of an apply
	order   map[string]int                // probe name -> position, for stable grouping
	windows map[string][]int              // probe name -> window indexes
	mutIDs  []string                      // committed mutation ids in commit order
}

func newNarrator(r *Run) *narrator {
	n := &narrator{
		r: r, tl: r.Timeline,
		commits: map[string]TimelineEvent{},
		applies: map[string]map[string]float64{},
		probes:  map[string]Probe{},
		closed:  map[int]bool{},
		order:   map[string]int{},
		windows: map[string][]int{},
	}
	for i, p := range r.Probes {
		n.probes[p.Name] = p
		n.order[p.Name] = i
	}
	if n.tl == nil {
		return n
	}
	for _, e := range n.tl.Events {
		switch e.Kind {
		case "commit", "write":
			if _, seen := n.commits[e.Mutation]; !seen {
				n.mutIDs = append(n.mutIDs, e.Mutation)
			}
			n.commits[e.Mutation] = e
		case "apply":
			if n.applies[e.Region] == nil {
				n.applies[e.Region] = map[string]float64{}
			}
			n.applies[e.Region][e.Mutation] = e.At
		}
	}
	for i, win := range n.tl.Windows {
		n.windows[win.Probe] = append(n.windows[win.Probe], i)
	}
	return n
}

func (n *narrator) intro() string {
	where := map[string]string{
		"sim":     "in the simulator",
		"live":    "on a live in-process cluster",
		"cluster": "on a cluster of region nodes",
	}[n.r.Mode]
	if where == "" {
		where = "in mode " + n.r.Mode
	}
	s := fmt.Sprintf("One trial %s (seed %d)", where, n.r.Seed)
	if n.tl != nil {
		s += fmt.Sprintf(", %s of virtual time, regions %s", at(n.tl.Duration), strings.Join(n.tl.Regions, ", "))
	}
	return s + "."
}

// item is one sentence of the story with its place in time. rank orders
// sentences at the same instant: what happens (commits, faults) before its
// consequences (applies, windows) before the answers served at that instant.
type item struct {
	at   float64
	rank int
	seq  int
	text string
}

func (n *narrator) story() []string {
	var items []item
	add := func(t float64, rank int, text string) {
		items = append(items, item{at: t, rank: rank, seq: len(items), text: text})
	}
	usedApply := map[int]bool{}
	for i, e := range n.tl.Events {
		switch e.Kind {
		case "commit":
			s := fmt.Sprintf("t=%s %s commits %s", at(e.At), e.Region, n.mutation(e.Mutation, e.Call))
			// The origin applies its own commit at once; saying so in the
			// same sentence keeps the story about the regions that lag.
			for j := i + 1; j < len(n.tl.Events) && n.tl.Events[j].At-e.At < eps; j++ {
				a := n.tl.Events[j]
				if a.Kind == "apply" && a.Region == e.Region && a.Mutation == e.Mutation {
					usedApply[j] = true
					s += " and applies it at once" + n.closeClause(a)
					break
				}
			}
			add(e.At, 0, s+".")
		case "write":
			add(e.At, 0, fmt.Sprintf("t=%s %s writes %s in the bucket's region: a data-plane write, readable there at once (S3 read-after-write), which no IAM propagation delay holds back.",
				at(e.At), e.Region, n.mutation(e.Mutation, e.Call)))
		case "apply":
			if usedApply[i] {
				continue
			}
			s := fmt.Sprintf("t=%s %s applies %s (lag %s)", at(e.At), e.Region, n.mutation(e.Mutation, e.Call), at(e.Lag))
			add(e.At, 1, s+n.closeClause(e)+".")
		case "rejected":
			s := fmt.Sprintf("t=%s %s rejects %s", at(e.At), e.Region, e.Call)
			if e.Label != "" {
				s += ": " + e.Label
			}
			add(e.At, 0, s+"; nothing is committed or replicated.")
		case "crash":
			what := "crashes"
			if strings.Contains(e.Label, "lost") {
				what = "crashes and loses its state"
			}
			add(e.At, 0, fmt.Sprintf("t=%s %s %s; it answers nothing until it restarts.", at(e.At), e.Region, what))
		case "restart":
			add(e.At, 0, fmt.Sprintf("t=%s %s restarts and catches up from its peers.", at(e.At), e.Region))
		case "fault", "heal":
			label := e.Label
			if label == "" {
				label = e.Kind
			}
			s := fmt.Sprintf("t=%s %s", at(e.At), label)
			if e.Kind == "fault" {
				s = fmt.Sprintf("t=%s fault: %s", at(e.At), label)
			}
			if e.Region != "" && !strings.Contains(label, e.Region) {
				s += " (" + e.Region + ")"
			}
			add(e.At, 0, s+".")
		default:
			add(e.At, 0, fmt.Sprintf("t=%s %s: %s %s.", at(e.At), e.Region, e.Kind, e.Label))
		}
	}
	for i, win := range n.tl.Windows {
		add(win.From, 3, fmt.Sprintf("t=%s %s in %s turns stale: the truth already %s, %s still %s (%s window opens).",
			at(win.From), win.Probe, win.Region, truthVerb(win.Kind), win.Region, regionVerb(win.Kind), win.Kind))
		if n.closed[i] {
			continue
		}
		length := win.To - win.From
		if win.To >= n.tl.Duration-eps {
			add(win.To, 2, fmt.Sprintf("t=%s the run ends with %s in %s still stale; its %s window lasted at least %s.",
				at(win.To), win.Probe, win.Region, win.Kind, at(length)))
			continue
		}
		add(win.To, 2, fmt.Sprintf("t=%s %s in %s answers like the truth again; its %s window closes after %s.",
			at(win.To), win.Probe, win.Region, win.Kind, at(length)))
	}
	for _, run := range n.sampleRuns() {
		add(run[0].At, 4, n.runSentence(run))
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if math.Abs(a.at-b.at) >= eps {
			return a.at < b.at
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return a.seq < b.seq
	})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.text
	}
	return out
}

// closeClause tells which stale windows an apply closes, and marks them told.
func (n *narrator) closeClause(e TimelineEvent) string {
	var parts []string
	// An exposure ends when the region starts denying, a denial when it
	// starts allowing; the first closed window decides the verb.
	verb := ""
	for i, win := range n.tl.Windows {
		if n.closed[i] || win.Region != e.Region || math.Abs(win.To-e.At) >= eps || win.To >= n.tl.Duration-eps {
			continue
		}
		n.closed[i] = true
		if verb == "" {
			verb = truthVerb(win.Kind)
		}
		parts = append(parts, fmt.Sprintf("the %s window of %s closes after %s", win.Kind, win.Probe, at(win.To-win.From)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; from now on it " + verb + " like the truth: " + strings.Join(parts, ", ")
}

// mutation names a mutation for a reader: its call and, when the scenario
// gave the step a label, the label ("s3:PutBucketPolicy (private-only)").
func (n *narrator) mutation(id, call string) string {
	c, ok := n.commits[id]
	if call == "" {
		call = c.Call
	}
	if call == "" {
		call = "mutation " + id
	}
	if ok && c.Label != "" {
		return call + " (" + c.Label + ")"
	}
	return call
}

// sampleRuns groups each probe's samples into runs of identical answers
// (same decision, same truth), so a long stretch of equal requests becomes
// one sentence. Probes are told in report order, samples in time order.
func (n *narrator) sampleRuns() [][]ProbeSample {
	samples := append([]ProbeSample(nil), n.tl.Samples...)
	sort.SliceStable(samples, func(i, j int) bool {
		a, b := samples[i], samples[j]
		if a.Probe != b.Probe {
			return n.rankOf(a.Probe) < n.rankOf(b.Probe)
		}
		return a.At < b.At
	})
	var runs [][]ProbeSample
	for _, s := range samples {
		if k := len(runs); k > 0 {
			last := runs[k-1][len(runs[k-1])-1]
			if last.Probe == s.Probe && last.Region == s.Region && last.Decision == s.Decision && last.Truth == s.Truth {
				runs[k-1] = append(runs[k-1], s)
				continue
			}
		}
		runs = append(runs, []ProbeSample{s})
	}
	return runs
}

func (n *narrator) rankOf(probe string) int {
	if i, ok := n.order[probe]; ok {
		return i
	}
	return len(n.order)
}

func (n *narrator) runSentence(run []ProbeSample) string {
	first, last := run[0], run[len(run)-1]
	var b strings.Builder
	// The request is named when the report says what it is
	// ("anonymous s3:GetObject q3.pdf"); the probe's name stands for it otherwise.
	what := []string{}
	if req := n.request(first.Probe); req != "" {
		what = append(what, req)
	}
	if len(run) == 1 {
		fmt.Fprintf(&b, "t=%s %s, %s", at(first.At), first.Region, first.Probe)
		if len(what) > 0 {
			b.WriteString(": " + what[0])
		}
		b.WriteString(" -> " + answer(first.Decision))
	} else {
		what = append(what, fmt.Sprintf("%d requests", len(run)))
		fmt.Fprintf(&b, "t=%s to %s %s, %s: %s -> all %s",
			at(first.At), at(last.At), first.Region, first.Probe, strings.Join(what, ", "), answer(first.Decision))
	}
	pending := n.cause(first)
	switch {
	case first.Decision == "Unavailable":
		b.WriteString(": " + first.Region + " is down")
	case first.Decision == "Waiting":
		b.WriteString(" by at_least consistency")
		if pending != "" {
			b.WriteString(" until " + first.Region + " applies " + pending)
		}
	case first.Decision == "Allow" && first.Truth == "Deny":
		b.WriteString(", stale: ")
		b.WriteString(n.staleReason(first.Region, pending, "denies"))
		b.WriteString(" (exposure)")
	case first.Decision == "Deny" && first.Truth == "Allow":
		b.WriteString(", stale: ")
		b.WriteString(n.staleReason(first.Region, pending, "allows"))
		b.WriteString(" (denial)")
	default:
		b.WriteString(", as the truth answers (not stale)")
	}
	return b.String() + "."
}

func (n *narrator) staleReason(region, pending, truth string) string {
	if pending == "" {
		return "the truth already " + truth
	}
	return region + " has not applied " + pending + " yet"
}

// cause names what a stale or held sample is waiting for: the mutation whose
// apply in the sample's region ends the window the sample falls in, or else
// every mutation committed but not yet applied there at that instant.
func (n *narrator) cause(s ProbeSample) string {
	for _, i := range n.windows[s.Probe] {
		win := n.tl.Windows[i]
		if win.Region != s.Region || s.At < win.From-eps || s.At >= win.To-eps {
			continue
		}
		for _, id := range n.mutIDs {
			if t, ok := n.applies[s.Region][id]; ok && math.Abs(t-win.To) < eps {
				return n.mutation(id, "")
			}
		}
	}
	var pending []string
	for _, id := range n.mutIDs {
		c := n.commits[id]
		if c.At > s.At+eps {
			continue
		}
		if t, ok := n.applies[s.Region][id]; !ok || t > s.At+eps {
			pending = append(pending, n.mutation(id, ""))
		}
	}
	return strings.Join(pending, ", ")
}

// request describes a probe's request briefly ("anonymous s3:GetObject q3.pdf"),
// or returns "" when the report does not say.
func (n *narrator) request(probe string) string {
	p, ok := n.probes[probe]
	if !ok || p.Action == "" {
		return ""
	}
	parts := []string{}
	if p.Principal != "" {
		parts = append(parts, p.Principal)
	}
	parts = append(parts, p.Action)
	if p.Resource != "" {
		parts = append(parts, shortResource(p.Resource))
	}
	return strings.Join(parts, " ")
}

// requestLong describes a probe's request in full, for the introduction, or
// returns "" when the report does not say.
func requestLong(p Probe) string {
	if p.Action == "" {
		return ""
	}
	parts := []string{}
	if p.Principal != "" {
		parts = append(parts, p.Principal)
	}
	parts = append(parts, p.Action)
	if p.Resource != "" {
		parts = append(parts, p.Resource)
	}
	return strings.Join(parts, " ")
}

// shortResource keeps the last path segment of an ARN ("q3.pdf"): the
// introduction already gave the whole ARN, the story needs the object only.
func shortResource(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 && i < len(arn)-1 {
		return arn[i+1:]
	}
	return arn
}

func (n *narrator) summary() []string {
	var out []string
	scope := "In this trial"
	if n.r.Trials > 1 {
		scope = "In the first trial"
	}
	for _, p := range n.r.Probes {
		if n.tl != nil {
			out = append(out, n.trialSummary(scope, p))
		}
		if n.r.Trials > 1 {
			out = append(out, overTrials(n.r.Trials, p))
		}
		if p.ConfidentialReads > 0 {
			over := "Over all trials"
			if n.r.Trials == 1 {
				over = "In this trial"
			}
			if n.r.Trials > 1 {
				out = append(out, fmt.Sprintf("Of the stale allows, %s read an object that exists: confidential data left the bucket.",
					perTrialPhrase(p.ConfidentialReads, n.r.Trials)))
			} else {
				out = append(out, fmt.Sprintf("%s, %d of the stale allows read an object that exists: confidential data left the bucket.", over, p.ConfidentialReads))
			}
		}
	}
	out = append(out, n.completions(scope)...)
	if n.r.Converged {
		out = append(out, "At the end every region held the same view as the truth (converged).")
	} else {
		out = append(out, "At the end some region still differed from the truth (not converged).")
		out = append(out, narrateUnconverged(n.r)...)
	}
	return out
}

// completions tells, per committed step, when its mutation was in force
// everywhere and when its origin could know it: in the recorded trial,
// then over trials.
func (n *narrator) completions(scope string) []string {
	var out []string
	// A data-plane write (an upload) does not propagate: it is in force in
	// its bucket's region when made, so it has no completion to wait for.
	writes := map[int]bool{}
	if n.tl != nil {
		for _, c := range n.tl.Completions {
			s := fmt.Sprintf("%s step %d, %s, ", scope, c.Step, n.mutation(c.Mutation, ""))
			if w := n.commits[c.Mutation]; w.Kind == "write" {
				writes[c.Step] = true
				out = append(out, s+fmt.Sprintf("a data-plane write, was in force in %s, its bucket's region, at %s.", w.Region, at(w.At)))
				continue
			}
			switch {
			case c.CompleteAt == nil:
				s += "was not in force everywhere by the end"
			default:
				s += "was in force everywhere at " + at(*c.CompleteAt)
			}
			if c.KnownCompleteAt != nil {
				s += fmt.Sprintf("; its origin %s could know it at %s", c.Origin, at(*c.KnownCompleteAt))
			} else {
				s += fmt.Sprintf("; its origin %s could not know it by the end", c.Origin)
			}
			out = append(out, s+".")
		}
	}
	if n.r.Trials > 1 {
		for _, m := range n.r.Mutations {
			if m.Complete == 0 || m.KnownComplete == 0 || writes[m.Step] {
				continue
			}
			out = append(out, fmt.Sprintf("Over %d trials the change of step %d was in force everywhere at p50 %s (p99 %s); its origin could know it p50 %s later (p99 %s).",
				n.r.Trials, m.Step, FormatSeconds(m.CompleteAtSeconds.P50), FormatSeconds(m.CompleteAtSeconds.P99),
				FormatSeconds(m.KnownAfterCompleteSeconds.P50), FormatSeconds(m.KnownAfterCompleteSeconds.P99)))
		}
	}
	return out
}

// trialSummary tells one probe's stale time and stale answers in the
// recorded trial, from its windows (exact) and its samples (served).
func (n *narrator) trialSummary(scope string, p Probe) string {
	var exposed, denied float64
	for _, i := range n.windows[p.Name] {
		win := n.tl.Windows[i]
		if win.Region != p.Region {
			continue
		}
		if win.Kind == "exposure" {
			exposed += win.To - win.From
		} else {
			denied += win.To - win.From
		}
	}
	if exposed == 0 && denied == 0 {
		return fmt.Sprintf("%s %s in %s was never stale.", scope, p.Name, p.Region)
	}
	var harms []string
	if exposed > 0 {
		harms = append(harms, "exposed for "+at(exposed))
	}
	if denied > 0 {
		harms = append(harms, "wrongly denied for "+at(denied))
	}
	s := fmt.Sprintf("%s %s in %s was %s", scope, p.Name, p.Region, strings.Join(harms, " and "))
	allows, denies, total := 0, 0, 0
	for _, smp := range n.tl.Samples {
		if smp.Probe != p.Name || smp.Region != p.Region {
			continue
		}
		total++
		switch sampleClass(smp) {
		case "exposure":
			allows++
		case "denial":
			denies++
		}
	}
	if total > 0 {
		var got []string
		if exposed > 0 || allows > 0 {
			got = append(got, plural(allows, "stale allow", "stale allows"))
		}
		if denied > 0 || denies > 0 {
			got = append(got, plural(denies, "stale deny", "stale denies"))
		}
		s += fmt.Sprintf("; its %s got %s", plural(total, "request", "requests"), strings.Join(got, " and "))
	}
	return s + "."
}

// overTrials tells one probe's statistics over every trial.
func overTrials(trials int, p Probe) string {
	e, d := p.ExposureSeconds, p.DenialSeconds
	var parts []string
	if e.Max > 0 {
		parts = append(parts, fmt.Sprintf("its exposure window was p50 %s, p99 %s, max %s (%s)",
			FormatSeconds(e.P50), FormatSeconds(e.P99), FormatSeconds(e.Max), servedPerTrial(p.StaleAllows, trials, "stale allow", "stale allows")))
	}
	if d.Max > 0 {
		parts = append(parts, fmt.Sprintf("its denial window was p50 %s, p99 %s, max %s (%s)",
			FormatSeconds(d.P50), FormatSeconds(d.P99), FormatSeconds(d.Max), servedPerTrial(p.StaleDenies, trials, "stale deny", "stale denies")))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Over %d trials %s was never stale.", trials, p.Name)
	}
	return fmt.Sprintf("Over %d trials %s: %s.", trials, p.Name, strings.Join(parts, "; "))
}

// at formats an instant or a length of virtual time with millisecond
// precision, the resolution of the scenarios' schedules.
func at(s float64) string { return fixed(s, 3) + "s" }

// answer spells a served decision for prose.
func answer(d string) string {
	switch d {
	case "Allow":
		return "ALLOWED"
	case "Deny":
		return "DENIED"
	case "Waiting":
		return "HELD"
	}
	return strings.ToUpper(d)
}

func truthVerb(kind string) string {
	if kind == "denial" {
		return "allows"
	}
	return "denies"
}

func regionVerb(kind string) string {
	if kind == "denial" {
		return "denies"
	}
	return "allows"
}
