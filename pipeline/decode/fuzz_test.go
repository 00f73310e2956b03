package decode

import (
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
)

// fuzzCaptures seed FuzzDecode with real frames.
var fuzzCaptures = []string{
	"communityid/combined.pcap.gz",
	"communityid/icmp.pcap",
	"communityid/icmp6.pcap",
	"rdp/ndpi_rdp_over_tls.pcap",
	"tls/ndpi_ja3_lots_of_cipher_suites.pcap",
	"dns/zeek_ipv6-fragmented-dns.pcap",
	"dns/zeek_dns-edns-ecs.pcap",
	"dns/zeek_dns_mdns.pcap",
	"smb/zeek_smb2.pcap",
}

// FuzzDecode feeds arbitrary bytes and link types to one long-lived
// Decoder. Decode must not panic, must return one of the sentinels, must
// agree with a Decoder that has its fast path off, and on success must
// keep the Packet invariants of doc.go and agree with a fresh Decoder (no
// state leaks from one frame to the next).
func FuzzDecode(f *testing.F) {
	for _, tc := range append(validCases(), errorCases()...) {
		f.Add(tc.data, uint16(linkOr(tc.link)))
	}
	for _, name := range fuzzCaptures {
		frames, link := loadCapture(f, name)
		for i, fr := range frames {
			if i == 40 {
				break
			}
			f.Add(fr, uint16(link))
			if i%8 == 0 {
				f.Add(pcaptest.ToSLL2(fr, 2), uint16(layers.LinkTypeLinuxSLL2))
				f.Add(pcaptest.ToERSPAN2(fr, 3), uint16(layers.LinkTypeEthernet))
				f.Add(pcaptest.ToERSPAN3(fr, 4, i%16 == 0), uint16(layers.LinkTypeEthernet))
				if raw := pcaptest.ToRaw(fr); raw != nil {
					f.Add(raw, uint16(layers.LinkTypeRaw))
				}
			}
		}
	}

	d := New()
	for _, p := range d.parsers {
		p.IgnorePanic = true // a panic is a bug: let the fuzzer see its stack
	}
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		var p Packet
		err := d.Decode(data, layers.LinkType(link), &p)
		// The fast path must agree with the gopacket layers on every input.
		slow := New()
		slow.gopacketOnly = true
		var ps Packet
		if errSlow := slow.Decode(data, layers.LinkType(link), &ps); errSlow != err {
			t.Fatalf("fast path: %v, gopacket layers: %v", err, errSlow)
		} else if err == nil && !reflect.DeepEqual(p, ps) {
			t.Fatalf("fast path and gopacket layers differ:\n%+v\n%+v", p, ps)
		}
		if d.Counters.Unexpected != 0 {
			t.Fatalf("a gopacket layer failed after our checks passed (err %v)", err)
		}
		switch err {
		case nil:
		case ErrTruncated, ErrMalformed, ErrUnsupportedLink:
			return
		default:
			t.Fatalf("Decode returned a non-sentinel error %v", err)
		}
		checkInvariants(t, data, &p)

		var fresh Packet
		if err := New().Decode(data, layers.LinkType(link), &fresh); err != nil {
			t.Fatalf("a fresh Decoder fails with %v", err)
		}
		if !reflect.DeepEqual(p, fresh) {
			t.Fatalf("used and fresh Decoders differ:\n%+v\n%+v", p, fresh)
		}
	})
}

// checkInvariants checks the guarantees doc.go gives for a nil error.
func checkInvariants(t *testing.T, data []byte, p *Packet) {
	t.Helper()
	if p.PayloadLen < 0 || len(p.Payload) > p.PayloadLen {
		t.Fatalf("len(Payload) = %d, PayloadLen = %d", len(p.Payload), p.PayloadLen)
	}
	if len(p.Payload) > 0 {
		off := cap(data) - cap(p.Payload)
		if off < 0 || off+len(p.Payload) > len(data) || &data[off] != &p.Payload[0] {
			t.Fatalf("Payload does not point into the frame")
		}
	}
	if p.VLAN > 0x0fff || p.InnerVLAN > 0x0fff || p.ERSPANSession > 0x03ff {
		t.Fatalf("VLAN %d inner %d session %d out of range", p.VLAN, p.InnerVLAN, p.ERSPANSession)
	}
	if p.Encap&(EncapERSPAN2|EncapERSPAN3) != 0 && p.Encap&EncapGRE == 0 {
		t.Fatalf("ERSPAN without GRE: %b", p.Encap)
	}
	noTransport := p.SrcPort == 0 && p.DstPort == 0 && p.TCPFlags == 0 && p.Seq == 0 && p.Ack == 0 && p.Window == 0
	switch p.Net {
	case NetIPv4:
		if !p.Src.Is4() || !p.Dst.Is4() || p.IPLen < 20 {
			t.Fatalf("IPv4 with %v → %v, IPLen %d", p.Src, p.Dst, p.IPLen)
		}
	case NetIPv6:
		if !p.Src.Is6() || !p.Dst.Is6() || p.IPLen < 40 {
			t.Fatalf("IPv6 with %v → %v, IPLen %d", p.Src, p.Dst, p.IPLen)
		}
	case NetARP, NetOther:
		if !noTransport || p.Proto != 0 || p.IPLen != 0 || p.Fragment || p.PayloadLen != 0 {
			t.Fatalf("network fields on a non-IP frame: %+v", p)
		}
		if p.Net == NetOther && (p.Src.IsValid() || p.Dst.IsValid()) {
			t.Fatalf("addresses on a non-IP frame: %+v", p)
		}
		return
	default:
		t.Fatalf("Net = %d on success", p.Net)
	}
	if p.FragOffset > 0 && (!p.Fragment || !noTransport || p.ICMPType != 0 || p.ICMPCode != 0) {
		t.Fatalf("transport fields on a non-first fragment: %+v", p)
	}
	if (p.Proto == 1 || p.Proto == 58) && (p.SrcPort != 0 || p.DstPort != 0) {
		t.Fatalf("ICMP with ports: %+v", p)
	}
}
