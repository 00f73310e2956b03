package event

import (
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
)

// ECSVersion is the ECS version every record declares.
const ECSVersion = "8.17.0"

// Record is anything mamori emits.
type Record interface {
	// Dataset is event.dataset and data_stream.dataset, e.g. "mamori.flow".
	Dataset() string
	// Time is the record's @timestamp (packet time).
	Time() time.Time
	// AppendJSON appends the complete ECS document for the record as one
	// JSON object without a trailing newline, and returns the extended slice.
	AppendJSON(dst []byte, o *Observer) []byte
}

// Observer describes the sensor that wrote a record. It is shared by every
// record of a run and read-only once built.
type Observer struct {
	Hostname  string // observer.hostname and host.name
	Name      string // observer.name: the sensor's configured name (optional)
	Version   string // observer.version: mamori's version
	Namespace string // data_stream.namespace; defaults to "default"
}

// header writes the members every record starts with. It is called right
// after Begin.
func header(w *JSON, o *Observer, ts time.Time, streamType, dataset string) {
	w.comma()
	w.B = appendHeader(w.B, o, ts, streamType, dataset)
}

// appendHeader appends @timestamp, ecs and data_stream, the first members
// of every record, as one run where it can.
func appendHeader(b []byte, o *Observer, ts time.Time, streamType, dataset string) []byte {
	b = append(b, `"@timestamp":"`...)
	b = AppendTime(b, ts)
	b = append(b, `","ecs":{"version":"`+ECSVersion+`"},"data_stream":{"type":`...)
	b = AppendQuoted(b, streamType)
	b = append(b, `,"dataset":`...)
	b = AppendQuoted(b, dataset)
	b = append(b, `,"namespace":`...)
	b = appendNamespace(b, o)
	return append(b, '}')
}

// appendNamespace appends data_stream.namespace's value, quoted.
func appendNamespace(b []byte, o *Observer) []byte {
	if o.Namespace == "" {
		return append(b, `"default"`...)
	}
	return AppendQuoted(b, o.Namespace)
}

// footer writes observer.* and host.*; iface is the capture interface.
func footer(w *JSON, o *Observer, iface string) {
	w.comma()
	w.B = appendObserver(w.B, o, iface)
}

// appendObserver appends the members "observer" and, with a hostname,
// "host"; iface is the capture interface.
func appendObserver(b []byte, o *Observer, iface string) []byte {
	b = append(b, `"observer":{"type":"sensor","vendor":"mamori","product":"mamori"`...)
	if o.Version != "" {
		b = append(b, `,"version":`...)
		b = AppendQuoted(b, o.Version)
	}
	if o.Name != "" {
		b = append(b, `,"name":`...)
		b = AppendQuoted(b, o.Name)
	}
	if o.Hostname != "" {
		b = append(b, `,"hostname":`...)
		b = AppendQuoted(b, o.Hostname)
	}
	if iface != "" {
		b = append(b, `,"ingress":{"interface":{"name":`...)
		b = AppendQuoted(b, iface)
		b = append(b, "}}"...)
	}
	b = append(b, '}')
	if o.Hostname != "" {
		b = append(b, `,"host":{"name":`...)
		b = AppendQuoted(b, o.Hostname)
		b = append(b, '}')
	}
	return b
}

// CommunityID is a Community ID v1 string ("1:" + base64 of a SHA-1),
// held in a fixed array so that records carry it without allocating.
type CommunityID [30]byte

// NewCommunityID formats a SHA-1 digest as a Community ID.
func NewCommunityID(sum [20]byte) CommunityID {
	var c CommunityID
	c[0], c[1] = '1', ':'
	base64.StdEncoding.Encode(c[2:], sum[:])
	return c
}

func (c CommunityID) String() string { return string(c[:]) }

// IsZero reports whether c was never set.
func (c CommunityID) IsZero() bool { return c[0] == 0 }

// FlowID identifies one flow (all its interim and final records) across
// records: 96 bits, written as 24 hex digits.
type FlowID [12]byte

func (id FlowID) String() string { return hex.EncodeToString(id[:]) }

func (w *JSON) flowID(k string, id FlowID) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = hex.AppendEncode(w.B, id[:])
	w.B = append(w.B, '"')
}

func (w *JSON) communityID(k string, c CommunityID) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = append(w.B, c[:]...)
	w.B = append(w.B, '"')
}

// Endpoint is one side of a flow: ECS source.* or destination.*.
type Endpoint struct {
	IP      netip.Addr
	Port    uint16
	HasPort bool // TCP, UDP and SCTP have ports; ICMP and others do not
	MAC     [6]byte
	HasMAC  bool
	Bytes   uint64 // frame bytes sent by this endpoint (wire length)
	Packets uint64
}

// appendEndpoint appends an endpoint object: {"ip":…,"port":…,"mac":…,
// "bytes":…,"packets":…}.
func appendEndpoint(b []byte, e *Endpoint) []byte {
	b = append(b, `{"ip":"`...)
	b = e.IP.AppendTo(b)
	return appendEndpointRest(b, e)
}

// appendEndpointRest appends what follows the address of an endpoint
// object, from the address's closing quote on.
func appendEndpointRest(b []byte, e *Endpoint) []byte {
	b = append(b, '"')
	if e.HasPort {
		b = append(b, `,"port":`...)
		b = strconv.AppendUint(b, uint64(e.Port), 10)
	}
	if e.HasMAC {
		b = append(b, `,"mac":"`...)
		b = appendMAC(b, e.MAC)
		b = append(b, '"')
	}
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, e.Bytes, 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, e.Packets, 10)
	return append(b, '}')
}
