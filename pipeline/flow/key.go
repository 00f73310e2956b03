package flow

import (
	"encoding/binary"
	"net/netip"

	"mamori/pipeline/decode"
)

// Dir is the direction of a packet within its flow.
type Dir uint8

const (
	FromClient Dir = 0 // originator → responder
	FromServer Dir = 1 // responder → originator
)

// Key identifies a flow independently of direction: the two endpoints in a
// canonical order (A ≤ B by address, then port), the transport protocol and
// the VLAN tags. IPv4 addresses are stored 4-in-6 mapped with IPv6 false.
// Key has no pointers, so tables of Keys cost the garbage collector nothing.
type Key struct {
	A, B         [16]byte
	PortA, PortB uint16
	VLAN         uint16
	InnerVLAN    uint16
	Proto        uint8
	IPv6         bool
}

// Addr returns endpoint A (b=false) or B (b=true) as a netip.Addr.
func (k *Key) Addr(b bool) netip.Addr {
	raw := k.A
	if b {
		raw = k.B
	}
	a := netip.AddrFrom16(raw)
	if !k.IPv6 {
		return a.Unmap()
	}
	return a
}

// hasPorts reports whether the protocol has real ports (as opposed to the
// ICMP type/code stand-ins or nothing at all).
func hasPorts(proto uint8) bool {
	return proto == protoTCP || proto == protoUDP || proto == protoSCTP
}

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// icmpCounterpart maps ICMP(v6) types that have a reply type to it, so that a
// request and its reply fall into one flow (as Zeek and the Community ID
// spec do). Types without a counterpart are one-way: their "ports" are the
// type and code, and their endpoints keep the packet's order.
func icmpCounterpart(v6 bool, typ uint8) (uint8, bool) {
	if !v6 {
		switch typ {
		case 8:
			return 0, true // echo → echo reply
		case 0:
			return 8, true
		case 13:
			return 14, true // timestamp
		case 14:
			return 13, true
		case 15:
			return 16, true // information
		case 16:
			return 15, true
		case 10:
			return 9, true // router solicitation → advertisement (one way only, as in the spec)
		case 17:
			return 18, true // address mask
		case 18:
			return 17, true
		}
		return 0, false
	}
	switch typ {
	case 128:
		return 129, true // echo
	case 129:
		return 128, true
	case 133:
		return 134, true // router solicitation / advertisement
	case 134:
		return 133, true
	case 135:
		return 136, true // neighbor solicitation / advertisement
	case 136:
		return 135, true
	case 130:
		return 131, true // MLD query / report
	case 131:
		return 130, true
	case 139:
		return 140, true // node information query / reply
	case 140:
		return 139, true
	case 144:
		return 145, true // home agent address discovery
	case 145:
		return 144, true
	}
	return 0, false
}

// packetKey builds the canonical Key of a decoded IP packet and tells which
// endpoint sent it: fromB is true when the packet's source is endpoint B.
// oneWay is true for ICMP messages without a counterpart type.
func packetKey(p *decode.Packet) (k Key, fromB, oneWay bool) {
	fromB, oneWay = packetKeyTo(p, &k)
	return k, fromB, oneWay
}

// packetKeyTo is packetKey writing the key into *k, every field of which
// it sets. It orders the endpoints on the addresses as two 64-bit words
// each and stores those words, rather than going through As16's arrays:
// copying an array written a word at a time with wider loads stalls the
// store-to-load forwarding of the CPU, on every packet.
func packetKeyTo(p *decode.Packet, k *Key) (fromB, oneWay bool) {
	k.IPv6 = p.Net == decode.NetIPv6
	k.Proto = p.Proto
	k.VLAN = p.VLAN
	k.InnerVLAN = p.InnerVLAN
	sh, sl := addrWords(p.Src)
	dh, dl := addrWords(p.Dst)
	var sp, dp uint16
	switch {
	case hasPorts(p.Proto):
		sp, dp = p.SrcPort, p.DstPort
	case p.Proto == protoICMP || p.Proto == protoICMPv6:
		sp = uint16(p.ICMPType)
		if c, ok := icmpCounterpart(p.Proto == protoICMPv6, p.ICMPType); ok {
			dp = uint16(c)
		} else {
			dp = uint16(p.ICMPCode)
			oneWay = true
		}
	}
	if lessWords(sh, sl, sp, dh, dl, dp) {
		putWords(&k.A, sh, sl)
		putWords(&k.B, dh, dl)
		k.PortA, k.PortB = sp, dp
		return false, oneWay
	}
	putWords(&k.A, dh, dl)
	putWords(&k.B, sh, sl)
	k.PortA, k.PortB = dp, sp
	return true, oneWay
}

// addrWords returns a's 16-byte form (IPv4 4-in-6 mapped, as As16) as two
// big-endian words.
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		v := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(v[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func putWords(dst *[16]byte, hi, lo uint64) {
	binary.BigEndian.PutUint64(dst[:8], hi)
	binary.BigEndian.PutUint64(dst[8:], lo)
}

// equal reports whether two keys are the same, comparing the addresses a
// word at a time (see packetKeyTo).
func (k *Key) equal(o *Key) bool {
	return binary.LittleEndian.Uint64(k.A[:8]) == binary.LittleEndian.Uint64(o.A[:8]) &&
		binary.LittleEndian.Uint64(k.A[8:]) == binary.LittleEndian.Uint64(o.A[8:]) &&
		binary.LittleEndian.Uint64(k.B[:8]) == binary.LittleEndian.Uint64(o.B[:8]) &&
		binary.LittleEndian.Uint64(k.B[8:]) == binary.LittleEndian.Uint64(o.B[8:]) &&
		k.PortA == o.PortA && k.PortB == o.PortB && k.VLAN == o.VLAN && k.InnerVLAN == o.InnerVLAN &&
		k.Proto == o.Proto && k.IPv6 == o.IPv6
}

// less orders endpoints by address, then port (the Community ID order).
// Equal endpoints count as ordered.
func less(a, b [16]byte, pa, pb uint16) bool {
	// Two big-endian words compare like the 16 bytes one by one.
	return lessWords(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), pa,
		binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), pb)
}

// lessWords is less on addresses given as two big-endian words each.
func lessWords(ah, al uint64, pa uint16, bh, bl uint64, pb uint16) bool {
	if ah != bh {
		return ah < bh
	}
	if al != bl {
		return al < bl
	}
	return pa <= pb
}
