package baseline

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// MAC is an Ethernet address.
type MAC [6]byte

// HoursPerWeek is the length of an hour-of-week histogram.
const HoursPerWeek = 168

// Hours counts events by hour of the week (0 is Sunday 00:00–00:59 in the
// model's time zone). Edge hours are kept up to 255 per hour of the week.
type Hours [HoursPerWeek]uint16

func (h *Hours) add(i int, n uint64) {
	v := uint64(h[i]) + n
	h[i] = uint16(min(v, 0xffff))
}

// Total is the sum over the week.
func (h *Hours) Total() uint64 {
	var t uint64
	for _, v := range h {
		t += uint64(v)
	}
	return t
}

// EdgeKey is one line of the communication matrix: a client using a
// server's port over a transport (IANA number).
type EdgeKey struct {
	Client, Server netip.Addr
	Port           uint16
	Proto          uint8
}

// Edge is what the model knows of an EdgeKey: answered connections (a
// connection that was refused or never answered is not learned).
type Edge struct {
	Count       uint64
	Bytes       uint64
	First, Last time.Time
	Hours       Hours // connections by hour of week (of their start)
}

// edgeKey is EdgeKey without pointers (netip.Addr holds one), so that the
// largest table costs the garbage collector nothing: addresses in their
// 16-byte form (IPv4 mapped).
type edgeKey struct {
	client, server [16]byte
	port           uint16
	proto          uint8
}

func key(k EdgeKey) edgeKey {
	return edgeKey{k.Client.Unmap().As16(), k.Server.Unmap().As16(), k.Port, k.Proto}
}

func unmapped(b [16]byte) netip.Addr { return netip.AddrFrom16(b).Unmap() }

func (k edgeKey) export() EdgeKey {
	return EdgeKey{unmapped(k.client), unmapped(k.server), k.port, k.proto}
}

// edge is the stored form of Edge: 208 bytes instead of 400 (times in
// Unix nanoseconds, hour counts saturating at 255 — the rules need "was
// it active then", the summary a profile).
type edge struct {
	count, bytes uint64
	first, last  int64
	hours        smallHours
}

type smallHours [HoursPerWeek]uint8

func (h *smallHours) add(i int, n uint64) { h[i] = uint8(min(uint64(h[i])+n, 0xff)) }

func (e *edge) export() Edge {
	x := Edge{Count: e.count, Bytes: e.bytes, First: time.Unix(0, e.first).UTC(), Last: time.Unix(0, e.last).UTC()}
	for i, v := range e.hours {
		x.Hours[i] = uint16(v)
	}
	return x
}

// Service is a port a host answers on.
type Service struct {
	Port  uint16
	Proto uint8
	App   string // application protocol recognised on it ("rdp", "smb2"), if any
	Count uint64 // answered connections
}

// Host is one address seen.
type Host struct {
	Addr        netip.Addr
	MACs        []MAC
	Services    []Service
	Protocols   []string // application protocols it spoke, as client or server
	Names       []string // names it was reached by (SNI, HTTP Host, DNS answers)
	First, Last time.Time
	// Hours counts the connections it took part in (either side) by hour
	// of week.
	Hours [HoursPerWeek]uint32
	// Client and Server count the answered connections it opened and
	// answered.
	Client, Server uint64
}

// PeerKey is an internal host and an external address it talked with.
type PeerKey struct {
	Internal, External netip.Addr
}

// Peer is what the model knows of a PeerKey.
type Peer struct {
	Outbound, Inbound uint64 // answered connections each way
	Bytes             uint64
	First, Last       time.Time
	Names             []string // names the peer was reached by
	Ports             []uint16 // server ports used (bounded)
}

// NameKey is an internal host and a name it used (looked up, or reached by
// SNI or HTTP Host).
type NameKey struct {
	Host netip.Addr
	Name string
}

// Use counts uses of a name or link.
type Use struct {
	Count       uint64
	First, Last time.Time
}

// AEPair is a DICOM association: calling and called AE titles.
type AEPair struct {
	Calling, Called string
}

// HL7Link is an HL7 v2 message path: MSH-3/4 sending and MSH-5/6
// receiving application and facility.
type HL7Link struct {
	SendingApp, SendingFacility     string
	ReceivingApp, ReceivingFacility string
}

// Link is what the model knows of an AE pair or HL7 link.
type Link struct {
	Use
	Client, Server netip.Addr // the first connection that carried it
}

// Overflow counts what could not be learned because a table was full.
type Overflow struct {
	Hosts, Edges, Peers, Names, Links, Services, HoldBack uint64
}

// Model is the learned baseline. See the package documentation.
type Model struct {
	cfg       Config
	loc       *time.Location
	tz        string
	internal  []netip.Prefix
	internal4 []net4 // internal's IPv4 prefixes

	// From and To are the packet times of the first and last observation
	// learned.
	From, To time.Time
	// Observations counts what was learned.
	Observations uint64
	Overflow     Overflow

	hosts map[netip.Addr]*Host
	edges map[edgeKey]*edge
	peers map[PeerKey]*Peer
	names map[NameKey]*Use
	// regs holds (host, registered domain) for every name used, so that
	// UsedName with parents is one lookup.
	regs map[NameKey]struct{}
	ae   map[AEPair]*Link
	hl7  map[HL7Link]*Link
	// clientPort counts the servers each client used on a port.
	clientPort map[clientPortKey]uint32
	// resolved maps an address to the name a DNS answer gave it (bounded),
	// to name external peers.
	resolved map[netip.Addr]string
}

type clientPortKey struct {
	Client netip.Addr
	Port   uint16
	Proto  uint8
}

const maxResolved = 65_536

// New returns an empty model counting hours in loc (nil: UTC), with
// internal as the site's own networks (empty: the private ranges).
func New(cfg Config, loc *time.Location, internal []netip.Prefix) *Model {
	if loc == nil {
		loc = time.UTC
	}
	if len(internal) == 0 {
		internal = defaultInternal
	}
	return &Model{
		cfg: cfg.withDefaults(), loc: loc, tz: loc.String(), internal: internal, internal4: ipv4Nets(internal),
		hosts: map[netip.Addr]*Host{}, edges: map[edgeKey]*edge{}, peers: map[PeerKey]*Peer{},
		names: map[NameKey]*Use{}, regs: map[NameKey]struct{}{}, ae: map[AEPair]*Link{}, hl7: map[HL7Link]*Link{},
		clientPort: map[clientPortKey]uint32{}, resolved: map[netip.Addr]string{},
	}
}

// net4 is an IPv4 prefix as a masked address and its mask (isInternal's
// fast form of the IPv4 prefixes).
type net4 struct{ base, mask uint32 }

func ipv4Nets(ps []netip.Prefix) []net4 {
	var out []net4
	for _, p := range ps {
		if p.IsValid() && p.Addr().Is4() {
			mask := ^uint32(0) << (32 - p.Bits()) // 0 for /0
			a := p.Addr().As4()
			out = append(out, net4{binary.BigEndian.Uint32(a[:]) & mask, mask})
		}
	}
	return out
}

var defaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// Timezone is the IANA name of the zone hours are counted in.
func (m *Model) Timezone() string { return m.tz }

// Location is the zone hours are counted in.
func (m *Model) Location() *time.Location { return m.loc }

// Config returns the model's limits.
func (m *Model) Config() Config { return m.cfg }

// HourOfWeek is t's hour of the week in the model's zone.
func (m *Model) HourOfWeek(t time.Time) int {
	l := t.In(m.loc)
	return int(l.Weekday())*24 + l.Hour()
}

func (m *Model) isInternal(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() { // in no IPv6 prefix
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		for _, n := range m.internal4 {
			if x&n.mask == n.base {
				return true
			}
		}
		return false
	}
	for _, p := range m.internal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// external reports whether a is a unicast address outside the internal
// networks.
func (m *Model) external(a netip.Addr) bool {
	return a.IsValid() && !a.IsMulticast() && !a.IsLoopback() && !a.IsUnspecified() &&
		!a.IsLinkLocalUnicast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && !m.isInternal(a)
}

// Learn adds one observation to the model.
func (m *Model) Learn(o *Obs) {
	if o.Time.IsZero() {
		return
	}
	m.Observations++
	if m.From.IsZero() || o.Time.Before(m.From) {
		m.From = o.Time
	}
	if end := o.end(); end.After(m.To) {
		m.To = end
	}
	switch o.Kind {
	case ObsFlow:
		m.learnFlow(o)
	case ObsName:
		m.learnName(o)
	case ObsResolve:
		m.learnResolve(o)
	case ObsApp:
		m.learnApp(o)
	case ObsDICOM:
		learnLink(m, m.ae, AEPair{o.A, o.B}, o)
	case ObsHL7:
		learnLink(m, m.hl7, HL7Link{o.A, o.B, o.C, o.D}, o)
	}
}

func (m *Model) host(a netip.Addr, t time.Time) *Host {
	h := m.hosts[a]
	if h == nil {
		if len(m.hosts) >= m.cfg.MaxHosts {
			m.Overflow.Hosts++
			return nil
		}
		h = &Host{Addr: a, First: t, Last: t}
		m.hosts[a] = h
	}
	if t.Before(h.First) {
		h.First = t
	}
	if t.After(h.Last) {
		h.Last = t
	}
	return h
}

func (m *Model) learnFlow(o *Obs) {
	how := m.HourOfWeek(o.Time)
	c := m.host(o.Client, o.Time)
	if c != nil {
		if o.End.After(c.Last) {
			c.Last = o.End
		}
		c.Hours[how]++
		if o.HasMACs {
			c.MACs = addMAC(c.MACs, o.ClientMAC)
		}
	}
	if o.Failed {
		// A refused or unanswered connection says nothing normal about the
		// server; only the client's activity is kept.
		return
	}
	s := m.host(o.Server, o.Time)
	if s != nil {
		if o.End.After(s.Last) {
			s.Last = o.End
		}
		s.Hours[how]++
		s.Server++
		if o.HasMACs {
			s.MACs = addMAC(s.MACs, o.ServerMAC)
		}
		m.addService(s, o.Port, o.Proto, "", 1)
	}
	if c != nil {
		c.Client++
	}
	k := key(EdgeKey{o.Client, o.Server, o.Port, o.Proto})
	e := m.edges[k]
	if e == nil {
		if len(m.edges) >= m.cfg.MaxEdges {
			m.Overflow.Edges++
		} else {
			e = &edge{first: o.Time.UnixNano(), last: o.End.UnixNano()}
			m.edges[k] = e
			m.clientPort[clientPortKey{o.Client, o.Port, o.Proto}]++
		}
	}
	if e != nil {
		e.count++
		e.bytes += o.Bytes
		e.hours.add(how, 1)
		e.first = min(e.first, o.Time.UnixNano())
		e.last = max(e.last, o.End.UnixNano())
	}
	switch cin, sin := m.external(o.Client), m.external(o.Server); {
	case !cin && sin && m.isInternal(o.Client):
		m.learnPeer(o, o.Client, o.Server, false)
	case cin && !sin && m.isInternal(o.Server):
		m.learnPeer(o, o.Server, o.Client, true)
	}
}

func (m *Model) learnPeer(o *Obs, internal, external netip.Addr, inbound bool) {
	k := PeerKey{internal, external}
	p := m.peers[k]
	if p == nil {
		if len(m.peers) >= m.cfg.MaxPeers {
			m.Overflow.Peers++
			return
		}
		p = &Peer{First: o.Time, Last: o.End}
		m.peers[k] = p
	}
	if inbound {
		p.Inbound++
	} else {
		p.Outbound++
	}
	p.Bytes += o.Bytes
	if o.Time.Before(p.First) {
		p.First = o.Time
	}
	if o.End.After(p.Last) {
		p.Last = o.End
	}
	if len(p.Ports) < 8 && !slices.Contains(p.Ports, o.Port) {
		p.Ports = append(p.Ports, o.Port)
	}
	if n := m.resolved[external]; n != "" {
		p.Names = addString(p.Names, n, 4)
	}
}

func (m *Model) addService(h *Host, port uint16, proto uint8, app string, n uint64) {
	for i := range h.Services {
		s := &h.Services[i]
		if s.Port == port && s.Proto == proto {
			s.Count += n
			if app != "" {
				s.App = app
			}
			return
		}
	}
	if len(h.Services) >= m.cfg.MaxServices {
		m.Overflow.Services++
		return
	}
	h.Services = append(h.Services, Service{Port: port, Proto: proto, App: app, Count: n})
}

func (m *Model) useName(host netip.Addr, name string, t time.Time) {
	k := NameKey{host, name}
	u := m.names[k]
	if u == nil {
		if len(m.names) >= m.cfg.MaxNames {
			m.Overflow.Names++
			return
		}
		u = &Use{First: t, Last: t}
		m.names[k] = u
		if reg := RegisteredDomain(name); reg != "" {
			m.regs[NameKey{host, reg}] = struct{}{}
		}
	}
	u.Count++
	if t.Before(u.First) {
		u.First = t
	}
	if t.After(u.Last) {
		u.Last = t
	}
}

func (m *Model) learnName(o *Obs) {
	name := NormalizeName(o.Name)
	if name == "" {
		return
	}
	if m.isInternal(o.Client) {
		m.useName(o.Client, name, o.Time)
	}
	if s := m.host(o.Server, o.Time); s != nil {
		s.Names = addString(s.Names, name, 8)
	}
	if m.isInternal(o.Client) && m.external(o.Server) {
		if p := m.peers[PeerKey{o.Client, o.Server}]; p != nil {
			p.Names = addString(p.Names, name, 4)
		}
	}
	m.remember(o.Server, name)
}

func (m *Model) learnResolve(o *Obs) {
	name := NormalizeName(o.Name)
	if name == "" {
		return
	}
	if m.isInternal(o.Client) {
		m.useName(o.Client, name, o.Time)
	}
	for _, a := range o.Addrs {
		m.remember(a, name)
	}
}

// remember notes that a was reached by name, for naming later peers.
func (m *Model) remember(a netip.Addr, name string) {
	if !a.IsValid() || !m.external(a) {
		return
	}
	if _, ok := m.resolved[a]; !ok && len(m.resolved) >= maxResolved {
		for k := range m.resolved { // drop one at random
			delete(m.resolved, k)
			break
		}
	}
	m.resolved[a] = name
}

func (m *Model) learnApp(o *Obs) {
	if o.App == "" {
		return
	}
	if c := m.host(o.Client, o.Time); c != nil {
		c.Protocols = addString(c.Protocols, o.App, 16)
	}
	if s := m.host(o.Server, o.Time); s != nil {
		s.Protocols = addString(s.Protocols, o.App, 16)
		m.addService(s, o.Port, o.Proto, o.App, 0)
	}
}

func learnLink[K comparable](m *Model, t map[K]*Link, k K, o *Obs) {
	l := t[k]
	if l == nil {
		if len(t) >= m.cfg.MaxLinks {
			m.Overflow.Links++
			return
		}
		l = &Link{Use: Use{First: o.Time, Last: o.Time}, Client: o.Client, Server: o.Server}
		t[k] = l
	}
	l.Count++
	if o.Time.Before(l.First) {
		l.First = o.Time
	}
	if o.Time.After(l.Last) {
		l.Last = o.Time
	}
}

func addMAC(ms []MAC, m MAC) []MAC {
	if m == (MAC{}) || len(ms) >= 4 || slices.Contains(ms, m) {
		return ms
	}
	return append(ms, m)
}

func addString(ss []string, s string, max int) []string {
	if s == "" || len(ss) >= max || slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// NormalizeName lowercases a DNS name and drops a trailing dot and an
// HTTP Host port.
func NormalizeName(n string) string {
	if n == "" || plainName(n) {
		return n
	}
	n = strings.TrimSpace(n)
	if i := strings.LastIndexByte(n, ':'); i > 0 && !strings.Contains(n[:i], ":") {
		n = n[:i]
	}
	n = strings.TrimSuffix(strings.ToLower(n), ".")
	if len(n) > 253 {
		return ""
	}
	if maybeAddr(n) {
		if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
			return "" // an address literal (HTTP Host: 10.1.2.3) is no name
		}
	}
	return n
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

// Stats are the model's sizes.
type Stats struct {
	Hosts, Edges, Peers, Names, AEPairs, HL7Links int
}

// Stats returns the table sizes.
func (m *Model) Stats() Stats {
	return Stats{len(m.hosts), len(m.edges), len(m.peers), len(m.names), len(m.ae), len(m.hl7)}
}
