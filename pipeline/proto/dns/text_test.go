package dns

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestAnswerText: a response's answer names and data, written into one
// string per message, are each answer's own text, whether an owner name is
// the question's, repeats the previous answer's, or is new, for every
// decoded type; a second message on the same buffers does not disturb the
// first one's strings.
func TestAnswerText(t *testing.T) {
	m := newMsg(7, fResponse, 1, 9, 0, 0).question("www.example.org", tA, cIN)
	m.ptr(12).rr(tCNAME, cIN, 60, wireName("edge.cdn.example.net"))
	m.name("edge.cdn.example.net").rr(tA, cIN, 30, []byte{192, 0, 2, 1})
	m.name("edge.cdn.example.net").rr(tAAAA, cIN, 30, netip.MustParseAddr("2001:db8::1").AsSlice())
	m.name("mx.example.org").rr(tMX, cIN, 30, append([]byte{0, 10}, wireName("mail.example.org")...))
	m.name("_sip._tcp.example.org").rr(tSRV, cIN, 30, append([]byte{0, 1, 0, 2, 0x13, 0xc4}, wireName("sip.example.org")...))
	m.name("example.org").rr(tSOA, cIN, 30, append(append(wireName("ns1.example.org"), wireName("hostmaster.example.org")...),
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5))
	m.name("example.org").rr(tTXT, cIN, 30, []byte("\x05hello\x03a\x01b"))
	m.ptr(12).rr(tPTR, cIN, 30, wireName("ptr.example.org"))
	m.ptr(12).rr(tA, cIN, 30, []byte{198, 51, 100, 7})
	want := []Answer{
		{Name: "www.example.org", Type: tCNAME, Class: cIN, TTL: 60, Data: "edge.cdn.example.net"},
		{Name: "edge.cdn.example.net", Type: tA, Class: cIN, TTL: 30, Data: "192.0.2.1", IP: netip.MustParseAddr("192.0.2.1")},
		{Name: "edge.cdn.example.net", Type: tAAAA, Class: cIN, TTL: 30, Data: "2001:db8::1", IP: netip.MustParseAddr("2001:db8::1")},
		{Name: "mx.example.org", Type: tMX, Class: cIN, TTL: 30, Data: "10 mail.example.org"},
		{Name: "_sip._tcp.example.org", Type: tSRV, Class: cIN, TTL: 30, Data: "1 2 5060 sip.example.org"},
		{Name: "example.org", Type: tSOA, Class: cIN, TTL: 30, Data: "ns1.example.org hostmaster.example.org 1 2 3 4 5"},
		{Name: "example.org", Type: tTXT, Class: cIN, TTL: 30, Data: `helloa\001b`},
		{Name: "www.example.org", Type: tPTR, Class: cIN, TTL: 30, Data: "ptr.example.org"},
		{Name: "www.example.org", Type: tA, Class: cIN, TTL: 30, Data: "198.51.100.7", IP: netip.MustParseAddr("198.51.100.7")},
	}
	msg := message{maxAnswers: 16}
	if _, ok := parse(m.bytes(), &msg, nil); !ok || !msg.complete {
		t.Fatalf("parse failed: %v", msg.anomalies)
	}
	if !reflect.DeepEqual(msg.answers, want) {
		t.Fatalf("answers\n%+v\nwant\n%+v", msg.answers, want)
	}
	// The next message on the same buffers, as a session decodes it.
	next := message{maxAnswers: 16, text: msg.text[:0], fixes: msg.fixes[:0]}
	if _, ok := parse(answerA(8, "other.example", 0, [4]byte{203, 0, 113, 9}), &next, nil); !ok {
		t.Fatal("second parse failed")
	}
	if got := next.answers[0]; got.Name != "other.example" || got.Data != "203.0.113.9" {
		t.Errorf("second message: %+v", got)
	}
	if !reflect.DeepEqual(msg.answers, want) {
		t.Errorf("first message's answers changed:\n%+v", msg.answers)
	}
}

// TestAnswerTextAllocs: a response's answer strings take one allocation
// together (plus the answers' array), however many answers it has.
func TestAnswerTextAllocs(t *testing.T) {
	ips := make([][4]byte, 8)
	for i := range ips {
		ips[i] = [4]byte{10, 0, 0, byte(i)}
	}
	b := answerA(1, "many.example", 0, ips...)
	var text []byte
	var fixes []textFix
	var q [1]question
	allocs := testing.AllocsPerRun(100, func() {
		m := message{maxAnswers: 16, questions: q[:0], text: text[:0], fixes: fixes[:0]}
		var scratch [256]byte
		parse(b, &m, scratch[:0])
		text, fixes = m.text, m.fixes
		if len(m.answers) != 8 || m.answers[7].Data != "10.0.0.7" {
			t.Fatalf("answers %+v", m.answers)
		}
	})
	// The question's name, the answers' array, their text.
	if allocs > 3 {
		t.Errorf("%v allocations per response, want at most 3", allocs)
	}
}

// TestAppendLabel: the whole-label copy is the byte-by-byte escaping for
// every byte value at the start, middle and end of a label.
func TestAppendLabel(t *testing.T) {
	for c := range 256 {
		for _, l := range [][]byte{{byte(c)}, {'a', byte(c), 'b'}, {'x', 'y', byte(c)}} {
			got := appendLabel([]byte("p."), l)
			want := appendLabelEscaped([]byte("p."), l)
			if string(got) != string(want) {
				t.Errorf("%q: %q, want %q", l, got, want)
			}
		}
	}
	if got := string(appendLabel(nil, []byte("a.b\\c d"))); got != `a\.b\\c\032d` {
		t.Errorf("escaped label %q", got)
	}
}
