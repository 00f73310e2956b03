package event

import "time"

// Metric is an event.kind "metric" record: sensor health counters. It goes
// to the metrics-mamori.health data stream.
type Metric struct {
	// At is the record's @timestamp (packet time: the last packet seen).
	At time.Time
	// Start is the first packet time the counters cover.
	Start time.Time
	// Action is event.action, e.g. "replay_summary" or "health".
	Action    string
	Interface string
	// Groups become mamori.<group>.<name>: value, in order.
	Groups []MetricGroup
}

// MetricGroup is a named set of counters, usually one component's.
type MetricGroup struct {
	Name   string
	Values []MetricValue
}

// MetricValue is one counter.
type MetricValue struct {
	Name  string
	Value uint64
}

// Dataset implements Record.
func (m *Metric) Dataset() string { return "mamori.health" }

// Time implements Record.
func (m *Metric) Time() time.Time { return m.At }

// AppendJSON implements Record.
func (m *Metric) AppendJSON(dst []byte, o *Observer) []byte {
	w := JSON{B: dst}
	w.Begin()
	header(&w, o, m.At, "metrics", m.Dataset())
	w.Object("event")
	w.String("kind", "metric")
	w.Strings("category", "host")
	w.Strings("type", "info")
	w.String("action", m.Action)
	w.String("dataset", m.Dataset())
	w.String("module", "mamori")
	if !m.Start.IsZero() {
		w.Time("start", m.Start)
		w.Time("end", m.At)
		w.Int("duration", int64(m.At.Sub(m.Start)))
	}
	w.End()
	footer(&w, o, m.Interface)
	w.Object("mamori")
	for _, g := range m.Groups {
		w.Object(g.Name)
		for _, v := range g.Values {
			w.Uint(v.Name, v.Value)
		}
		w.End()
	}
	w.End()
	w.Finish()
	return w.B
}
