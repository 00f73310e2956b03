package baseline

import (
	"net/netip"
	"strings"
	"time"
)

// View is the read-only face of a baseline that rules use. Every method
// returns copies; none changes the model. Methods are cheap (map lookups)
// and allocate nothing.
type View interface {
	// Ready reports whether the baseline has learned anything: rules that
	// compare with it stay silent (or fall back) while it is not.
	Ready() bool
	// Span is the packet-time span learned.
	Span() (from, to time.Time)
	// Edge returns what is known of client using server:port/proto.
	Edge(k EdgeKey) (Edge, bool)
	// EdgeActiveIn reports whether client used server:port/proto in any
	// hour of week marked in hours: Edge's Hours without the copy.
	EdgeActiveIn(k EdgeKey, hours *[HoursPerWeek]bool) bool
	// ClientServers counts the servers client used on port/proto.
	ClientServers(client netip.Addr, port uint16, proto uint8) int
	// Host reports whether a was seen, its inferred role ("" when it offers
	// nothing recognisable), and its activity count in hour-of-week how
	// (-1 for the whole week).
	Host(a netip.Addr, how int) (seen bool, role string, activity uint64)
	// Peer returns what is known of an internal host's external peer. The
	// returned Names and Ports alias the model: do not modify them.
	Peer(internal, external netip.Addr) (Peer, bool)
	// UsedName reports whether internal host used name or, when parents is
	// true, a name under the same registered domain (the last two labels,
	// three under a two-letter second-level such as co.jp).
	UsedName(internal netip.Addr, name string, parents bool) bool
	// KnownAEPair and KnownHL7Link report DICOM and HL7 paths seen.
	KnownAEPair(p AEPair) bool
	KnownHL7Link(l HL7Link) bool
	// HourOfWeek is t's hour of week in the baseline's zone.
	HourOfWeek(t time.Time) int
}

var _ View = (*Model)(nil)

// Ready implements View.
func (m *Model) Ready() bool { return m != nil && m.Observations > 0 }

// Span implements View.
func (m *Model) Span() (time.Time, time.Time) { return m.From, m.To }

// Edge implements View.
func (m *Model) Edge(k EdgeKey) (Edge, bool) {
	if e := m.edges[key(k)]; e != nil {
		return e.export(), true
	}
	return Edge{}, false
}

// EdgeActiveIn implements View.
func (m *Model) EdgeActiveIn(k EdgeKey, hours *[HoursPerWeek]bool) bool {
	e := m.edges[key(k)]
	if e == nil {
		return false
	}
	for h, n := range e.hours {
		if n > 0 && hours[h] {
			return true
		}
	}
	return false
}

// ClientServers implements View.
func (m *Model) ClientServers(client netip.Addr, port uint16, proto uint8) int {
	return int(m.clientPort[clientPortKey{client.Unmap(), port, proto}])
}

// Host implements View.
func (m *Model) Host(a netip.Addr, how int) (bool, string, uint64) {
	h := m.hosts[a.Unmap()]
	if h == nil {
		return false, "", 0
	}
	var act uint64
	if how >= 0 && how < HoursPerWeek {
		act = uint64(h.Hours[how])
	} else {
		for _, v := range h.Hours {
			act += uint64(v)
		}
	}
	return true, InferRole(h), act
}

// Peer implements View.
func (m *Model) Peer(internal, external netip.Addr) (Peer, bool) {
	if p := m.peers[PeerKey{internal.Unmap(), external.Unmap()}]; p != nil {
		return *p, true
	}
	return Peer{}, false
}

// UsedName implements View.
func (m *Model) UsedName(internal netip.Addr, name string, parents bool) bool {
	name = NormalizeName(name)
	if name == "" {
		return false
	}
	internal = internal.Unmap()
	if m.names[NameKey{internal, name}] != nil {
		return true
	}
	if !parents {
		return false
	}
	_, ok := m.regs[NameKey{internal, RegisteredDomain(name)}]
	return ok
}

// KnownAEPair implements View.
func (m *Model) KnownAEPair(p AEPair) bool { return m.ae[p] != nil }

// KnownHL7Link implements View.
func (m *Model) KnownHL7Link(l HL7Link) bool { return m.hl7[l] != nil }

// RegisteredDomain approximates the registrable domain of a name without a
// public-suffix list: the last two labels, or three when the second-level
// label is a generic one under a two-letter country code (example.co.jp,
// example.ac.jp, example.or.jp).
func RegisteredDomain(name string) string {
	name = NormalizeName(name)
	last := strings.LastIndexByte(name, '.') // before the last label
	if last < 0 {
		return ""
	}
	second := strings.LastIndexByte(name[:last], '.') // before the second-to-last
	if second >= 0 && len(name)-last-1 == 2 {
		switch name[second+1 : last] {
		case "co", "ac", "or", "ne", "go", "ed", "gr", "lg", "ad", "com", "net", "org", "gov", "edu":
			return name[strings.LastIndexByte(name[:second], '.')+1:]
		}
	}
	return name[second+1:]
}

// InferRole guesses a host's role from the services it answers on, for
// `baseline show` and for rules when the configuration names none:
// domain_controller, dns, ntp, dhcp, file_server, print_server, pacs, hl7,
// database, web, rdp_host, ssh_host, or "" for a host that serves nothing
// recognisable (usually a workstation).
func InferRole(h *Host) string {
	has := func(port uint16, proto uint8) bool {
		for _, s := range h.Services {
			if s.Port == port && s.Proto == proto && s.Count > 0 {
				return true
			}
		}
		return false
	}
	app := func(name string) bool {
		for _, s := range h.Services {
			if s.App == name {
				return true
			}
		}
		return false
	}
	switch {
	case has(88, 6) || has(88, 17) || (has(389, 6) && has(445, 6)):
		return "domain_controller"
	case app("dicom") || has(104, 6) || has(11112, 6):
		return "pacs"
	case app("hl7") || has(2575, 6):
		return "hl7"
	case has(53, 17) || has(53, 6):
		return "dns"
	case has(9100, 6) || has(515, 6) || has(631, 6):
		return "print_server"
	case has(445, 6) || has(139, 6):
		return "file_server"
	case has(1433, 6) || has(1521, 6) || has(5432, 6) || has(3306, 6):
		return "database"
	case has(123, 17):
		return "ntp"
	case has(67, 17):
		return "dhcp"
	case has(443, 6) || has(80, 6) || has(8080, 6) || has(8443, 6):
		return "web"
	case app("rdp") || has(3389, 6):
		return "rdp_host"
	case has(22, 6):
		return "ssh_host"
	}
	return ""
}
