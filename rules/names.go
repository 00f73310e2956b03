package rules

import (
	"net/netip"
	"strings"

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
		if name := normalizeName(s.ServerName()); name != "" {
			n.tags.Put(b.BaseRecord().FlowID, FlowTag{Protocol: b.BaseRecord().Protocol, Detail: name})
		}
	}
	if res, ok := r.(Resolver); ok {
		name, addrs := res.DNSResolution()
		if name = normalizeName(name); name != "" {
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

func normalizeName(s string) string {
	if s == "" || plainName(s) {
		return s
	}
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], ":") {
		s = s[:i] // HTTP Host with a port
	}
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if len(s) > 253 {
		return ""
	}
	if maybeAddr(s) {
		if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return "" // an address literal (HTTP Host: 10.1.2.3) is no name
		}
	}
	return s
}

// plainName reports whether s is already normal: lowercase ASCII letters,
// digits, '-', '_' and dots, not ending in a dot, and with a letter, '-'
// or '_' (so no address literal). Most names are; one pass tells.
func plainName(s string) bool {
	if len(s) == 0 || len(s) > 253 || s[len(s)-1] == '.' {
		return false
	}
	named := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z' || c == '-' || c == '_':
			named = true
		case c >= '0' && c <= '9' || c == '.':
		default:
			return false
		}
	}
	return named
}

// maybeAddr reports whether s could be an address literal (perhaps in
// brackets): it has a colon (IPv6), or only digits, dots and brackets
// (IPv4). A name such as www.example.com is not one, and is told apart
// without parsing (a failed netip.ParseAddr allocates its error).
func maybeAddr(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			return true
		case c != '.' && c != '[' && c != ']' && (c < '0' || c > '9'):
			return strings.IndexByte(s[i:], ':') >= 0
		}
	}
	return true
}
