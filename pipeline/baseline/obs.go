package baseline

import (
	"net/netip"
	"time"

	"mamori/pipeline/event"
)

// ObsKind says what an observation is.
type ObsKind uint8

const (
	ObsFlow    ObsKind = iota + 1 // a finished flow
	ObsName                       // a client reached a server by name (SNI, HTTP Host)
	ObsResolve                    // a DNS answer: Name resolved to Addrs
	ObsApp                        // an application protocol recognised on a connection
	ObsDICOM                      // a DICOM association: A calling, B called AE title
	ObsHL7                        // an HL7 message: A/B sending app/facility, C/D receiving
)

// MaxObsAddrs bounds the addresses one DNS observation carries.
const MaxObsAddrs = 4

// Obs is one learnable fact, copied out of a record (records are valid
// only during the call that hands them over). It holds no pointers into
// the record.
type Obs struct {
	Kind           ObsKind
	Time           time.Time // flow start, or the message time
	End            time.Time // flow end (flows only)
	Client, Server netip.Addr
	Port           uint16 // server port
	Proto          uint8  // IANA transport
	Bytes          uint64
	Failed         bool // refused or never answered
	HasMACs        bool
	ClientMAC      MAC
	ServerMAC      MAC
	App            string
	Name           string
	Addrs          []netip.Addr // ObsResolve only: its own copy, at most MaxObsAddrs
	A, B, C, D     string
}

func (o *Obs) end() time.Time {
	if o.End.After(o.Time) {
		return o.End
	}
	return o.Time
}

// Protocol facts the model learns from, read from protocol records by
// structural typing (baseline never imports the protocol packages).
type (
	serverNamer interface{ ServerName() string }
	resolver    interface {
		DNSResolution() (name string, addrs []netip.Addr)
	}
	dicomAssociation interface {
		DICOMAssociation() (calling, called string)
	}
	hl7Link interface {
		HL7Link() (sendingApp, sendingFacility, receivingApp, receivingFacility string)
	}
	based interface{ BaseRecord() *event.Base }
)

// Extract appends the observations in r to dst and returns it: one for a
// final flow record (interim records are skipped: counts are cumulative
// and the final record carries them), and for protocol records their
// protocol, names, DICOM and HL7 facts.
func Extract(r event.Record, dst []Obs) []Obs {
	switch v := r.(type) {
	case *event.Flow:
		if !v.Final {
			return dst
		}
		o := Obs{
			Kind: ObsFlow, Time: v.Start, End: v.End,
			Client: v.Source.IP.Unmap(), Server: v.Destination.IP.Unmap(),
			Port: v.Destination.Port, Proto: v.Transport,
			Bytes:  v.Source.Bytes + v.Destination.Bytes,
			Failed: flowFailed(v),
		}
		if v.Source.HasMAC && v.Destination.HasMAC {
			o.HasMACs, o.ClientMAC, o.ServerMAC = true, v.Source.MAC, v.Destination.MAC
		}
		return append(dst, o)
	case *event.Alert, *event.Metric:
		return dst
	}
	b, ok := r.(based)
	if !ok {
		return dst
	}
	base := b.BaseRecord()
	conn := Obs{
		Time: base.Timestamp, Client: base.Source.Addr().Unmap(), Server: base.Destination.Addr().Unmap(),
		Port: base.Destination.Port(), Proto: base.Transport,
	}
	if base.Protocol != "" {
		o := conn
		o.Kind, o.App = ObsApp, base.Protocol
		dst = append(dst, o)
	}
	if n, ok := r.(serverNamer); ok {
		if name := n.ServerName(); name != "" {
			o := conn
			o.Kind, o.Name = ObsName, name
			dst = append(dst, o)
		}
	}
	if d, ok := r.(resolver); ok {
		if name, addrs := d.DNSResolution(); name != "" {
			o := conn
			o.Kind, o.Name = ObsResolve, name
			o.Addrs = make([]netip.Addr, 0, min(len(addrs), MaxObsAddrs))
			for _, a := range addrs[:min(len(addrs), MaxObsAddrs)] {
				o.Addrs = append(o.Addrs, a.Unmap())
			}
			dst = append(dst, o)
		}
	}
	if d, ok := r.(dicomAssociation); ok {
		if a, b := d.DICOMAssociation(); a != "" || b != "" {
			o := conn
			o.Kind, o.A, o.B = ObsDICOM, a, b
			dst = append(dst, o)
		}
	}
	if h, ok := r.(hl7Link); ok {
		if a, b, c, d := h.HL7Link(); a != "" || c != "" {
			o := conn
			o.Kind, o.A, o.B, o.C, o.D = ObsHL7, a, b, c, d
			dst = append(dst, o)
		}
	}
	return dst
}

// flowFailed: refused or never answered (Zeek conn_state), or a responder
// that sent nothing.
func flowFailed(f *event.Flow) bool {
	switch f.ConnState {
	case "S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR":
		return true
	}
	return f.Destination.Packets == 0
}
