package rules

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/event"
)

// Detector raises alerts from records. One goroutine drives a Detector; its
// state is bounded and its only clock is packet time.
type Detector interface {
	// Observe inspects one record. It must not block or do I/O. The record
	// is valid only during the call.
	Observe(r event.Record, raise Raise)
	// Tick advances packet time: close windows, expire state, raise late
	// alerts.
	Tick(now time.Time, raise Raise)
}

// Raise accepts an alert. It never blocks.
type Raise func(event.Alert)

// Stats is implemented by detectors that report their counters (state
// sizes, limits reached) for the run summary.
type Stats interface {
	Stats() []event.MetricValue
}

// Severity levels (event.severity).
const (
	Low      = 1
	Medium   = 2
	High     = 3
	Critical = 4
)

// RiskScore is the event.risk_score of a severity level (Elastic's
// 21/47/73/99 scale).
func RiskScore(sev int) int {
	switch clampSeverity(sev) {
	case Low:
		return 21
	case Medium:
		return 47
	case High:
		return 73
	}
	return 99
}

func clampSeverity(s int) int { return min(max(s, Low), Critical) }

// Meta is what a rule is, independent of its state.
type Meta struct {
	// ID is rule.id, the config key and metric label: kebab-case, stable
	// forever ("rdp-scan").
	ID          string
	Name        string
	Category    string // rule.category, e.g. "lateral_movement"
	Description string // rule.description: what it detects, one sentence
	Reference   string // rule.reference: where to read more
	Version     string // rule.version; bumped when the logic changes
	// Technique lists MITRE ATT&CK technique ids, e.g. "T1021.001".
	Technique []string
	// Tactic lists ATT&CK tactic ids, e.g. "TA0008".
	Tactic []string
	// Severity is the default event.severity (1 low … 4 critical); findings
	// raise or lower it.
	Severity int
	// Message holds the English and Japanese summary templates: {name}
	// placeholders are filled by Fill.
	Message [2]string
}

// NewAlert starts an alert of this rule for the episode key with its first
// evidence at first. The caller fills in the rest.
func (m *Meta) NewAlert(key string, first, at time.Time, sev int) event.Alert {
	sev = clampSeverity(sev)
	a := event.Alert{
		Rule: event.AlertRule{
			ID: m.ID, Name: m.Name, Category: m.Category, Description: m.Description,
			Reference: m.Reference, Version: m.Version,
		},
		Key: key, First: first, Last: at, At: at,
		Severity: sev, RiskScore: RiskScore(sev),
	}
	a.Threat = Threat(m.Technique, m.Tactic)
	return a
}

// SetSeverity sets event.severity and event.risk_score together.
func SetSeverity(a *event.Alert, sev int) {
	a.Severity = clampSeverity(sev)
	a.RiskScore = RiskScore(a.Severity)
}

// Fill replaces each {name} in tmpl by the value after it in kv
// (name, value, name, value…). Unknown placeholders stay as they are.
func Fill(tmpl string, kv ...string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 64)
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			break
		}
		b.WriteString(tmpl[:i])
		tmpl = tmpl[i:]
		if v, n, ok := placeholder(tmpl, kv); ok {
			b.WriteString(v)
			tmpl = tmpl[n:]
			continue
		}
		b.WriteByte('{') // not a known placeholder: a later '{' may start one
		tmpl = tmpl[1:]
	}
	b.WriteString(tmpl)
	return b.String()
}

// placeholder matches "{name}" at the start of s with the first name of kv
// (name, value, …) and returns its value and length.
func placeholder(s string, kv []string) (string, int, bool) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, false
	}
	name := s[1:end]
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == name {
			return kv[i+1], end + 1, true
		}
	}
	return "", 0, false
}

// Addr formats an address for messages: "-" when invalid.
func Addr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// Span formats a duration for people: "2.2s", "45s", "12m", "3h5m".
func Span(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// SpanJA formats a duration in Japanese: "2.2秒", "45秒", "12分", "3時間5分".
func SpanJA(d time.Duration) string {
	if d < 10*time.Second {
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "秒"
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	var b strings.Builder
	if h > 0 {
		b.WriteString(strconv.Itoa(h) + "時間")
	}
	if m > 0 {
		b.WriteString(strconv.Itoa(m) + "分")
	}
	if h == 0 && (s > 0 || m == 0) {
		b.WriteString(strconv.Itoa(s) + "秒")
	}
	return b.String()
}
