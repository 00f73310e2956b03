package rules

import (
	"net/netip"
	"time"

	"mamori/pipeline/event"
)

// Protocol facts that protocol records provide. Rules never import
// pipeline/proto packages: a record type gains a fact by having the method
// (Go's structural typing). Strings returned must stay valid after the
// call (ordinary Go strings do).

// ServerNamer is implemented by records that know the name the client used
// for the server of their connection: the TLS ClientHello SNI, the HTTP
// Host header (without port).
type ServerNamer interface {
	ServerName() string
}

// Resolver is implemented by DNS response records: the question name and
// the A/AAAA addresses answered for it (directly or through CNAMEs). addrs
// is valid only during the call.
type Resolver interface {
	DNSResolution() (name string, addrs []netip.Addr)
}

// Based is implemented by every protocol record (event.Base embedded).
type Based interface {
	BaseRecord() *event.Base
}

// FlowFailed reports whether a flow never got an answer or was refused:
// TCP states S0, REJ, RSTOS0, RSTRH, SH, SHR (Zeek conn_state), and any
// flow whose responder sent nothing at all.
func FlowFailed(f *event.Flow) bool {
	switch f.ConnState {
	case "S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR":
		return true
	}
	return f.Destination.Packets == 0
}

// FlowAnswered reports whether the responder sent data (payload), not only
// handshake or resets: TCP history has a 'd', or a UDP/other responder
// sent packets.
func FlowAnswered(f *event.Flow) bool {
	if f.Transport == 6 {
		h := f.History.Buf[:f.History.Len]
		for _, c := range h {
			if c == 'd' {
				return true
			}
		}
		return false
	}
	return f.Destination.Packets > 0
}

// Duration is the flow's duration.
func Duration(f *event.Flow) time.Duration { return f.End.Sub(f.Start) }

// Bytes is the flow's total wire bytes.
func Bytes(f *event.Flow) uint64 { return f.Source.Bytes + f.Destination.Bytes }

// Sample appends v to s unless s already holds max items or v.
func Sample[T comparable](s []T, v T, max int) []T {
	if len(s) >= max {
		return s
	}
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// FlowEvidence adds a flow's ids to an alert's evidence sample (at most
// max of each).
func FlowEvidence(e *event.AlertEvidence, f *event.Flow, max int) {
	if len(e.FlowIDs) < max {
		e.FlowIDs = Sample(e.FlowIDs, f.ID, max)
		if !f.CommunityID.IsZero() {
			e.CommunityIDs = Sample(e.CommunityIDs, f.CommunityID, max)
		}
	}
}
