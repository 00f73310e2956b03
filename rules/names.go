package rules

import (
	"encoding/binary"
	"net/netip"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
)

// Names remembers the names peers were reached by, from protocol records:
// the server name of a flow (TLS SNI, HTTP Host) until the flow's record
// comes, and the last DNS answer naming each address. Both are bounded.
//
// A detector makes its own (NewNames) and feeds it every record, or an
// engine that drives several detectors makes one for all of them
// (NewSharedNames), hands it to each NameUser and drives it with
// NameKeeper after the detectors saw each record: then every record's
// names are learned once, not once per rule.
type Names struct {
	tags *FlowTags
	// DNS names by address: IPv4 addresses by their 32 bits (a small key
	// the map hashes and compares at once), the others by address. Both
	// together hold at most max.
	byAddr4 map[uint32]string
	byAddr  map[netip.Addr]string
	max     int
	// Cleared counts how often the address table was full and started
	// over.
	Cleared uint64
	// shared: the memory of an engine; its detectors neither feed it nor
	// make it forget (NameKeeper does both).
	shared bool
	// The last Flow answer, for the next detector that asks about the same
	// flow and peer during the same record (a shared memory only; Done
	// clears it).
	memo     bool
	memoID   event.FlowID
	memoPeer netip.Addr
	memoOut  []string
	// The last server name put (its flow, protocol and the name as the
	// record gave it): the records of one flow (an HTTP session's
	// requests) mostly repeat it, and putting it again changes nothing.
	// Cleared when that flow's tag is dropped (any other tag put replaces
	// it, and only a put evicts).
	putSet   bool
	putID    event.FlowID
	putProto string
	putRaw   string
}

// NewNames returns a name memory for at most max flows and max addresses.
func NewNames(max int) *Names { return NewNamesSized(max, max) }

// NewNamesSized returns a name memory for at most flows flows and addrs
// addresses.
func NewNamesSized(flows, addrs int) *Names {
	return &Names{tags: NewFlowTags(flows), byAddr4: map[uint32]string{}, byAddr: map[netip.Addr]string{}, max: addrs}
}

// NewSharedNames returns the name memory an engine shares among its
// detectors: for at most flows flows and addrs addresses.
func NewSharedNames(flows, addrs int) *Names {
	n := NewNamesSized(flows, addrs)
	n.shared = true
	return n
}

// Shared reports whether n is an engine's memory: fed and made to forget
// by NameKeeper, not by the detectors that use it.
func (n *Names) Shared() bool { return n.shared }

// NameUser is implemented by detectors that use peer names. An engine that
// shares one memory among its detectors gives it to each before the first
// record; the detector then neither feeds it nor makes it forget.
type NameUser interface {
	UseNames(*Names)
}

// Observe takes what r says about names (ServerNamer, Resolver).
func (n *Names) Observe(r event.Record) {
	b, ok := r.(Based)
	if !ok {
		return
	}
	if s, ok := r.(ServerNamer); ok {
		raw, base := s.ServerName(), b.BaseRecord()
		if n.putSet && base.FlowID == n.putID && raw == n.putRaw && base.Protocol == n.putProto {
			// The flow's tag already says this.
		} else if name := baseline.NormalizeName(raw); name != "" {
			n.tags.Put(base.FlowID, FlowTag{Protocol: base.Protocol, Detail: name})
			n.putSet, n.putID, n.putProto, n.putRaw = true, base.FlowID, base.Protocol, raw
		}
	}
	if res, ok := r.(Resolver); ok {
		name, addrs := res.DNSResolution()
		if name = baseline.NormalizeName(name); name != "" {
			for _, a := range addrs {
				if len(n.byAddr4)+len(n.byAddr) >= n.max {
					clear(n.byAddr4)
					clear(n.byAddr)
					n.Cleared++
				}
				if a = a.Unmap(); a.Is4() {
					n.byAddr4[addr4(a)] = name
				} else {
					n.byAddr[a] = name
				}
			}
		}
	}
}

// Flow returns the names known for the peer of a flow: its server name
// and the DNS name of peer (either may be missing). A detector's own
// memory forgets the flow's server name after its final record (a shared
// one when NameKeeper is done with the record). The slice must not be
// modified.
func (n *Names) Flow(f *event.Flow, peer netip.Addr) []string {
	peer = peer.Unmap()
	if n.shared && n.memo && n.memoID == f.ID && n.memoPeer == peer {
		return n.memoOut
	}
	var out []string
	if tag, ok := n.tags.Take(f.ID, f.Final && !n.shared); ok {
		out = append(out, tag.Detail)
		if f.Final && !n.shared && f.ID == n.putID {
			n.putSet = false
		}
	}
	if name := n.addrName(peer); name != "" && (len(out) == 0 || out[0] != name) {
		out = append(out, name)
	}
	if n.shared {
		n.memo, n.memoID, n.memoPeer, n.memoOut = true, f.ID, peer, out
	}
	return out
}

// addrName is the DNS name of a (unmapped), or "".
func (n *Names) addrName(a netip.Addr) string {
	if a.Is4() {
		return n.byAddr4[addr4(a)]
	}
	return n.byAddr[a]
}

func addr4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// Name is the first of Flow's names: the flow's server name, else the DNS
// name of peer, else "".
func (n *Names) Name(f *event.Flow, peer netip.Addr) string {
	if names := n.Flow(f, peer); len(names) > 0 {
		return names[0]
	}
	return ""
}

// Forget is Flow for a flow whose names are not needed: a detector's own
// memory forgets the flow's server name after its final record.
func (n *Names) Forget(f *event.Flow) {
	if !n.shared {
		n.tags.Take(f.ID, f.Final)
		if f.Final && f.ID == n.putID {
			n.putSet = false
		}
	}
}

// Done is NameKeeper's work after every detector saw r: it learns r's
// names and, after a flow's final record, forgets the flow's server name.
func (n *Names) Done(r event.Record) {
	n.memo, n.memoOut = false, nil
	if f, ok := r.(*event.Flow); ok {
		if f.Final {
			n.tags.Drop(f.ID)
			if f.ID == n.putID {
				n.putSet = false
			}
		}
		return
	}
	n.Observe(r)
}

// Evicted is how many flows' server names were forgotten before their
// flow record came.
func (n *Names) Evicted() uint64 { return n.tags.Evicted }
