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
	var c event.CommunityID
	communityID(&c, seed, k, origIsB)
	return c
}

// communityID is CommunityID writing into *dst, as event.NewCommunityID
// formats it: the table writes it straight into its record.
func communityID(dst *event.CommunityID, seed uint16, k *Key, origIsB bool) {
	var buf [2 + 16 + 16 + 2 + 4]byte
	binary.BigEndian.PutUint16(buf[0:], seed)
	a, b := &k.A, &k.B
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
	n := 2
	if k.IPv6 {
		copy(buf[2:18], a[:])
		copy(buf[18:34], b[:])
		n = 34
	} else {
		copy(buf[2:6], a[12:])
		copy(buf[6:10], b[12:])
		n = 10
	}
	buf[n] = k.Proto
	buf[n+1] = 0
	n += 2
	if ports {
		binary.BigEndian.PutUint16(buf[n:], pa)
		binary.BigEndian.PutUint16(buf[n+2:], pb)
		n += 4
	}
	sum := sha1.Sum(buf[:n])
	dst[0], dst[1] = '1', ':'
	base64Digest(dst[2:], &sum)
}

// base64Digest writes a SHA-1 digest in standard base64 (with padding)
// into dst's 28 bytes, as base64.StdEncoding.Encode does, without its
// general loop.
func base64Digest(dst []byte, sum *[20]byte) {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	_ = dst[27]
	for i := range 6 {
		v := uint(sum[3*i])<<16 | uint(sum[3*i+1])<<8 | uint(sum[3*i+2])
		dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], enc[v&63]
	}
	v := uint(sum[18])<<16 | uint(sum[19])<<8
	dst[24], dst[25], dst[26], dst[27] = enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], '='
}

// typeOf returns the ICMP type the originator sent: its "source port".
func typeOf(k *Key, origIsB bool) uint16 {
	if origIsB {
		return k.PortB
	}
	return k.PortA
}
