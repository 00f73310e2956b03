package event

import (
	"encoding/base64"
	"encoding/hex"
	"net/netip"
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

// header writes the members every record starts with.
func header(w *JSON, o *Observer, ts time.Time, streamType, dataset string) {
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

// footer writes observer.* and host.*; iface is the capture interface.
func footer(w *JSON, o *Observer, iface string) {
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

func (w *JSON) endpoint(k string, e *Endpoint) {
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
