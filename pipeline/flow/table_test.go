package flow

import (
	"net/netip"
	"testing"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
)

// step is one crafted packet of a conversation between a client C
// (10.0.0.1:40000) and a server S (10.0.0.2:445).
type step struct {
	fromServer bool
	flags      uint8
	seq, ack   uint32
	payload    int
	window     uint16
	at         time.Duration // since the first packet
}

const (
	fS = decode.FlagSYN
	fA = decode.FlagACK
	fF = decode.FlagFIN
	fR = decode.FlagRST
)

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("10.0.0.2")
	t0     = time.Date(2026, 11, 23, 3, 10, 0, 0, time.UTC)
)

func (s step) packet() decode.Packet {
	p := decode.Packet{Net: decode.NetIPv4, Proto: protoTCP, Src: client, Dst: server, SrcPort: 40000, DstPort: 445,
		TCPFlags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.payload, Window: s.window, HasMAC: true,
		SrcMAC: [6]byte{2, 0, 0, 0, 0, 1}, DstMAC: [6]byte{2, 0, 0, 0, 0, 2}}
	if p.Window == 0 && s.flags&fR == 0 {
		p.Window = 65535
	}
	if s.window == 1 { // test shorthand for "zero window"
		p.Window = 0
	}
	if s.fromServer {
		p.Src, p.Dst, p.SrcPort, p.DstPort = server, client, 445, 40000
		p.SrcMAC, p.DstMAC = p.DstMAC, p.SrcMAC
	}
	return p
}

// recorder collects copies of emitted records.
type recorder struct{ recs []event.Flow }

func (r *recorder) emit(f *event.Flow, _ int) { r.recs = append(r.recs, *f) }

func newTable(t testing.TB, cfg Config) (*Table, *recorder) {
	t.Helper()
	r := &recorder{}
	tab, err := New(cfg, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	tab.SetDeterministicIDs()
	return tab, r
}

func run(t *testing.T, steps []step) event.Flow {
	t.Helper()
	tab, r := newTable(t, Config{})
	for _, s := range steps {
		p := s.packet()
		tab.Packet(&p, t0.Add(s.at).UnixNano(), 60+s.payload, 0)
	}
	tab.Flush(event.EndShutdown)
	if len(r.recs) != 1 {
		t.Fatalf("got %d records, want 1: %+v", len(r.recs), r.recs)
	}
	return r.recs[0]
}

// TestConnState walks the TCP edge cases of Zeek's conn_state and history.
// Expected values are what Zeek's conn.log shows for the same packets
// (base/protocols/conn/main.zeek conn_state() over the TCP analyzer's
// endpoint states).
func TestConnState(t *testing.T) {
	handshake := []step{
		{flags: fS, seq: 100},
		{fromServer: true, flags: fS | fA, seq: 500, ack: 101},
		{flags: fA, seq: 101, ack: 501},
	}
	with := func(extra ...step) []step { return append(append([]step{}, handshake...), extra...) }
	for _, tc := range []struct {
		name      string
		steps     []step
		state     string
		history   string
		clientIP  netip.Addr // originator, when not the default client
		clientPkt uint64
	}{
		{"complete", with(
			step{flags: fA, seq: 101, ack: 501, payload: 100},
			step{fromServer: true, flags: fA, seq: 501, ack: 201, payload: 50},
			step{flags: fF | fA, seq: 201, ack: 551},
			step{fromServer: true, flags: fF | fA, seq: 551, ack: 202},
			step{flags: fA, seq: 202, ack: 552}),
			"SF", "ShADdFf", client, 5},
		{"half-open: SYN never answered", []step{{flags: fS, seq: 1}, {flags: fS, seq: 1, at: time.Second}}, "S0", "S", client, 2},
		{"rejected: SYN answered by RST", []step{{flags: fS, seq: 1}, {fromServer: true, flags: fR | fA, ack: 2}}, "REJ", "Sr", client, 1},
		{"RST from originator before data", with(step{flags: fR, seq: 101}), "RSTO", "ShAR", client, 3},
		{"RST from responder after data", with(
			step{flags: fA, seq: 101, ack: 501, payload: 10},
			step{fromServer: true, flags: fR, seq: 501}), "RSTR", "ShADr", client, 3},
		{"SYN then RST from originator, no answer", []step{{flags: fS, seq: 1}, {flags: fR, seq: 2}}, "RSTOS0", "SR", client, 2},
		{"SYN-ACK then RST, SYN not seen", []step{{fromServer: true, flags: fS | fA, seq: 500, ack: 101}, {fromServer: true, flags: fR, seq: 501}}, "RSTRH", "^hr", client, 0},
		{"SYN then FIN from originator, no answer", []step{{flags: fS, seq: 1}, {flags: fF, seq: 2}}, "SH", "SF", client, 2},
		{"SYN-ACK then FIN, SYN not seen", []step{{fromServer: true, flags: fS | fA, seq: 500, ack: 101}, {fromServer: true, flags: fF | fA, seq: 501, ack: 101}}, "SHR", "^hf", client, 0},
		{"established, no close", with(step{flags: fA, seq: 101, ack: 501, payload: 5}), "S1", "ShAD", client, 3},
		{"FIN from originator only", with(step{flags: fF | fA, seq: 101, ack: 501}), "S2", "ShAF", client, 3},
		{"FIN from responder only", with(step{fromServer: true, flags: fF | fA, seq: 501, ack: 101}), "S3", "ShAf", client, 2},
		{"simultaneous open", []step{
			{flags: fS, seq: 100},
			{fromServer: true, flags: fS, seq: 500},
			{flags: fS | fA, seq: 100, ack: 501},
			{fromServer: true, flags: fS | fA, seq: 500, ack: 101},
			{flags: fF | fA, seq: 101, ack: 501},
			{fromServer: true, flags: fF | fA, seq: 501, ack: 102}}, "SF", "SsFf", client, 3},
		{"missing SYN: mid-stream data both ways", []step{
			{flags: fA, seq: 1000, ack: 5000, payload: 100},
			{fromServer: true, flags: fA, seq: 5000, ack: 1100, payload: 100}}, "OTH", "Dd", client, 1},
		{"missing SYN, both close", []step{
			{flags: fA, seq: 1000, ack: 5000, payload: 100},
			{fromServer: true, flags: fA, seq: 5000, ack: 1100, payload: 100},
			{flags: fF | fA, seq: 1100, ack: 5100},
			{fromServer: true, flags: fF | fA, seq: 5100, ack: 1101}}, "SF", "DdFf", client, 2},
		{"retransmission and zero window", with(
			step{flags: fA, seq: 101, ack: 501, payload: 100},
			step{flags: fA, seq: 101, ack: 501, payload: 100},
			step{fromServer: true, flags: fA, seq: 501, ack: 201, window: 1}), "S1", "ShADTaw", client, 4},
		{"content gap: ACK beyond what was seen", with(
			step{flags: fA, seq: 101, ack: 501, payload: 100},
			step{fromServer: true, flags: fA, seq: 501, ack: 1201}), "S1", "ShADaG", client, 3},
		// SYN+FIN closes the originator; the responder's FIN+RST resets it: Zeek says RSTR.
		{"inconsistent and multi-flag packets", []step{{flags: fS | fF, seq: 1}, {fromServer: true, flags: fF | fR, seq: 9}}, "RSTR", "Qi", client, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := run(t, tc.steps)
			if f.ConnState != tc.state || f.History.String() != tc.history {
				t.Errorf("conn_state %s history %q, want %s %q", f.ConnState, f.History.String(), tc.state, tc.history)
			}
			if f.Source.IP != tc.clientIP {
				t.Errorf("originator %s, want %s", f.Source.IP, tc.clientIP)
			}
			if f.Source.Packets != tc.clientPkt {
				t.Errorf("originator packets %d, want %d", f.Source.Packets, tc.clientPkt)
			}
			if f.Source.Packets+f.Destination.Packets != uint64(len(tc.steps)) {
				t.Errorf("packets %d+%d, want %d in all", f.Source.Packets, f.Destination.Packets, len(tc.steps))
			}
		})
	}
}
