// Package proto defines what an application-protocol parser is: a Parser
// (one per protocol, shared read-only by every worker) that recognises its
// protocol from a flow's first payload bytes, and a Session (one per flow)
// that turns the flow's payload into typed ECS records.
//
// The dispatcher in pipeline/proto/dispatch feeds sessions: it reassembles
// TCP (the first N bytes of each direction, in order, with gaps reported)
// and passes UDP datagrams whole. The registry in pipeline/proto/all lists
// every parser in match order.
package proto

import (
	"errors"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
)

// Parser is one application protocol. It is built once from its Config and
// shared read-only by every worker; per-flow state lives in a Session.
type Parser interface {
	// Name is the stable ECS network.protocol value: "dns", "smb2", "dicom".
	Name() string
	// Match reports whether the parser wants a new flow, from the flow (its
	// ports are a hint, not a verdict) and the first payload bytes seen on
	// it in direction dir (usually FromClient). first may be short: a parser
	// that needs more bytes to decide says no.
	Match(f *flow.Info, dir flow.Dir, first []byte) bool
	// NewSession starts per-flow state. f is valid only during the call
	// (copy what the session needs, such as f.Conn); emit must not be
	// retained after End.
	NewSession(f *flow.Info, emit Emit) Session
}

// Session is one flow's parser state. It belongs to a single worker and is
// never called concurrently. Byte slices are valid only during the call.
type Session interface {
	// Payload delivers in-order bytes in one direction: a whole datagram for
	// UDP, a reassembled chunk for TCP; ts is the packet time of its first
	// byte. An error wrapping ErrMalformed (see Malformed) detaches the
	// session and is counted by protocol and reason; it never stops the
	// worker.
	Payload(dir flow.Dir, ts time.Time, b []byte) error
	// Gap reports n bytes missing in dir (loss, snaplen, eBPF cutoff, the
	// reassembly limit). The session resynchronises or gives up quietly.
	Gap(dir flow.Dir, n int)
	// End flushes pending transactions when the flow ends or expires; ts is
	// the flow's last packet time.
	End(ts time.Time, why event.EndReason)
}

// Recycler is implemented by sessions that can be reused. The dispatcher
// calls Recycle when it is done with a session (after its End, also after
// a detaching error) and never touches it again; the parser may hand the
// object to a later NewSession. Nothing a session emitted may share memory
// the session reuses.
type Recycler interface {
	Recycle()
}

// Emit hands a finished record to the worker. It never blocks. The worker
// and later stages may keep the record: a session must not change a record
// after emitting it (emit a new one each time; records are per transaction,
// not per packet, so the allocation is cheap).
type Emit func(event.Record)

// ErrMalformed is wrapped by every error that means the bytes are not the
// protocol the session thought.
var ErrMalformed = errors.New("malformed")

// MalformedError is a malformed message with a short, fixed reason (a
// counter label, so never built from packet contents).
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string        { return "malformed: " + e.Reason }
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Malformed returns an error wrapping ErrMalformed with a fixed reason such
// as "bad header length".
func Malformed(reason string) error { return &MalformedError{Reason: reason} }

// Reason returns the counter label of err: its MalformedError reason, or
// "other".
func Reason(err error) string {
	var m *MalformedError
	if errors.As(err, &m) {
		return m.Reason
	}
	return "other"
}

// PortHint reports whether the flow's responder port is one of ports.
func PortHint(f *flow.Info, ports ...uint16) bool {
	p := f.ServerPort()
	for _, q := range ports {
		if p == q {
			return true
		}
	}
	return false
}

// IsTCP and IsUDP report the flow's transport.
func IsTCP(f *flow.Info) bool { return f.Key.Proto == 6 }
func IsUDP(f *flow.Info) bool { return f.Key.Proto == 17 }

// Limiter is implemented by parsers that need a different share of each TCP
// direction than the dispatcher's default (the first 64 KiB): SMB2, DICOM
// and HL7 sessions carry their interesting messages all through a long
// connection. StreamLimit returns the bytes per direction the session wants
// delivered; 0 means the whole flow. Such parsers must stream: skip bulk
// data (file contents, pixel data) without buffering it.
type Limiter interface {
	StreamLimit() int
}
