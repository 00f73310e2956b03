package rules

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"
)

// Location is the site's time zone.
func (s *Site) Location() *time.Location { return s.lookups().loc }

// HourOfWeek is t's hour of the week in the site's time zone: 0 is Sunday
// 00:00–00:59, 167 Saturday 23:00–23:59.
func (s *Site) HourOfWeek(t time.Time) int {
	l := t.In(s.lookups().loc)
	return int(l.Weekday())*24 + l.Hour()
}

// IsNight reports whether t falls in the night hours (site time zone).
func (s *Site) IsNight(t time.Time) bool {
	c := s.lookups()
	l := t.In(c.loc)
	m := l.Hour()*60 + l.Minute()
	return inSpan(m, c.nightStart, c.nightEnd)
}

// NightHours returns the night span as minutes after midnight.
func (s *Site) NightHours() (start, end int) {
	c := s.lookups()
	return c.nightStart, c.nightEnd
}

// inSpan reports whether minute m is in [start, end), crossing midnight
// when end < start; start == end is empty.
func inSpan(m, start, end int) bool {
	if start <= end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

// IsInternal reports whether a is in networks.internal.
func (s *Site) IsInternal(a netip.Addr) bool {
	return s.lookups().internalSet.Contains(a.Unmap())
}

// IsExternal reports whether a is a unicast address outside the internal
// networks: not internal, multicast, broadcast, loopback or unspecified.
func (s *Site) IsExternal(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		return s.isExternal4(a)
	}
	if !a.IsValid() || a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		return false
	}
	if a.Is4() && (a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.As4()[3] == 255 && s.IsInternal(a)) {
		return false
	}
	return !s.IsInternal(a)
}

// isExternal4 is IsExternal for an IPv4 address, from its 32 bits: not
// in 0.0.0.0/32 (unspecified), 127.0.0.0/8 (loopback), 169.254.0.0/16
// (link-local), 224.0.0.0/4 (multicast, link-local multicast with it),
// 255.255.255.255, an internal .255 (broadcast) or the internal networks.
func (s *Site) isExternal4(a netip.Addr) bool {
	b := a.As4()
	x := binary.BigEndian.Uint32(b[:])
	switch {
	case x == 0, x>>24 == 127, x>>16 == 169<<8|254, x>>28 == 0xe, x == 0xffffffff:
		return false
	}
	return !s.lookups().internalSet.Contains4(x)
}

// Segment returns the name of a's segment, or "".
func (s *Site) Segment(a netip.Addr) string {
	a = a.Unmap()
	for _, n := range s.lookups().segs {
		if n.p.Contains(a) {
			return n.name
		}
	}
	return ""
}

// SegmentNames lists the segment names in configuration order.
func (s *Site) SegmentNames() []string { return s.lookups().segNames }

// Role returns a's configured server role (the most specific entry), or "".
func (s *Site) Role(a netip.Addr) string {
	a = a.Unmap()
	for _, n := range s.lookups().roles {
		if n.p.Contains(a) {
			return n.name
		}
	}
	return ""
}

// HasRole reports whether a is listed under role (a may have several).
func (s *Site) HasRole(a netip.Addr, role string) bool {
	a = a.Unmap()
	for _, n := range s.lookups().roles {
		if n.name == role && n.p.Contains(a) {
			return true
		}
	}
	return false
}

// IsServer reports whether a is listed under any server role.
func (s *Site) IsServer(a netip.Addr) bool { return s.Role(a) != "" }

// IsInfrastructure reports whether a serves nearly every host (domain
// controllers, DNS, NTP, DHCP, file and print servers, antivirus, update
// and proxy servers): traffic to it is routine.
func (s *Site) IsInfrastructure(a netip.Addr) bool { return s.lookups().infra.contains(a) }

// IsManager reports whether a reaches many hosts by design: backup,
// monitoring, antivirus and update servers.
func (s *Site) IsManager(a netip.Addr) bool { return s.lookups().manager.contains(a) }

// IsAdmin reports whether a is listed under admins.
func (s *Site) IsAdmin(a netip.Addr) bool { return s.lookups().admins.contains(a) }

// IsJumpHost reports whether a is a VPN router or jump host: listed under
// those roles or as a vendor's via host.
func (s *Site) IsJumpHost(a netip.Addr) bool { return s.lookups().jump.contains(a) }

// Allowed reports whether traffic between internal host in and
// external peer out on port/proto is approved, and the approval's note.
// names are the peer's known names (DNS, SNI, HTTP Host); any may match.
func (s *Site) Allowed(in, out netip.Addr, names []string, port uint16, proto uint8) (note string, ok bool) {
	for i := range s.lookups().allowed {
		r := &s.c.allowed[i]
		if !r.anyFrom && !r.from.contains(in) {
			continue
		}
		if !r.ports.match(port) || (r.proto != 0 && r.proto != proto) {
			continue
		}
		if r.to.contains(out) || matchNames(r.names, names) {
			return r.note, true
		}
	}
	return "", false
}

// matchNames reports whether any of names matches a pattern: "x" matches x
// and its subdomains, "*.x" only subdomains.
func matchNames(patterns, names []string) bool {
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n == "" {
			continue
		}
		for _, p := range patterns {
			if sub, ok := strings.CutPrefix(p, "*."); ok {
				if strings.HasSuffix(n, "."+sub) {
					return true
				}
				continue
			}
			if n == p || strings.HasSuffix(n, "."+p) {
				return true
			}
		}
	}
	return false
}

// Vendors lists the validated maintenance entries.
func (s *Site) Vendors() []VendorInfo { return s.lookups().vendors }

// IsExternal reports whether a (or one of its names) is the vendor's.
func (v *VendorInfo) IsExternal(a netip.Addr, names []string) bool {
	return v.external.contains(a) || matchNames(v.names, names)
}

// IsVia reports whether a is the vendor's VPN router or jump host.
func (v *VendorInfo) IsVia(a netip.Addr) bool { return v.via.contains(a) }

// HasVia reports whether the vendor declares a via host.
func (v *VendorInfo) HasVia() bool { return len(v.via) > 0 }

// MayReach reports whether the vendor may reach internal host a. A vendor
// without a reach list may reach nothing but its via hosts.
func (v *VendorInfo) MayReach(a netip.Addr) bool { return v.reach.contains(a) || v.via.contains(a) }

// InWindow reports whether t (in loc) is inside one of the vendor's
// approved windows.
func (v *VendorInfo) InWindow(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	d := l.Weekday()
	prev := (d + 6) % 7
	for _, w := range v.windows {
		switch {
		case w.start < w.end: // same day
			if w.days[d] && m >= w.start && m < w.end {
				return true
			}
		case w.start == w.end: // the whole day
			if w.days[d] {
				return true
			}
		default: // crosses midnight: start on a listed day, end the next
			if (w.days[d] && m >= w.start) || (w.days[prev] && m < w.end) {
				return true
			}
		}
	}
	return false
}

// WindowText describes the vendor's windows for messages, e.g.
// "tue,thu 13:00–17:00".
func (v *VendorInfo) WindowText() string {
	if len(v.windows) == 0 {
		return "none"
	}
	var b strings.Builder
	names := [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	for i, w := range v.windows {
		if i > 0 {
			b.WriteString("; ")
		}
		first := true
		for d, on := range w.days {
			if on {
				if !first {
					b.WriteByte(',')
				}
				b.WriteString(names[d])
				first = false
			}
		}
		b.WriteString(" " + clock(w.start) + "–" + clock(w.end))
	}
	return b.String()
}

func clock(m int) string {
	return string([]byte{byte('0' + m/600), byte('0' + m/60%10), ':', byte('0' + m%60/10), byte('0' + m%10)})
}

// HasSegmentPolicy reports whether a segment policy is configured.
func (s *Site) HasSegmentPolicy() bool { return len(s.lookups().policy) > 0 }

// SegmentAllowed reports whether a flow from segment from to segment to on
// port/proto is allowed by the policy. Flows within a segment, and flows
// with an endpoint in no segment, are always allowed.
func (s *Site) SegmentAllowed(from, to string, port uint16, proto uint8) bool {
	if from == "" || to == "" || from == to {
		return true
	}
	for _, r := range s.lookups().policy {
		if !matchSeg(r.from, from) || !matchSeg(r.to, to) {
			continue
		}
		if r.ports.match(port) && (r.proto == 0 || r.proto == proto) {
			return true
		}
	}
	return false
}

func matchSeg(list []string, seg string) bool {
	for _, s := range list {
		if s == "*" || s == seg {
			return true
		}
	}
	return false
}
