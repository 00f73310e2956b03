package ebpf

import (
	"encoding/binary"
	"net/netip"
)

// Key is a flow as the kernel program keys it: the two endpoints in
// canonical order (A before B by address bytes, then port), the transport
// protocol and the VLAN tags. It has the same fields, order and meaning as
// pipeline/flow.Key (IPv4 addresses are IPv4-mapped IPv6), so converting
// one into the other copies fields. Only TCP and UDP flows are counted.
type Key struct {
	A, B         [16]byte
	PortA, PortB uint16
	VLAN         uint16
	InnerVLAN    uint16
	Proto        uint8
}

// NewKey builds the canonical key of a packet from src to dst, and reports
// whether the sender is endpoint B.
func NewKey(proto uint8, src, dst netip.AddrPort, vlan, innerVLAN uint16) (k Key, fromB bool) {
	s, d := src.Addr().As16(), dst.Addr().As16()
	sp, dp := src.Port(), dst.Port()
	k = Key{Proto: proto, VLAN: vlan, InnerVLAN: innerVLAN}
	if before(s, sp, d, dp) {
		k.A, k.B, k.PortA, k.PortB = s, d, sp, dp
		return k, false
	}
	k.A, k.B, k.PortA, k.PortB = d, s, dp, sp
	return k, true
}

func before(a [16]byte, pa uint16, b [16]byte, pb uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return pa <= pb
}

func (k *Key) kernel() bpfFlowKey {
	var b bpfFlowKey
	for i := range 4 {
		b.A[i] = binary.NativeEndian.Uint32(k.A[4*i:])
		b.B[i] = binary.NativeEndian.Uint32(k.B[4*i:])
	}
	b.PortA, b.PortB, b.Vlan, b.InnerVlan, b.Proto = k.PortA, k.PortB, k.VLAN, k.InnerVLAN, k.Proto
	return b
}

func keyFrom(b *bpfFlowKey) Key {
	k := Key{PortA: b.PortA, PortB: b.PortB, VLAN: b.Vlan, InnerVLAN: b.InnerVlan, Proto: b.Proto}
	for i := range 4 {
		binary.NativeEndian.PutUint32(k.A[4*i:], b.A[i])
		binary.NativeEndian.PutUint32(k.B[4*i:], b.B[i])
	}
	return k
}

// Counters are one flow's kernel counters. Index 0 is what endpoint A
// sent, index 1 what B sent. Packets and Bytes count every packet the
// program saw (cut or not); CutPackets and CutBytes the ones it did not
// copy to user space. Bytes are frame lengths, as user space counts them
// (an 802.1Q tag the stack took off is counted).
type Counters struct {
	Packets, Bytes       [2]uint64
	CutPackets, CutBytes [2]uint64
	// TCPFlags ORs the TCP flags each side sent.
	TCPFlags [2]uint8
	// Limit is the flow's cutoff in bytes, math.MaxUint64 for none.
	Limit uint64
}

// Cut reports whether some of the flow's packets were not copied.
func (c *Counters) Cut() bool { return c.CutPackets[0]+c.CutPackets[1] > 0 }

func countersFrom(v *bpfFlowStats) Counters {
	return Counters{
		Packets: v.Packets, Bytes: v.Bytes, CutPackets: v.CutPackets, CutBytes: v.CutBytes,
		TCPFlags: v.TcpFlags, Limit: v.Limit,
	}
}

// Stats are the program's global counters, summed over CPUs.
type Stats struct {
	Packets, Bytes       uint64 // every packet the program saw
	CutPackets, CutBytes uint64 // not copied to user space
	Uncounted            uint64 // not TCP or UDP, IP fragments, unparsable: always copied
	NewFlows             uint64 // flow entries made
	MapErrors            uint64 // entries that could not be made (the packet was copied)
}
