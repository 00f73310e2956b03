package hl7

import (
	"strconv"
	"strings"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// BenchmarkExchange measures an ADT^A01 of about 1 KiB (MSH, EVN, PID,
// NK1, PV1, ten OBX) and its ACK, in 1448-byte chunks.
func BenchmarkExchange(b *testing.B) {
	p := newParser(b, Config{})
	s := p.NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:2575"), func(event.Record) {}).(*Session)
	var segs []string
	segs = append(segs, mshADT, "EVN|A01|20260604101300", pid, "NK1|1|YAMADA^HANAKO|SPO", "PV1|1|I|W3^301^1")
	for i := 0; i < 10; i++ {
		segs = append(segs, obx)
	}
	msg := string(mllp(segs...))
	ack := string(mllp("MSH|^~\\&|LIS|LAB|EHR|HOSP|20260604101301||ACK^A01^ACK|ACK00002|P|2.5.1", "MSA|AA|MSG00002"))
	b.SetBytes(int64(len(msg) + len(ack)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := "M" + strconv.Itoa(i)
		m := []byte(strings.Replace(msg, "MSG00002", id, 1))
		a := []byte(strings.Replace(ack, "MSG00002", id, 1))
		for j := 0; j < len(m); j += 1448 {
			s.Payload(cl, prototest.Epoch, m[j:min(j+1448, len(m))])
		}
		s.Payload(sv, prototest.Epoch, a)
	}
}
