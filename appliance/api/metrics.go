package api

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"mamori/pipeline/event"
)

// writeMetrics writes health metric groups in the Prometheus text format
// (version 0.0.4): group g's value n becomes mamori_g_n; groups named
// like "worker_3" become one family per value with a label,
// mamori_worker_n{worker="3"}. Families are written in name order, each
// with its samples together, as the format requires.
func writeMetrics(w io.Writer, groups []event.MetricGroup) error {
	type sample struct{ labels, value string }
	families := map[string][]sample{}
	for _, g := range groups {
		name, label := g.Name, ""
		if i := strings.LastIndexByte(name, '_'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				label = fmt.Sprintf(`{%s=%q}`, metricName(name[:i]), name[i+1:])
				name = name[:i]
			}
		}
		for _, v := range g.Values {
			f := "mamori_" + metricName(name) + "_" + metricName(v.Name)
			families[f] = append(families[f], sample{label, strconv.FormatUint(v.Value, 10)})
		}
	}
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(families)) {
		fmt.Fprintf(&b, "# TYPE %s untyped\n", n)
		for _, s := range families[n] {
			fmt.Fprintf(&b, "%s%s %s\n", n, s.labels, s.value)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// metricName keeps [a-zA-Z0-9_] and turns anything else into '_'.
func metricName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
