package delay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// String describes the model completely and canonically: the default
// distribution, each link override sorted by origin and destination, and
// the revoke distribution. Two models built from the same parameters, by a
// scenario file or a region server's flags, describe alike, so a runner can
// tell whether external nodes run the scenario's model.
func (m *Model) String() string {
	if m == nil {
		return "default " + describe(constant{})
	}
	parts := []string{"default " + describe(m.def)}
	keys := make([][2]string, 0, len(m.links))
	for k := range m.links {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("link %s>%s %s", k[0], k[1], describe(m.links[k])))
	}
	if m.revoke != nil {
		parts = append(parts, "revoke "+describe(m.revoke))
	}
	return strings.Join(parts, "; ")
}

// describe is a distribution's String, with every point of an empirical
// one (its String gives only their number).
func describe(d Distribution) string {
	if d == nil {
		return describe(constant{})
	}
	e, ok := d.(empirical)
	if !ok {
		return d.String()
	}
	pts := make([]string, len(e.x))
	for i := range e.x {
		pts[i] = strconv.FormatFloat(e.x[i], 'g', -1, 64) + "s:" + strconv.FormatFloat(e.p[i], 'g', -1, 64)
	}
	return "empirical(" + strings.Join(pts, " ") + ")"
}
