package flow

import (
	"crypto/sha1"
	"encoding/binary"

	"mamori/pipeline/event"
)

// CommunityID computes the Community ID v1 of a flow
// (https://github.com/corelight/community-id-spec): SHA-1 over the seed, the
// ordered addresses, the protocol, a zero pad byte and, for protocols with
// ports (or ICMP type/code equivalents), the ordered ports; base64 encoded.
//
// src/dst and sport/dport are the originator's view. For TCP, UDP, SCTP and
// two-way ICMP the endpoints are ordered; one-way ICMP keeps them as given.
func CommunityID(seed uint16, k *Key, origIsB bool) event.CommunityID {
	var buf [2 + 16 + 16 + 2 + 4]byte
	binary.BigEndian.PutUint16(buf[0:], seed)
	n := 2
	addrLen := 4
	if k.IPv6 {
		addrLen = 16
	}
	a, b := k.A, k.B
	pa, pb := k.PortA, k.PortB
	ports := hasPorts(k.Proto)
	if k.Proto == protoICMP || k.Proto == protoICMPv6 {
		ports = true
		// k is canonical, so for one-way ICMP restore the packet order:
		// the originator's address first, its type then code.
		if _, twoWay := icmpCounterpart(k.Proto == protoICMPv6, uint8(typeOf(k, origIsB))); !twoWay && origIsB {
			a, b, pa, pb = b, a, pb, pa
		}
	}
	n += copy(buf[n:], a[16-addrLen:])
	n += copy(buf[n:], b[16-addrLen:])
	buf[n] = k.Proto
	buf[n+1] = 0
	n += 2
	if ports {
		binary.BigEndian.PutUint16(buf[n:], pa)
		binary.BigEndian.PutUint16(buf[n+2:], pb)
		n += 4
	}
	return event.NewCommunityID(sha1.Sum(buf[:n]))
}

// typeOf returns the ICMP type the originator sent: its "source port".
func typeOf(k *Key, origIsB bool) uint16 {
	if origIsB {
		return k.PortB
	}
	return k.PortA
}
