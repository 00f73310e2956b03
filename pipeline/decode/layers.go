package decode

// The DecodingLayers the Decoder's parsers walk. Each wraps a gopacket
// layer value and adds three things gopacket leaves out:
//
//   - bounds checks before the gopacket decode, so that a short or
//     impossible header becomes ErrTruncated or ErrMalformed without
//     gopacket building (allocating) an error of its own;
//   - a NextLayerType limited to the layers this package decodes, with
//     layerEnd for everything else, so the parser stops where the Packet
//     contract stops (no GUE or VXLAN from UDP ports, no IP-in-IP);
//   - the copy of the fields the Packet needs into the Decoder's state.
//
// IPv6 and TCP read their fixed headers themselves into the gopacket
// values: gopacket's IPv6 allocates one struct per hop-by-hop option and
// its TCP allocates for MPTCP options, and the Packet needs neither.

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const (
	// layerEnd ends the walk: it is gopacket.LayerTypeZero, for which no
	// decoder is registered.
	layerEnd gopacket.LayerType = 0
	// etherTypeQinQOld is the pre-802.1ad service tag still sent by some
	// switches; it is read like 802.1Q.
	etherTypeQinQOld layers.EthernetType = 0x9100
	// greProtoERSPAN3 is the GRE protocol type of ERSPAN type III.
	greProtoERSPAN3 layers.EthernetType = 0x22EB
	// arphrdEther is the Linux ARPHRD_ETHER hardware type.
	arphrdEther = 1
)

// ethernetLayer is an Ethernet II or 802.3 header, outer or inner.
type ethernetLayer struct {
	layers.Ethernet
	next gopacket.LayerType
	st   *state
}

func (l *ethernetLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 14 {
		return ErrTruncated
	}
	if err := l.Ethernet.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st := l.st
	st.commit()
	st.p.HasMAC = true
	st.p.DstMAC = [6]byte(data[0:6])
	st.p.SrcMAC = [6]byte(data[6:12])
	l.next = st.etherNext(binary.BigEndian.Uint16(data[12:14]))
	return st.needNext(l.next, l.Payload, -1)
}

func (l *ethernetLayer) NextLayerType() gopacket.LayerType { return l.next }

// vlanLayer decodes every 802.1Q/802.1ad tag of a frame: the outer one
// into Packet.VLAN, the second into Packet.InnerVLAN. Deeper tags are
// walked but not reported.
type vlanLayer struct {
	tags [3]layers.Dot1Q // outer, inner, any deeper one
	last *layers.Dot1Q
	next gopacket.LayerType
	st   *state
}

func (l *vlanLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 4 {
		return ErrTruncated
	}
	st := l.st
	t := &l.tags[min(st.tags, len(l.tags)-1)]
	if err := t.DecodeFromBytes(data, df); err != nil {
		return err
	}
	l.last = t
	switch st.tags {
	case 0:
		st.p.VLAN = t.VLANIdentifier
	case 1:
		st.p.InnerVLAN = t.VLANIdentifier
	}
	st.tags++
	l.next = st.etherNext(binary.BigEndian.Uint16(data[2:4]))
	return st.needNext(l.next, t.Payload, -1)
}

func (l *vlanLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypeDot1Q }
func (l *vlanLayer) NextLayerType() gopacket.LayerType { return l.next }
func (l *vlanLayer) LayerPayload() []byte              { return l.last.Payload }

// sllLayer is a Linux cooked capture (v1) header. It has the source
// link-layer address only: HasMAC stays false and SrcMAC is filled when
// the address is a 6-byte Ethernet one.
type sllLayer struct {
	layers.LinuxSLL
	next gopacket.LayerType
	st   *state
}

func (l *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 {
		return ErrTruncated
	}
	if err := l.LinuxSLL.DecodeFromBytes(data, df); err != nil {
		// gopacket rejects address lengths over 8, which libpcap writes
		// for longer addresses (keeping their first 8 bytes). The rest of
		// the header is still good.
		l.LinuxSLL = layers.LinuxSLL{
			BaseLayer:    layers.BaseLayer{Contents: data[:16], Payload: data[16:]},
			PacketType:   layers.LinuxSLLPacketType(binary.BigEndian.Uint16(data[0:2])),
			AddrType:     binary.BigEndian.Uint16(data[2:4]),
			AddrLen:      binary.BigEndian.Uint16(data[4:6]),
			Addr:         data[6:14],
			EthernetType: layers.EthernetType(binary.BigEndian.Uint16(data[14:16])),
		}
	}
	st := l.st
	if l.AddrType == arphrdEther && l.AddrLen == 6 {
		st.p.SrcMAC = [6]byte(data[6:12])
	}
	l.next = st.etherNext(uint16(l.EthernetType))
	return st.needNext(l.next, l.Payload, -1)
}

func (l *sllLayer) NextLayerType() gopacket.LayerType { return l.next }

// sll2Layer is a Linux cooked capture v2 header; see sllLayer.
type sll2Layer struct {
	layers.LinuxSLL2
	next gopacket.LayerType
	st   *state
}

func (l *sll2Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 {
		return ErrTruncated
	}
	if err := l.LinuxSLL2.DecodeFromBytes(data, df); err != nil {
		// As for v1: an address length over 8 is legal.
		l.LinuxSLL2 = layers.LinuxSLL2{
			BaseLayer:       layers.BaseLayer{Contents: data[:20], Payload: data[20:]},
			ProtocolType:    layers.EthernetType(binary.BigEndian.Uint16(data[0:2])),
			InterfaceIndex:  binary.BigEndian.Uint32(data[4:8]),
			ARPHardwareType: layers.ARPHardwareType(binary.BigEndian.Uint16(data[8:10])),
			PacketType:      layers.LinuxSLL2PacketType(data[10]),
			AddrLength:      data[11],
			Addr:            data[12:20],
		}
	}
	st := l.st
	if l.ARPHardwareType == arphrdEther && l.AddrLength == 6 {
		st.p.SrcMAC = [6]byte(data[12:18])
	}
	switch l.ARPHardwareType {
	case layers.ARPHardwareTypeFRAD, layers.ARPHardwareTypeDot11Radiotap:
		// The protocol field means nothing for these.
		l.next = layerEnd
	default:
		l.next = st.etherNext(uint16(l.ProtocolType))
	}
	return st.needNext(l.next, l.Payload, -1)
}

func (l *sll2Layer) NextLayerType() gopacket.LayerType { return l.next }

// arpLayer is an ARP body: Src/Dst and SrcMAC/DstMAC become the sender
// and target addresses.
type arpLayer struct {
	layers.ARP
	st *state
}

func (l *arpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		return ErrTruncated
	}
	hw, pr := int(data[4]), int(data[5])
	if len(data) < 8+2*hw+2*pr {
		return ErrTruncated
	}
	if err := l.ARP.DecodeFromBytes(data, df); err != nil {
		return err
	}
	p := &l.st.p
	p.Net = NetARP
	if pr == 4 {
		p.Src = netip.AddrFrom4([4]byte(l.SourceProtAddress))
		p.Dst = netip.AddrFrom4([4]byte(l.DstProtAddress))
	}
	if hw == 6 {
		p.SrcMAC = [6]byte(l.SourceHwAddress)
		p.DstMAC = [6]byte(l.DstHwAddress)
	}
	return nil
}

func (l *arpLayer) NextLayerType() gopacket.LayerType { return layerEnd }

// LayerPayload is empty: what follows an ARP body is Ethernet padding.
func (l *arpLayer) LayerPayload() []byte { return nil }

// ipv4Layer is an IPv4 header, outer or inner.
type ipv4Layer struct {
	layers.IPv4
	next gopacket.LayerType
	st   *state
}

func (l *ipv4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 {
		return ErrTruncated
	}
	if data[0]>>4 != 4 {
		return ErrMalformed
	}
	hl := int(data[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(data[2:4]))
	switch {
	case hl < 20:
		return ErrMalformed
	case total != 0 && total < hl:
		return ErrMalformed
	case len(data) < hl:
		return ErrTruncated
	case !validIPv4Options(data[20:hl]):
		return ErrMalformed
	}
	if total == 0 {
		// TCP segmentation offload captured before the NIC: the length
		// is left for the hardware to fill. gopacket's rule: use what
		// was captured.
		total = len(data)
	}
	if err := l.IPv4.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st := l.st
	st.commit()
	p := &st.p
	p.Net = NetIPv4
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	p.Proto = data[9]
	p.TTL = data[8]
	p.IPLen = total
	ff := binary.BigEndian.Uint16(data[6:8])
	off := ff & 0x1fff
	p.FragMore = ff&0x2000 != 0
	p.Fragment = p.FragMore || off != 0
	p.FragID = uint32(binary.BigEndian.Uint16(data[4:6]))
	p.FragOffset = off * 8
	st.l3Remain = total - hl
	p.Payload = l.Payload
	p.PayloadLen = st.l3Remain
	l.next = layerEnd
	if off == 0 {
		l.next = ipNext(p.Proto, false)
	}
	return st.needNext(l.next, l.Payload, st.l3Remain)
}

func (l *ipv4Layer) NextLayerType() gopacket.LayerType { return l.next }

// validIPv4Options reports whether the options area parses the way
// gopacket will parse it (RFC 791 3.1: type 0 ends the list, type 1 is
// one byte, any other has a length of at least 2 that fits).
func validIPv4Options(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return true
		case 1:
			opts = opts[1:]
		default:
			if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// ipv6Layer is an IPv6 fixed header, outer or inner. Extension headers
// (hop-by-hop included) are separate layers.
type ipv6Layer struct {
	layers.IPv6
	next gopacket.LayerType
	st   *state
}

func (l *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		return ErrTruncated
	}
	if data[0]>>4 != 6 {
		return ErrMalformed
	}
	plen := binary.BigEndian.Uint16(data[4:6])
	nh := data[6]
	declared := int(plen)
	if plen == 0 && layers.IPProtocol(nh) != layers.IPProtocolNoNextHeader {
		// A jumbogram (its length is in a hop-by-hop option) or a
		// segmentation-offload capture: the capture is the only length.
		declared = len(data) - 40
	}
	end := min(40+declared, len(data))
	l.IPv6 = layers.IPv6{
		BaseLayer:    layers.BaseLayer{Contents: data[:40], Payload: data[40:end]},
		Version:      6,
		TrafficClass: uint8(binary.BigEndian.Uint16(data[0:2]) >> 4),
		FlowLabel:    binary.BigEndian.Uint32(data[0:4]) & 0x000fffff,
		Length:       plen,
		NextHeader:   layers.IPProtocol(nh),
		HopLimit:     data[7],
		SrcIP:        data[8:24],
		DstIP:        data[24:40],
	}
	st := l.st
	st.commit()
	p := &st.p
	p.Net = NetIPv6
	p.Src = netip.AddrFrom16([16]byte(data[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	p.Proto = nh
	p.TTL = data[7]
	p.IPLen = 40 + declared
	st.l3Remain = declared
	p.Payload = l.Payload
	p.PayloadLen = declared
	l.next = ipNext(nh, true)
	return st.needNext(l.next, l.Payload, declared)
}

func (l *ipv6Layer) NextLayerType() gopacket.LayerType { return l.next }

// ipv6ExtLayer walks the hop-by-hop, routing and destination options
// headers (all (len+1)*8 bytes long).
type ipv6ExtLayer struct {
	layers.IPv6ExtensionSkipper
	class gopacket.LayerClass // hop-by-hop, routing, destination options
	next  gopacket.LayerType
	st    *state
}

func (l *ipv6ExtLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(2, len(data)); err != nil {
		return err
	}
	n := (int(data[1]) + 1) * 8
	if err := st.check(n, len(data)); err != nil {
		return err
	}
	if err := l.IPv6ExtensionSkipper.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st.l3Remain -= n
	p := &st.p
	p.Proto = data[0]
	p.Payload = l.Payload
	p.PayloadLen = st.l3Remain
	l.next = ipNext(data[0], true)
	return st.needNext(l.next, l.Payload, st.l3Remain)
}

func (l *ipv6ExtLayer) CanDecode() gopacket.LayerClass    { return l.class }
func (l *ipv6ExtLayer) NextLayerType() gopacket.LayerType { return l.next }

// ipv6FragLayer is the IPv6 fragment header. Only a first fragment
// (offset 0) carries the transport header.
type ipv6FragLayer struct {
	layers.IPv6Fragment
	next gopacket.LayerType
	st   *state
}

func (l *ipv6FragLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(8, len(data)); err != nil {
		return err
	}
	if err := l.IPv6Fragment.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st.l3Remain -= 8
	p := &st.p
	p.Proto = data[0]
	p.Fragment = true
	p.FragID = l.Identification
	p.FragOffset = l.FragmentOffset * 8
	p.FragMore = l.MoreFragments
	p.Payload = l.Payload
	p.PayloadLen = st.l3Remain
	l.next = layerEnd
	if l.FragmentOffset == 0 {
		l.next = ipNext(data[0], true)
	}
	return st.needNext(l.next, l.Payload, st.l3Remain)
}

func (l *ipv6FragLayer) NextLayerType() gopacket.LayerType { return l.next }

// tcpLayer is a TCP header; options are skipped, not parsed.
type tcpLayer struct {
	layers.TCP
	st *state
}

func (l *tcpLayer) DecodeFromBytes(data []byte, _ gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(20, len(data)); err != nil {
		return err
	}
	doff := int(data[12]>>4) * 4
	if doff < 20 {
		return ErrMalformed
	}
	if err := st.check(doff, len(data)); err != nil {
		return err
	}
	flags := data[13]
	t := &l.TCP
	t.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(data[0:2]))
	t.DstPort = layers.TCPPort(binary.BigEndian.Uint16(data[2:4]))
	t.Seq = binary.BigEndian.Uint32(data[4:8])
	t.Ack = binary.BigEndian.Uint32(data[8:12])
	t.DataOffset = data[12] >> 4
	t.NS = data[12]&0x01 != 0
	t.FIN = flags&FlagFIN != 0
	t.SYN = flags&FlagSYN != 0
	t.RST = flags&FlagRST != 0
	t.PSH = flags&FlagPSH != 0
	t.ACK = flags&FlagACK != 0
	t.URG = flags&FlagURG != 0
	t.ECE = flags&FlagECE != 0
	t.CWR = flags&FlagCWR != 0
	t.Window = binary.BigEndian.Uint16(data[14:16])
	t.Checksum = binary.BigEndian.Uint16(data[16:18])
	t.Urgent = binary.BigEndian.Uint16(data[18:20])
	t.Options = t.Options[:0]
	t.Padding = nil
	t.BaseLayer = layers.BaseLayer{Contents: data[:doff], Payload: data[doff:]}

	p := &st.p
	p.SrcPort = uint16(t.SrcPort)
	p.DstPort = uint16(t.DstPort)
	p.TCPFlags = flags
	p.Seq = t.Seq
	p.Ack = t.Ack
	p.Window = t.Window
	p.Payload = t.Payload
	p.PayloadLen = st.l3Remain - doff
	return nil
}

func (l *tcpLayer) NextLayerType() gopacket.LayerType { return layerEnd }

// udpLayer is a UDP header. PayloadLen comes from the UDP length.
type udpLayer struct {
	layers.UDP
	st *state
}

func (l *udpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(8, len(data)); err != nil {
		return err
	}
	p := &st.p
	ulen := int(binary.BigEndian.Uint16(data[4:6]))
	switch {
	case ulen == 0:
		// RFC 2675 jumbogram: the IP length is the only length.
		ulen = st.l3Remain
	case ulen < 8:
		return ErrMalformed
	case ulen > st.l3Remain && !p.Fragment:
		// A first fragment carries the whole datagram's length.
		return ErrMalformed
	}
	if err := l.UDP.DecodeFromBytes(data, df); err != nil {
		return err
	}
	p.SrcPort = uint16(l.SrcPort)
	p.DstPort = uint16(l.DstPort)
	p.Payload = data[8:min(ulen, len(data))]
	p.PayloadLen = ulen - 8
	return nil
}

func (l *udpLayer) NextLayerType() gopacket.LayerType { return layerEnd }

// icmpv4Layer is an ICMPv4 header (8 bytes, whatever the type).
type icmpv4Layer struct {
	layers.ICMPv4
	st *state
}

func (l *icmpv4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(8, len(data)); err != nil {
		return err
	}
	if err := l.ICMPv4.DecodeFromBytes(data, df); err != nil {
		return err
	}
	p := &st.p
	p.ICMPType = data[0]
	p.ICMPCode = data[1]
	p.Payload = l.Payload
	p.PayloadLen = st.l3Remain - 8
	return nil
}

func (l *icmpv4Layer) NextLayerType() gopacket.LayerType { return layerEnd }

// icmpv6Layer is an ICMPv6 header (type, code, checksum: 4 bytes).
type icmpv6Layer struct {
	layers.ICMPv6
	st *state
}

func (l *icmpv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(4, len(data)); err != nil {
		return err
	}
	if err := l.ICMPv6.DecodeFromBytes(data, df); err != nil {
		return err
	}
	p := &st.p
	p.ICMPType = data[0]
	p.ICMPCode = data[1]
	p.Payload = l.Payload
	p.PayloadLen = st.l3Remain - 4
	return nil
}

func (l *icmpv6Layer) NextLayerType() gopacket.LayerType { return layerEnd }

// greLayer is a GRE header. It decapsulates IPv4, IPv6, transparent
// Ethernet bridging and ERSPAN types I, II and III; anything else (and
// GRE inside a fragment, and the deprecated RFC 1701 routing or version
// 1 PPTP headers) ends the walk and the Packet describes the outer
// packet.
type greLayer struct {
	layers.GRE
	payload []byte
	next    gopacket.LayerType
	st      *state
}

func (l *greLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(4, len(data)); err != nil {
		return err
	}
	l.next, l.payload = layerEnd, nil
	if data[0]&0x40 != 0 || data[1]&0x07 != 0 || st.p.Fragment {
		return nil
	}
	hl := 4
	for _, bit := range [...]byte{0x80, 0x20, 0x10} { // checksum, key, sequence
		if data[0]&bit != 0 {
			hl += 4
		}
	}
	if err := st.check(hl, len(data)); err != nil {
		return err
	}
	if err := l.GRE.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st.l3Remain -= hl
	l.payload = data[hl:]
	pe := pending{active: true, encap: EncapGRE, resetLink: true}
	switch l.Protocol {
	case layers.EthernetTypeIPv4:
		l.next = layers.LayerTypeIPv4
	case layers.EthernetTypeIPv6:
		l.next = layers.LayerTypeIPv6
	case layers.EthernetTypeTransparentEthernetBridging:
		l.next = layers.LayerTypeEthernet
	case layers.EthernetTypeERSPAN:
		// Type II has a sequence number and a header, type I neither
		// (Wireshark's rule: the S bit decides).
		l.next = layers.LayerTypeEthernet
		if l.SeqPresent {
			l.next = layers.LayerTypeERSPANII
		}
	case greProtoERSPAN3:
		l.next = LayerTypeERSPANIII
	default:
		return nil
	}
	if l.next == layers.LayerTypeIPv4 || l.next == layers.LayerTypeIPv6 {
		pe.resetLink = false
		pe.etherType = uint16(l.Protocol)
	}
	st.pend = pe
	return st.needNext(l.next, l.payload, st.l3Remain)
}

func (l *greLayer) NextLayerType() gopacket.LayerType { return l.next }
func (l *greLayer) LayerPayload() []byte              { return l.payload }

// erspanIILayer is an ERSPAN type II header; an Ethernet frame follows.
type erspanIILayer struct {
	layers.ERSPANII
	st *state
}

func (l *erspanIILayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(8, len(data)); err != nil {
		return err
	}
	if v := data[0] >> 4; v != layers.ERSPANIIVersion && v != layers.ERSPANIIVersionObsolete {
		return ErrMalformed
	}
	if err := l.ERSPANII.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st.l3Remain -= 8
	st.pend.encap |= EncapERSPAN2
	st.pend.erspan = true
	st.pend.session = l.SessionID
	st.pend.vlan = l.VLANIdentifier
	return st.needNext(layers.LayerTypeEthernet, l.Payload, st.l3Remain)
}

func (l *erspanIILayer) NextLayerType() gopacket.LayerType { return layers.LayerTypeEthernet }

// erspanIIILayer is an ERSPAN type III header; an Ethernet frame or an IP
// packet follows, as the frame type says.
type erspanIIILayer struct {
	ERSPANIII
	next gopacket.LayerType
	st   *state
}

func (l *erspanIIILayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	st := l.st
	if err := st.check(erspan3HeaderLen, len(data)); err != nil {
		return err
	}
	hl := erspan3HeaderLen
	if data[11]&0x01 != 0 {
		hl += erspan3SubheaderLen
	}
	if err := st.check(hl, len(data)); err != nil {
		return err
	}
	if err := l.ERSPANIII.DecodeFromBytes(data, df); err != nil {
		return err
	}
	st.l3Remain -= hl
	l.next = l.ERSPANIII.NextLayerType()
	if l.FrameType == ERSPANFrameIP && len(l.Payload) == 0 {
		l.next = layers.LayerTypeIPv4 // announced, but cut: ErrTruncated below
	}
	switch l.next {
	case layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeIPv6:
	default:
		l.next = layerEnd
		st.pend = pending{}
		return nil
	}
	st.pend.encap |= EncapERSPAN3
	st.pend.erspan = true
	st.pend.session = l.SessionID
	st.pend.vlan = l.VLANIdentifier
	return st.needNext(l.next, l.Payload, st.l3Remain)
}

func (l *erspanIIILayer) NextLayerType() gopacket.LayerType { return l.next }
