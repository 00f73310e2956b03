package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
)

var (
	macA  = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB  = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
	macC  = net.HardwareAddr{0x02, 0xcc, 0xcc, 0xcc, 0xcc, 0x01}
	macD  = net.HardwareAddr{0x02, 0xdd, 0xdd, 0xdd, 0xdd, 0x02}
	ipA   = net.IP{10, 1, 2, 3}
	ipB   = net.IP{10, 4, 5, 6}
	ipC   = net.IP{172, 16, 0, 1}
	ipD   = net.IP{172, 16, 0, 2}
	ip6A  = net.ParseIP("2001:db8::a")
	ip6B  = net.ParseIP("2001:db8::b")
	body  = []byte("0123456789abcdef")
	dgram = udpDatagram(64) // a UDP datagram to fragment
)

func addr(ip net.IP) netip.Addr {
	if v4 := ip.To4(); v4 != nil {
		return netip.AddrFrom4([4]byte(v4))
	}
	return netip.AddrFrom16([16]byte(ip))
}

// build serializes layers with gopacket, fixing lengths (checksums are
// not computed: the decoder does not read them).
func build(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		panic(err) // a broken test fixture, at package initialisation
	}
	return bytes.Clone(buf.Bytes())
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func innerEth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macC, DstMAC: macD, EthernetType: t}
}

func dot1q(id uint16, t layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: id, Type: t}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: proto, SrcIP: ipA, DstIP: ipB}
}

func ip4Inner(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 32, Id: 0x4321, Protocol: proto, SrcIP: ipC, DstIP: ipD}
}

func ip6(nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 63, NextHeader: nh, SrcIP: ip6A, DstIP: ip6B}
}

func tcp() *layers.TCP {
	return &layers.TCP{SrcPort: 49152, DstPort: 445, Seq: 1000, Ack: 2000, ACK: true, PSH: true, Window: 512}
}

func udp() *layers.UDP { return &layers.UDP{SrcPort: 5353, DstPort: 53} }

func udpDatagram(n int) []byte {
	return build(udp(), gopacket.Payload(bytes.Repeat([]byte{0x5a}, n)))
}

func gre(proto layers.EthernetType) *layers.GRE {
	return &layers.GRE{SeqPresent: true, Seq: 7, Protocol: proto}
}

func erspan2(vlan, session uint16) *layers.ERSPANII {
	return &layers.ERSPANII{Version: layers.ERSPANIIVersion, VLANIdentifier: vlan, SessionID: session}
}

func hopByHop(next layers.IPProtocol) *layers.IPv6HopByHop {
	h := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: make([]byte, 4)}}}
	h.NextHeader = next
	return h
}

func destOpts(next layers.IPProtocol) *layers.IPv6Destination {
	h := &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: make([]byte, 4)}}}
	h.NextHeader = next
	return h
}

// patch returns a copy of b with the bytes at off replaced.
func patch(b []byte, off int, with ...byte) []byte {
	b = bytes.Clone(b)
	copy(b[off:], with)
	return b
}

func put16(b []byte, off int, v uint16) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint16(b[off:], v)
	return b
}

// Base frames and what they decode to.
var (
	frameTCP4 = build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(body))
	wantTCP4  = Packet{
		HasMAC: true, SrcMAC: [6]byte(macA), DstMAC: [6]byte(macB), EtherType: 0x0800,
		Net: NetIPv4, Src: addr(ipA), Dst: addr(ipB), Proto: 6, TTL: 64, IPLen: 56, FragID: 0x1234,
		SrcPort: 49152, DstPort: 445, TCPFlags: FlagACK | FlagPSH, Seq: 1000, Ack: 2000, Window: 512,
		Payload: body, PayloadLen: 16,
	}
	frameUDP6 = build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), gopacket.Payload(body))
	wantUDP6  = Packet{
		HasMAC: true, SrcMAC: [6]byte(macA), DstMAC: [6]byte(macB), EtherType: 0x86dd,
		Net: NetIPv6, Src: addr(ip6A), Dst: addr(ip6B), Proto: 17, TTL: 63, IPLen: 64,
		SrcPort: 5353, DstPort: 53, Payload: body, PayloadLen: 16,
	}
	// the inner frame of the tunnel cases
	innerTCP4 = []gopacket.SerializableLayer{ip4Inner(layers.IPProtocolTCP), tcp(), gopacket.Payload(body)}
	wantInner = Packet{
		Net: NetIPv4, Src: addr(ipC), Dst: addr(ipD), Proto: 6, TTL: 32, IPLen: 56, FragID: 0x4321,
		SrcPort: 49152, DstPort: 445, TCPFlags: FlagACK | FlagPSH, Seq: 1000, Ack: 2000, Window: 512,
		Payload: body, PayloadLen: 16,
	}
)

// with returns a copy of p changed by f.
func with(p Packet, f func(*Packet)) Packet {
	f(&p)
	return p
}

// mirroredInner is wantInner as seen through ERSPAN: the inner MACs.
func mirroredInner(f func(*Packet)) Packet {
	return with(wantInner, func(p *Packet) {
		p.HasMAC, p.SrcMAC, p.DstMAC, p.EtherType = true, [6]byte(macC), [6]byte(macD), 0x0800
		f(p)
	})
}

func concat(parts ...[]gopacket.SerializableLayer) []gopacket.SerializableLayer {
	var out []gopacket.SerializableLayer
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ls(l ...gopacket.SerializableLayer) []gopacket.SerializableLayer { return l }

// erspan3Header is pcaptest's header with the frame type field set.
func erspan3Header(session, vlan uint16, sub bool, frameType uint8) []byte {
	h := pcaptest.ERSPAN3Header(session, vlan, sub)
	h[10] = h[10]&^0x7c | frameType<<2
	return h
}

var outerGRE = ls(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE))

type decodeCase struct {
	name string
	link layers.LinkType
	data []byte
	want Packet
	err  error
	// hdr is where the headers end, for the truncation sweep, when the
	// Payload does not start there; -1 skips the sweep.
	hdr int
}

func validCases() []decodeCase {
	llc := append([]byte{}, macB...)
	llc = append(append(llc, macA...), 0x00, 0x26, 0x42, 0x42, 0x03)
	llc = append(llc, make([]byte, 35)...)
	padded := append(build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("hi")), bytes.Repeat([]byte{0xee}, 20)...)
	bigTCP := build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(bytes.Repeat([]byte{'x'}, 100)))
	tso := put16(frameTCP4, 14+2, 0)
	arp := append(build(&layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: ipA, DstHwAddress: make([]byte, 6), DstProtAddress: ipB}), make([]byte, 18)...)
	tcpOpts := tcp()
	tcpOpts.Options = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
	}
	ipOpts := ip4(layers.IPProtocolUDP)
	ipOpts.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}, {OptionType: 1}}
	mfFrag := ip4(layers.IPProtocolUDP)
	mfFrag.Flags = layers.IPv4MoreFragments
	lastFrag := ip4(layers.IPProtocolUDP)
	lastFrag.FragOffset = 5
	greOpt := &layers.GRE{ChecksumPresent: true, KeyPresent: true, Key: 99, Protocol: layers.EthernetTypeIPv6}
	fragOuter := ip4(layers.IPProtocolGRE)
	fragOuter.Flags = layers.IPv4MoreFragments
	greFrag := build(eth(layers.EthernetTypeIPv4), fragOuter, &layers.GRE{Protocol: layers.EthernetTypeIPv4}, gopacket.Payload(body))
	greMPLS := build(concat(outerGRE, ls(&layers.GRE{Protocol: layers.EthernetTypeMPLSUnicast}, gopacket.Payload(body)))...)
	e3unknown := build(concat(outerGRE, ls(gre(greProtoERSPAN3), gopacket.Payload(erspan3Header(11, 0, false, 5)), gopacket.Payload(body)))...)
	icmpQuote := build(ip4Inner(layers.IPProtocolUDP), udp())
	v6noNext := build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolNoNextHeader))
	outerVLAN := ls(eth(layers.EthernetTypeDot1Q), dot1q(999, layers.EthernetTypeIPv4), ip4(layers.IPProtocolGRE))

	return []decodeCase{
		{name: "ethernet ipv4 tcp", data: frameTCP4, want: wantTCP4},
		{name: "tcp options", data: build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpOpts, gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) { p.IPLen += 12 })},
		{name: "ethernet ipv6 udp", data: frameUDP6, want: wantUDP6},
		{name: "vlan 802.1q", data: build(eth(layers.EthernetTypeDot1Q), dot1q(100, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) { p.VLAN = 100 })},
		{name: "qinq 802.1ad outer", data: build(eth(layers.EthernetTypeQinQ), dot1q(200, layers.EthernetTypeDot1Q), dot1q(300, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) { p.VLAN, p.InnerVLAN = 200, 300 })},
		{name: "qinq 802.1q outer", data: build(eth(layers.EthernetTypeDot1Q), dot1q(201, layers.EthernetTypeDot1Q), dot1q(301, layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), gopacket.Payload(body)),
			want: with(wantUDP6, func(p *Packet) { p.VLAN, p.InnerVLAN = 201, 301 })},
		{name: "qinq 0x9100 outer", data: build(eth(0x9100), dot1q(202, layers.EthernetTypeDot1Q), dot1q(302, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) { p.VLAN, p.InnerVLAN = 202, 302 })},
		{name: "three tags", data: build(eth(layers.EthernetTypeQinQ), dot1q(1, layers.EthernetTypeDot1Q), dot1q(2, layers.EthernetTypeDot1Q), dot1q(3, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) { p.VLAN, p.InnerVLAN = 1, 2 })},
		{name: "ipv4 options", data: build(eth(layers.EthernetTypeIPv4), ipOpts, udp(), gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 17, 28+8+16, 5353, 53, 0, 0, 0, 0 // options padded to 8
			})},
		{name: "ipv6 hop-by-hop destination fragment udp",
			data: build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop), hopByHop(layers.IPProtocolIPv6Destination),
				destOpts(layers.IPProtocolIPv6Fragment), &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, MoreFragments: true, Identification: 0xdeadbeef},
				udp(), gopacket.Payload(body)),
			want: with(wantUDP6, func(p *Packet) {
				p.IPLen += 24
				p.Fragment, p.FragMore, p.FragID = true, true, 0xdeadbeef
			})},
		{name: "ipv6 routing header tcp",
			data: build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Routing), gopacket.Payload{6, 0, 4, 0, 0, 0, 0, 0}, tcp(), gopacket.Payload(body)),
			want: with(wantUDP6, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort = 6, 40+8+20+16, 49152, 445
				p.TCPFlags, p.Seq, p.Ack, p.Window = FlagACK|FlagPSH, 1000, 2000, 512
			})},
		{name: "ipv6 non-first fragment",
			data: build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment),
				&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 185, Identification: 77}, gopacket.Payload(body)),
			want: with(wantUDP6, func(p *Packet) {
				p.IPLen, p.SrcPort, p.DstPort = 40+8+16, 0, 0
				p.Fragment, p.FragID, p.FragOffset = true, 77, 1480
			})},
		{name: "ipv4 first fragment", data: build(eth(layers.EthernetTypeIPv4), mfFrag, gopacket.Payload(dgram[:40])),
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 17, 60, 5353, 53, 0, 0, 0, 0
				p.Fragment, p.FragMore, p.Payload, p.PayloadLen = true, true, dgram[8:40], 64
			})},
		{name: "ipv4 non-first fragment", data: build(eth(layers.EthernetTypeIPv4), lastFrag, gopacket.Payload(dgram[40:])),
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 17, 52, 0, 0, 0, 0, 0, 0
				p.Fragment, p.FragOffset, p.Payload, p.PayloadLen = true, 40, dgram[40:], 32
			})},
		{name: "erspan ii", data: build(concat(outerGRE, ls(gre(layers.EthernetTypeERSPAN), erspan2(42, 5), innerEth(layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap, p.ERSPANSession, p.VLAN = EncapGRE|EncapERSPAN2, 5, 42 })},
		{name: "erspan ii tagged inner frame", data: build(concat(outerGRE, ls(gre(layers.EthernetTypeERSPAN), erspan2(42, 5), innerEth(layers.EthernetTypeDot1Q), dot1q(7, layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap, p.ERSPANSession, p.VLAN = EncapGRE|EncapERSPAN2, 5, 7 })},
		{name: "erspan ii tagged outer frame", data: build(concat(outerVLAN, ls(gre(layers.EthernetTypeERSPAN), erspan2(0, 6), innerEth(layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap, p.ERSPANSession = EncapGRE|EncapERSPAN2, 6 })},
		{name: "erspan i", data: build(concat(outerGRE, ls(&layers.GRE{Protocol: layers.EthernetTypeERSPAN}, innerEth(layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap = EncapGRE })},
		{name: "erspan iii", data: build(concat(outerGRE, ls(gre(greProtoERSPAN3), gopacket.Payload(erspan3Header(9, 43, false, 0)), innerEth(layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap, p.ERSPANSession, p.VLAN = EncapGRE|EncapERSPAN3, 9, 43 })},
		{name: "erspan iii subheader", data: build(concat(outerGRE, ls(gre(greProtoERSPAN3), gopacket.Payload(erspan3Header(1023, 44, true, 0)), innerEth(layers.EthernetTypeDot1Q), dot1q(8, layers.EthernetTypeIPv4)), innerTCP4)...),
			want: mirroredInner(func(p *Packet) { p.Encap, p.ERSPANSession, p.VLAN = EncapGRE|EncapERSPAN3, 1023, 8 })},
		{name: "erspan iii ip frame", data: build(concat(outerGRE, ls(gre(greProtoERSPAN3), gopacket.Payload(erspan3Header(10, 0, true, ERSPANFrameIP)), ip6(layers.IPProtocolUDP), udp(), gopacket.Payload(body)))...),
			want: with(wantUDP6, func(p *Packet) {
				p.HasMAC, p.SrcMAC, p.DstMAC, p.EtherType = false, [6]byte{}, [6]byte{}, 0
				p.Encap, p.ERSPANSession = EncapGRE|EncapERSPAN3, 10
			})},
		{name: "erspan iii unknown frame type", data: e3unknown,
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 47, 20+8+12+16, 0, 0, 0, 0, 0, 0
				p.Payload, p.PayloadLen = e3unknown[34:], 8+12+16
			}), hdr: 14 + 20 + 8 + 12},
		{name: "gre ipv4", data: build(concat(outerGRE, ls(&layers.GRE{Protocol: layers.EthernetTypeIPv4}), innerTCP4)...),
			want: with(wantInner, func(p *Packet) {
				p.HasMAC, p.SrcMAC, p.DstMAC, p.EtherType, p.Encap = true, [6]byte(macA), [6]byte(macB), 0x0800, EncapGRE
			})},
		{name: "gre ipv6 checksum key", data: build(concat(outerGRE, ls(greOpt, ip6(layers.IPProtocolUDP), udp(), gopacket.Payload(body)))...),
			want: with(wantUDP6, func(p *Packet) { p.Encap = EncapGRE })},
		{name: "gre transparent ethernet bridging arp", data: build(concat(outerGRE, ls(&layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging}), ls(
			innerEth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: 2, SourceHwAddress: macC, SourceProtAddress: ipC, DstHwAddress: macD, DstProtAddress: ipD}))...),
			want: Packet{HasMAC: true, SrcMAC: [6]byte(macC), DstMAC: [6]byte(macD), EtherType: 0x0806, Encap: EncapGRE, Net: NetARP, Src: addr(ipC), Dst: addr(ipD)},
			hdr:  14 + 20 + 4 + 14 + 28},
		{name: "gre unknown protocol", data: greMPLS,
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 47, 40, 0, 0, 0, 0, 0, 0
				p.Payload, p.PayloadLen = greMPLS[34:54], 20
			}), hdr: 14 + 20 + 4},
		{name: "gre in a fragment", data: greFrag,
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 47, 40, 0, 0, 0, 0, 0, 0
				p.Fragment, p.FragMore, p.Payload, p.PayloadLen = true, true, greFrag[34:54], 20
			}), hdr: 14 + 20 + 4},
		{name: "sll", link: layers.LinkTypeLinuxSLL, data: pcaptest.ToSLL(frameTCP4),
			want: with(wantTCP4, func(p *Packet) { p.HasMAC, p.DstMAC = false, [6]byte{} })},
		{name: "sll vlan", link: layers.LinkTypeLinuxSLL, data: pcaptest.ToSLL(pcaptest.AddVLAN(frameTCP4, 12)),
			want: with(wantTCP4, func(p *Packet) { p.HasMAC, p.DstMAC, p.VLAN = false, [6]byte{}, 12 })},
		{name: "sll2", link: layers.LinkTypeLinuxSLL2, data: pcaptest.ToSLL2(frameUDP6, 4),
			want: with(wantUDP6, func(p *Packet) { p.HasMAC, p.DstMAC = false, [6]byte{} })},
		{name: "raw ipv4", link: layers.LinkTypeRaw, data: frameTCP4[14:], want: rawOf(wantTCP4)},
		{name: "raw ipv6", link: layers.LinkTypeRaw, data: frameUDP6[14:], want: rawOf(wantUDP6)},
		{name: "dlt 12 ipv4", link: 12, data: frameTCP4[14:], want: rawOf(wantTCP4)},
		{name: "dlt 14 ipv6", link: 14, data: frameUDP6[14:], want: rawOf(wantUDP6)},
		{name: "linktype ipv4", link: layers.LinkTypeIPv4, data: frameTCP4[14:], want: rawOf(wantTCP4)},
		{name: "linktype ipv6", link: layers.LinkTypeIPv6, data: frameUDP6[14:], want: rawOf(wantUDP6)},
		{name: "arp", data: arp, want: Packet{HasMAC: true, SrcMAC: [6]byte(macA), EtherType: 0x0806, Net: NetARP, Src: addr(ipA), Dst: addr(ipB)}, hdr: 42},
		{name: "lldp", data: build(eth(layers.EthernetTypeLinkLayerDiscovery), gopacket.Payload{0x02, 0x07, 0x04, 0, 0x11, 0x22, 0x33, 0x44, 0x55}),
			want: Packet{HasMAC: true, SrcMAC: [6]byte(macA), DstMAC: [6]byte(macB), EtherType: 0x88cc, Net: NetOther}, hdr: 14},
		{name: "802.3 llc", data: llc, want: Packet{HasMAC: true, SrcMAC: [6]byte(macA), DstMAC: [6]byte(macB), Net: NetOther}, hdr: 14},
		{name: "icmpv4 echo", data: build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 2}, gopacket.Payload(body)),
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 1, 44, 0, 0, 0, 0, 0, 0
				p.ICMPType = 8
			})},
		{name: "icmpv4 error quoting udp", data: build(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(icmpQuote)),
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 1, 20+8+28, 0, 0, 0, 0, 0, 0
				p.ICMPType, p.ICMPCode, p.Payload, p.PayloadLen = 3, 3, icmpQuote, 28
			})},
		{name: "icmpv6 echo", data: build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, gopacket.Payload(body)),
			want: with(wantUDP6, func(p *Packet) { p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.ICMPType = 58, 60, 0, 0, 128 })},
		{name: "ethernet padding", data: padded,
			want: with(wantTCP4, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 17, 30, 5353, 53, 0, 0, 0, 0
				p.Payload, p.PayloadLen = []byte("hi"), 2
			})},
		{name: "snap length cut payload", data: bigTCP[:14+20+20+10],
			want: with(wantTCP4, func(p *Packet) { p.IPLen, p.Payload, p.PayloadLen = 140, bytes.Repeat([]byte{'x'}, 10), 100 })},
		{name: "ipv4 total length 0 (tso)", data: tso, want: wantTCP4, hdr: -1},
		{name: "ipv6 no next header", data: v6noNext,
			want: with(wantUDP6, func(p *Packet) {
				p.Proto, p.IPLen, p.SrcPort, p.DstPort, p.Payload, p.PayloadLen = 59, 40, 0, 0, nil, 0
			})},
	}
}

func rawOf(p Packet) Packet {
	p.HasMAC, p.SrcMAC, p.DstMAC, p.EtherType = false, [6]byte{}, [6]byte{}, 0
	return p
}

func errorCases() []decodeCase {
	badVersion := patch(frameTCP4, 14, 0x65)
	withOption := build(eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 6, TTL: 1, Protocol: 17, SrcIP: ipA, DstIP: ipB,
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 4, OptionData: []byte{0, 0}}}}, udp())
	return []decodeCase{
		{name: "unknown link type", link: layers.LinkTypeIEEE802_11, data: frameTCP4[14:], err: ErrUnsupportedLink},
		{name: "link type 9999", link: 9999, data: frameTCP4, err: ErrUnsupportedLink},
		{name: "empty raw", link: layers.LinkTypeRaw, data: nil, err: ErrTruncated},
		{name: "raw version 5", link: layers.LinkTypeRaw, data: patch(frameTCP4[14:], 0, 0x55), err: ErrMalformed},
		{name: "ipv4 version 6", data: badVersion, err: ErrMalformed},
		{name: "linktype ipv4 with ipv6", link: layers.LinkTypeIPv4, data: frameUDP6[14:], err: ErrMalformed},
		{name: "ipv6 version 4", data: patch(frameUDP6, 14, 0x40), err: ErrMalformed},
		{name: "ipv4 ihl 4", data: patch(frameTCP4, 14, 0x44), err: ErrMalformed},
		{name: "ipv4 ihl past total length", data: put16(patch(frameTCP4, 14, 0x4f), 16, 40), err: ErrMalformed},
		{name: "ipv4 total length below header", data: put16(frameTCP4, 16, 19), err: ErrMalformed},
		{name: "ipv4 option length 1", data: patch(withOption, 14+21, 1), err: ErrMalformed},
		{name: "ipv4 option past header", data: patch(withOption, 14+21, 9), err: ErrMalformed},
		{name: "ipv4 tcp without room", data: append(put16(frameTCP4[:34], 16, 20), make([]byte, 26)...), err: ErrMalformed},
		{name: "tcp data offset 4", data: patch(frameTCP4, 14+20+12, 0x40), err: ErrMalformed},
		{name: "tcp data offset past ip", data: patch(frameTCP4, 14+20+12, 0xf0), err: ErrMalformed},
		{name: "tiny first fragment", data: build(eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, Flags: layers.IPv4MoreFragments, Protocol: 6, SrcIP: ipA, DstIP: ipB},
			gopacket.Payload(frameTCP4[34:46])), err: ErrMalformed},
		{name: "udp length 7", data: put16(frameUDP6, 14+40+4, 7), err: ErrMalformed},
		{name: "udp length past ip", data: put16(frameUDP6, 14+40+4, 25), err: ErrMalformed},
		{name: "ipv6 extension past payload length", data: build(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Destination), gopacket.Payload{17, 2, 1, 0, 0, 0, 0, 0}), err: ErrMalformed},
		{name: "erspan ii version 3", data: build(concat(outerGRE, ls(gre(layers.EthernetTypeERSPAN), &layers.ERSPANII{Version: 3}, innerEth(layers.EthernetTypeIPv4)), innerTCP4)...), err: ErrMalformed},
		{name: "erspan iii version 1", data: build(concat(outerGRE, ls(gre(greProtoERSPAN3), gopacket.Payload(patch(erspan3Header(1, 0, false, 0), 0, 0x10)), innerEth(layers.EthernetTypeIPv4)), innerTCP4)...), err: ErrMalformed},
		{name: "inner ipv4 cut by the outer length", data: put16(build(concat(outerGRE, ls(&layers.GRE{Protocol: layers.EthernetTypeIPv4}), innerTCP4)...), 16, 20+4+10), err: ErrTruncated},
	}
}

// samePacket compares two Packets, Payload by content.
func samePacket(t *testing.T, got, want *Packet) {
	t.Helper()
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("Payload = %q, want %q", got.Payload, want.Payload)
	}
	g, w := *got, *want
	g.Payload, w.Payload = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("decoded\n got %+v\nwant %+v", g, w)
	}
}

func linkOr(l layers.LinkType) layers.LinkType {
	if l == 0 {
		return layers.LinkTypeEthernet
	}
	return l
}

func TestDecode(t *testing.T) {
	d := New()
	for _, tc := range append(validCases(), errorCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			// A dirty Packet proves Decode resets every field.
			p := Packet{HasMAC: true, VLAN: 9, Encap: EncapERSPAN3, Src: addr(ipD), SrcPort: 1, Fragment: true, Payload: []byte("old"), PayloadLen: 99}
			err := d.Decode(tc.data, linkOr(tc.link), &p)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Decode = %v, want %v", err, tc.err)
			}
			if tc.err == nil {
				samePacket(t, &p, &tc.want)
			}
		})
	}
}

// payloadOffset is where sub starts in data, when sub is a slice of it.
func payloadOffset(data, sub []byte) int { return cap(data) - cap(sub) }

// TestTruncationSweep cuts every valid frame at every length: a cut
// inside the headers is ErrTruncated, a cut in the payload is no error
// and shortens Payload only.
func TestTruncationSweep(t *testing.T) {
	d := New()
	for _, tc := range validCases() {
		if tc.hdr < 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var full Packet
			if err := d.Decode(tc.data, linkOr(tc.link), &full); err != nil {
				t.Fatal(err)
			}
			hdr, off := tc.hdr, tc.hdr
			if full.Payload != nil {
				off = payloadOffset(tc.data, full.Payload)
				if hdr == 0 {
					hdr = off
				}
			}
			for n := range len(tc.data) + 1 {
				var p Packet
				err := d.Decode(tc.data[:n], linkOr(tc.link), &p)
				if n < hdr {
					if err != ErrTruncated {
						t.Fatalf("cut at %d of %d header bytes: %v, want ErrTruncated", n, hdr, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut at %d (headers end at %d): %v", n, hdr, err)
				}
				want := full
				want.Payload = full.Payload[:max(0, min(len(full.Payload), n-off))]
				samePacket(t, &p, &want)
				if t.Failed() {
					t.Fatalf("cut at %d", n)
				}
			}
		})
	}
}

func TestCounters(t *testing.T) {
	d := New()
	var p Packet
	frames := []struct {
		link layers.LinkType
		data []byte
	}{
		{layers.LinkTypeEthernet, frameTCP4},
		{layers.LinkTypeEthernet, frameUDP6},
		{layers.LinkTypeEthernet, build(eth(layers.EthernetTypeLinkLayerDiscovery), gopacket.Payload(body))},
		{layers.LinkTypeEthernet, pcaptest.ToERSPAN2(frameTCP4, 1)},
		{layers.LinkTypeEthernet, pcaptest.ToERSPAN3(frameUDP6, 2, true)},
		{layers.LinkTypeEthernet, frameTCP4[:20]},
		{layers.LinkTypeEthernet, patch(frameTCP4, 14, 0x44)},
		{layers.LinkTypeNull, frameTCP4},
	}
	for _, f := range frames {
		_ = d.Decode(f.data, f.link, &p)
	}
	want := Counters{
		Packets: 8, Decoded: 5, Truncated: 1, Malformed: 1, UnsupportedLink: 1,
		NonIP: 1, IPv4: 2, IPv6: 2, GRE: 2, ERSPAN2: 1, ERSPAN3: 1,
	}
	if d.Counters != want {
		t.Errorf("Counters\n got %+v\nwant %+v", d.Counters, want)
	}
}

func TestERSPANIIILayer(t *testing.T) {
	h := erspan3Header(0x155, 0xabc, true, 0)
	var e ERSPANIII
	if err := e.DecodeFromBytes(append(h, frameTCP4...), gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	want := ERSPANIII{
		BaseLayer: layers.BaseLayer{Contents: h, Payload: frameTCP4}, Version: 2, VLANIdentifier: 0xabc,
		SessionID: 0x155, Timestamp: 0x5eed1234, HardwareID: 1, Granularity: 1, HasSubheader: true,
		PlatformID: 3, PlatformInfo: 7<<32 | 1,
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("decoded\n got %+v\nwant %+v", e, want)
	}
	if e.NextLayerType() != layers.LayerTypeEthernet {
		t.Errorf("next layer %v", e.NextLayerType())
	}
	// gopacket.NewPacket reaches the layer through its registered type.
	pkt := gopacket.NewPacket(append(h, frameTCP4...), LayerTypeERSPANIII, gopacket.Default)
	if pkt.Layer(LayerTypeERSPANIII) == nil || pkt.Layer(layers.LayerTypeTCP) == nil {
		t.Errorf("NewPacket layers %v", pkt.Layers())
	}
	for n := range erspan3HeaderLen + erspan3SubheaderLen {
		if err := e.DecodeFromBytes(h[:n], gopacket.NilDecodeFeedback); err != ErrTruncated {
			t.Errorf("%d bytes: %v, want ErrTruncated", n, err)
		}
	}
}
