//go:build linux

package ebpf

import (
	"errors"
	"math"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/sensor"
)

// load loads the program for prog.Run, skipping (failing when strict)
// where the kernel or the privileges are missing.
func load(t *testing.T, cfg Config) *Program {
	t.Helper()
	testenv.RequireRoot(t)
	p, err := Load(cfg, forTestRun())
	if errors.Is(err, sensor.ErrNotSupported) {
		if testenv.Strict() {
			t.Fatalf("MAMORI_TEST_STRICT=1: %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// run runs the program on one frame and returns what it keeps.
func run(t *testing.T, p *Program, frame []byte) uint32 {
	t.Helper()
	ret, err := p.objs.Flowcount.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("prog.Run: %v", err)
	}
	return ret
}

const keepAll = 0x7fffffff

var (
	client  = netip.MustParseAddrPort("10.0.0.2:50000")
	server  = netip.MustParseAddrPort("10.0.0.1:445")
	client6 = netip.MustParseAddrPort("[2001:db8::2]:50000")
	server6 = netip.MustParseAddrPort("[2001:db8::1]:443")
	backup  = netip.MustParseAddrPort("10.9.9.9:10000")
	rdp     = netip.MustParseAddrPort("10.0.0.7:3389")
)

type tcpFlags uint8

const (
	fin tcpFlags = 1 << iota
	syn
	rst
	psh
	ack
)

// frame builds an Ethernet frame carrying TCP (flags given) or UDP
// (udp true) from src to dst with n payload bytes.
func frame(t *testing.T, src, dst netip.AddrPort, udp bool, flags tcpFlags, n int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}}
	var net gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip.Protocol = layers.IPProtocolTCP
		if udp {
			ip.Protocol = layers.IPProtocolUDP
		}
		net = ip
		ls = append(ls, eth, ip)
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ip.NextHeader = layers.IPProtocolTCP
		if udp {
			ip.NextHeader = layers.IPProtocolUDP
		}
		net = ip
		ls = append(ls, eth, ip)
	}
	if udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		u.SetNetworkLayerForChecksum(net)
		ls = append(ls, u)
	} else {
		tc := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Window: 1024,
			FIN: flags&fin != 0, SYN: flags&syn != 0, RST: flags&rst != 0, PSH: flags&psh != 0, ACK: flags&ack != 0}
		tc.SetNetworkLayerForChecksum(net)
		ls = append(ls, tc)
	}
	ls = append(ls, gopacket.Payload(make([]byte, n)))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type step struct {
	name      string
	frame     []byte
	wantKeep  bool
	key       Key  // the flow to check after the step (zero: none)
	wantCut   bool // whether the flow has cut packets after the step
	wantLimit uint64
}

// TestCutoff runs sequences of crafted packets through the program and
// checks after every packet what it kept and the flow's counters.
func TestCutoff(t *testing.T) {
	const cutoff = 1000
	cfg := Config{
		Cutoff: cutoff,
		Ports:  map[uint16]Limit{3389: Unlimited, 445: 5000},
		Hosts:  map[string]Limit{backup.Addr().String(): 0},
	}
	k := func(a, b netip.AddrPort) Key { k, _ := NewKey(6, a, b, 0, 0); return k }
	smb, rdpKey, bk := k(client, server), k(client, rdp), k(client, backup)
	web := k(client, netip.MustParseAddrPort("10.0.0.1:80"))
	webSrv := netip.MustParseAddrPort("10.0.0.1:80")

	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"default cutoff: bytes past it are cut, SYN/FIN/RST always pass", []step{
			{"SYN", frame(t, client, webSrv, false, syn, 0), true, web, false, cutoff},
			{"SYN-ACK", frame(t, webSrv, client, false, syn|ack, 0), true, web, false, cutoff},
			{"data under the cutoff", frame(t, client, webSrv, false, ack|psh, 600), true, web, false, cutoff},
			{"data crossing the cutoff passes", frame(t, webSrv, client, false, ack|psh, 600), true, web, false, cutoff},
			{"data past the cutoff is cut", frame(t, webSrv, client, false, ack|psh, 600), false, web, true, cutoff},
			{"a bare ACK past the cutoff is cut", frame(t, client, webSrv, false, ack, 0), false, web, true, cutoff},
			{"FIN passes", frame(t, client, webSrv, false, fin|ack, 0), true, web, true, cutoff},
			{"RST passes", frame(t, webSrv, client, false, rst, 0), true, web, true, cutoff},
		}},
		{"port override raises the limit", []step{
			{"SYN", frame(t, client, server, false, syn, 0), true, smb, false, 5000},
			{"1400", frame(t, server, client, false, ack, 1400), true, smb, false, 5000},
			{"2800", frame(t, server, client, false, ack, 1400), true, smb, false, 5000},
			{"4200", frame(t, server, client, false, ack, 1400), true, smb, false, 5000},
			{"crossing", frame(t, server, client, false, ack, 1400), true, smb, false, 5000},
			{"cut", frame(t, server, client, false, ack, 10), false, smb, true, 5000},
		}},
		{"unlimited port is never cut", []step{
			{"1", frame(t, client, rdp, false, ack, 1400), true, rdpKey, false, math.MaxUint64},
			{"2", frame(t, rdp, client, false, ack, 1400), true, rdpKey, false, math.MaxUint64},
			{"3", frame(t, rdp, client, false, ack, 1400), true, rdpKey, false, math.MaxUint64},
		}},
		{"host override 0 cuts everything but SYN/FIN/RST", []step{
			{"SYN", frame(t, client, backup, false, syn, 0), true, bk, false, 0},
			{"data", frame(t, client, backup, false, ack|psh, 100), false, bk, true, 0},
			{"FIN", frame(t, backup, client, false, fin|ack, 0), true, bk, true, 0},
		}},
		{"UDP has no flags that pass", []step{
			{"1", frame(t, client, netip.MustParseAddrPort("10.0.0.1:53"), true, 0, 1200), true, Key{}, false, 0},
			{"2", frame(t, client, netip.MustParseAddrPort("10.0.0.1:53"), true, 0, 10), false, Key{}, false, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, cfg)
			for _, s := range tc.steps {
				got := run(t, p, s.frame)
				if (got == keepAll) != s.wantKeep || (got != keepAll && got != 0) {
					t.Fatalf("%s: returned %#x, want keep=%v", s.name, got, s.wantKeep)
				}
				if s.key == (Key{}) {
					continue
				}
				c, ok, err := p.Lookup(s.key)
				if err != nil || !ok {
					t.Fatalf("%s: lookup: ok=%v err=%v", s.name, ok, err)
				}
				if c.Cut() != s.wantCut || c.Limit != s.wantLimit {
					t.Fatalf("%s: cut=%v limit=%d, want cut=%v limit=%d", s.name, c.Cut(), c.Limit, s.wantCut, s.wantLimit)
				}
				if p.Limit(s.key) != c.Limit {
					t.Fatalf("%s: Go mirror says limit %d, kernel %d", s.name, p.Limit(s.key), c.Limit)
				}
			}
		})
	}
}

// TestCounters checks the exact counters of a flow: every packet and byte
// per direction, the cut subset, and the TCP flags each side sent.
func TestCounters(t *testing.T) {
	p := load(t, Config{Cutoff: 1000})
	webSrv := netip.MustParseAddrPort("10.0.0.1:80")
	k, clientIsB := NewKey(6, client, webSrv, 0, 0)
	ci, si := 0, 1
	if clientIsB {
		ci, si = 1, 0
	}
	var want Counters
	want.Limit = 1000
	send := func(src, dst netip.AddrPort, f tcpFlags, n int) {
		fr := frame(t, src, dst, false, f, n)
		d := ci
		if src == webSrv {
			d = si
		}
		cut := want.Bytes[0]+want.Bytes[1] >= 1000 && f&(syn|fin|rst) == 0
		want.Packets[d]++
		want.Bytes[d] += uint64(len(fr))
		want.TCPFlags[d] |= uint8(f) & 0x1f
		if cut {
			want.CutPackets[d]++
			want.CutBytes[d] += uint64(len(fr))
		}
		run(t, p, fr)
	}
	send(client, webSrv, syn, 0)
	send(webSrv, client, syn|ack, 0)
	send(client, webSrv, ack, 0)
	for range 10 {
		send(webSrv, client, ack|psh, 1000)
		send(client, webSrv, ack, 0)
	}
	send(client, webSrv, fin|ack, 0)
	send(webSrv, client, fin|ack, 0)
	got, ok, err := p.Lookup(k)
	if err != nil || !ok {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	if got != want {
		t.Fatalf("counters\n got %+v\nwant %+v", got, want)
	}
	if want.CutPackets[si] != 9 || want.CutPackets[ci] != 10 {
		// The first data packet passes (the flow is under 1000 bytes
		// before it); the 9 after it and all 10 ACKs are cut.
		t.Fatalf("test is wrong: want %+v", want)
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 25 || st.CutPackets != 19 || st.CutBytes != want.CutBytes[0]+want.CutBytes[1] || st.NewFlows != 1 {
		t.Fatalf("stats %+v", st)
	}

	// LookupAndDelete takes the counters and the entry; the next packet
	// starts over.
	got, ok, err = p.LookupAndDelete(k)
	if err != nil || !ok || got != want {
		t.Fatalf("LookupAndDelete: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := p.Lookup(k); ok {
		t.Fatal("entry still there after LookupAndDelete")
	}
	if run(t, p, frame(t, webSrv, client, false, ack, 500)) != keepAll {
		t.Fatal("a new flow's first packet was cut")
	}
}

// TestKeys checks that the kernel keys packets like NewKey (and so like
// pipeline/flow): both directions on one key, IPv4 mapped into IPv6, VLAN
// tags, IPv6 extension headers; and that fragments, non-IP and non-TCP/UDP
// packets are not counted but always pass.
func TestKeys(t *testing.T) {
	p := load(t, Config{Cutoff: 100})
	webSrv := netip.MustParseAddrPort("10.0.0.1:80")
	k4, _ := NewKey(6, client, webSrv, 0, 0)
	k6, _ := NewKey(17, client6, server6, 0, 0)
	kv, _ := NewKey(6, client, webSrv, 42, 0)
	kq, _ := NewKey(6, client, webSrv, 100, 200)

	hopByHop := func(f []byte) []byte { // IPv6 + hop-by-hop (8 bytes of PadN) + UDP
		out := append([]byte(nil), f[:14+40]...)
		out[14+6] = 0 // next header: hop-by-hop
		out[14+5] += 8
		out = append(out, 17, 0, 1, 4, 0, 0, 0, 0)
		return append(out, f[14+40:]...)
	}
	frag4 := func(f []byte, off uint16, more bool) []byte {
		out := append([]byte(nil), f...)
		v := off / 8
		if more {
			v |= 0x2000
		}
		out[14+6], out[14+7] = byte(v>>8), byte(v)
		return out
	}
	frag6 := func(f []byte) []byte {
		out := append([]byte(nil), f[:14+40]...)
		out[14+6] = 44
		out[14+5] += 8
		out = append(out, 17, 0, 0, 1, 0, 0, 0, 7) // offset 0, M set
		return append(out, f[14+40:]...)
	}
	arp := func() []byte {
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
			&layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{255, 255, 255, 255, 255, 255}, EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
				SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: []byte{10, 0, 0, 2},
				DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 1}})
		return buf.Bytes()
	}
	icmp := func() []byte {
		f := frame(t, client, webSrv, false, 0, 10)
		f[14+9] = 1 // protocol ICMP
		return f
	}

	for _, tc := range []struct {
		name    string
		frames  [][]byte
		key     Key // zero: the packets are not counted
		packets [2]uint64
	}{
		{"IPv4 both directions", [][]byte{frame(t, client, webSrv, false, syn, 0), frame(t, webSrv, client, false, syn|ack, 0)}, k4, [2]uint64{1, 1}},
		{"IPv6 UDP both directions", [][]byte{frame(t, client6, server6, true, 0, 10), frame(t, server6, client6, true, 0, 10), frame(t, server6, client6, true, 0, 10)}, k6, [2]uint64{2, 1}},
		{"IPv6 with a hop-by-hop header", [][]byte{hopByHop(frame(t, client6, server6, true, 0, 10))}, k6, [2]uint64{0, 1}},
		{"802.1Q tag", [][]byte{pcaptest.AddVLAN(frame(t, client, webSrv, false, syn, 0), 42)}, kv, [2]uint64{0, 1}},
		{"QinQ tags", [][]byte{pcaptest.AddQinQ(frame(t, webSrv, client, false, ack, 0), 100, 200)}, kq, [2]uint64{1, 0}},
		{"IPv4 first fragment", [][]byte{frag4(frame(t, client, webSrv, true, 0, 10), 0, true)}, Key{}, [2]uint64{}},
		{"IPv4 later fragment", [][]byte{frag4(frame(t, client, webSrv, true, 0, 10), 1480, false)}, Key{}, [2]uint64{}},
		{"IPv6 fragment", [][]byte{frag6(frame(t, client6, server6, true, 0, 10))}, Key{}, [2]uint64{}},
		{"ARP", [][]byte{arp()}, Key{}, [2]uint64{}},
		{"ICMP", [][]byte{icmp()}, Key{}, [2]uint64{}},
		{"truncated TCP header", [][]byte{frame(t, client, webSrv, false, syn, 0)[:14+20+8]}, Key{}, [2]uint64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := p.Stats()
			var want [2]uint64
			if tc.key != (Key{}) {
				c, _, _ := p.Lookup(tc.key)
				want = c.Packets
			}
			for _, f := range tc.frames {
				// 200 bytes past the 100-byte cutoff: a counted packet
				// without SYN/FIN/RST would be cut, an uncounted one passes.
				if got := run(t, p, f); got != keepAll && tc.key == (Key{}) {
					t.Fatalf("uncounted packet returned %#x", got)
				}
			}
			after, _ := p.Stats()
			if tc.key == (Key{}) {
				if d := after.Uncounted - before.Uncounted; d != uint64(len(tc.frames)) {
					t.Fatalf("%d packets uncounted, want %d", d, len(tc.frames))
				}
				return
			}
			c, ok, err := p.Lookup(tc.key)
			if err != nil || !ok {
				t.Fatalf("no entry for %+v (err %v); kernel holds: %s", tc.key, err, dump(p))
			}
			want[0] += tc.packets[0]
			want[1] += tc.packets[1]
			if c.Packets != want {
				t.Fatalf("packets %v, want %v", c.Packets, want)
			}
		})
	}
}

func dump(p *Program) string {
	var s string
	p.Flows(func(k Key, c Counters) bool {
		s += "\n  " + netip.AddrFrom16(k.A).String() + " " + netip.AddrFrom16(k.B).String()
		return true
	})
	return s
}

// TestDeleteBatch checks DeleteBatch with present and missing keys.
func TestDeleteBatch(t *testing.T) {
	p := load(t, Config{})
	var keys []Key
	for i := range 5 {
		src := netip.AddrPortFrom(client.Addr(), uint16(40000+i))
		run(t, p, frame(t, src, server, false, syn, 0))
		k, _ := NewKey(6, src, server, 0, 0)
		keys = append(keys, k)
	}
	missing, _ := NewKey(6, client, netip.MustParseAddrPort("10.0.0.1:1"), 0, 0)
	batch := []Key{keys[0], missing, keys[1], keys[2]}
	n, err := p.DeleteBatch(batch)
	if err != nil || n != 3 {
		t.Fatalf("DeleteBatch: %d, %v; want 3", n, err)
	}
	var left int
	p.Flows(func(Key, Counters) bool { left++; return true })
	if left != 2 {
		t.Fatalf("%d entries left, want 2", left)
	}
}
