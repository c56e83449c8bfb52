package report

import (
	"math"
	"strconv"
	"strings"
)

// FormatSeconds formats a duration given in seconds the way a person reads it:
// "0s", "850µs", "850ms", "4.2s", "12.3s", "2m05s", "1h02m". Precision drops as
// the value grows because a reader compares magnitudes, not digits; the exact
// values stay in the JSON report.
func FormatSeconds(s float64) string { return formatSeconds(s, false) }

// formatSeconds is FormatSeconds with an ASCII option ("us" for "µs") for
// terminals that cannot show non-ASCII symbols.
func formatSeconds(s float64, ascii bool) string {
	switch {
	case math.IsNaN(s):
		return "NaN"
	case math.IsInf(s, 1):
		return "+Inf"
	case math.IsInf(s, -1):
		return "-Inf"
	case s < 0:
		return "-" + formatSeconds(-s, ascii)
	case s == 0:
		return "0s"
	}
	micro := "µs"
	if ascii {
		micro = "us"
	}
	// Each branch rounds first and moves to the next unit when rounding
	// reaches it, so 999.7ms prints as "1.0s", never "1000ms".
	if us := math.Round(s * 1e6); us < 1000 {
		return strconv.FormatFloat(math.Max(us, 1), 'f', 0, 64) + micro
	}
	if ms := s * 1e3; ms < 10 {
		if r := math.Round(ms*10) / 10; r < 10 {
			return strconv.FormatFloat(r, 'f', 1, 64) + "ms"
		}
	}
	if ms := math.Round(s * 1e3); ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	if r := math.Round(s*10) / 10; r < 60 {
		return strconv.FormatFloat(r, 'f', 1, 64) + "s"
	}
	if secs := math.Round(s); secs < 3600 {
		m, sec := int(secs)/60, int(secs)%60
		return strconv.Itoa(m) + "m" + pad2(sec) + "s"
	}
	mins := int(math.Round(s / 60))
	return strconv.Itoa(mins/60) + "h" + pad2(mins%60) + "m"
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// fixed formats v with exactly d decimals, so narration and charts show
// instants the same way every time ("t=1.000s").
func fixed(v float64, d int) string {
	if v == 0 {
		v = 0 // turn -0 into 0
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// num formats a number with the fewest digits that round-trip, for charts,
// attributes and metrics ("0.5", "12", "1e-07" never appears for our ranges).
func num(v float64) string {
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis
// ("..." in ASCII) so a reader knows text is missing.
func truncate(s string, n int, ascii bool) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	mark := "…"
	if ascii {
		mark = "..."
	}
	keep := n - len([]rune(mark))
	if keep < 1 {
		return string(r[:n])
	}
	return strings.TrimRight(string(r[:keep]), " ") + mark
}
