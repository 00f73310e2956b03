package hl7

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

func newParser(t testing.TB, c Config) *Parser {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func doc(t testing.TB, r event.Record) map[string]any {
	t.Helper()
	var m map[string]any
	b := r.AppendJSON(nil, &prototest.Observer)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return m
}

func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func str(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// anyMatch lets CheckRobust's 1-byte resegmentation reach the session
// (Match needs 4 bytes and has its own test).
type anyMatch struct{ *Parser }

func (anyMatch) Match(*flow.Info, flow.Dir, []byte) bool { return true }

const (
	cl = flow.FromClient
	sv = flow.FromServer
)

// mllp frames segments (joined with CR, as HL7 v2 encodes them) in MLLP.
func mllp(segments ...string) []byte {
	return []byte("\x0b" + strings.Join(segments, "\r") + "\r\x1c\r")
}

const (
	mshADT = `MSH|^~\&|EHR|HOSP|LIS|LAB|20260604101300+0900||ADT^A01^ADT_A01|MSG00002|P|2.5.1^JPN|||AL|NE|JPN|ISO IR87`
	pid    = `PID|1||000124^^^HOSP^MR||YAMADA^TARO||19800202|M|||1-2-3 Chiyoda^^Tokyo||03-1234-5678`
	obx    = `OBX|1|NM|WBC^White blood cells||6.1|10*3/uL|4.0-9.0|N|||F`
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"zero is default", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"tiny segment", Config{MaxSegmentBytes: 10}, "max_segment_bytes: must be between 256 and 1048576, got 10"},
		{"negative pending", Config{MaxPending: -3}, "max_pending"},
		{"too many segment types", Config{MaxSegmentTypes: 5000}, "max_segment_types"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
			if _, nerr := New(tc.cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New and Validate disagree: %v vs %v", nerr, err)
			}
		})
	}
	if p := newParser(t, Config{}); p.cfg != DefaultConfig() || p.StreamLimit() != 0 {
		t.Fatalf("zero config gave %+v", p.cfg)
	}
}

func TestMatch(t *testing.T) {
	p := newParser(t, Config{})
	for _, tc := range []struct {
		name  string
		udp   bool
		first []byte
		want  bool
	}{
		{"mllp msh", false, mllp(mshADT), true},
		{"start block and MSH only", false, []byte("\x0bMSH"), true},
		{"three bytes", false, []byte("\x0bMS"), false},
		{"msh without start block", false, []byte(mshADT), false},
		{"batch header", false, []byte("\x0bFHS|^~\\&"), false},
		{"udp", true, mllp(mshADT), false},
		{"http", false, []byte("GET / HTTP/1.1\r\n"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:40000")
			if tc.udp {
				f = prototest.UDPInfo("10.0.0.1:50000", "10.0.0.2:40000")
			}
			if got := p.Match(f, cl, tc.first); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// exchange is a crafted feed: an ADT split across segments at awkward
// places, its ACK, an ORU rejected with an ERR segment, and an unanswered
// message.
func exchange() []prototest.Chunk {
	adt := mllp(mshADT, `EVN|A01|20260604101300`, pid, `PV1|1|I|W3^301^1`, `ZPX|secret-extension`)
	ack := mllp(`MSH|^~\&|LIS|LAB|EHR|HOSP|20260604101301||ACK^A01^ACK|ACK00002|P|2.5.1`, `MSA|AA|MSG00002|Message accepted for YAMADA`)
	oru := mllp(`MSH|^~\&|EHR|HOSP|LIS|LAB|20260604101400||ORU^R01|MSG00003|P|2.5.1`, pid, `OBR|1|ORD1`, obx, obx, obx)
	nak := mllp(`MSH|^~\&|LIS|LAB|EHR|HOSP|20260604101401||ACK^R01|ACK00003|P|2.5.1`,
		`MSA|AR|MSG00003|Unknown patient YAMADA TARO`, `ERR||PID^1^3|204^Unknown key identifier^HL70357|E||||Patient 000124 not found`)
	orm := mllp(`MSH|^~\&|EHR|HOSP|LIS|LAB|20260604101500||ORM^O01|MSG00004|P|2.5.1`, pid, `ORC|NW|ORD2`)
	c := prototest.C
	return []prototest.Chunk{
		c(cl, adt[:5]), c(cl, adt[5:40]), c(cl, adt[40:len(adt)-1]), c(cl, adt[len(adt)-1:]),
		c(sv, ack),
		c(cl, append(oru, '\n')), // a stray LF between frames is tolerated
		c(sv, nak),
		c(cl, orm),
	}
}

func TestExchange(t *testing.T) {
	p := newParser(t, Config{})
	f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575")
	recs, err := prototest.Feed(p, f, exchange()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records:\n%s", len(recs), prototest.NDJSON(recs))
	}
	nd := string(prototest.NDJSON(recs))
	for _, leak := range []string{"YAMADA", "TARO", "000124", "Chiyoda", "1234-5678", "19800202", "White blood", "6.1", "secret-extension", "not found", "Unknown key"} {
		if strings.Contains(nd, leak) {
			t.Errorf("records leak %q", leak)
		}
	}
	a, r, u := doc(t, recs[0]), doc(t, recs[1]), doc(t, recs[2])
	for path, want := range map[string]string{
		"event.action":                            `"hl7_message"`,
		"event.outcome":                           `"success"`,
		"event.duration":                          `4000000`, // ack 4 chunks (1 ms each) after the start block
		"network.protocol":                        `"hl7"`,
		"mamori.hl7.message.sender":               `"client"`,
		"mamori.hl7.message.type":                 `"ADT"`,
		"mamori.hl7.message.trigger":              `"A01"`,
		"mamori.hl7.message.structure":            `"ADT_A01"`,
		"mamori.hl7.message.control_id":           `"MSG00002"`,
		"mamori.hl7.message.processing_id":        `"P"`,
		"mamori.hl7.message.version":              `"2.5.1"`,
		"mamori.hl7.message.charset":              `["ISO IR87"]`,
		"mamori.hl7.message.time":                 `"20260604101300+0900"`,
		"mamori.hl7.message.sending_application":  `"EHR"`,
		"mamori.hl7.message.sending_facility":     `"HOSP"`,
		"mamori.hl7.message.receiving_facility":   `"LAB"`,
		"mamori.hl7.message.accept_ack_type":      `"AL"`,
		"mamori.hl7.message.application_ack_type": `"NE"`,
		"mamori.hl7.message.segments":             `5`,
		"mamori.hl7.message.bytes":                str(len(mllp(mshADT, `EVN|A01|20260604101300`, pid, `PV1|1|I|W3^301^1`, `ZPX|secret-extension`)) - 3),
		"mamori.hl7.message.segment_types":        `["MSH","EVN","PID","PV1","ZPX"]`,
		"mamori.hl7.ack.sender":                   `"server"`,
		"mamori.hl7.ack.type":                     `"ACK"`,
		"mamori.hl7.ack.ack_code":                 `"AA"`,
		"mamori.hl7.ack.ack_code_name":            `"application accept"`,
		"mamori.hl7.ack.acknowledged_control_id":  `"MSG00002"`,
		"mamori.hl7.ack.control_id":               `"ACK00002"`,
	} {
		if got := str(get(a, path)); got != want {
			t.Errorf("ADT %s = %s, want %s", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"event.outcome":                    `"failure"`,
		"event.reason":                     `"acknowledged AR: application reject"`,
		"mamori.hl7.message.type":          `"ORU"`,
		"mamori.hl7.message.segments":      `6`,
		"mamori.hl7.message.segment_types": `["MSH","PID","OBR","OBX"]`,
		"mamori.hl7.ack.ack_code":          `"AR"`,
		"mamori.hl7.ack.error_code":        `"204"`,
		"mamori.hl7.ack.error_severity":    `"E"`,
	} {
		if got := str(get(r, path)); got != want {
			t.Errorf("ORU %s = %s, want %s", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"event.outcome":                `"unknown"`,
		"event.reason":                 `"no answer"`,
		"mamori.hl7.message.type":      `"ORM"`,
		"mamori.hl7.ack":               `null`,
		"mamori.hl7.message.anomalies": `null`,
	} {
		if got := str(get(u, path)); got != want {
			t.Errorf("ORM %s = %s, want %s", path, got, want)
		}
	}
	prototest.CheckRobust(t, anyMatch{p}, f, false, exchange()...)
}

func TestCharsets(t *testing.T) {
	// MSH-4 in ISO-2022-JP (JIS X 0208 "病院", hospital), MSH-6 in
	// Shift_JIS (the same word), MSH-5 in UTF-8.
	iso2022 := "\x1b$B\x49\x61\x31\x21\x1b(B"
	sjis := "\x95\x61\x89\x40"
	msh := "MSH|^~\\&|EHR|" + iso2022 + "|検査|" + sjis + "|20260604||ADT^A08|C1|P|2.5|||||JPN|ISO IR87~ISO IR6"
	p := newParser(t, Config{})
	recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575"), prototest.C(cl, mllp(msh)))
	if err != nil || len(recs) != 1 {
		t.Fatalf("err %v, %d records", err, len(recs))
	}
	d := doc(t, recs[0])
	for path, want := range map[string]string{
		"mamori.hl7.message.sending_facility":      `"\\x1b$BIa1!\\x1b(B"`,
		"mamori.hl7.message.receiving_application": `"検査"`,
		"mamori.hl7.message.receiving_facility":    `"\\x95a\\x89@"`,
		"mamori.hl7.message.charset":               `["ISO IR87","ISO IR6"]`,
	} {
		if got := str(get(d, path)); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              "plain",
		"日本":                 "日本",
		"a\\F\\b":            "a\\F\\b", // clean: HL7 escapes stay as sent
		"tab\there":          `tab\x09here`,
		"\xff\xfe":           `\xff\xfe`,
		"esc\x1b$B":          `esc\x1b$B`,
		"mixed 日\x1b\\":      `mixed 日\x1b\x5c`,
		"truncated \xe6\x97": `truncated \xe6\x97`,
	} {
		if got := text([]byte(in)); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFraming(t *testing.T) {
	c := prototest.C
	msh := func(id string) string { return "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|" + id + "|P|2.3" }
	ack := func(id, code string) []byte { return mllp(msh("K"+id), "MSA|"+code+"|"+id) }
	for _, tc := range []struct {
		name   string
		chunks []prototest.Chunk
		want   []map[string]string
	}{
		{"start block inside a message", []prototest.Chunk{
			c(cl, []byte("\x0b"+msh("1")+"\rPID|x")), c(cl, mllp(msh("2"))), c(sv, ack("2", "CA")),
		}, []map[string]string{
			{"mamori.hl7.message.control_id": `"1"`, "mamori.hl7.message.anomalies": `["start block inside message","superseded before its ack"]`, "event.outcome": `"unknown"`},
			{"mamori.hl7.message.control_id": `"2"`, "event.outcome": `"success"`, "mamori.hl7.ack.ack_code_name": `"commit accept"`},
		}},
		{"lf segment terminators", []prototest.Chunk{
			c(cl, []byte("\x0b"+msh("1")+"\nPID|x\r\nPV1|y\n\x1c\r")), c(sv, ack("1", "AE")),
		}, []map[string]string{
			{"mamori.hl7.message.segments": `3`, "mamori.hl7.message.segment_types": `["MSH","PID","PV1"]`, "event.outcome": `"failure"`},
		}},
		{"no end block", []prototest.Chunk{c(cl, []byte("\x0b"+msh("1")+"\rPID|x"))}, []map[string]string{
			{"mamori.hl7.message.anomalies": `["no end block"]`, "event.reason": `"no answer"`},
		}},
		{"ack without message", []prototest.Chunk{c(sv, ack("9", "AA"))}, []map[string]string{
			{"event.action": `"hl7_ack"`, "event.outcome": `"success"`, "mamori.hl7.message.anomalies": `["ack without message"]`, "mamori.hl7.message.ack_code": `"AA"`},
		}},
		{"first segment not msh", []prototest.Chunk{c(cl, mllp("EVN|A01", msh("3")))}, []map[string]string{
			{"mamori.hl7.message.anomalies": `["message without msh"]`, "mamori.hl7.message.type": `null`},
		}},
		{"bad field separator", []prototest.Chunk{c(cl, mllp("MSHA^~\\&A"))}, []map[string]string{
			{"mamori.hl7.message.anomalies": `["bad msh"]`},
		}},
		{"other separators", []prototest.Chunk{c(cl, mllp("MSH#:~\\&#APP#FAC#R#RF#2026##ORM:O01:ORM_O01#X1#T#2.4"))}, []map[string]string{
			{"mamori.hl7.message.sending_application": `"APP"`, "mamori.hl7.message.trigger": `"O01"`, "mamori.hl7.message.processing_id": `"T"`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(t, Config{})
			f := prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575")
			recs, err := prototest.Feed(anyMatch{p}, f, tc.chunks...)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d:\n%s", len(recs), len(tc.want), prototest.NDJSON(recs))
			}
			for i, want := range tc.want {
				d := doc(t, recs[i])
				for path, w := range want {
					if got := str(get(d, path)); got != w {
						t.Errorf("record %d %s = %s, want %s", i, path, got, w)
					}
				}
			}
			prototest.CheckRobust(t, anyMatch{p}, f, false, tc.chunks...)
		})
	}
}

func TestNotMLLP(t *testing.T) {
	p := newParser(t, Config{})
	junk := bytes.Repeat([]byte("x"), 2000)
	_, err := prototest.Feed(anyMatch{p}, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575"),
		prototest.C(cl, mllp("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.3")), prototest.C(cl, junk))
	if !errors.Is(err, proto.ErrMalformed) || proto.Reason(err) != "data outside mllp frame" {
		t.Fatalf("err = %v", err)
	}
}

func TestGap(t *testing.T) {
	p := newParser(t, Config{})
	m := mllp(mshADT, pid, pid)
	recs, err := prototest.Feed(p, prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575"),
		prototest.C(cl, m[:50]), prototest.Chunk{Dir: cl, Gap: 100}, prototest.C(cl, m[150:]),
		prototest.C(sv, mllp("MSH|^~\\&|LIS|LAB|EHR|HOSP|1||ACK|K|P|2.5", "MSA|AA|MSG00002")))
	if err != nil || len(recs) != 2 {
		t.Fatalf("err %v, %d records", err, len(recs))
	}
	if got := str(get(doc(t, recs[0]), "mamori.hl7.message.anomalies")); got != `["ack without message"]` {
		t.Errorf("ack record anomalies = %s", got)
	}
	d := doc(t, recs[1])
	for path, want := range map[string]string{
		"mamori.hl7.message.anomalies":           `["gap"]`,
		"mamori.hl7.message.bytes":               str(len(m) - 3),
		"mamori.hl7.message.type":                `null`, // MSH cut by the gap before MSH-9
		"mamori.hl7.message.sending_application": `"EHR"`,
		"event.outcome":                          `"unknown"`, // the control ID was lost with the gap
	} {
		if got := str(get(d, path)); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}

// TestMemoryBound: an endless MSH, an endless PID and thousands of
// unacknowledged messages keep the session within its limits.
func TestMemoryBound(t *testing.T) {
	cfg := Config{MaxSegmentBytes: 512, MaxPending: 8, MaxSegmentTypes: 4}
	p := newParser(t, cfg)
	var recs []event.Record
	s := p.NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575"), func(r event.Record) { recs = append(recs, r) }).(*Session)
	at := prototest.Epoch
	chunk := bytes.Repeat([]byte("A|"), 32<<10)
	s.Payload(cl, at, []byte("\x0bMSH|^~\\&|"))
	for i := 0; i < 64; i++ { // 4 MiB of MSH
		s.Payload(cl, at, chunk)
		if cap(s.dir[cl].seg) > 2*cfg.MaxSegmentBytes {
			t.Fatalf("segment buffer grew to %d", cap(s.dir[cl].seg))
		}
	}
	s.Payload(cl, at, []byte("\rPID|"))
	for i := 0; i < 64; i++ { // 4 MiB of PID: never buffered
		s.Payload(cl, at, chunk)
		if cap(s.dir[cl].seg) > 2*cfg.MaxSegmentBytes {
			t.Fatalf("segment buffer grew to %d", cap(s.dir[cl].seg))
		}
	}
	s.Payload(cl, at, []byte("\rZA1|x\rZA2|x\rZA3|x\rZA4|x\r\x1c\r"))
	for i := 0; i < 5000; i++ {
		s.Payload(cl, at, mllp("MSH|^~\\&|A|B|C|D|1||ADT^A01|"+string(rune('a'+i%26))+"|P|2.3"))
		if len(s.pending) > cfg.MaxPending {
			t.Fatalf("%d pending", len(s.pending))
		}
	}
	s.End(at, event.EndTCPClose)
	if len(recs) != 5001 {
		t.Fatalf("%d records, want every message written", len(recs))
	}
	first := doc(t, recs[0])
	if got := str(get(first, "mamori.hl7.message.anomalies")); got != `["segment truncated","segment type list full","pending table full"]` {
		t.Errorf("anomalies = %s", got)
	}
	if n := len(str(get(first, "mamori.hl7.message"))); n > 4096 {
		t.Errorf("record message of %d bytes", n)
	}
}
