package rulestest

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"mamori/internal/golden"
	"mamori/pipeline/event"
	"mamori/rules"
)

// Opt changes a crafted flow.
type Opt func(*event.Flow)

// Dur sets the flow's duration.
func Dur(d time.Duration) Opt { return func(f *event.Flow) { f.End = f.Start.Add(d) } }

// Bytes sets the bytes each side sent (and one packet per 1,000 bytes).
func Bytes(src, dst uint64) Opt {
	return func(f *event.Flow) {
		f.Source.Bytes, f.Destination.Bytes = src, dst
		f.Source.Packets, f.Destination.Packets = 1+src/1000, (dst+999)/1000
	}
}

// State sets the Zeek conn_state and a matching history.
func State(s string) Opt {
	return func(f *event.Flow) {
		f.ConnState = s
		h := map[string]string{"S0": "S", "REJ": "Sr", "RSTOS0": "SR", "SF": "ShADadFf", "S1": "ShADad", "RSTO": "ShADadR", "RSTR": "ShADadr", "OTH": "Dd", "SH": "SF"}[s]
		f.History = event.History{}
		f.History.Len = uint8(copy(f.History.Buf[:], h))
		if s == "S0" || s == "REJ" || s == "RSTOS0" || s == "SH" {
			f.Destination.Bytes, f.Destination.Packets = 0, 0
			if s == "REJ" {
				f.Destination.Bytes, f.Destination.Packets = 60, 1
			}
		}
	}
}

// UDP makes the flow UDP.
func UDP() Opt {
	return func(f *event.Flow) {
		f.Transport, f.ConnState = 17, ""
		f.History = event.History{}
	}
}

// Interim makes the record an interim one (flow.final false).
func Interim() Opt { return func(f *event.Flow) { f.Final, f.Reason = false, event.EndActive } }

// SrcPort sets the source port.
func SrcPort(p uint16) Opt { return func(f *event.Flow) { f.Source.Port = p } }

// Flow crafts a final TCP flow record from src to dst:dport starting at
// start: established and closed (SF), 2 s, 1,200 bytes out and 3,400 back,
// unless opts say otherwise. Its flow and community ids are derived from
// the 5-tuple and start, so they are stable.
func Flow(src, dst string, dport uint16, start time.Time, opts ...Opt) *event.Flow {
	f := &event.Flow{
		Start: start, End: start.Add(2 * time.Second), Final: true, Reason: event.EndTCPClose,
		Source:      event.Endpoint{IP: netip.MustParseAddr(src), Port: 49152 + uint16(start.UnixNano()/1e6%16000), HasPort: true},
		Destination: event.Endpoint{IP: netip.MustParseAddr(dst), Port: dport, HasPort: true},
		Transport:   6,
	}
	Bytes(1200, 3400)(f)
	State("SF")(f)
	for _, o := range opts {
		o(f)
	}
	h := sha1.New()
	h.Write(f.Source.IP.AsSlice())
	h.Write(f.Destination.IP.AsSlice())
	binary.Write(h, binary.BigEndian, []uint16{f.Source.Port, f.Destination.Port})
	binary.Write(h, binary.BigEndian, f.Start.UnixNano())
	h.Write([]byte{f.Transport})
	var sum [20]byte
	h.Sum(sum[:0])
	copy(f.ID[:], sum[:12])
	f.CommunityID = event.NewCommunityID(sum)
	f.Direction = "internal"
	return f
}

// Collector keeps raised alerts.
type Collector struct{ Alerts []event.Alert }

// Raise is a rules.Raise.
func (c *Collector) Raise(a event.Alert) { c.Alerts = append(c.Alerts, a) }

// Run feeds recs to det in order, ticking every tick of packet time
// (0: every minute) and once more at the end (last record + 48 h, which
// ends every episode and raises its final update), and
// returns the alerts raised.
func Run(det rules.Detector, recs []event.Record, tick time.Duration) []event.Alert {
	if tick == 0 {
		tick = time.Minute
	}
	var c Collector
	var next time.Time
	var last time.Time
	for _, r := range recs {
		t := r.Time()
		if next.IsZero() {
			next = t.Add(tick)
		}
		for !t.Before(next) {
			det.Tick(next, c.Raise)
			next = next.Add(tick)
		}
		det.Observe(r, c.Raise)
		if t.After(last) {
			last = t
		}
	}
	det.Tick(last.Add(48*time.Hour), c.Raise)
	return c.Alerts
}

// Sorted orders records by time (stable), as a worker roughly emits them.
func Sorted(recs []event.Record) []event.Record {
	slices.SortStableFunc(recs, func(a, b event.Record) int { return a.Time().Compare(b.Time()) })
	return recs
}

// Observer is the fixed observer of golden alert files.
var Observer = &event.Observer{Hostname: "golden-sensor", Name: "his-span-1", Version: "test"}

// NDJSON writes alerts one per line with the golden observer.
func NDJSON(alerts []event.Alert) []byte {
	var b []byte
	for i := range alerts {
		b = alerts[i].AppendJSON(b, Observer)
		b = append(b, '\n')
	}
	return b
}

// Golden compares the alerts' NDJSON with the golden file at path (and
// rewrites it with -update).
func Golden(t *testing.T, path string, alerts []event.Alert) {
	t.Helper()
	golden.Compare(t, path, NDJSON(alerts))
}

// Site parses a site YAML document, failing the test on an error.
func Site(t testing.TB, y string) rules.Site {
	t.Helper()
	s, err := rules.ParseSite("site.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Summary lists alerts as "rule action key sev=N update=N" lines, for
// table tests.
func Summary(alerts []event.Alert) string {
	var b bytes.Buffer
	for _, a := range alerts {
		b.WriteString(a.Rule.ID + " " + a.Action + " " + a.Key + " sev=" + string(rune('0'+a.Severity)) + " update=" + string(rune('0'+min(a.Update, 9))) + "\n")
	}
	return b.String()
}

// Keys lists the distinct episode keys of alerts, in first-raise order.
func Keys(alerts []event.Alert) []string {
	var out []string
	for _, a := range alerts {
		if !slices.Contains(out, a.Key) {
			out = append(out, a.Key)
		}
	}
	return out
}

// HasKey reports whether some alert's key starts with prefix.
func HasKey(alerts []event.Alert, prefix string) bool {
	for _, a := range alerts {
		if strings.HasPrefix(a.Key, prefix) {
			return true
		}
	}
	return false
}
