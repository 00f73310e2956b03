package event

import (
	"net/netip"
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
	// CutOff says the sensor's eBPF cutoff stopped copying this flow's
	// packets past its byte limit: the counts still include the packets
	// not copied (from the kernel's counters), the history and the
	// protocol records do not (mamori.flow.cut_off).
	CutOff bool
}

// Dataset implements Record.
func (f *Flow) Dataset() string { return "mamori.flow" }

// Time implements Record: the flow's last packet.
func (f *Flow) Time() time.Time { return f.End }

// AppendJSON implements Record. It writes the record as runs of constant
// bytes around the variable members instead of member by member through
// JSON: a flow record is the one record every packet path writes, and this
// form costs about a third of the generic one. The output is exactly what
// the JSON writer would write for the same members (see legacy_test.go).
func (f *Flow) AppendJSON(dst []byte, o *Observer) []byte {
	b := append(dst, `{"@timestamp":"`...)
	ts := len(b)
	b = AppendTime(b, f.End)
	te := len(b)
	b = append(b, `","ecs":{"version":"`+ECSVersion+`"},"data_stream":{"type":"logs","dataset":"mamori.flow","namespace":`...)
	b = appendNamespace(b, o)
	if f.Final {
		b = append(b, `},"event":{"kind":"event","category":["network"],"type":["connection","end"],"action":"network_flow","dataset":"mamori.flow","module":"mamori","start":"`...)
	} else {
		b = append(b, `},"event":{"kind":"event","category":["network"],"type":["connection","info"],"action":"network_flow","dataset":"mamori.flow","module":"mamori","start":"`...)
	}
	b = appendTimeSameDay(b, f.Start, f.End, b[ts:te])
	b = append(b, `","end":"`...)
	b = append(b, b[ts:te]...) // event.end is @timestamp
	b = append(b, `","duration":`...)
	b = strconv.AppendInt(b, int64(f.End.Sub(f.Start)), 10)
	// Reason names and transport names are ASCII keywords or digits:
	// nothing to escape.
	b = append(b, `,"reason":"`...)
	b = append(b, f.Reason.String()...)
	b = append(b, `"},"source":{"ip":"`...)
	srcIP := len(b)
	b = appendAddr(b, f.Source.IP)
	srcEnd := len(b)
	b = appendEndpointRest(b, &f.Source)
	b = append(b, `,"destination":{"ip":"`...)
	dstIP := len(b)
	b = appendAddr(b, f.Destination.IP)
	dstEnd := len(b)
	b = appendEndpointRest(b, &f.Destination)
	b = append(b, `,"network":{"transport":"`...)
	b = append(b, TransportName(f.Transport)...)
	if f.IPv6 {
		b = append(b, `","type":"ipv6","iana_number":"`...)
	} else {
		b = append(b, `","type":"ipv4","iana_number":"`...)
	}
	b = strconv.AppendUint(b, uint64(f.Transport), 10)
	b = append(b, `","community_id":"`...)
	b = append(b, f.CommunityID[:]...)
	b = append(b, `","bytes":`...)
	b = strconv.AppendUint(b, f.Source.Bytes+f.Destination.Bytes, 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, f.Source.Packets+f.Destination.Packets, 10)
	if f.Direction != "" {
		b = append(b, `,"direction":`...)
		b = appendKeyword(b, f.Direction)
	}
	if f.VLAN != 0 {
		b = append(b, `,"vlan":{"id":"`...)
		b = strconv.AppendUint(b, uint64(f.VLAN), 10)
		b = append(b, `"}`...)
	}
	if f.InnerVLAN != 0 {
		b = append(b, `,"inner":{"vlan":{"id":"`...)
		b = strconv.AppendUint(b, uint64(f.InnerVLAN), 10)
		b = append(b, `"}}`...)
	}
	b = append(b, `},"flow":{"id":"`...)
	b = appendHex12(b, &f.ID)
	if f.Final {
		b = append(b, `","final":true},"related":{"ip":`...)
	} else {
		b = append(b, `","final":false},"related":{"ip":`...)
	}
	// related.ip as appendIPs writes it, from the addresses' text above.
	b = append(b, '[')
	sa, da := f.Source.IP, f.Destination.IP
	if sa.IsValid() {
		b = append(b, '"')
		b = append(b, b[srcIP:srcEnd]...)
		b = append(b, '"')
		if da.IsValid() && da != sa {
			b = append(b, ',', '"')
			b = append(b, b[dstIP:dstEnd]...)
			b = append(b, '"')
		}
	} else if da.IsValid() {
		b = append(b, '"')
		b = append(b, b[dstIP:dstEnd]...)
		b = append(b, '"')
	}
	b = append(b, ']')
	b = append(b, "},"...)
	b = appendObserverRun(b, o, f.Interface)

	b = append(b, `,"mamori":{"flow":{`...)
	sep := false
	if f.ConnState != "" {
		b = append(b, `"conn_state":`...)
		b = appendKeyword(b, f.ConnState)
		sep = true
	}
	if f.History.Len > 0 {
		if sep {
			b = append(b, ',')
		}
		// History letters are ASCII letters and '^': nothing to escape.
		b = append(b, `"history":"`...)
		b = append(b, f.History.Buf[:min(int(f.History.Len), len(f.History.Buf))]...)
		b = append(b, '"')
		sep = true
	}
	if f.Tunnel != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"tunnel":`...)
		b = AppendQuoted(b, f.Tunnel)
		sep = true
	}
	if f.CutOff {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"cut_off":true`...)
	}
	return append(b, "}}}"...)
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

// appendTimeSameDay appends t as AppendTime does. ref is a time whose
// AppendTime text is refText: when t falls on ref's day, as a flow's start
// and end nearly always do, the date is copied from that text instead of
// being worked out again.
func appendTimeSameDay(b []byte, t, ref time.Time, refText []byte) []byte {
	sec, rsec := t.Unix(), ref.Unix()
	if sec < 0 || rsec < 0 || sec > maxTimeSec || rsec > maxTimeSec || sec/86400 != rsec/86400 || len(refText) != 30 {
		return AppendTime(b, t)
	}
	rem := int(sec % 86400)
	h, mi, s := rem/3600, rem/60%60, rem%60
	ns := t.Nanosecond()
	var buf [30]byte
	copy(buf[:11], refText) // "2006-01-02T"
	putClock(&buf, h, mi, s, ns)
	return append(b, buf[:]...)
}

// appendAddr appends a as netip.Addr.AppendTo does, writing IPv4
// addresses itself from a table of the octets' decimal forms.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return a.AppendTo(b)
	}
	v := a.As4()
	var buf [15]byte
	n := 0
	for i, x := range v {
		if i > 0 {
			buf[n] = '.'
			n++
		}
		d := &octets[x]
		buf[n], buf[n+1], buf[n+2] = d[1], d[2], d[3]
		n += int(d[0])
	}
	return append(b, buf[:n]...)
}

// octets holds each byte's decimal form: its length, then its digits.
var octets = func() (t [256][4]byte) {
	for i := range t {
		s := strconv.Itoa(i)
		t[i][0] = byte(len(s))
		copy(t[i][1:], s)
	}
	return t
}()

// appendKeyword appends s quoted, as AppendQuoted does: the keywords a
// flow record holds (conn_state, network.direction) are short and need no
// escaping, which a byte loop tells faster than AppendQuoted's setup.
func appendKeyword(b []byte, s string) []byte {
	if len(s) > 16 {
		return AppendQuoted(b, s)
	}
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			return AppendQuoted(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendHex12 appends a flow ID as 24 lowercase hex digits, as
// hex.AppendEncode does.
func appendHex12(b []byte, id *FlowID) []byte {
	const digits = "0123456789abcdef"
	var buf [24]byte
	for i, x := range id {
		buf[2*i], buf[2*i+1] = digits[x>>4], digits[x&0xf]
	}
	return append(b, buf[:]...)
}
