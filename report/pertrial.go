package report

import (
	"strconv"
	"strings"
)

// Counts summed over trials (stale allows, stale denies, requests,
// confidential reads) are told with their per-trial figure first and the
// total beside it, in every output, so "270 per trial" is never read as a
// total or "270,251" as one trial's.

// perTrial is total / trials.
func perTrial(total, trials int) float64 {
	if trials <= 0 {
		return float64(total)
	}
	return float64(total) / float64(trials)
}

// formatCount writes a per-trial figure: whole numbers as such, others
// with one decimal, both with thousands separators.
func formatCount(v float64) string {
	if v == float64(int64(v)) {
		return thousands(int64(v))
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	return thousands(n) + "." + frac
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// countPerTrial is "270 per trial (270,251 over 1,000 trials)", or the
// count alone for a single trial.
func countPerTrial(total, trials int, what string) string {
	if trials <= 1 {
		return thousands(int64(total)) + " " + what
	}
	return formatCount(perTrial(total, trials)) + " " + what + " per trial (" + thousands(int64(total)) + " over " + thousands(int64(trials)) + " trials)"
}

// cellPerTrial is the short table form: "270 (270,251)", or the count
// alone for a single trial.
func cellPerTrial(total, trials int) string {
	if trials <= 1 {
		return thousands(int64(total))
	}
	return formatCount(perTrial(total, trials)) + " (" + thousands(int64(total)) + ")"
}

// perTrialHead marks the count columns of the HTML summary as per trial
// (total) when there is more than one trial.
func perTrialHead(trials int) string {
	if trials <= 1 {
		return ""
	}
	return "<br><small>per trial (total)</small>"
}

// servedPerTrial is the narration's form: "10.3 stale allows served per
// trial, 207 over 20 trials", or "13 stale allows served" for one trial.
func servedPerTrial(total, trials int, one, many string) string {
	if trials <= 1 {
		if total == 1 {
			return "1 " + one + " served"
		}
		return thousands(int64(total)) + " " + many + " served"
	}
	return formatCount(perTrial(total, trials)) + " " + many + " served per trial, " + thousands(int64(total)) + " over " + thousands(int64(trials)) + " trials"
}

// perTrialPhrase is "9.1 per trial (181 over 20 trials)", or the count
// alone for one trial.
func perTrialPhrase(total, trials int) string {
	if trials <= 1 {
		return thousands(int64(total))
	}
	return formatCount(perTrial(total, trials)) + " per trial (" + thousands(int64(total)) + " over " + thousands(int64(trials)) + " trials)"
}
