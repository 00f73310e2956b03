package decode

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Counters counts the frames a Decoder has seen, by outcome and by kind.
// The fields are plain integers: the Decoder's single owner reads them
// directly, and hands copies to other goroutines if it must.
type Counters struct {
	Packets uint64 // frames passed to Decode
	Decoded uint64 // Decode returned nil

	// Errors by reason; Truncated + Malformed + UnsupportedLink + Decoded
	// == Packets.
	Truncated       uint64 // ErrTruncated
	Malformed       uint64 // ErrMalformed
	UnsupportedLink uint64 // ErrUnsupportedLink
	// Unexpected counts the Malformed frames on which a gopacket layer
	// failed (or panicked) although the decoder's own checks had passed.
	// It should stay 0; a non-zero value is a bug worth a crasher file.
	Unexpected uint64

	// Kinds, counted on decoded frames only (after decapsulation, so they
	// describe the inner frame).
	NonIP     uint64 // network layer neither IPv4 nor IPv6 (ARP included)
	ARP       uint64
	IPv4      uint64
	IPv6      uint64
	Fragments uint64 // IPv4 or IPv6 fragments (Packet.Fragment)
	GRE       uint64 // frames decapsulated from GRE (ERSPAN included)
	ERSPAN2   uint64 // frames decapsulated from ERSPAN type II
	ERSPAN3   uint64 // frames decapsulated from ERSPAN type III
}

// first-layer parsers, one per kind of link.
const (
	firstEthernet = iota
	firstSLL
	firstSLL2
	firstIPv4
	firstIPv6
	numFirst
)

// Decoder decodes frames into Packets. Build one with New; it is owned by
// one goroutine (one pipeline worker) and is not safe for concurrent use.
type Decoder struct {
	// Counters is updated by every Decode call.
	Counters Counters

	// One DecodingLayerParser per first layer, all sharing one container
	// of the preallocated layers below.
	parsers [numFirst]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	eth     ethernetLayer
	sll     sllLayer
	sll2    sll2Layer
	vlan    vlanLayer
	arp     arpLayer
	ip4     ipv4Layer
	ip6     ipv6Layer
	ext     ipv6ExtLayer
	frag    ipv6FragLayer
	tcp     tcpLayer
	udp     udpLayer
	icmp4   icmpv4Layer
	icmp6   icmpv6Layer
	gre     greLayer
	erspan2 erspanIILayer
	erspan3 erspanIIILayer

	st state

	// gopacketOnly turns decodeFast off, so that tests can compare the
	// two paths.
	gopacketOnly bool
}

// state is the per-frame scratch the layers fill while the parser walks
// the frame. Decode resets it before every frame.
type state struct {
	p Packet
	// l3Remain is the number of bytes the innermost IP header declares
	// after the headers decoded so far. It separates "cut by the snap
	// length" (ErrTruncated) from "contradicts the IP length"
	// (ErrMalformed).
	l3Remain int
	// tags counts the VLAN tags of the innermost Ethernet header.
	tags int
	// pend is a decapsulation announced by GRE or ERSPAN, applied by the
	// first layer of the inner frame (commit). When decoding stops before
	// an inner layer, the Packet keeps describing the outer frame.
	pend pending
	// erspanVLAN is the VLAN field of the ERSPAN header of the frame being
	// described, used when the mirrored frame itself is untagged.
	erspanVLAN uint16
}

type pending struct {
	active    bool
	encap     Encap
	resetLink bool   // the inner frame brings its own link layer (or none)
	etherType uint16 // GRE protocol, for IP directly in GRE
	erspan    bool
	session   uint16
	vlan      uint16
}

// New returns a Decoder with all its layers allocated.
func New() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 32)}
	st := &d.st
	d.eth.st = st
	d.sll.st = st
	d.sll2.st = st
	d.vlan.st = st
	d.arp.st = st
	d.ip4.st = st
	d.ip6.st = st
	d.ext.st = st
	d.frag.st = st
	d.tcp.st = st
	d.udp.st = st
	d.icmp4.st = st
	d.icmp6.st = st
	d.gre.st = st
	d.erspan2.st = st
	d.erspan3.st = st
	// gopacket grows these on first use; room for the largest possible
	// header (40 option bytes of one byte each) keeps Decode allocation-free.
	d.ip4.Options = make([]layers.IPv4Option, 0, 40)
	d.tcp.Options = make([]layers.TCPOption, 0, 40)
	// Fragment headers have their own layer; the skipper takes the rest.
	d.ext.class = gopacket.NewLayerClass([]gopacket.LayerType{
		layers.LayerTypeIPv6HopByHop,
		layers.LayerTypeIPv6Routing,
		layers.LayerTypeIPv6Destination,
	})

	// An array container searched in order, most frequent layers first,
	// halves the decoding time of gopacket's default map (BenchmarkDecode).
	var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerArray(nil)
	for _, l := range []gopacket.DecodingLayer{
		&d.ip4, &d.tcp, &d.eth, &d.udp, &d.ip6, &d.vlan, &d.arp,
		&d.icmp4, &d.icmp6, &d.ext, &d.frag, &d.gre, &d.erspan2, &d.erspan3,
		&d.sll, &d.sll2,
	} {
		dlc = dlc.Put(l)
	}
	firsts := [numFirst]gopacket.LayerType{
		firstEthernet: layers.LayerTypeEthernet,
		firstSLL:      layers.LayerTypeLinuxSLL,
		firstSLL2:     layers.LayerTypeLinuxSLL2,
		firstIPv4:     layers.LayerTypeIPv4,
		firstIPv6:     layers.LayerTypeIPv6,
	}
	for i, first := range firsts {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		d.parsers[i] = p
	}
	return d
}

// Decode decodes one frame of the given link type into *p, which it
// resets first. It returns nil, ErrTruncated, ErrMalformed or
// ErrUnsupportedLink, never another error and never an allocated one.
//
// On success every field of *p describes the frame (the inner frame when
// it arrived in GRE or ERSPAN). On error *p holds what the headers before
// the failing one said; use it for accounting only. p.Payload aliases
// data: it is valid as long as data is, and Decode never writes to data.
func (d *Decoder) Decode(data []byte, link layers.LinkType, p *Packet) error {
	d.Counters.Packets++
	if link == layers.LinkTypeEthernet && !d.gopacketOnly && decodeFast(data, p) {
		d.Counters.Decoded++
		d.Counters.IPv4++
		return nil
	}
	d.st = state{}
	var first int
	switch link {
	case layers.LinkTypeEthernet:
		first = firstEthernet
	case layers.LinkTypeLinuxSLL:
		first = firstSLL
	case layers.LinkTypeLinuxSLL2:
		first = firstSLL2
	case layers.LinkTypeIPv4:
		first = firstIPv4
	case layers.LinkTypeIPv6:
		first = firstIPv6
	case layers.LinkTypeRaw, layers.LinkType(12), layers.LinkType(14):
		if len(data) == 0 {
			*p = Packet{}
			return d.fail(ErrTruncated)
		}
		switch data[0] >> 4 {
		case 4:
			first = firstIPv4
		case 6:
			first = firstIPv6
		default:
			*p = Packet{}
			return d.fail(ErrMalformed)
		}
	default:
		*p = Packet{}
		return d.fail(ErrUnsupportedLink)
	}

	err := d.parsers[first].DecodeLayers(data, &d.decoded)
	switch err {
	case nil:
	case ErrTruncated, ErrMalformed:
		*p = d.st.p
		return d.fail(err)
	default:
		// A gopacket error or a recovered panic: the checks in layers.go
		// should make this unreachable.
		d.Counters.Unexpected++
		*p = d.st.p
		return d.fail(ErrMalformed)
	}

	st := &d.st
	if st.erspanVLAN != 0 && st.tags == 0 {
		st.p.VLAN = st.erspanVLAN
	}
	if st.p.Net == NetNone {
		st.p.Net = NetOther
	}
	d.count(&st.p)
	*p = st.p
	return nil
}

func (d *Decoder) fail(err error) error {
	switch err {
	case ErrTruncated:
		d.Counters.Truncated++
	case ErrMalformed:
		d.Counters.Malformed++
	case ErrUnsupportedLink:
		d.Counters.UnsupportedLink++
	}
	return err
}

func (d *Decoder) count(p *Packet) {
	c := &d.Counters
	c.Decoded++
	switch p.Net {
	case NetIPv4:
		c.IPv4++
	case NetIPv6:
		c.IPv6++
	case NetARP:
		c.ARP++
		c.NonIP++
	default:
		c.NonIP++
	}
	if p.Fragment {
		c.Fragments++
	}
	if p.Encap&EncapGRE != 0 {
		c.GRE++
	}
	if p.Encap&EncapERSPAN2 != 0 {
		c.ERSPAN2++
	}
	if p.Encap&EncapERSPAN3 != 0 {
		c.ERSPAN3++
	}
}

// commit applies a pending decapsulation: from here on the Packet
// describes the inner frame. Link-layer fields survive only for IP
// carried directly in GRE, whose innermost Ethernet header is the outer
// one.
func (st *state) commit() {
	if !st.pend.active {
		return
	}
	pe := st.pend
	st.pend = pending{}
	old := &st.p
	p := Packet{
		Encap:         old.Encap | pe.encap,
		ERSPANSession: old.ERSPANSession,
	}
	if pe.erspan {
		p.ERSPANSession = pe.session
		st.erspanVLAN = pe.vlan
	}
	if pe.resetLink {
		st.tags = 0
	} else {
		p.HasMAC = old.HasMAC
		p.SrcMAC = old.SrcMAC
		p.DstMAC = old.DstMAC
		p.VLAN = old.VLAN
		p.InnerVLAN = old.InnerVLAN
		p.EtherType = pe.etherType
	}
	st.p = p
}

// check reports whether a header of need bytes fits: ErrMalformed when
// the enclosing IP header leaves no room for it, ErrTruncated when it
// does but the capture stops short.
func (st *state) check(need, have int) error {
	if need > st.l3Remain {
		return ErrMalformed
	}
	if need > have {
		return ErrTruncated
	}
	return nil
}

// needNext reports the error for a header that announces a next layer
// this decoder would parse but leaves no bytes for it.
func (st *state) needNext(next gopacket.LayerType, payload []byte, declared int) error {
	if next == layerEnd || len(payload) > 0 {
		return nil
	}
	if declared == 0 {
		return ErrMalformed
	}
	return ErrTruncated
}

// etherNext records an EtherType (or an 802.3 length, recorded as 0) and
// returns the layer that decodes what follows it.
func (st *state) etherNext(t uint16) gopacket.LayerType {
	if t < 0x0600 {
		st.p.EtherType = 0 // 802.3 length: LLC follows, not decoded
		return layerEnd
	}
	st.p.EtherType = t
	switch layers.EthernetType(t) {
	case layers.EthernetTypeIPv4:
		return layers.LayerTypeIPv4
	case layers.EthernetTypeIPv6:
		return layers.LayerTypeIPv6
	case layers.EthernetTypeARP:
		return layers.LayerTypeARP
	case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, etherTypeQinQOld:
		return layers.LayerTypeDot1Q
	}
	return layerEnd
}

// ipNext returns the layer for an IP protocol number. Extension headers
// are followed only in IPv6.
func ipNext(proto uint8, v6 bool) gopacket.LayerType {
	switch layers.IPProtocol(proto) {
	case layers.IPProtocolTCP:
		return layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		return layers.LayerTypeUDP
	case layers.IPProtocolICMPv4:
		return layers.LayerTypeICMPv4
	case layers.IPProtocolICMPv6:
		return layers.LayerTypeICMPv6
	case layers.IPProtocolGRE:
		return layers.LayerTypeGRE
	}
	if !v6 {
		return layerEnd
	}
	switch layers.IPProtocol(proto) {
	case layers.IPProtocolIPv6HopByHop:
		return layers.LayerTypeIPv6HopByHop
	case layers.IPProtocolIPv6Routing:
		return layers.LayerTypeIPv6Routing
	case layers.IPProtocolIPv6Destination:
		return layers.LayerTypeIPv6Destination
	case layers.IPProtocolIPv6Fragment:
		return layers.LayerTypeIPv6Fragment
	}
	return layerEnd
}
