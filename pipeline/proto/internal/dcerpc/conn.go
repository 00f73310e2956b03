package dcerpc

import (
	"time"

	"mamori/pipeline/proto/internal/ntlm"
)

// Limits bound a Conn. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxPDU is how much of one PDU is buffered: its header, a bind's
	// contexts, a request's arguments. The rest is skipped.
	MaxPDU int
	// MaxCalls bounds the calls awaiting a response; the oldest is
	// reported unanswered (Event.Evicted) when a new one does not fit.
	MaxCalls int
	// MaxContexts bounds the presentation contexts remembered.
	MaxContexts int
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{MaxPDU: 8 << 10, MaxCalls: 64, MaxContexts: 16}

func (l Limits) withDefaults() Limits {
	if l.MaxPDU <= 0 {
		l.MaxPDU = DefaultLimits.MaxPDU
	}
	if l.MaxPDU < 64 {
		l.MaxPDU = 64
	}
	if l.MaxCalls <= 0 {
		l.MaxCalls = DefaultLimits.MaxCalls
	}
	if l.MaxContexts <= 0 {
		l.MaxContexts = DefaultLimits.MaxContexts
	}
	return l
}

// Kind is what an Event reports.
type Kind uint8

const (
	// KindBind is a bind or alter_context and its answer.
	KindBind Kind = 1 + iota
	// KindCall is a request and its response or fault.
	KindCall
	// KindAuth is an NTLM AUTHENTICATE message in the auth verifier of a
	// bind, alter_context or auth3 (MS-RPCE §2.2.2.11, NTLM at the
	// connect level or above).
	KindAuth
)

// Results of an Event.
const (
	ResultAccepted = "accepted" // bind: a context was accepted
	ResultRejected = "rejected" // bind: every context was refused, or bind_nak
	ResultResponse = "response" // call: answered with a response
	ResultFault    = "fault"    // call: answered with a fault
	// An empty Result means no answer was seen.
)

// Event is a bind or a call, reported when its answer arrives or when it
// is flushed unanswered.
type Event struct {
	Kind   Kind
	Time   time.Time // of the bind or request
	Answer time.Time // of the answer; zero when none
	CallID uint32
	// Interface is the known name of UUID, or "".
	Interface string
	UUID      UUID
	Version   uint16 // interface major version
	// UUIDs lists every distinct abstract syntax of a bind (at most 4).
	UUIDs []UUID
	// Opnum and Operation for calls.
	Opnum     uint16
	Operation string
	Result    string
	// Fault is a fault PDU's status; Reason a bind_nak's or rejection's
	// reason code.
	Fault  uint32
	Reason uint16
	// ReturnCode is the last 4 bytes of a response stub (the Win32 or
	// NTSTATUS result of nearly every MS-RPC method) when HasReturn.
	ReturnCode uint32
	HasReturn  bool
	// Fragments counts the request's fragments.
	Fragments int
	// AuthLevel is the request's authentication level (0: none).
	AuthLevel uint8
	// Args are the decoded arguments of the few requests listed in the
	// package documentation.
	Args Args
	// Evicted is set when the call was pushed out of a full table.
	Evicted bool
	// NTLM is the AUTHENTICATE message of a KindAuth event and Challenge
	// the server's CHALLENGE before it, when seen.
	NTLM, Challenge ntlm.Message
	// NTLMVersion is "v1" or "v2" (ntlm.NTLMVersion).
	NTLMVersion string
}

// Args are request arguments worth an analyst's eye.
type Args struct {
	ServiceName string // svcctl: the service created, opened, started
	DisplayName string
	BinaryPath  string // svcctl: the service's command line
	Command     string // atsvc job / scheduled task command
	TaskPath    string // ITaskSchedulerService task path
	RegistryKey string // winreg sub key
	ValueName   string // winreg value
}

// Stats count a Conn's limits being hit and resynchronisations.
type Stats struct {
	Oversize  uint64 // PDUs longer than MaxPDU (the rest skipped)
	Evicted   uint64 // calls pushed out of the pending table
	Contexts  uint64 // contexts not remembered: table full
	Resyncs   uint64 // streams lost after a gap or a bad header
	BadHeader uint64 // data that was not a PDU header where one was due
}

type context struct {
	id    uint16
	uuid  UUID
	ver   uint16
	iface *Interface
	n64   bool // NDR64 accepted
}

// Transfer syntaxes.
var ndr64 = MustUUID("71710533-beba-4937-8319-b5dbef9ccc36")

type pending struct {
	ev     Event
	ctxIDs [4]uint16 // bind: the contexts offered, for the ack's results
	nctx   int
	handle bool // call: response carries a service handle to remember
	n64    bool
	// stub gathers a fragmented request's stub (at most MaxPDU bytes)
	// until its last fragment, when the arguments are decoded.
	stub []byte
}

type handleName struct {
	h    [20]byte
	name string
}

// Conn decodes the two byte streams of one pipe (or TCP connection).
// It is not safe for concurrent use.
type Conn struct {
	lim      Limits
	dir      [2]stream // 0: client to server, 1: server to client
	ctx      []context
	calls    []pending
	handles  [8]handleName
	nhandles int
	chal     ntlm.Message // the last NTLM CHALLENGE from the server
	stubs    int          // bytes held in pending calls' stubs, ≤ 2×MaxPDU
	Stats    Stats
}

// NewConn returns a Conn with the given limits.
func NewConn(l Limits) *Conn {
	l = l.withDefaults()
	return &Conn{lim: l}
}

// stream reassembles the PDUs of one direction, keeping a prefix of each.
type stream struct {
	buf  []byte
	need int // prefix length wanted (after the header is known)
	skip int // bytes of the current PDU still to drop
	h    Header
	// pos is the offset in the PDU of the next skipped byte; tail holds
	// the 4 bytes before the stub's end for the return code.
	pos   int
	tail  [4]byte
	tailN int
	lost  bool
}

// Data delivers bytes of one direction (client is true for requests). A
// new SMB read or write message starts a PDU when the stream is lost, so
// callers pass each message's data in one call where they can.
func (c *Conn) Data(client bool, ts time.Time, b []byte, emit func(*Event)) {
	s := &c.dir[dirIndex(client)]
	if s.lost {
		if !Looks(b) {
			return
		}
		s.lost = false
		s.reset()
	}
	for len(b) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(b))
			s.captureTail(b[:n])
			s.skip -= n
			b = b[n:]
			if s.skip == 0 {
				c.finish(client, ts, s, emit)
			}
			continue
		}
		if s.need == 0 {
			// Collect the header.
			n := min(HeaderLen-len(s.buf), len(b))
			s.buf = append(s.buf, b[:n]...)
			b = b[n:]
			if len(s.buf) < HeaderLen {
				return
			}
			h, ok := ParseHeader(s.buf)
			if !ok {
				c.Stats.BadHeader++
				c.Stats.Resyncs++
				s.lost = true
				s.reset()
				return
			}
			s.h = h
			s.need = min(int(h.FragLen), c.lim.MaxPDU)
			if s.need == HeaderLen {
				c.complete(client, ts, s, emit)
			}
			continue
		}
		n := min(s.need-len(s.buf), len(b))
		s.buf = append(s.buf, b[:n]...)
		b = b[n:]
		if len(s.buf) == s.need {
			c.complete(client, ts, s, emit)
		}
	}
}

// Gap reports n bytes lost in one direction.
func (c *Conn) Gap(client bool, n int) {
	s := &c.dir[dirIndex(client)]
	if s.lost {
		return
	}
	if s.skip > n {
		s.skip -= n
		s.pos += n
		s.tailN = -1 // the tail may be gone
		return
	}
	c.Stats.Resyncs++
	s.lost = true
	s.reset()
}

func dirIndex(client bool) int {
	if client {
		return 0
	}
	return 1
}

func (s *stream) reset() {
	if cap(s.buf) > 1024 {
		s.buf = nil // keep no large PDU buffer between PDUs
	}
	s.buf = s.buf[:0]
	s.need, s.skip, s.pos, s.tailN = 0, 0, 0, 0
}

// complete runs when the prefix is buffered: either the PDU is whole, or
// the rest is skipped and the PDU finished after it.
func (c *Conn) complete(client bool, ts time.Time, s *stream, emit func(*Event)) {
	if int(s.h.FragLen) > len(s.buf) {
		c.Stats.Oversize++
		s.skip = int(s.h.FragLen) - len(s.buf)
		s.pos = len(s.buf)
		s.tailN = 0
		// Keep the bytes of the tail window that are in the prefix.
		s.captureTailFrom(s.buf, 0)
		return
	}
	c.finish(client, ts, s, emit)
}

// stubEnd is the offset of the end of the stub in the PDU.
func (s *stream) stubEnd() int {
	end := int(s.h.FragLen)
	if s.h.AuthLen > 0 {
		end -= int(s.h.AuthLen) + 8
	}
	return end
}

func (s *stream) captureTail(b []byte) {
	s.captureTailFrom(b, s.pos)
	s.pos += len(b)
}

// captureTailFrom copies the bytes of b (which start at PDU offset at)
// that fall in the 4 bytes before the stub's end.
func (s *stream) captureTailFrom(b []byte, at int) {
	if s.tailN < 0 {
		return
	}
	end := s.stubEnd()
	start := end - 4
	for i := max(start, at); i < end && i < at+len(b); i++ {
		s.tail[i-start] = b[i-at]
		s.tailN++
	}
}

func (c *Conn) finish(client bool, ts time.Time, s *stream, emit func(*Event)) {
	p := s.buf
	h := s.h
	tail, tailOK := s.tail, s.tailN == 4
	if int(h.FragLen) <= len(p) {
		end := s.stubEnd()
		if end >= HeaderLen+4 && end <= len(p) {
			copy(tail[:], p[end-4:end])
			tailOK = true
		}
	}
	if h.AuthLen > 0 {
		c.auth(client, ts, h, p, emit)
	}
	switch h.Type {
	case PtypeBind, PtypeAlterCtx:
		if client {
			c.bind(ts, h, p, emit)
		}
	case PtypeBindAck, PtypeAlterCtxAck:
		if !client {
			c.bindAck(ts, h, p, emit)
		}
	case PtypeBindNak:
		if !client {
			c.bindNak(ts, h, p, emit)
		}
	case PtypeRequest:
		if client {
			c.request(ts, h, p, emit)
		}
	case PtypeResponse:
		if !client {
			c.response(ts, h, p, tail, tailOK, emit)
		}
	case PtypeFault:
		if !client {
			c.fault(ts, h, p, emit)
		}
	}
	s.reset()
}

// Flush reports every pending bind and call as unanswered.
func (c *Conn) Flush(emit func(*Event)) {
	for i := range c.calls {
		emit(&c.calls[i].ev)
	}
	c.calls = c.calls[:0]
	c.stubs = 0
}

// Pending is the number of binds and calls awaiting an answer.
func (c *Conn) Pending() int { return len(c.calls) }

// Buffered is the number of PDU bytes held by the two streams.
func (c *Conn) Buffered() int { return len(c.dir[0].buf) + len(c.dir[1].buf) }

func (c *Conn) push(p pending, emit func(*Event)) {
	if len(c.calls) >= c.lim.MaxCalls {
		c.stubs -= len(c.calls[0].stub)
		c.Stats.Evicted++
		c.calls[0].ev.Evicted = true
		emit(&c.calls[0].ev)
		copy(c.calls, c.calls[1:])
		c.calls = c.calls[:len(c.calls)-1]
	}
	c.calls = append(c.calls, p)
}

func (c *Conn) take(kind Kind, callID uint32) (pending, bool) {
	for i := range c.calls {
		if c.calls[i].ev.Kind == kind && c.calls[i].ev.CallID == callID {
			p := c.calls[i]
			c.stubs -= len(p.stub)
			c.calls = append(c.calls[:i], c.calls[i+1:]...)
			return p, true
		}
	}
	return pending{}, false
}

func (c *Conn) find(kind Kind, callID uint32) *pending {
	for i := range c.calls {
		if c.calls[i].ev.Kind == kind && c.calls[i].ev.CallID == callID {
			return &c.calls[i]
		}
	}
	return nil
}

func (c *Conn) context(id uint16) *context {
	for i := range c.ctx {
		if c.ctx[i].id == id {
			return &c.ctx[i]
		}
	}
	return nil
}

func (c *Conn) bind(ts time.Time, h Header, p []byte, emit func(*Event)) {
	o := order(h.BigEnd)
	ev := Event{Kind: KindBind, Time: ts, CallID: h.CallID}
	var pd pending
	if len(p) < 28 {
		return
	}
	n := int(p[24])
	off := 28
	for i := 0; i < n && off+24 <= len(p); i++ {
		id := o.Uint16(p[off:])
		nts := int(p[off+2])
		var u UUID
		if h.BigEnd {
			u = uuidBE(p[off+4:])
		} else {
			u = uuidLE(p[off+4:])
		}
		ver := o.Uint16(p[off+20:])
		if i == 0 || (ev.Interface == "" && Lookup(u) != nil) {
			ev.UUID, ev.Version = u, ver
			ev.Interface = Lookup(u).nameOr("")
		}
		if !containsUUID(ev.UUIDs, u) && len(ev.UUIDs) < 4 {
			ev.UUIDs = append(ev.UUIDs, u)
		}
		if pd.nctx < len(pd.ctxIDs) {
			pd.ctxIDs[pd.nctx] = id
			pd.nctx++
		}
		c.addContext(id, u, ver)
		off += 24 + 20*nts
	}
	pd.ev = ev
	c.push(pd, emit)
}

func (i *Interface) nameOr(def string) string {
	if i == nil {
		return def
	}
	return i.Name
}

func containsUUID(us []UUID, u UUID) bool {
	for _, v := range us {
		if v == u {
			return true
		}
	}
	return false
}

func (c *Conn) addContext(id uint16, u UUID, ver uint16) {
	if x := c.context(id); x != nil {
		*x = context{id: id, uuid: u, ver: ver, iface: Lookup(u)}
		return
	}
	if len(c.ctx) >= c.lim.MaxContexts {
		c.Stats.Contexts++
		return
	}
	c.ctx = append(c.ctx, context{id: id, uuid: u, ver: ver, iface: Lookup(u)})
}

func (c *Conn) bindAck(ts time.Time, h Header, p []byte, emit func(*Event)) {
	pd, ok := c.take(KindBind, h.CallID)
	if !ok {
		return
	}
	o := order(h.BigEnd)
	pd.ev.Answer = ts
	pd.ev.Result = ResultRejected
	if len(p) < 26 {
		pd.ev.Result = ""
		emit(&pd.ev)
		return
	}
	off := 26 + int(o.Uint16(p[24:]))
	off = (off + 3) &^ 3
	if off+4 <= len(p) {
		n := int(p[off])
		off += 4
		for i := 0; i < n && off+24 <= len(p); i++ {
			res := o.Uint16(p[off:])
			if res == 0 && i < pd.nctx { // acceptance, with its syntax
				var ts UUID
				if h.BigEnd {
					ts = uuidBE(p[off+4:])
				} else {
					ts = uuidLE(p[off+4:])
				}
				if x := c.context(pd.ctxIDs[i]); x != nil {
					x.n64 = ts == ndr64
					if pd.ev.Result != ResultAccepted {
						pd.ev.UUID, pd.ev.Version = x.uuid, x.ver
						pd.ev.Interface = x.iface.nameOr("")
					}
				}
				pd.ev.Result = ResultAccepted
			} else if res != 0 && pd.ev.Result != ResultAccepted {
				pd.ev.Reason = o.Uint16(p[off+2:])
			}
			off += 24
		}
	}
	emit(&pd.ev)
}

func (c *Conn) bindNak(ts time.Time, h Header, p []byte, emit func(*Event)) {
	pd, ok := c.take(KindBind, h.CallID)
	if !ok {
		return
	}
	pd.ev.Answer = ts
	pd.ev.Result = ResultRejected
	if len(p) >= 18 {
		pd.ev.Reason = order(h.BigEnd).Uint16(p[16:])
	}
	emit(&pd.ev)
}

func (c *Conn) request(ts time.Time, h Header, p []byte, emit func(*Event)) {
	if len(p) < 24 {
		return
	}
	o := order(h.BigEnd)
	off := 24
	if h.Flags&FlagObjectUUID != 0 {
		off += 16
	}
	var st []byte
	if h.AuthLen == 0 || authLevel(p, h) != AuthLevelPrivacy {
		st, _ = stub(p, h, off)
	}
	if h.Flags&FlagFirstFrag == 0 {
		if pd := c.find(KindCall, h.CallID); pd != nil {
			pd.ev.Fragments++
			if pd.stub != nil {
				add := st[:min(len(st), c.lim.MaxPDU-len(pd.stub), 2*c.lim.MaxPDU-c.stubs)]
				pd.stub = append(pd.stub, add...)
				c.stubs += len(add)
				if h.Flags&FlagLastFrag != 0 {
					pd.handle = c.decodeArgs(&pd.ev, pd.stub, pd.n64)
					c.stubs -= len(pd.stub)
					pd.stub = nil
				}
			}
		}
		return
	}
	ctxID, opnum := o.Uint16(p[20:]), o.Uint16(p[22:])
	ev := Event{Kind: KindCall, Time: ts, CallID: h.CallID, Opnum: opnum, Fragments: 1}
	ev.AuthLevel = authLevel(p, h)
	n64 := false
	if x := c.context(ctxID); x != nil {
		ev.UUID, ev.Version = x.uuid, x.ver
		ev.Interface = x.iface.nameOr("")
		ev.Operation = x.iface.Operation(opnum)
		n64 = x.n64
	}
	pd := pending{ev: ev, n64: n64}
	if ev.AuthLevel != AuthLevelPrivacy && !h.BigEnd && hasArgs(ev.UUID, opnum) {
		if h.Flags&FlagLastFrag != 0 || c.stubs+len(st) > 2*c.lim.MaxPDU {
			pd.handle = c.decodeArgs(&pd.ev, st, n64)
		} else {
			pd.stub = append(make([]byte, 0, len(st)), st...)
			c.stubs += len(st)
		}
	}
	c.push(pd, emit)
}

func (c *Conn) response(ts time.Time, h Header, p []byte, tail [4]byte, tailOK bool, emit func(*Event)) {
	if h.Flags&FlagLastFrag == 0 {
		return
	}
	pd, ok := c.take(KindCall, h.CallID)
	if !ok {
		return
	}
	pd.ev.Answer = ts
	pd.ev.Result = ResultResponse
	if tailOK && pd.ev.AuthLevel != AuthLevelPrivacy {
		pd.ev.ReturnCode = order(h.BigEnd).Uint32(tail[:])
		pd.ev.HasReturn = true
	}
	if pd.handle && pd.ev.HasReturn && pd.ev.ReturnCode == 0 && h.Flags&FlagFirstFrag != 0 {
		if st, whole := stub(p, h, 24); whole {
			c.rememberHandle(&pd.ev, st, pd.n64)
		}
	}
	emit(&pd.ev)
}

func (c *Conn) fault(ts time.Time, h Header, p []byte, emit func(*Event)) {
	pd, ok := c.take(KindCall, h.CallID)
	if !ok {
		return
	}
	pd.ev.Answer = ts
	pd.ev.Result = ResultFault
	if len(p) >= 28 {
		pd.ev.Fault = order(h.BigEnd).Uint32(p[24:])
	}
	emit(&pd.ev)
}

// auth looks for NTLM in the auth verifier of a bind, alter_context, their
// answers and auth3: the server's CHALLENGE is remembered, the client's
// AUTHENTICATE reported.
func (c *Conn) auth(client bool, ts time.Time, h Header, p []byte, emit func(*Event)) {
	switch h.Type {
	case PtypeBind, PtypeAlterCtx, PtypeAuth3, PtypeBindAck, PtypeAlterCtxAck:
	default:
		return
	}
	start := int(h.FragLen) - int(h.AuthLen)
	if start < HeaderLen || start >= len(p) {
		return
	}
	v := p[start:min(int(h.FragLen), len(p))]
	m, ok := ntlm.Find(v)
	if !ok {
		return
	}
	switch {
	case !client && m.Type == ntlm.TypeChallenge:
		c.chal = m
	case client && m.Type == ntlm.TypeAuthenticate:
		ev := Event{Kind: KindAuth, Time: ts, CallID: h.CallID, NTLM: m, Challenge: c.chal, NTLMVersion: ntlm.FindNTLMVersion(v)}
		if h.AuthLen > 0 && start >= 8 {
			ev.AuthLevel = p[start-8+1]
		}
		emit(&ev)
	}
}
