package pcapstore

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// CommunityID is a Community ID v1 flow hash (the SHA-1 digest; its text
// form is "1:" and the digest in base64).
//
// The store computes it itself, from each packet, following the
// specification (https://github.com/corelight/community-id-spec): SHA-1
// over the seed (2 bytes, big-endian), the source and destination
// addresses, the protocol, a zero byte and, for TCP, UDP, SCTP, ICMP and
// ICMPv6, the source and destination ports. The endpoints are ordered
// (lower address first, then lower port) except for one-way ICMP messages;
// for ICMP, the "ports" are the type and either the type of its counterpart
// message (echo request/reply and the like) or the code.
type CommunityID [sha1.Size]byte

// String returns the "1:base64" form.
func (c CommunityID) String() string { return "1:" + base64.StdEncoding.EncodeToString(c[:]) }

// ParseCommunityID parses the "1:base64" form.
func ParseCommunityID(s string) (CommunityID, error) {
	var c CommunityID
	b64, ok := strings.CutPrefix(s, "1:")
	if !ok {
		return c, fmt.Errorf("%q is not a Community ID v1 (it starts with \"1:\")", s)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != len(c) {
		return c, fmt.Errorf("%q is not a Community ID v1 (1: and 28 base64 characters)", s)
	}
	copy(c[:], b)
	return c, nil
}

// icmpCounterpart maps two-way ICMP message types to the type of their
// counterpart, as the specification does.
func icmpCounterpart(v6 bool, typ uint8) (uint8, bool) {
	if !v6 {
		switch typ {
		case 8:
			return 0, true
		case 0:
			return 8, true
		case 13:
			return 14, true
		case 14:
			return 13, true
		case 15:
			return 16, true
		case 16:
			return 15, true
		case 10:
			return 9, true
		case 9:
			return 10, true
		case 17:
			return 18, true
		case 18:
			return 17, true
		}
		return 0, false
	}
	switch typ {
	case 128:
		return 129, true
	case 129:
		return 128, true
	case 130:
		return 131, true
	case 131:
		return 130, true
	case 133:
		return 134, true
	case 134:
		return 133, true
	case 135:
		return 136, true
	case 136:
		return 135, true
	case 139:
		return 140, true
	case 140:
		return 139, true
	case 144:
		return 145, true
	case 145:
		return 144, true
	}
	return 0, false
}

// communityID computes the Community ID of the packet t describes. ok is
// false for packets that have none: not IP, or a protocol with ports whose
// ports were not captured (truncated packets, fragments after the first).
func communityID(seed uint16, t *tuple) (c CommunityID, ok bool) {
	if t.kind != kindIPv4 && t.kind != kindIPv6 || t.flags&fCutAddr != 0 || !t.src.IsValid() {
		return c, false
	}
	proto := t.tproto
	withPorts := false
	var sp, dp uint16
	src, dst := t.src, t.dst
	ordered := true
	switch {
	case hasPorts(proto):
		if t.flags&fTrans == 0 {
			return c, false
		}
		withPorts, sp, dp = true, t.sport, t.dport
	case proto == protoICMP && t.kind == kindIPv4 || proto == protoICMPv6 && t.kind == kindIPv6:
		if t.flags&fTrans == 0 {
			return c, false
		}
		withPorts = true
		if other, twoWay := icmpCounterpart(proto == protoICMPv6, uint8(t.sport)); twoWay {
			sp, dp = t.sport, uint16(other)
		} else {
			sp, dp, ordered = t.sport, t.dport, false
		}
	}
	if ordered {
		if cmp := src.Compare(dst); cmp > 0 || cmp == 0 && sp > dp {
			src, dst, sp, dp = dst, src, dp, sp
		}
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	binary.BigEndian.PutUint16(buf[0:], seed)
	n := 2
	if t.kind == kindIPv4 {
		a, b := src.As4(), dst.As4()
		n += copy(buf[n:], a[:])
		n += copy(buf[n:], b[:])
	} else {
		a, b := src.As16(), dst.As16()
		n += copy(buf[n:], a[:])
		n += copy(buf[n:], b[:])
	}
	buf[n], buf[n+1] = proto, 0
	n += 2
	if withPorts {
		binary.BigEndian.PutUint16(buf[n:], sp)
		binary.BigEndian.PutUint16(buf[n+2:], dp)
		n += 4
	}
	return sha1.Sum(buf[:n]), true
}
