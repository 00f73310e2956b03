package baseline

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Diff is what changed from one baseline to another.
type Diff struct {
	HostsAdded, HostsRemoved       []netip.Addr
	RolesChanged                   []RoleChange
	ServicesAdded, ServicesRemoved []HostService
	EdgesAdded, EdgesRemoved       []EdgeKey
	PeersAdded, PeersRemoved       []PeerKey
	NamesAdded, NamesRemoved       []NameKey
	AEPairsAdded, AEPairsRemoved   []AEPair
	HL7Added, HL7Removed           []HL7Link
}

// RoleChange is a host whose inferred role changed.
type RoleChange struct {
	Addr     netip.Addr
	From, To string
}

// HostService is one service of one host.
type HostService struct {
	Addr  netip.Addr
	Port  uint16
	Proto uint8
}

// Compare returns what b has that a lacks (added) and what a has that b
// lacks (removed), each list sorted.
func Compare(a, b *Model) *Diff {
	d := &Diff{}
	d.HostsAdded, d.HostsRemoved = keysDiff(a.hosts, b.hosts, cmpAddr)
	for addr, hb := range b.hosts {
		ha := a.hosts[addr]
		if ha == nil {
			continue
		}
		if ra, rb := InferRole(ha), InferRole(hb); ra != rb {
			d.RolesChanged = append(d.RolesChanged, RoleChange{addr, ra, rb})
		}
		d.ServicesAdded = append(d.ServicesAdded, servicesDiff(addr, ha, hb)...)
		d.ServicesRemoved = append(d.ServicesRemoved, servicesDiff(addr, hb, ha)...)
	}
	slices.SortFunc(d.RolesChanged, func(x, y RoleChange) int { return cmpAddr(x.Addr, y.Addr) })
	cmpHS := func(x, y HostService) int {
		return cmp.Or(cmpAddr(x.Addr, y.Addr), cmp.Compare(x.Proto, y.Proto), cmp.Compare(x.Port, y.Port))
	}
	slices.SortFunc(d.ServicesAdded, cmpHS)
	slices.SortFunc(d.ServicesRemoved, cmpHS)
	added, removed := keysDiff(a.edges, b.edges, func(x, y edgeKey) int { return cmpEdge(x.export(), y.export()) })
	for _, k := range added {
		d.EdgesAdded = append(d.EdgesAdded, k.export())
	}
	for _, k := range removed {
		d.EdgesRemoved = append(d.EdgesRemoved, k.export())
	}
	d.PeersAdded, d.PeersRemoved = keysDiff(a.peers, b.peers, func(x, y PeerKey) int {
		return cmp.Or(cmpAddr(x.Internal, y.Internal), cmpAddr(x.External, y.External))
	})
	d.NamesAdded, d.NamesRemoved = keysDiff(a.names, b.names, func(x, y NameKey) int {
		return cmp.Or(cmpAddr(x.Host, y.Host), strings.Compare(x.Name, y.Name))
	})
	d.AEPairsAdded, d.AEPairsRemoved = keysDiff(a.ae, b.ae, func(x, y AEPair) int {
		return cmp.Or(strings.Compare(x.Calling, y.Calling), strings.Compare(x.Called, y.Called))
	})
	d.HL7Added, d.HL7Removed = keysDiff(a.hl7, b.hl7, func(x, y HL7Link) int {
		return strings.Compare(fmt.Sprint(x), fmt.Sprint(y))
	})
	return d
}

func cmpEdge(x, y EdgeKey) int {
	return cmp.Or(cmpAddr(x.Client, y.Client), cmpAddr(x.Server, y.Server), cmp.Compare(x.Proto, y.Proto), cmp.Compare(x.Port, y.Port))
}

func keysDiff[K comparable, V any](a, b map[K]V, less func(K, K) int) (added, removed []K) {
	for k := range b {
		if _, ok := a[k]; !ok {
			added = append(added, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			removed = append(removed, k)
		}
	}
	slices.SortFunc(added, less)
	slices.SortFunc(removed, less)
	return added, removed
}

func servicesDiff(addr netip.Addr, from, to *Host) []HostService {
	var out []HostService
	for _, s := range to.Services {
		found := false
		for _, t := range from.Services {
			if t.Port == s.Port && t.Proto == s.Proto {
				found = true
				break
			}
		}
		if !found && s.Count > 0 {
			out = append(out, HostService{addr, s.Port, s.Proto})
		}
	}
	return out
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool {
	return len(d.HostsAdded)+len(d.HostsRemoved)+len(d.RolesChanged)+len(d.ServicesAdded)+len(d.ServicesRemoved)+
		len(d.EdgesAdded)+len(d.EdgesRemoved)+len(d.PeersAdded)+len(d.PeersRemoved)+len(d.NamesAdded)+
		len(d.NamesRemoved)+len(d.AEPairsAdded)+len(d.AEPairsRemoved)+len(d.HL7Added)+len(d.HL7Removed) == 0
}

// WriteText prints the diff for people: "+" added, "-" removed, at most
// limit lines per section (0: all).
func (d *Diff) WriteText(w io.Writer, limit int) error {
	ew := &errWriter{w: w}
	if d.Empty() {
		ew.printf("no differences\n")
		return ew.err
	}
	section(ew, "hosts", limit, d.HostsAdded, d.HostsRemoved, func(a netip.Addr) string { return a.String() })
	if len(d.RolesChanged) > 0 {
		ew.printf("roles changed (%d):\n", len(d.RolesChanged))
		for i, r := range d.RolesChanged {
			if limit > 0 && i == limit {
				ew.printf("  … %d more\n", len(d.RolesChanged)-limit)
				break
			}
			ew.printf("  ~ %s: %s → %s\n", r.Addr, orNone(r.From), orNone(r.To))
		}
	}
	section(ew, "services", limit, d.ServicesAdded, d.ServicesRemoved, func(s HostService) string {
		return fmt.Sprintf("%s %d/%s", s.Addr, s.Port, protoName(s.Proto))
	})
	section(ew, "connections (client → server:port)", limit, d.EdgesAdded, d.EdgesRemoved, edgeString)
	section(ew, "external peers (internal ↔ external)", limit, d.PeersAdded, d.PeersRemoved, func(k PeerKey) string {
		return k.Internal.String() + " ↔ " + k.External.String()
	})
	section(ew, "names used", limit, d.NamesAdded, d.NamesRemoved, func(k NameKey) string { return k.Host.String() + " " + k.Name })
	section(ew, "DICOM AE pairs", limit, d.AEPairsAdded, d.AEPairsRemoved, func(p AEPair) string { return p.Calling + " → " + p.Called })
	section(ew, "HL7 links", limit, d.HL7Added, d.HL7Removed, hl7String)
	return ew.err
}

func section[T any](ew *errWriter, title string, limit int, added, removed []T, str func(T) string) {
	if len(added)+len(removed) == 0 {
		return
	}
	ew.printf("%s (+%d -%d):\n", title, len(added), len(removed))
	for _, part := range []struct {
		sign string
		list []T
	}{{"+", added}, {"-", removed}} {
		for i, v := range part.list {
			if limit > 0 && i == limit {
				ew.printf("  %s … %d more\n", part.sign, len(part.list)-limit)
				break
			}
			ew.printf("  %s %s\n", part.sign, str(v))
		}
	}
}

func edgeString(k EdgeKey) string {
	return fmt.Sprintf("%s → %s:%d/%s", k.Client, addrPort(k.Server), k.Port, protoName(k.Proto))
}

func addrPort(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

func hl7String(l HL7Link) string {
	return fmt.Sprintf("%s^%s → %s^%s", l.SendingApp, l.SendingFacility, l.ReceivingApp, l.ReceivingFacility)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	}
	return fmt.Sprint(p)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
