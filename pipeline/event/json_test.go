package event

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 23, 3, 10, 0, 1, time.FixedZone("JST", 9*3600)),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<34, r.Int64N(1e9)))
	}
	for _, ts := range times {
		want := ts.UTC().AppendFormat(nil, TimeLayout)
		if got := AppendTime(nil, ts); string(got) != string(want) {
			t.Fatalf("AppendTime(%v) = %s, want %s", ts, got, want)
		}
	}
}

func TestAppendQuotedIsValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\n\r\t", "日本語", "bad\xffutf8\xc3", "\u2028"} {
		b := AppendQuoted(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("AppendQuoted(%q) = %s: %v", s, b, err)
			continue
		}
		want := string([]rune(s)) // invalid bytes become U+FFFD, as in AppendQuoted
		if back != want {
			t.Errorf("AppendQuoted(%q) round-trips to %q, want %q", s, back, want)
		}
	}
}

func TestArraysOfObjects(t *testing.T) {
	w := JSON{}
	w.Begin()
	w.Array("answers")
	for _, n := range []string{"a", "b"} {
		w.Item()
		w.String("name", n)
		w.Uint("ttl", 60)
		w.End()
	}
	w.EndArray()
	w.Array("empty")
	w.EndArray()
	w.String("after", "x")
	w.Finish()
	var v map[string]any
	if err := json.Unmarshal(w.B, &v); err != nil {
		t.Fatalf("%s: %v", w.B, err)
	}
	if got := string(w.B); got != `{"answers":[{"name":"a","ttl":60},{"name":"b","ttl":60}],"empty":[],"after":"x"}` {
		t.Errorf("got %s", got)
	}
}

func BenchmarkFlowJSON(b *testing.B) {
	f := &Flow{
		Start: time.Unix(1700000000, 123456789), End: time.Unix(1700000003, 987654321), Final: true, Reason: EndTCPClose,
		Source:      Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 50123, HasPort: true, MAC: [6]byte{1, 2, 3, 4, 5, 6}, HasMAC: true, Bytes: 12345, Packets: 12},
		Destination: Endpoint{IP: netip.MustParseAddr("10.9.8.7"), Port: 445, HasPort: true, Bytes: 54321, Packets: 11},
		Transport:   6, ConnState: "SF", Direction: "internal", Interface: "eth1",
	}
	o := &Observer{Hostname: "sensor-1", Name: "his", Version: "dev"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendJSON(buf[:0], o)
	}
	b.SetBytes(int64(len(buf)))
}
