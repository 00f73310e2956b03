package event

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
)

// Conn is the flow a protocol record belongs to: the analyst's pivot from a
// record to its flow (flow.id, network.community_id) and its packets.
// Source is the flow's originator, as in its flow record.
type Conn struct {
	FlowID      FlowID
	CommunityID CommunityID
	Source      netip.AddrPort
	Destination netip.AddrPort
	Transport   uint8 // IANA protocol number
	VLAN        uint16
	Direction   string // ECS network.direction, empty when unknown
	Interface   string // observer.ingress.interface.name
}

// Base is what every protocol record carries besides its own fields. A
// protocol package embeds it in its record type and writes its own members
// with AppendProto's body callback.
type Base struct {
	Conn
	Timestamp time.Time // packet time of the message (or of the request)
	Protocol  string    // network.protocol: "dns", "smb2", "dicom"
	Action    string    // event.action, e.g. "rdp_negotiation", "dns_query"
	Category  []string  // event.category; defaults to ["network"]
	Type      []string  // event.type; defaults to ["protocol"]
	Outcome   string    // event.outcome: success, failure or unknown; empty omits it
	Reason    string    // event.reason, e.g. an anomaly or an error status
	Duration  time.Duration
	// RelatedUsers and RelatedHosts feed related.user and related.hosts.
	RelatedUsers []string
	RelatedHosts []string
}

// Time implements Record's Time for embedding types.
func (b *Base) Time() time.Time { return b.Timestamp }

// BaseRecord lets generic code (the worker, tests) reach a protocol record's
// Base.
func (b *Base) BaseRecord() *Base { return b }

// AppendProto writes a protocol record: @timestamp, ecs, data_stream,
// event, source, destination, network, flow, related and observer from b,
// with body in between writing the protocol's own top-level members (for
// example "dns", "tls", "url", "user", "mamori"). body must not write a
// member that AppendProto writes itself.
func AppendProto(dst []byte, o *Observer, dataset string, b *Base, body func(w *JSON)) []byte {
	p, ips := appendProtoHead(dst, o, dataset, b)
	w := JSON{B: p}
	// The object is open at depth 0 with members written: the body's
	// first member gets its comma.
	if body != nil {
		body(&w)
	}
	return appendProtoTail(w.B, o, b, ips)
}

// AppendProtoRuns is AppendProto for a body that appends its members to
// the document itself, as runs of constant bytes around the values (the
// form of Flow.AppendJSON): body receives the document after the last
// common member and returns it extended; every member it writes starts
// with its comma (`,"dns":{…}`). A protocol's fast body must write what
// its JSON-writer body would (each package tests the two against each
// other).
func AppendProtoRuns(dst []byte, o *Observer, dataset string, b *Base, body func(p []byte) []byte) []byte {
	p, ips := appendProtoHead(dst, o, dataset, b)
	if body != nil {
		p = body(p)
	}
	return appendProtoTail(p, o, b, ips)
}

// ipText locates the source and destination addresses' text in a record
// being written, so that related.ip copies it instead of formatting the
// addresses again.
type ipText struct{ src0, src1, dst0, dst1 int }

// appendProtoHead appends '{' and the common members up to flow.
func appendProtoHead(dst []byte, o *Observer, dataset string, b *Base) ([]byte, ipText) {
	var ips ipText
	// Everything is written as runs of constant bytes around the variable
	// values; the output is what the member-by-member calls on the JSON
	// writer would write (see legacy_test.go).
	h := protoHeadRun(dataset, o.Namespace, b.Category, b.Type)
	var p []byte
	if h != nil {
		p = append(dst, `{"@timestamp":"`...)
		p = AppendTime(p, b.Timestamp)
		p = append(p, h.head...)
	} else {
		p = append(dst, '{')
		p = appendHeader(p, o, b.Timestamp, "logs", dataset)
		p = append(p, `,"event":{"kind":"event","category":`...)
		p = appendCategory(p, b.Category, `["network"]`)
		p = append(p, `,"type":`...)
		p = appendCategory(p, b.Type, `["protocol"]`)
	}
	if b.Action != "" {
		p = append(p, `,"action":`...)
		p = AppendQuoted(p, b.Action)
	}
	if b.Outcome != "" {
		p = append(p, `,"outcome":`...)
		p = AppendQuoted(p, b.Outcome)
	}
	if b.Reason != "" {
		p = append(p, `,"reason":`...)
		p = AppendQuoted(p, b.Reason)
	}
	if h != nil {
		p = append(p, h.module...)
	} else {
		p = append(p, `,"dataset":`...)
		p = AppendQuoted(p, dataset)
		p = append(p, `,"module":"mamori"`...)
	}
	if b.Duration > 0 {
		p = append(p, `,"duration":`...)
		p = strconv.AppendInt(p, int64(b.Duration), 10)
	}
	src, dstAddr := b.Source.Addr(), b.Destination.Addr()
	p = append(p, `},"source":{"ip":"`...)
	ips.src0 = len(p)
	p = src.AppendTo(p)
	ips.src1 = len(p)
	p = append(p, '"')
	if port := b.Source.Port(); port != 0 {
		p = append(p, `,"port":`...)
		p = strconv.AppendUint(p, uint64(port), 10)
	}
	p = append(p, `},"destination":{"ip":"`...)
	ips.dst0 = len(p)
	p = dstAddr.AppendTo(p)
	ips.dst1 = len(p)
	p = append(p, '"')
	if port := b.Destination.Port(); port != 0 {
		p = append(p, `,"port":`...)
		p = strconv.AppendUint(p, uint64(port), 10)
	}
	// Transport names are ASCII keywords or digits: nothing to escape.
	p = append(p, `},"network":{"transport":"`...)
	p = append(p, TransportName(b.Transport)...)
	if src.Is6() && !src.Is4In6() {
		p = append(p, `","type":"ipv6"`...)
	} else {
		p = append(p, `","type":"ipv4"`...)
	}
	if b.Protocol != "" {
		p = append(p, `,"protocol":`...)
		p = AppendQuoted(p, b.Protocol)
	}
	if !b.CommunityID.IsZero() {
		p = append(p, `,"community_id":"`...)
		p = append(p, b.CommunityID[:]...)
		p = append(p, '"')
	}
	if b.Direction != "" {
		p = append(p, `,"direction":`...)
		p = AppendQuoted(p, b.Direction)
	}
	if b.VLAN != 0 {
		p = append(p, `,"vlan":{"id":"`...)
		p = strconv.AppendUint(p, uint64(b.VLAN), 10)
		p = append(p, `"}`...)
	}
	p = append(p, `},"flow":{"id":"`...)
	p = hex.AppendEncode(p, b.FlowID[:])
	return append(p, `"}`...), ips
}

// appendProtoTail appends the common members after the body (related,
// observer, host) and the closing brace.
func appendProtoTail(p []byte, o *Observer, b *Base, ips ipText) []byte {
	// related.ip as appendIPs writes it, from the addresses' text above.
	src, dstAddr := b.Source.Addr(), b.Destination.Addr()
	p = append(p, `,"related":{"ip":[`...)
	if src.IsValid() {
		p = append(p, '"')
		p = append(p, p[ips.src0:ips.src1]...)
		p = append(p, '"')
		if dstAddr.IsValid() && dstAddr != src {
			p = append(p, ',', '"')
			p = append(p, p[ips.dst0:ips.dst1]...)
			p = append(p, '"')
		}
	} else if dstAddr.IsValid() {
		p = append(p, '"')
		p = append(p, p[ips.dst0:ips.dst1]...)
		p = append(p, '"')
	}
	p = append(p, ']')
	if len(b.RelatedUsers) > 0 {
		p = append(p, `,"user":`...)
		p = appendDistinct(p, b.RelatedUsers)
	}
	if len(b.RelatedHosts) > 0 {
		p = append(p, `,"hosts":`...)
		p = appendDistinct(p, b.RelatedHosts)
	}
	p = append(p, "},"...)
	p = appendObserverRun(p, o, b.Interface)
	return append(p, '}')
}

// AppendStrings appends ss as a JSON array of strings, ["a","b",…], for
// fast bodies (AppendProtoRuns).
func AppendStrings(b []byte, ss ...string) []byte { return appendStrings(b, ss) }

// appendStrings appends ["a","b",…].
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendQuoted(b, s)
	}
	return append(b, ']')
}

// appendDistinct appends the non-empty strings of ss as an array, each
// value once, in the order of their first occurrence.
func appendDistinct(b []byte, ss []string) []byte {
	b = append(b, '[')
	n := 0
next:
	for i, s := range ss {
		if s == "" {
			continue
		}
		for _, o := range ss[:i] {
			if o == s {
				continue next
			}
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = AppendQuoted(b, s)
		n++
	}
	return append(b, ']')
}

// dedupe drops empty and repeated strings, keeping the first occurrence.
func dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
next:
	for _, s := range ss {
		if s == "" {
			continue
		}
		for _, o := range out {
			if o == s {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}
