package ebpf

import "net/netip"

func mustAddr(s string) [16]byte { return netip.MustParseAddr(s).As16() }
