package prefixset

import (
	"net/netip"
	"testing"
)

// TestAgreesWithContains checks the word-wise prefix test against
// netip.Prefix.Contains on addresses at and around every prefix's edges.
func TestAgreesWithContains(t *testing.T) {
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("10.1.2.3/8"), // not masked
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("2001:db8:1:2:3:4:5:6/128"),
		netip.MustParsePrefix("2001:db8:1:2::/96"),
		netip.MustParsePrefix("::ffff:10.0.0.0/104"),
		netip.MustParsePrefix("::/0"),
		{},
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
	}
	addrs := []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("::ffff:10.1.1.1")}
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		a := p.Masked().Addr()
		for _, d := range []int{-1, 0, 1} {
			b := a.AsSlice()
			b[len(b)-1] += byte(d)
			x, _ := netip.AddrFromSlice(b)
			addrs = append(addrs, x, a.Prev(), a.Next())
			// the last address of the prefix and the one after it
			last := x
			for i := p.Bits(); i < x.BitLen(); i++ {
				bs := last.AsSlice()
				bs[i/8] |= 0x80 >> (i % 8)
				last, _ = netip.AddrFromSlice(bs)
			}
			addrs = append(addrs, last, last.Next())
		}
	}
	for n := 0; n <= len(prefixes); n++ {
		set := New(prefixes[:n])
		for _, a := range addrs {
			want := false
			for _, p := range prefixes[:n] {
				want = want || p.Contains(a)
			}
			if got := set.Contains(a); got != want {
				t.Errorf("prefixes %v: contains(%v) = %v, want %v", prefixes[:n], a, got, want)
			}
		}
	}
	for _, p := range prefixes {
		set := New([]netip.Prefix{p})
		for _, a := range addrs {
			if got, want := set.Contains(a), p.Contains(a); got != want {
				t.Errorf("%v: contains(%v) = %v, want %v", p, a, got, want)
			}
		}
	}
}
