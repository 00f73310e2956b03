package event

import (
	"strconv"
	"time"
)

// EndReason says why a flow record was written.
type EndReason uint8

const (
	EndIdle     EndReason = iota + 1 // no packet for the protocol's idle timeout
	EndActive                        // interim record: the active timeout passed (flow.final false)
	EndTCPClose                      // TCP closed (FIN both ways or RST) and the close delay passed
	EndEvicted                       // the flow table was full and this was the oldest flow
	EndShutdown                      // end of the capture or sensor shutdown
)

var endReasonNames = [...]string{
	EndIdle:     "idle_timeout",
	EndActive:   "active_timeout",
	EndTCPClose: "tcp_close",
	EndEvicted:  "evicted",
	EndShutdown: "end_of_capture",
}

func (r EndReason) String() string {
	if int(r) < len(endReasonNames) && endReasonNames[r] != "" {
		return endReasonNames[r]
	}
	return "unknown"
}

// Flow is a bidirectional flow record. Source is the originator (the SYN
// sender for TCP, the first sender otherwise); byte and packet counts are
// cumulative since the flow started, in interim and final records alike.
type Flow struct {
	ID          FlowID
	CommunityID CommunityID
	Start, End  time.Time
	Final       bool
	Reason      EndReason

	Source, Destination Endpoint

	IPv6      bool
	Transport uint8 // IANA protocol number
	VLAN      uint16
	InnerVLAN uint16
	// Direction is the ECS network.direction (internal, inbound, outbound,
	// external) when the internal networks are known; empty otherwise.
	Direction string

	// ConnState and History follow Zeek's conn.log; History is empty for
	// protocols without one.
	ConnState string
	History   History

	// Interface is the capture interface (observer.ingress.interface.name).
	Interface string
	// Tunnel names the encapsulation the packets arrived in ("erspan2",
	// "erspan3", "gre"), empty when none.
	Tunnel string
}

// Dataset implements Record.
func (f *Flow) Dataset() string { return "mamori.flow" }

// Time implements Record: the flow's last packet.
func (f *Flow) Time() time.Time { return f.End }

// AppendJSON implements Record.
func (f *Flow) AppendJSON(dst []byte, o *Observer) []byte {
	w := JSON{B: dst}
	w.Begin()
	header(&w, o, f.End, "logs", f.Dataset())

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

	w.endpoint("source", &f.Source)
	w.endpoint("destination", &f.Destination)

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

	footer(&w, o, f.Interface)

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
	w.End()
	w.End()

	w.Finish()
	return w.B
}

// TransportName is the ECS network.transport value for an IANA protocol
// number: the lowercase IANA keyword, or the number itself when unnamed.
func TransportName(proto uint8) string {
	switch proto {
	case 1:
		return "icmp"
	case 2:
		return "igmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 41:
		return "ipv6"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 58:
		return "ipv6-icmp"
	case 89:
		return "ospf"
	case 103:
		return "pim"
	case 112:
		return "vrrp"
	case 132:
		return "sctp"
	}
	return protoNumbers[proto]
}

var protoNumbers = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// History is a Zeek conn.log history string held in a fixed array, so that
// flow records carry it without allocating.
type History struct {
	Buf [24]byte
	Len uint8
}

func (h History) String() string { return string(h.Buf[:h.Len]) }
