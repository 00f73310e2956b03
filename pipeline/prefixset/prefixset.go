package prefixset

import (
	"encoding/binary"
	"net/netip"
)

// Set is a list of prefixes. The zero Set contains nothing.
type Set struct {
	v4 []net4
	v6 []net6
}

type net4 struct{ mask, bits uint32 }

type net6 struct{ maskHi, maskLo, hi, lo uint64 }

// New returns the set of prefixes (invalid ones contain nothing, as for
// netip.Prefix.Contains).
func New(prefixes []netip.Prefix) Set {
	var n Set
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		a := p.Masked().Addr()
		if a.Is4() {
			mask := uint32(0)
			if p.Bits() > 0 {
				mask = ^uint32(0) << (32 - p.Bits())
			}
			v := a.As4()
			n.v4 = append(n.v4, net4{mask: mask, bits: binary.BigEndian.Uint32(v[:])})
			continue
		}
		var mh, ml uint64
		switch b := p.Bits(); {
		case b == 0:
		case b <= 64:
			mh = ^uint64(0) << (64 - b)
		default:
			mh, ml = ^uint64(0), ^uint64(0)<<(128-b)
		}
		v := a.As16()
		n.v6 = append(n.v6, net6{maskHi: mh, maskLo: ml, hi: binary.BigEndian.Uint64(v[:8]), lo: binary.BigEndian.Uint64(v[8:])})
	}
	return n
}

// Contains reports whether some prefix contains a, as netip.Prefix.Contains
// would: an IPv4 address only an IPv4 prefix, any other address (IPv4-mapped
// ones too) only an IPv6 prefix, an address with a zone none.
func (n *Set) Contains(a netip.Addr) bool {
	if a.Is4() {
		v := a.As4()
		return n.Contains4(binary.BigEndian.Uint32(v[:]))
	}
	if !a.Is6() || a.Zone() != "" {
		return false
	}
	v := a.As16()
	hi, lo := binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
	for _, p := range n.v6 {
		if hi&p.maskHi == p.hi && lo&p.maskLo == p.lo {
			return true
		}
	}
	return false
}

// Contains4 reports whether some IPv4 prefix contains the IPv4 address x
// (its four bytes, big-endian).
func (n *Set) Contains4(x uint32) bool {
	for _, p := range n.v4 {
		if x&p.mask == p.bits {
			return true
		}
	}
	return false
}
