package pcapstore

import (
	"encoding/binary"
	"net/netip"
)

// Link types the store decodes for its index and filter (the others are
// stored and retrievable by time, but match no address, port or protocol).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw12    = 12 // DLT_RAW on some BSDs
	linkRaw14    = 14 // DLT_RAW on OpenBSD
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

// Packet kinds, by the network protocol a filter sees.
const (
	kindOther uint8 = iota
	kindIPv4
	kindIPv6
	kindARP
	kindRARP
)

// tuple flags.
const (
	fProto    = 1 << iota // proto is valid
	fPorts                // sport/dport are the ports tcpdump's "port" reads
	fTrans                // sport/dport are the transport ports (or ICMP type, code) for the Community ID
	fCutAddr              // the addresses lie beyond the captured bytes
	fCutProto             // the protocol byte lies beyond the captured bytes
	fCutPorts             // the ports lie beyond the captured bytes
	fFrag                 // a fragment that is not the first
)

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
	protoFrag6  = 44
)

// tuple is everything the filter language can ask of a packet, read the way
// libpcap's compiled filters read it, so that a query returns exactly what
// tcpdump returns for the same expression (VLAN tags aside: the store looks
// through them, tcpdump needs "vlan and ..."). Two packets with the same
// tuple, or with swapped ones, match the same primitives up to direction;
// the index groups packets by their canonical tuple.
//
//   - IPv4: proto is ip[9]; ports are read at 4*IHL only for TCP, UDP and SCTP
//     in a first fragment (offset 0), as libpcap does.
//   - IPv6: proto is the next header, or the next header of a fragment header
//     directly after the fixed header; "port" reads ports at 40 only when the
//     fixed header's next header is TCP, UDP or SCTP (libpcap does not walk
//     extension headers). For the Community ID the extension headers are walked.
//   - ARP and RARP: src and dst are the sender and target protocol addresses
//     at offsets 14 and 24 of the ARP header, as libpcap reads them for "host".
type tuple struct {
	kind   uint8
	flags  uint8
	proto  uint8 // the protocol a filter sees
	tproto uint8 // the transport protocol, for the Community ID
	sport  uint16
	dport  uint16
	src    netip.Addr
	dst    netip.Addr
}

// swapped is the tuple of a packet going the other way.
func (t tuple) swapped() tuple {
	t.src, t.dst = t.dst, t.src
	t.sport, t.dport = t.dport, t.sport
	return t
}

// canonical returns the lesser of t and t.swapped(), so both directions of
// a conversation share one index entry.
func (t tuple) canonical() tuple {
	if c := t.src.Compare(t.dst); c > 0 || c == 0 && t.sport > t.dport {
		return t.swapped()
	}
	return t
}

const maxVLANTags = 8

// extract fills t from a captured frame of the given link type.
func extract(data []byte, link uint32, t *tuple) {
	*t = tuple{}
	var l3 []byte
	var etype uint16
	switch link {
	case linkEthernet:
		if len(data) < 14 {
			return
		}
		etype = binary.BigEndian.Uint16(data[12:])
		l3 = data[14:]
	case linkSLL:
		if len(data) < 16 {
			return
		}
		etype = binary.BigEndian.Uint16(data[14:])
		l3 = data[16:]
	case linkSLL2:
		if len(data) < 20 {
			return
		}
		etype = binary.BigEndian.Uint16(data[0:])
		l3 = data[20:]
	case linkRaw, linkRaw12, linkRaw14:
		if len(data) < 1 {
			return
		}
		switch data[0] >> 4 {
		case 4:
			etype = 0x0800
		case 6:
			etype = 0x86dd
		}
		l3 = data
	case linkIPv4:
		etype, l3 = 0x0800, data
	case linkIPv6:
		etype, l3 = 0x86dd, data
	case linkNull, linkLoop:
		if len(data) < 4 {
			return
		}
		fam := binary.BigEndian.Uint32(data)
		if link == linkNull && fam > 0xffff {
			fam = binary.LittleEndian.Uint32(data) // host byte order of the capturing machine
		}
		switch fam {
		case 2:
			etype = 0x0800
		case 10, 24, 28, 30:
			etype = 0x86dd
		}
		l3 = data[4:]
	default:
		return
	}
	for i := 0; i < maxVLANTags && (etype == 0x8100 || etype == 0x88a8 || etype == 0x9100); i++ {
		if len(l3) < 4 {
			return
		}
		etype = binary.BigEndian.Uint16(l3[2:])
		l3 = l3[4:]
	}
	switch etype {
	case 0x0800:
		extractIPv4(l3, t)
	case 0x86dd:
		extractIPv6(l3, t)
	case 0x0806, 0x8035:
		t.kind = kindARP
		if etype == 0x8035 {
			t.kind = kindRARP
		}
		if len(l3) < 28 {
			t.flags |= fCutAddr
			return
		}
		t.src = netip.AddrFrom4([4]byte(l3[14:18]))
		t.dst = netip.AddrFrom4([4]byte(l3[24:28]))
	}
}

func hasPorts(proto uint8) bool { return proto == protoTCP || proto == protoUDP || proto == protoSCTP }

func extractIPv4(ip []byte, t *tuple) {
	t.kind = kindIPv4
	if len(ip) < 10 {
		t.flags |= fCutProto | fCutAddr
		return
	}
	t.proto, t.tproto = ip[9], ip[9]
	t.flags |= fProto
	if len(ip) < 20 {
		t.flags |= fCutAddr
	} else {
		t.src = netip.AddrFrom4([4]byte(ip[12:16]))
		t.dst = netip.AddrFrom4([4]byte(ip[16:20]))
	}
	if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
		t.flags |= fFrag
		return
	}
	hl := int(ip[0]&0x0f) * 4
	switch {
	case hasPorts(t.proto):
		if len(ip) < hl+4 {
			t.flags |= fCutPorts
			return
		}
		t.sport = binary.BigEndian.Uint16(ip[hl:])
		t.dport = binary.BigEndian.Uint16(ip[hl+2:])
		t.flags |= fPorts | fTrans
	case t.proto == protoICMP:
		if hl >= 20 && len(ip) >= hl+2 {
			t.sport, t.dport = uint16(ip[hl]), uint16(ip[hl+1])
			t.flags |= fTrans
		}
	}
}

func extractIPv6(ip []byte, t *tuple) {
	t.kind = kindIPv6
	if len(ip) < 7 {
		t.flags |= fCutProto | fCutAddr
		return
	}
	nh := ip[6]
	if len(ip) < 40 {
		t.flags |= fCutAddr
		t.proto = nh
		t.flags |= fProto
		if hasPorts(nh) || nh == protoFrag6 {
			t.flags |= fCutPorts
		}
		return
	}
	t.src = netip.AddrFrom16([16]byte(ip[8:24]))
	t.dst = netip.AddrFrom16([16]byte(ip[24:40]))
	t.proto = nh
	t.flags |= fProto
	switch {
	case hasPorts(nh):
		if len(ip) < 44 {
			t.flags |= fCutPorts
		} else {
			t.sport = binary.BigEndian.Uint16(ip[40:])
			t.dport = binary.BigEndian.Uint16(ip[42:])
			t.flags |= fPorts | fTrans
		}
		t.tproto = nh
		return
	case nh == protoFrag6:
		if len(ip) < 41 {
			t.flags &^= fProto
			t.flags |= fCutProto
			return
		}
		t.proto = ip[40] // libpcap's "tcp", "udp", "icmp6" look one fragment header deep
	}
	// Walk the extension headers for the Community ID's transport.
	off, next := 40, nh
walk:
	for i := 0; i < 8; i++ {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination options, mobility, HIP, shim6
			if len(ip) < off+2 {
				return
			}
			next, off = ip[off], off+8+int(ip[off+1])*8
			continue
		case 51: // AH: length in 4-octet units, minus 2
			if len(ip) < off+2 {
				return
			}
			next, off = ip[off], off+(int(ip[off+1])+2)*4
			continue
		case protoFrag6:
			if len(ip) < off+8 {
				return
			}
			if binary.BigEndian.Uint16(ip[off+2:])&0xfff8 != 0 {
				t.flags |= fFrag
				t.tproto = ip[off]
				return
			}
			next, off = ip[off], off+8
			continue
		}
		break walk
	}
	t.tproto = next
	switch {
	case hasPorts(next):
		if len(ip) >= off+4 {
			t.sport = binary.BigEndian.Uint16(ip[off:])
			t.dport = binary.BigEndian.Uint16(ip[off+2:])
			t.flags |= fTrans
		}
	case next == protoICMPv6:
		if len(ip) >= off+2 {
			t.sport, t.dport = uint16(ip[off]), uint16(ip[off+1])
			t.flags |= fTrans
		}
	}
}
