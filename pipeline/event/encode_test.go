package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"
)

// The fast record encoders must write exactly what the member-by-member
// encoders of legacy_test.go write, for every combination of optional
// members, and valid JSON.

func randAddr(r *rand.Rand) netip.Addr {
	switch r.IntN(5) {
	case 0:
		return netip.Addr{}
	case 1:
		var a [16]byte
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	case 2:
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(3))}).As16()) // 4-in-6
	default:
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), 0, byte(r.IntN(3))})
	}
}

var oddStrings = []string{"", "eth0", "a\"b", "日本語", "bad\xff", "ctl\x01\n", "x"}

func randString(r *rand.Rand) string { return oddStrings[r.IntN(len(oddStrings))] }

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(10000+r.IntN(5), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("X", 3600*r.IntN(10)))
}

func randEndpoint(r *rand.Rand) Endpoint {
	return Endpoint{
		IP: randAddr(r), Port: uint16(r.Uint32()), HasPort: r.IntN(2) == 0,
		MAC: [6]byte{byte(r.Uint32()), 0xab, 3, 4, 5, byte(r.Uint32())}, HasMAC: r.IntN(2) == 0,
		Bytes: r.Uint64() >> r.IntN(64), Packets: r.Uint64() >> r.IntN(64),
	}
}

func randObserver(r *rand.Rand) *Observer {
	return &Observer{Hostname: randString(r), Name: randString(r), Version: randString(r), Namespace: randString(r)}
}

func TestFlowJSONMatchesWriter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		f := &Flow{
			Start: randTime(r), End: randTime(r), Final: r.IntN(2) == 0, Reason: EndReason(r.IntN(7)),
			Source: randEndpoint(r), Destination: randEndpoint(r),
			IPv6: r.IntN(2) == 0, Transport: uint8(r.Uint32()), VLAN: uint16(r.IntN(3)), InnerVLAN: uint16(r.IntN(3) * 4095),
			Direction: randString(r), ConnState: randString(r), Interface: randString(r), Tunnel: randString(r), CutOff: r.IntN(2) == 0,
		}
		f.Source.IP, f.Destination.IP = randAddr(r), f.Source.IP
		if r.IntN(2) == 0 {
			f.Destination.IP = randAddr(r)
		}
		for j := range f.ID {
			f.ID[j] = byte(r.Uint32())
		}
		f.CommunityID = NewCommunityID([20]byte{byte(i), byte(i >> 8)})
		f.History.Len = uint8(r.IntN(len(f.History.Buf) + 1))
		for j := range f.History.Buf {
			f.History.Buf[j] = "ShADadFfRr^"[r.IntN(11)]
		}
		o := randObserver(r)
		prefix := []byte("prefix")
		want := legacyFlowJSON(f, bytes.Clone(prefix), o)
		got := f.AppendJSON(bytes.Clone(prefix), o)
		if !bytes.Equal(got, want) {
			t.Fatalf("flow %d:\n got %s\nwant %s", i, got, want)
		}
		if !json.Valid(got[len(prefix):]) {
			t.Fatalf("flow %d: invalid JSON %s", i, got)
		}
	}
}

func TestProtoJSONMatchesWriter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	strs := func() []string {
		n := r.IntN(4)
		if n == 0 {
			return nil
		}
		s := make([]string, n)
		for i := range s {
			s[i] = randString(r)
		}
		return s
	}
	for i := range 20000 {
		b := &Base{
			Conn: Conn{
				Source:      netip.AddrPortFrom(randAddr(r), uint16(r.IntN(3))),
				Destination: netip.AddrPortFrom(randAddr(r), uint16(r.IntN(3)*53)),
				Transport:   uint8(r.Uint32()), VLAN: uint16(r.IntN(2) * 7),
				Direction: randString(r), Interface: randString(r),
			},
			Timestamp: randTime(r), Protocol: randString(r), Action: randString(r),
			Category: strs(), Type: strs(), Outcome: randString(r), Reason: randString(r),
			Duration:     time.Duration(r.Int64N(3) - 1),
			RelatedUsers: strs(), RelatedHosts: strs(),
		}
		if r.IntN(3) > 0 {
			b.CommunityID = NewCommunityID([20]byte{byte(i)})
		}
		for j := range b.FlowID {
			b.FlowID[j] = byte(r.Uint32())
		}
		var body func(w *JSON)
		if r.IntN(3) > 0 {
			v := randString(r)
			body = func(w *JSON) {
				w.Object("dns")
				w.String("name", v)
				w.End()
			}
		}
		o := randObserver(r)
		ds := randString(r)
		want := legacyAppendProto([]byte("x"), o, ds, b, body)
		got := AppendProto([]byte("x"), o, ds, b, body)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
		// The same body as runs of constant bytes.
		var runs func(p []byte) []byte
		if body != nil {
			runs = func(p []byte) []byte {
				w := JSON{B: p}
				body(&w) // the writer at depth 0 after a member: a comma first
				return w.B
			}
		}
		if got := AppendProtoRuns([]byte("x"), o, ds, b, runs); !bytes.Equal(got, want) {
			t.Fatalf("record %d, runs:\n got %s\nwant %s", i, got, want)
		}
		if !json.Valid(got[1:]) {
			t.Fatalf("record %d: invalid JSON %s", i, got)
		}
	}
}

func TestMetricJSONMatchesWriter(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 2000 {
		m := &Metric{At: randTime(r), Start: randTime(r), Action: randString(r), Interface: randString(r),
			Groups: []MetricGroup{{Name: "capture", Values: []MetricValue{{"packets", r.Uint64()}}}, {Name: "empty"}}}
		o := randObserver(r)
		want := legacyMetricJSON(m, nil, o)
		if got := m.AppendJSON(nil, o); !bytes.Equal(got, want) {
			t.Fatalf("metric %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestAppendTimeWholeRange(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	check := func(ts time.Time) {
		t.Helper()
		want := ts.UTC().AppendFormat(nil, TimeLayout)
		if got := AppendTime(nil, ts); string(got) != string(want) {
			t.Fatalf("AppendTime(%d.%09d) = %s, want %s", ts.Unix(), ts.Nanosecond(), got, want)
		}
	}
	for _, s := range []int64{minTimeSec - 1, minTimeSec, minTimeSec + 86399, maxTimeSec - 1, maxTimeSec, maxTimeSec + 1,
		-1, 0, 951782400 /* 2000-02-29 */, 4107542400 /* 2100-03-01 */, -2203891200 /* 1900-02-28 */} {
		for _, ns := range []int64{0, 1, 999999999} {
			check(time.Unix(s, ns))
		}
	}
	// Every day from 1960 to 2110 and every 17th day of the supported
	// range, at a random time of day, and random instants across the range
	// and beyond.
	for d := int64(-315619200); d <= 4418064000; d += 86400 {
		check(time.Unix(d+r.Int64N(86400), r.Int64N(1e9)))
	}
	for d := int64(minTimeSec); d <= maxTimeSec; d += 17 * 86400 {
		check(time.Unix(d+r.Int64N(86400), r.Int64N(1e9)))
	}
	for range 100000 {
		check(time.Unix(r.Int64N(2*(maxTimeSec-minTimeSec))+2*minTimeSec, r.Int64N(1e9)))
	}
}

// BenchmarkFlowJSONWriter is BenchmarkFlowJSON's record through the
// member-by-member encoder, for comparison.
func BenchmarkFlowJSONWriter(b *testing.B) {
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
		buf = legacyFlowJSON(f, buf[:0], o)
	}
	b.SetBytes(int64(len(buf)))
}

// TestPlainWord checks the eight-byte test against the byte table: every
// byte value at every position of words otherwise plain or random.
func TestPlainWord(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	check := func(w [8]byte) {
		x := uint64(0)
		want := true
		for i, c := range w {
			x |= uint64(c) << (8 * i)
			want = want && plain[c]
		}
		if got := plainWord(x); got != want {
			t.Fatalf("plainWord(% x) = %v, want %v", w, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			w := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			w[pos] = byte(c)
			check(w)
			for range 20 {
				for i := range w {
					if i != pos {
						w[i] = byte(r.IntN(256))
						if r.IntN(2) == 0 {
							w[i] = byte(0x20 + r.IntN(0x60))
						}
					}
				}
				check(w)
			}
		}
	}
}

func TestAppendQuotedMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	alphabet := "abcXYZ09 -._/\"\\\x00\x1f\x7f\u00e9\u65e5\xff\xc3"
	for range 20000 {
		var sb []byte
		for range r.IntN(40) {
			sb = append(sb, alphabet[r.IntN(len(alphabet))])
		}
		s := string(sb)
		got := AppendQuoted(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendQuoted(%q) = %s: %v", s, got, err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("AppendQuoted(%q) round-trips to %q, want %q", s, back, want)
		}
		if want := appendQuotedBytewise(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendQuoted(%q) = %s, byte by byte %s", s, got, want)
		}
	}
}

// appendQuotedBytewise is AppendQuoted without the eight-byte skip.
func appendQuotedBytewise(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case plain[c]:
			b = append(b, c)
			i++
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c == '\n':
			b = append(b, '\\', 'n')
			i++
		case c == '\r':
			b = append(b, '\\', 'r')
			i++
		case c == '\t':
			b = append(b, '\\', 't')
			i++
		case c < utf8.RuneSelf:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
}

func BenchmarkAppendQuoted(b *testing.B) {
	s := "wpad.very-long-subdomain.of-a-corporate-domain.example.co.jp"
	var buf []byte
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendQuoted(buf[:0], s)
	}
}
