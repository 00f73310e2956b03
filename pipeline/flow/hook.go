package flow

import (
	"net/netip"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
)

// Hook sees every packet accounted to a flow and the end of every flow. The
// protocol layer (pipeline/proto/dispatch) implements it to run parsers.
// Slots identify flows while they live: a slot is reused only after End.
type Hook interface {
	// Packet is called after the table has accounted p to the flow in slot;
	// d is its direction. p and its payload are valid only during the call.
	// Non-first IP fragments are not passed.
	Packet(slot int, d Dir, p *decode.Packet, ts int64)
	// End is called when the flow in slot ends (final record, reason why),
	// before its flow record is written and its slot reused.
	End(slot int, ts int64, reason event.EndReason)
}

// SetHook installs h; nil removes it.
func (t *Table) SetHook(h Hook) { t.hook = h }

// Info describes a live flow to the protocol layer.
type Info struct {
	Key     Key
	IfIndex int // capture interface of the flow's first packet
	// Conn has FlowID, CommunityID, Source (the originator), Destination,
	// Transport and VLAN filled in; Direction and Interface are left to the
	// worker, which knows the site's networks and interface names.
	Conn event.Conn
}

// Info returns the description of the flow in slot, which must be live (as
// it is during a Hook call), without its identifiers: Conn.FlowID and
// Conn.CommunityID are filled by Identify, which hashes, so that flows no
// parser wants cost nothing more.
func (t *Table) Info(slot int) Info {
	s := t.slab.at(slot)
	in := Info{Key: s.key, IfIndex: int(s.ifIndex)}
	in.Conn = event.Conn{Transport: s.key.Proto, VLAN: s.key.VLAN}
	a := netip.AddrPortFrom(s.key.Addr(false), s.key.PortA)
	b := netip.AddrPortFrom(s.key.Addr(true), s.key.PortB)
	if !hasPorts(s.key.Proto) {
		a, b = netip.AddrPortFrom(a.Addr(), 0), netip.AddrPortFrom(b.Addr(), 0)
	}
	if s.origIsB {
		a, b = b, a
	}
	in.Conn.Source, in.Conn.Destination = a, b
	return in
}

// Identify fills in.Conn's FlowID and Community ID for the live flow in
// slot: the identifiers its flow record will carry.
func (t *Table) Identify(slot int, in *Info) {
	s := t.slab.at(slot)
	t.flowID(&in.Conn.FlowID, s)
	in.Conn.CommunityID = CommunityID(t.cfg.CommunityIDSeed, &s.key, s.origIsB)
}

// ServerPort is the responder's port of a flow key whose originator is
// known: the port hint parsers match on.
func (in *Info) ServerPort() uint16 { return in.Conn.Destination.Port() }

// KernelCounts are a flow's packets and bytes that the kernel counted but
// did not copy to user space (the eBPF cutoff of bulk flows): index 0 is
// what Key endpoint A sent, 1 what B sent.
type KernelCounts struct{ Packets, Bytes [2]uint64 }

// Kernel gives the flow table the counts the capture path cut off, so that
// a flow record's packets and bytes stay exact (sensor/ebpf implements it
// through an adapter in appliance/service).
type Kernel interface {
	// Cut returns the cut-off counts of the flow with key k since it
	// started; final says the flow ends, so the kernel's entry may go.
	Cut(k *Key, final bool) (KernelCounts, bool)
}

// SetKernel installs k; nil removes it.
func (t *Table) SetKernel(k Kernel) { t.kernel = k }
