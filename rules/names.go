package rules

import (
	"net/netip"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
)

// Names remembers the names peers were reached by, from protocol records:
// the server name of a flow (TLS SNI, HTTP Host) until the flow's record
// comes, and the last DNS answer naming each address. Both are bounded.
type Names struct {
	tags   *FlowTags
	byAddr map[netip.Addr]string
	max    int
	// Cleared counts how often the address table was full and started
	// over.
	Cleared uint64
}

// NewNames returns a name memory for at most max flows and max addresses.
func NewNames(max int) *Names {
	return &Names{tags: NewFlowTags(max), byAddr: map[netip.Addr]string{}, max: max}
}

// Observe takes what r says about names (ServerNamer, Resolver).
func (n *Names) Observe(r event.Record) {
	b, ok := r.(Based)
	if !ok {
		return
	}
	if s, ok := r.(ServerNamer); ok {
		if name := baseline.NormalizeName(s.ServerName()); name != "" {
			n.tags.Put(b.BaseRecord().FlowID, FlowTag{Protocol: b.BaseRecord().Protocol, Detail: name})
		}
	}
	if res, ok := r.(Resolver); ok {
		name, addrs := res.DNSResolution()
		if name = baseline.NormalizeName(name); name != "" {
			for _, a := range addrs {
				if len(n.byAddr) >= n.max {
					clear(n.byAddr)
					n.Cleared++
				}
				n.byAddr[a.Unmap()] = name
			}
		}
	}
}

// Flow returns the names known for the peer of a flow: its server name
// and the DNS name of peer (either may be missing), and forgets the flow's
// server name after its final record.
func (n *Names) Flow(f *event.Flow, peer netip.Addr) []string {
	var out []string
	if tag, ok := n.tags.Take(f.ID, f.Final); ok {
		out = append(out, tag.Detail)
	}
	if name := n.byAddr[peer.Unmap()]; name != "" && (len(out) == 0 || out[0] != name) {
		out = append(out, name)
	}
	return out
}

// Forget is Flow for a flow whose names are not needed: it forgets the
// flow's server name after its final record.
func (n *Names) Forget(f *event.Flow) { n.tags.Take(f.ID, f.Final) }

// Evicted is how many flows' server names were forgotten before their
// flow record came.
func (n *Names) Evicted() uint64 { return n.tags.Evicted }
