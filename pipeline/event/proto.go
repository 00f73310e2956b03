package event

import (
	"net/netip"
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
	w := JSON{B: dst}
	w.Begin()
	header(&w, o, b.Timestamp, "logs", dataset)

	w.Object("event")
	w.String("kind", "event")
	if len(b.Category) > 0 {
		w.Strings("category", b.Category...)
	} else {
		w.Strings("category", "network")
	}
	if len(b.Type) > 0 {
		w.Strings("type", b.Type...)
	} else {
		w.Strings("type", "protocol")
	}
	w.StringIf("action", b.Action)
	w.StringIf("outcome", b.Outcome)
	w.StringIf("reason", b.Reason)
	w.String("dataset", dataset)
	w.String("module", "mamori")
	if b.Duration > 0 {
		w.Int("duration", int64(b.Duration))
	}
	w.End()

	w.Object("source")
	w.IP("ip", b.Source.Addr())
	if b.Source.Port() != 0 {
		w.Uint("port", uint64(b.Source.Port()))
	}
	w.End()
	w.Object("destination")
	w.IP("ip", b.Destination.Addr())
	if b.Destination.Port() != 0 {
		w.Uint("port", uint64(b.Destination.Port()))
	}
	w.End()

	w.Object("network")
	w.String("transport", TransportName(b.Transport))
	if b.Source.Addr().Is6() && !b.Source.Addr().Is4In6() {
		w.String("type", "ipv6")
	} else {
		w.String("type", "ipv4")
	}
	w.StringIf("protocol", b.Protocol)
	if !b.CommunityID.IsZero() {
		w.communityID("community_id", b.CommunityID)
	}
	w.StringIf("direction", b.Direction)
	if b.VLAN != 0 {
		w.Object("vlan")
		w.UintString("id", uint64(b.VLAN))
		w.End()
	}
	w.End()

	w.Object("flow")
	w.flowID("id", b.FlowID)
	w.End()

	if body != nil {
		body(&w)
	}

	w.Object("related")
	w.IPs("ip", b.Source.Addr(), b.Destination.Addr())
	if len(b.RelatedUsers) > 0 {
		w.Strings("user", dedupe(b.RelatedUsers)...)
	}
	if len(b.RelatedHosts) > 0 {
		w.Strings("hosts", dedupe(b.RelatedHosts)...)
	}
	w.End()

	footer(&w, o, b.Interface)
	w.Finish()
	return w.B
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
