package event

// The record encoders as they were before they were written as runs of
// constant bytes: straightforward calls on the JSON writer, kept as the
// reference the fast encoders must match byte for byte.

import "time"

func legacyFlowJSON(f *Flow, dst []byte, o *Observer) []byte {
	w := JSON{B: dst}
	w.Begin()
	legacyHeader(&w, o, f.End, "logs", f.Dataset())

	w.Object("event")
	w.String("kind", "event")
	w.Strings("category", "network")
	if f.Final {
		w.Strings("type", "connection", "end")
	} else {
		w.Strings("type", "connection", "info")
	}
	w.String("action", "network_flow")
	w.String("dataset", f.Dataset())
	w.String("module", "mamori")
	w.Time("start", f.Start)
	w.Time("end", f.End)
	w.Int("duration", int64(f.End.Sub(f.Start)))
	w.String("reason", f.Reason.String())
	w.End()

	legacyEndpoint(&w, "source", &f.Source)
	legacyEndpoint(&w, "destination", &f.Destination)

	w.Object("network")
	w.String("transport", TransportName(f.Transport))
	if f.IPv6 {
		w.String("type", "ipv6")
	} else {
		w.String("type", "ipv4")
	}
	w.UintString("iana_number", uint64(f.Transport))
	w.communityID("community_id", f.CommunityID)
	w.Uint("bytes", f.Source.Bytes+f.Destination.Bytes)
	w.Uint("packets", f.Source.Packets+f.Destination.Packets)
	w.StringIf("direction", f.Direction)
	if f.VLAN != 0 {
		w.Object("vlan")
		w.UintString("id", uint64(f.VLAN))
		w.End()
	}
	if f.InnerVLAN != 0 {
		w.Object("inner")
		w.Object("vlan")
		w.UintString("id", uint64(f.InnerVLAN))
		w.End()
		w.End()
	}
	w.End()

	w.Object("flow")
	w.flowID("id", f.ID)
	w.Bool("final", f.Final)
	w.End()

	w.Object("related")
	w.IPs("ip", f.Source.IP, f.Destination.IP)
	w.End()

	legacyFooter(&w, o, f.Interface)

	w.Object("mamori")
	w.Object("flow")
	w.StringIf("conn_state", f.ConnState)
	if f.History.Len > 0 {
		// History letters are ASCII letters and '^': nothing to escape.
		w.key("history")
		w.B = append(w.B, '"')
		w.B = append(w.B, f.History.Buf[:f.History.Len]...)
		w.B = append(w.B, '"')
	}
	w.StringIf("tunnel", f.Tunnel)
	if f.CutOff {
		w.Bool("cut_off", true)
	}
	w.End()
	w.End()

	w.Finish()
	return w.B
}

func legacyHeader(w *JSON, o *Observer, ts time.Time, streamType, dataset string) {
	w.Time("@timestamp", ts)
	w.Object("ecs")
	w.String("version", ECSVersion)
	w.End()
	w.Object("data_stream")
	w.String("type", streamType)
	w.String("dataset", dataset)
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	w.String("namespace", ns)
	w.End()
}

func legacyFooter(w *JSON, o *Observer, iface string) {
	w.Object("observer")
	w.String("type", "sensor")
	w.String("vendor", "mamori")
	w.String("product", "mamori")
	w.StringIf("version", o.Version)
	w.StringIf("name", o.Name)
	w.StringIf("hostname", o.Hostname)
	if iface != "" {
		w.Object("ingress")
		w.Object("interface")
		w.String("name", iface)
		w.End()
		w.End()
	}
	w.End()
	if o.Hostname != "" {
		w.Object("host")
		w.String("name", o.Hostname)
		w.End()
	}
}

func legacyEndpoint(w *JSON, k string, e *Endpoint) {
	w.Object(k)
	w.IP("ip", e.IP)
	if e.HasPort {
		w.Uint("port", uint64(e.Port))
	}
	if e.HasMAC {
		w.MAC("mac", e.MAC)
	}
	w.Uint("bytes", e.Bytes)
	w.Uint("packets", e.Packets)
	w.End()
}

func legacyAppendProto(dst []byte, o *Observer, dataset string, b *Base, body func(w *JSON)) []byte {
	w := JSON{B: dst}
	w.Begin()
	legacyHeader(&w, o, b.Timestamp, "logs", dataset)

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
		w.Strings("user", legacyDedupe(b.RelatedUsers)...)
	}
	if len(b.RelatedHosts) > 0 {
		w.Strings("hosts", legacyDedupe(b.RelatedHosts)...)
	}
	w.End()

	legacyFooter(&w, o, b.Interface)
	w.Finish()
	return w.B
}

func legacyDedupe(ss []string) []string {
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

func legacyMetricJSON(m *Metric, dst []byte, o *Observer) []byte {
	w := JSON{B: dst}
	w.Begin()
	legacyHeader(&w, o, m.At, "metrics", m.Dataset())
	w.Object("event")
	w.String("kind", "metric")
	w.Strings("category", "host")
	w.Strings("type", "info")
	w.String("action", m.Action)
	w.String("dataset", m.Dataset())
	w.String("module", "mamori")
	if !m.Start.IsZero() {
		w.Time("start", m.Start)
		w.Time("end", m.At)
		w.Int("duration", int64(m.At.Sub(m.Start)))
	}
	w.End()
	legacyFooter(&w, o, m.Interface)
	w.Object("mamori")
	for _, g := range m.Groups {
		w.Object(g.Name)
		for _, v := range g.Values {
			w.Uint(v.Name, v.Value)
		}
		w.End()
	}
	w.End()
	w.Finish()
	return w.B
}
