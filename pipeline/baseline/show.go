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

// WriteSummary prints the model for people: the span and sizes, the hosts
// by role with their services, the busiest connections, the external peers
// and the DICOM and HL7 links; at most limit rows per table (0: all).
// Activity is drawn as a 24-character profile of the local day (00–23 h,
// ' ' none … '█' busiest).
func (m *Model) WriteSummary(w io.Writer, limit int) error {
	ew := &errWriter{w: w}
	span := "nothing learned"
	if !m.From.IsZero() {
		span = fmt.Sprintf("%s .. %s (%s)", m.From.In(m.loc).Format("2006-01-02 15:04"), m.To.In(m.loc).Format("2006-01-02 15:04"), days(m.To.Sub(m.From)))
	}
	st := m.Stats()
	ew.printf("baseline: %s, time zone %s\n", span, m.tz)
	ew.printf("learned: %d observations; %d hosts, %d connections (client → server:port), %d external peers, %d names, %d DICOM AE pairs, %d HL7 links\n",
		m.Observations, st.Hosts, st.Edges, st.Peers, st.Names, st.AEPairs, st.HL7Links)
	o := m.Overflow
	if o != (Overflow{}) {
		ew.printf("NOT learned (tables full, raise the limits in the configuration's baseline section): hosts %d, connections %d, peers %d, names %d, links %d, services %d, held back %d\n",
			o.Hosts, o.Edges, o.Peers, o.Names, o.Links, o.Services, o.HoldBack)
	}

	hosts := make([]*Host, 0, len(m.hosts))
	for _, h := range m.hosts {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b *Host) int {
		ra, rb := InferRole(a), InferRole(b)
		if (ra == "") != (rb == "") {
			if ra == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(strings.Compare(ra, rb), cmpAddr(a.Addr, b.Addr))
	})
	ew.printf("\nhosts (%d), servers first:\n", len(hosts))
	ew.printf("  %-39s %-17s %-8s %-8s %-24s %s\n", "ADDRESS", "ROLE", "CLIENT", "SERVER", "ACTIVITY 00h…23h", "SERVICES")
	for i, h := range hosts {
		if limit > 0 && i == limit {
			ew.printf("  … %d more\n", len(hosts)-limit)
			break
		}
		var hrs [HoursPerWeek]uint64
		for j, v := range h.Hours {
			hrs[j] = uint64(v)
		}
		ew.printf("  %-39s %-17s %-8d %-8d %-24s %s\n", h.Addr, orDash(InferRole(h)), h.Client, h.Server, profile(hrs[:]), services(h))
	}

	edges := make([]EdgeKey, 0, len(m.edges))
	for k := range m.edges {
		edges = append(edges, k.export())
	}
	slices.SortFunc(edges, func(a, b EdgeKey) int {
		return cmp.Or(cmp.Compare(m.edges[key(b)].count, m.edges[key(a)].count), cmpEdge(a, b))
	})
	ew.printf("\nconnections (%d), busiest first:\n", len(edges))
	ew.printf("  %-60s %-8s %-12s %-24s %s\n", "CLIENT → SERVER:PORT", "COUNT", "BYTES", "ACTIVITY 00h…23h", "LAST SEEN")
	for i, k := range edges {
		if limit > 0 && i == limit {
			ew.printf("  … %d more\n", len(edges)-limit)
			break
		}
		e := m.edges[key(k)].export()
		var hrs [HoursPerWeek]uint64
		for j, v := range e.Hours {
			hrs[j] = uint64(v)
		}
		ew.printf("  %-60s %-8d %-12d %-24s %s\n", edgeString(k), e.Count, e.Bytes, profile(hrs[:]), e.Last.In(m.loc).Format("2006-01-02 15:04"))
	}

	peers := make([]PeerKey, 0, len(m.peers))
	for k := range m.peers {
		peers = append(peers, k)
	}
	slices.SortFunc(peers, func(a, b PeerKey) int {
		return cmp.Or(cmpAddr(a.Internal, b.Internal), cmpAddr(a.External, b.External))
	})
	ew.printf("\nexternal peers (%d):\n", len(peers))
	for i, k := range peers {
		if limit > 0 && i == limit {
			ew.printf("  … %d more\n", len(peers)-limit)
			break
		}
		p := m.peers[k]
		names := ""
		if len(p.Names) > 0 {
			names = " (" + strings.Join(p.Names, ", ") + ")"
		}
		ew.printf("  %s ↔ %s%s: %d out, %d in, %d bytes, ports %s, last %s\n", k.Internal, k.External, names,
			p.Outbound, p.Inbound, p.Bytes, portList(p.Ports), p.Last.In(m.loc).Format("2006-01-02 15:04"))
	}

	if len(m.ae) > 0 {
		ew.printf("\nDICOM AE pairs (%d):\n", len(m.ae))
		keys := make([]AEPair, 0, len(m.ae))
		for k := range m.ae {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b AEPair) int {
			return cmp.Or(strings.Compare(a.Calling, b.Calling), strings.Compare(a.Called, b.Called))
		})
		for _, k := range keys {
			l := m.ae[k]
			ew.printf("  %s → %s: %d associations (%s → %s)\n", k.Calling, k.Called, l.Count, l.Client, l.Server)
		}
	}
	if len(m.hl7) > 0 {
		ew.printf("\nHL7 links (%d):\n", len(m.hl7))
		keys := make([]HL7Link, 0, len(m.hl7))
		for k := range m.hl7 {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b HL7Link) int { return strings.Compare(hl7String(a), hl7String(b)) })
		for _, k := range keys {
			l := m.hl7[k]
			ew.printf("  %s: %d messages (%s → %s)\n", hl7String(k), l.Count, l.Client, l.Server)
		}
	}
	return ew.err
}

func services(h *Host) string {
	ss := slices.Clone(h.Services)
	slices.SortFunc(ss, func(a, b Service) int { return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port)) })
	var b strings.Builder
	for _, s := range ss {
		if s.Count == 0 && s.App == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d/%s", s.Port, protoName(s.Proto))
		if s.App != "" {
			b.WriteString("(" + s.App + ")")
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

func portList(ps []uint16) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}

// profile folds an hour-of-week histogram into 24 hours of the day and
// draws it with block characters.
func profile(week []uint64) string {
	var day [24]uint64
	var peak uint64
	for i, v := range week {
		day[i%24] += v
	}
	for _, v := range day {
		peak = max(peak, v)
	}
	levels := []rune(" ▁▂▃▄▅▆▇█")
	out := make([]rune, 24)
	for i, v := range day {
		switch {
		case v == 0:
			out[i] = '·'
		case peak == 0:
			out[i] = levels[1]
		default:
			out[i] = levels[int((v*8+peak-1)/peak)]
		}
	}
	return string(out)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Hosts returns the addresses of every host, sorted.
func (m *Model) Hosts() []netip.Addr {
	out := make([]netip.Addr, 0, len(m.hosts))
	for a := range m.hosts {
		out = append(out, a)
	}
	slices.SortFunc(out, cmpAddr)
	return out
}
