package rdp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Session is one TCP flow's RDP state: a TPKT framer per direction and the
// record being filled. It emits the record once, as soon as the outcome is
// known (or in End), and then ignores the rest of the flow.
type Session struct {
	cfg  Config
	emit proto.Emit
	rec  Record
	dir  [2]tpktStream

	crTime, ccTime time.Time
	crSeen         bool // the client's Connection Request was parsed
	ccSeen         bool // the server's Connection Confirm was parsed
	mcsRsp         bool // the MCS Connect Response was parsed
	emitted        bool
}

var _ proto.Session = (*Session)(nil)

// tpktStream frames one direction into TPKT PDUs with a bounded buffer.
type tpktStream struct {
	buf     []byte
	skip    int  // bytes of an oversized PDU still to skip
	stopped bool // this direction is no longer parsed
	pdus    int
}

// maxPDUs bounds how many PDUs of each direction are examined: RDP's
// connection set-up needs the first three or four.
const maxPDUs = 16

// Payload implements proto.Session.
func (s *Session) Payload(dir flow.Dir, ts time.Time, b []byte) error {
	if s.emitted || dir > flow.FromServer {
		return nil
	}
	err := s.feed(dir, ts, b)
	s.maybeEmit()
	return err
}

// feed frames b into PDUs and hands each to pdu.
func (s *Session) feed(dir flow.Dir, ts time.Time, b []byte) error {
	st := &s.dir[dir]
	for len(b) > 0 && !st.stopped && !s.emitted {
		if st.skip > 0 {
			n := min(st.skip, len(b))
			st.skip -= n
			b = b[n:]
			continue
		}
		if len(st.buf) == 0 && len(b) >= 4 && b[0] == 3 && b[1] == 0 {
			n := int(binary.BigEndian.Uint16(b[2:4]))
			if n >= 7 && n <= len(b) && n <= s.cfg.MaxPDU {
				if err := s.pdu(dir, ts, b[:n]); err != nil {
					return err
				}
				b = b[n:]
				continue
			}
		}
		if len(st.buf) < 4 {
			k := min(4-len(st.buf), len(b))
			st.buf = append(st.buf, b[:k]...)
			b = b[k:]
			if len(st.buf) < 4 {
				return nil
			}
		}
		n := int(binary.BigEndian.Uint16(st.buf[2:4]))
		if st.buf[0] != 3 || st.buf[1] != 0 || n < 7 {
			if dir == flow.FromClient && !s.crSeen {
				st.stopped = true
				return proto.Malformed("not a connection request")
			}
			return s.notTPKT(dir, st.buf)
		}
		if n > s.cfg.MaxPDU {
			s.rec.anomaly(AnomalyPDUTooLarge)
			st.skip = n - len(st.buf)
			st.buf = st.buf[:0]
			st.pdus++
			continue
		}
		k := min(n-len(st.buf), len(b))
		st.buf = append(st.buf, b[:k]...)
		b = b[k:]
		if len(st.buf) == n {
			err := s.pdu(dir, ts, st.buf)
			st.buf = st.buf[:0]
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// notTPKT handles a direction whose next bytes are not a TPKT header: a TLS
// record after the negotiation, fast-path PDUs, or garbage.
func (s *Session) notTPKT(dir flow.Dir, b []byte) error {
	st := &s.dir[dir]
	st.stopped = true
	st.buf = st.buf[:0]
	switch {
	case dir == flow.FromClient && s.crSeen && b[0] == 0x16 && b[1] == 3:
		s.rec.TLS = true
	case dir == flow.FromServer && !s.ccSeen:
		// The server answered the Connection Request with something that
		// is not X.224: not an RDP server.
		s.rec.anomaly(AnomalyNotTPKT)
		s.flush(time.Time{})
		return proto.Malformed("server not tpkt")
	case s.ccSeen && s.rec.Selected != 0:
		// TLS/CredSSP follows: nothing more to read in the clear.
	case s.ccSeen && !s.mcsRsp && (b[0]&0x03) == 0:
		// A fast-path PDU (action bits 0) can only follow a complete
		// connection sequence.
	default:
		s.rec.anomaly(AnomalyNotTPKT)
	}
	return nil
}

// pdu handles one complete TPKT PDU (header included).
func (s *Session) pdu(dir flow.Dir, ts time.Time, p []byte) error {
	st := &s.dir[dir]
	st.pdus++
	if st.pdus > maxPDUs {
		st.stopped = true
		return nil
	}
	x := p[4:]
	if len(x) < 2 || int(x[0])+1 > len(x) {
		s.rec.anomaly(AnomalyUnexpectedPDU)
		return nil
	}
	li, code := int(x[0]), x[1]&0xF0
	hdr, data := x[1:1+li], x[1+li:]
	if dir == flow.FromClient {
		switch {
		case !s.crSeen && !isConnectionRequest(p, false):
			st.stopped = true
			return proto.Malformed("not a connection request")
		case !s.crSeen:
			s.crSeen = true
			s.crTime = ts
			s.rec.Timestamp = ts
			s.connectionRequest(hdr)
		case code == x224DT && len(data) >= 2 && data[0] == 0x7f && data[1] == 0x65:
			s.connectInitial(data)
		}
		return nil
	}
	switch {
	case !s.ccSeen && code == x224CC:
		s.ccSeen = true
		s.ccTime = ts
		s.connectionConfirm(hdr)
	case !s.ccSeen && code == x224DR:
		s.ccSeen = true
		s.ccTime = ts
		s.rec.Disconnect = true
	case !s.ccSeen:
		s.rec.anomaly(AnomalyUnexpectedPDU)
		st.stopped = true
	case code == x224DT && len(data) >= 2 && data[0] == 0x7f && data[1] == 0x66:
		s.mcsRsp = true
		s.connectResponse(data)
	}
	return nil
}

// connectionRequest decodes the CR TPDU header after its length indicator:
// code, DST-REF, SRC-REF, class, then RDP's variable part.
func (s *Session) connectionRequest(h []byte) {
	if len(h) < 6 {
		return
	}
	v := h[6:]
	if len(v) > 0 && v[0] != negReq {
		end := bytes.Index(v, []byte("\r\n"))
		tok := v
		if end < 0 {
			s.rec.anomaly(AnomalyCookieUnterminated)
			v = nil
		} else {
			tok, v = v[:end], v[end+2:]
		}
		s.token(string(tok))
	}
	if len(v) == 0 {
		return
	}
	if len(v) < 8 || v[0] != negReq || binary.LittleEndian.Uint16(v[2:4]) != 8 {
		s.rec.anomaly(AnomalyBadNegotiation)
		return
	}
	s.rec.HasRequest = true
	s.rec.ReqFlags = v[1]
	s.rec.Requested = binary.LittleEndian.Uint32(v[4:8])
	// RDP_NEG_CORRELATION_INFO (type 6, 36 bytes) may follow; nothing in
	// it is worth a field.
}

// token records a cookie or routing token line (without its CR LF).
func (s *Session) token(t string) {
	const cookie, msts = "Cookie: mstshash=", "Cookie: msts="
	switch {
	case strings.HasPrefix(t, cookie):
		c := t[len(cookie):]
		s.rec.Cookie = c
		u := strings.TrimSpace(c)
		if d, name, ok := strings.Cut(u, `\`); ok {
			s.rec.Domain, u = d, name
		}
		s.rec.User = u
		if u != "" {
			s.rec.RelatedUsers = append(s.rec.RelatedUsers[:0], u)
		}
	case strings.HasPrefix(t, msts):
		s.rec.RoutingToken = t[len("Cookie: "):]
		s.rec.RoutingAddr = routingAddr(t[len(msts):])
	case strings.HasPrefix(t, "Cookie: "):
		s.rec.RoutingToken = t[len("Cookie: "):]
	default:
		s.rec.RoutingToken = t
	}
}

// routingAddr decodes a load balancer routing token "IP.PORT.0000" where IP
// is the decimal value of the address's bytes read little-endian and PORT
// the decimal value of the port's bytes read little-endian (MS-TSSI,
// "IP address and port redirection token").
func routingAddr(t string) netip.AddrPort {
	ipS, rest, ok := strings.Cut(t, ".")
	if !ok {
		return netip.AddrPort{}
	}
	portS, _, _ := strings.Cut(rest, ".")
	ip, err1 := strconv.ParseUint(ipS, 10, 32)
	port, err2 := strconv.ParseUint(portS, 10, 16)
	if err1 != nil || err2 != nil {
		return netip.AddrPort{}
	}
	a := netip.AddrFrom4([4]byte{byte(ip), byte(ip >> 8), byte(ip >> 16), byte(ip >> 24)})
	return netip.AddrPortFrom(a, uint16(port)<<8|uint16(port)>>8)
}

// connectionConfirm decodes the CC TPDU header after its length indicator.
func (s *Session) connectionConfirm(h []byte) {
	s.rec.Result = ResultNegotiated
	if len(h) < 6 {
		return
	}
	v := h[6:]
	if len(v) == 0 {
		return // an old server: classic RDP security, no negotiation
	}
	if len(v) < 8 || binary.LittleEndian.Uint16(v[2:4]) != 8 {
		s.rec.anomaly(AnomalyBadNegotiation)
		return
	}
	switch v[0] {
	case negRsp:
		s.rec.HasSelected = true
		s.rec.RspFlags = v[1]
		s.rec.Selected = binary.LittleEndian.Uint32(v[4:8])
	case negFailure:
		s.rec.HasFailure = true
		s.rec.Result = ResultRefused
		s.rec.Failure = binary.LittleEndian.Uint32(v[4:8])
	default:
		s.rec.anomaly(AnomalyBadNegotiation)
	}
}

// maybeEmit writes the record once its outcome and the details that can
// still come in the clear are known.
func (s *Session) maybeEmit() {
	if s.emitted || !s.ccSeen {
		return
	}
	r := &s.rec
	switch {
	case r.HasFailure || r.Disconnect:
	case r.Selected != 0:
		// TLS or CredSSP: wait for the client's next bytes to say whether
		// a TLS handshake started.
		if c := &s.dir[flow.FromClient]; !c.stopped && c.pdus < 2 {
			return
		}
	default:
		// Classic RDP security: the MCS exchange follows in the clear.
		if !s.mcsRsp && !s.dir[flow.FromServer].stopped && !s.dir[flow.FromClient].stopped {
			return
		}
	}
	s.flush(time.Time{})
}

// flush emits the record (once).
func (s *Session) flush(end time.Time) {
	if s.emitted || !s.crSeen {
		return
	}
	s.emitted = true
	if s.ccSeen {
		s.rec.Duration = s.ccTime.Sub(s.crTime)
	}
	s.rec.finish()
	s.emit(&s.rec)
	for i := range s.dir {
		s.dir[i].buf = nil
	}
}

// Gap implements proto.Session: bytes lost inside a skipped PDU are
// harmless; anywhere else the direction can no longer be framed.
func (s *Session) Gap(dir flow.Dir, n int) {
	if s.emitted || dir > flow.FromServer {
		return
	}
	st := &s.dir[dir]
	if st.stopped {
		return
	}
	if st.skip >= n {
		st.skip -= n
		return
	}
	st.stopped = true
	st.buf = st.buf[:0]
	s.rec.anomaly(AnomalyGap)
	s.maybeEmit()
}

// End implements proto.Session: it flushes the record, with the outcome
// "no_answer" when the server never confirmed.
func (s *Session) End(ts time.Time, why event.EndReason) {
	s.flush(ts)
}
