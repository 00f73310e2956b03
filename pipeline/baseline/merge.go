package baseline

import (
	"fmt"
	"slices"
)

// Merge adds other into m: counts and histograms are summed, first/last
// widened, lists united; both must count hours in the same zone. Tables
// stay bounded by m's Config (what does not fit is counted in Overflow).
// other is not changed.
func (m *Model) Merge(other *Model) error {
	if other.tz != m.tz {
		return fmt.Errorf("merging baselines: time zones differ (%s and %s)", m.tz, other.tz)
	}
	m.add(other)
	return nil
}

// add is Merge without the zone check.
func (m *Model) add(other *Model) {
	if !other.From.IsZero() && (m.From.IsZero() || other.From.Before(m.From)) {
		m.From = other.From
	}
	if other.To.After(m.To) {
		m.To = other.To
	}
	m.Observations += other.Observations
	o := &m.Overflow
	oo := other.Overflow
	o.Hosts += oo.Hosts
	o.Edges += oo.Edges
	o.Peers += oo.Peers
	o.Names += oo.Names
	o.Links += oo.Links
	o.Services += oo.Services
	o.HoldBack += oo.HoldBack

	for a, oh := range other.hosts {
		h := m.hosts[a]
		if h == nil {
			if len(m.hosts) >= m.cfg.MaxHosts {
				m.Overflow.Hosts++
				continue
			}
			h = &Host{Addr: a, First: oh.First, Last: oh.Last}
			m.hosts[a] = h
		}
		h.First, h.Last = earlier(h.First, oh.First), later(h.Last, oh.Last)
		for _, mac := range oh.MACs {
			h.MACs = addMAC(h.MACs, mac)
		}
		for _, s := range oh.Services {
			m.addService(h, s.Port, s.Proto, s.App, s.Count)
		}
		for _, p := range oh.Protocols {
			h.Protocols = addString(h.Protocols, p, 16)
		}
		for _, n := range oh.Names {
			h.Names = addString(h.Names, n, 8)
		}
		for i, v := range oh.Hours {
			h.Hours[i] += v
		}
		h.Client += oh.Client
		h.Server += oh.Server
	}
	for k, oe := range other.edges {
		e := m.edges[k]
		if e == nil {
			if len(m.edges) >= m.cfg.MaxEdges {
				m.Overflow.Edges++
				continue
			}
			e = &edge{first: oe.first, last: oe.last}
			m.edges[k] = e
			x := k.export()
			m.clientPort[clientPortKey{x.Client, x.Port, x.Proto}]++
		}
		e.count += oe.count
		e.bytes += oe.bytes
		e.first, e.last = min(e.first, oe.first), max(e.last, oe.last)
		for i, v := range oe.hours {
			e.hours.add(i, uint64(v))
		}
	}
	for k, op := range other.peers {
		p := m.peers[k]
		if p == nil {
			if len(m.peers) >= m.cfg.MaxPeers {
				m.Overflow.Peers++
				continue
			}
			p = &Peer{First: op.First, Last: op.Last}
			m.peers[k] = p
		}
		p.Outbound += op.Outbound
		p.Inbound += op.Inbound
		p.Bytes += op.Bytes
		p.First, p.Last = earlier(p.First, op.First), later(p.Last, op.Last)
		for _, n := range op.Names {
			p.Names = addString(p.Names, n, 4)
		}
		for _, port := range op.Ports {
			if len(p.Ports) < 8 && !slices.Contains(p.Ports, port) {
				p.Ports = append(p.Ports, port)
			}
		}
	}
	for k, ou := range other.names {
		u := m.names[k]
		if u == nil {
			if len(m.names) >= m.cfg.MaxNames {
				m.Overflow.Names++
				continue
			}
			u = &Use{First: ou.First, Last: ou.Last}
			m.names[k] = u
			if reg := RegisteredDomain(k.Name); reg != "" {
				m.regs[NameKey{k.Host, reg}] = struct{}{}
			}
		}
		u.Count += ou.Count
		u.First, u.Last = earlier(u.First, ou.First), later(u.Last, ou.Last)
	}
	mergeLinks(m, m.ae, other.ae)
	mergeLinks(m, m.hl7, other.hl7)
	for a, n := range other.resolved {
		if len(m.resolved) < maxResolved {
			m.resolved[a] = n
		}
	}
}

func mergeLinks[K comparable](m *Model, dst, src map[K]*Link) {
	for k, ol := range src {
		l := dst[k]
		if l == nil {
			if len(dst) >= m.cfg.MaxLinks {
				m.Overflow.Links++
				continue
			}
			c := *ol
			dst[k] = &c
			continue
		}
		l.Count += ol.Count
		l.First, l.Last = earlier(l.First, ol.First), later(l.Last, ol.Last)
	}
}

// Clone returns a deep copy of m (for saving it while m goes on
// learning).
func (m *Model) Clone() *Model {
	c := New(m.cfg, m.loc, m.internal)
	c.tz = m.tz
	c.add(m)
	return c
}
