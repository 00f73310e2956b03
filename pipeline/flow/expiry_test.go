package flow

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
)

func udp(src, dst netip.Addr, sport, dport uint16) decode.Packet {
	return decode.Packet{Net: decode.NetIPv4, Proto: protoUDP, Src: src, Dst: dst, SrcPort: sport, DstPort: dport, PayloadLen: 20}
}

// TestTimeouts checks idle, close-linger and active timeouts, all on packet
// time: the sequence form of gopacket's tests, checked after every step.
func TestTimeouts(t *testing.T) {
	tab, r := newTable(t, Config{UDPTimeout: 10 * time.Second, ActiveTimeout: 60 * time.Second, TCPClosedTimeout: 2 * time.Second})
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	dns := udp(client, server, 5353, 53)
	reply := udp(server, client, 53, 5353)
	type want struct {
		records int
		final   bool
		reason  event.EndReason
		packets uint64
		state   string
	}
	steps := []struct {
		name string
		do   func()
		want want
	}{
		{"query", func() { tab.Packet(&dns, at(0), 80, 0) }, want{records: 0}},
		{"reply", func() { tab.Packet(&reply, at(time.Second), 80, 0) }, want{records: 0}},
		{"9s idle: not yet", func() { tab.Advance(at(10*time.Second + 500*time.Millisecond)) }, want{records: 0}},
		{"12s idle: expired", func() { tab.Advance(at(12 * time.Second)) }, want{1, true, event.EndIdle, 2, "SF"}},
		{"one-way flow starts", func() { tab.Packet(&dns, at(20*time.Second), 80, 0) }, want{records: 1}},
		{"kept alive every 5s past the active timeout", func() {
			for s := 25; s <= 85; s += 5 {
				tab.Packet(&dns, at(time.Duration(s)*time.Second), 80, 0)
			}
		}, want{2, false, event.EndActive, 12, "S0"}},
		{"end of capture", func() { tab.Flush(event.EndShutdown) }, want{3, true, event.EndShutdown, 14, "S0"}},
	}
	for _, s := range steps {
		s.do()
		if len(r.recs) != s.want.records {
			t.Fatalf("%s: %d records, want %d", s.name, len(r.recs), s.want.records)
		}
		if s.want.reason == 0 {
			continue
		}
		got := r.recs[len(r.recs)-1]
		if got.Final != s.want.final || got.Reason != s.want.reason || got.Source.Packets+got.Destination.Packets != s.want.packets || got.ConnState != s.want.state {
			t.Fatalf("%s: got final=%v reason=%s packets=%d state=%s, want %+v", s.name, got.Final, got.Reason, got.Source.Packets+got.Destination.Packets, got.ConnState, s.want)
		}
	}
	// The interim and final records of one flow share flow.id and community_id.
	if r.recs[1].ID != r.recs[2].ID || r.recs[1].CommunityID != r.recs[2].CommunityID || r.recs[0].ID == r.recs[1].ID {
		t.Errorf("flow ids: %s %s %s", r.recs[0].ID, r.recs[1].ID, r.recs[2].ID)
	}
}

// TestClosedLinger checks that a closed TCP flow is written after the close
// delay, and that a new connection on the same ports is a new flow.
func TestClosedLinger(t *testing.T) {
	tab, r := newTable(t, Config{TCPClosedTimeout: 2 * time.Second})
	conn := []step{
		{flags: fS, seq: 1}, {fromServer: true, flags: fS | fA, seq: 9, ack: 2}, {flags: fA, seq: 2, ack: 10},
		{flags: fF | fA, seq: 2, ack: 10}, {fromServer: true, flags: fF | fA, seq: 10, ack: 3}, {flags: fA, seq: 3, ack: 11},
	}
	for _, s := range conn {
		p := s.packet()
		tab.Packet(&p, t0.UnixNano(), 60, 0)
	}
	tab.Advance(t0.Add(time.Second).UnixNano())
	if len(r.recs) != 0 {
		t.Fatalf("written before the close delay: %+v", r.recs)
	}
	for _, s := range conn { // same 5-tuple, 10 s later: port reuse
		p := s.packet()
		tab.Packet(&p, t0.Add(10*time.Second).UnixNano(), 60, 0)
	}
	tab.Flush(event.EndShutdown)
	if len(r.recs) != 2 || r.recs[0].Reason != event.EndTCPClose || r.recs[0].ConnState != "SF" || r.recs[1].ConnState != "SF" || r.recs[0].ID == r.recs[1].ID {
		t.Fatalf("got %+v", r.recs)
	}
}

// TestEviction fills a small table and checks that the oldest flows are
// evicted, counted, and written with reason "evicted".
func TestEviction(t *testing.T) {
	tab, r := newTable(t, Config{MaxFlows: 100})
	for i := range 150 {
		p := udp(client, server, uint16(1000+i), 53)
		tab.Packet(&p, t0.Add(time.Duration(i)*time.Millisecond).UnixNano(), 80, 0)
	}
	if tab.Len() != 100 || tab.Stats().Evicted != 50 || len(r.recs) != 50 {
		t.Fatalf("len %d evicted %d records %d", tab.Len(), tab.Stats().Evicted, len(r.recs))
	}
	for i, rec := range r.recs {
		if rec.Reason != event.EndEvicted || rec.Source.Port != uint16(1000+i) {
			t.Fatalf("record %d: reason %s port %d", i, rec.Reason, rec.Source.Port)
		}
	}
}

// TestFragments checks that non-first fragments count to the flow of their
// first fragment, and that orphans are counted, not guessed.
func TestFragments(t *testing.T) {
	tab, r := newTable(t, Config{})
	first := udp(client, server, 4000, 2049)
	first.Fragment, first.FragMore, first.FragID = true, true, 77
	rest := decode.Packet{Net: decode.NetIPv4, Proto: protoUDP, Src: client, Dst: server, Fragment: true, FragID: 77, FragOffset: 1480}
	orphan := rest
	orphan.FragID = 78
	tab.Packet(&first, t0.UnixNano(), 1514, 0)
	tab.Packet(&rest, t0.UnixNano(), 600, 0)
	tab.Packet(&orphan, t0.UnixNano(), 600, 0)
	tab.Flush(event.EndShutdown)
	if len(r.recs) != 1 || r.recs[0].Source.Packets != 2 || r.recs[0].Source.Bytes != 2114 {
		t.Fatalf("got %+v", r.recs)
	}
	if s := tab.Stats(); s.FragAttributed != 1 || s.FragOrphans != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestICMPEcho checks that an echo request and its reply are one flow whose
// originator is the requester, and that one-way ICMP keeps its direction.
func TestICMPEcho(t *testing.T) {
	tab, r := newTable(t, Config{})
	req := decode.Packet{Net: decode.NetIPv4, Proto: protoICMP, Src: server, Dst: client, ICMPType: 8}
	rep := decode.Packet{Net: decode.NetIPv4, Proto: protoICMP, Src: client, Dst: server, ICMPType: 0}
	unreach := decode.Packet{Net: decode.NetIPv4, Proto: protoICMP, Src: server, Dst: client, ICMPType: 3, ICMPCode: 3}
	tab.Packet(&req, t0.UnixNano(), 98, 0)
	tab.Packet(&rep, t0.UnixNano(), 98, 0)
	tab.Packet(&unreach, t0.UnixNano(), 70, 0)
	tab.Flush(event.EndShutdown)
	if len(r.recs) != 2 {
		t.Fatalf("got %d records", len(r.recs))
	}
	echo := r.recs[0]
	if echo.Source.IP != server || echo.Source.Packets != 1 || echo.Destination.Packets != 1 || echo.Source.HasPort || echo.ConnState != "OTH" {
		t.Errorf("echo flow %+v", echo)
	}
}

// TestMemoryPerFlow measures the table's heap per tracked flow with 1M
// synthetic flows. The target is at most 200 bytes per flow.
func TestMemoryPerFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~200 MB")
	}
	const n = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab, _ := newTable(t, Config{MaxFlows: n})
	p := decode.Packet{Net: decode.NetIPv4, Proto: protoTCP, TCPFlags: fS, DstPort: 445, HasMAC: true}
	for i := range n {
		p.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Dst = netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
		p.SrcPort = uint16(1024 + i%60000)
		tab.Packet(&p, t0.UnixNano()+int64(i), 74, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tab.Len() != n {
		t.Fatalf("tracking %d flows, want %d", tab.Len(), n)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d flows: %.1f bytes per flow (state %d bytes + index)", n, per, stateSize)
	if per > 200 {
		t.Errorf("%.1f bytes per flow, want ≤ 200", per)
	}
	runtime.KeepAlive(tab)
}
