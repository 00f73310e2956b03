package dicom

import (
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Session is one TCP connection's DICOM state: a PDU decoder per direction
// and the association being summarised. It is not safe for concurrent use
// (the dispatcher calls it from one worker).
//
// Each direction is a streaming state machine over PDU headers, PDV
// headers and PDV bodies. Only A-ASSOCIATE PDUs (bounded by
// MaxAssociatePDU) and command sets (bounded by MaxCommandBytes) are
// buffered; data set PDVs are counted and skipped byte by byte, so the
// session's memory does not depend on image sizes.
type Session struct {
	p    *Parser
	conn event.Conn
	emit proto.Emit
	dir  [2]stream

	a        *Association
	start    time.Time // time of the association's first PDU
	last     time.Time // time of the latest payload
	ended    bool      // the previous association ended with a terminal PDU
	pending  []pending
	failures int // failure records emitted for this association
}

// Stream decoder states.
const (
	stPDUHdr  = iota // collecting a 6-byte PDU header
	stPDUBody        // buffering a non-P-DATA PDU body
	stPDVHdr         // collecting a 6-byte PDV item header inside P-DATA-TF
	stPDVBody        // inside a PDV: command bytes buffered, data skipped
	stSkip           // skipping the rest of a PDU whose structure a gap broke
	stLost           // out of sync after a gap: scanning for a PDU header
)

// stream is one direction's decoder.
type stream struct {
	st      uint8
	hdr     [12]byte // header being collected; in stLost, the carried tail
	hn      int
	typ     byte
	pduAt   time.Time
	pduLeft uint32 // body bytes left in the current PDU
	buf     []byte // non-P-DATA PDU body (bounded)
	trunc   bool   // buf lost bytes (limit or gap): stop appending
	pdvLeft uint32
	flags   byte
	cmd     []byte // command set fragments (bounded)
	inCmd   bool
	cmdBad  bool
	// dataKind is the DIMSE kind whose data set the following data PDVs
	// carry, or -1.
	dataKind int8
	// resynced is set once the stream was re-synchronised by scanning: its
	// framing errors then mean a false start, not a malformed peer.
	resynced bool
}

func (st *stream) init() { st.dataKind = -1 }

// pdv flags (PS3.8 §E.2).
const (
	pdvCommand = 0x01
	pdvLast    = 0x02
)

// Payload implements proto.Session.
func (s *Session) Payload(d flow.Dir, ts time.Time, b []byte) error {
	st := &s.dir[d]
	s.last = ts
	if err := s.decode(d, ts, st, b); err != nil {
		if st.resynced {
			s.lose(st)
			return nil
		}
		s.assoc(ts).Anomalies |= anMalformed
		return err
	}
	return nil
}

func (s *Session) decode(d flow.Dir, ts time.Time, st *stream, b []byte) error {
	for len(b) > 0 {
		switch st.st {
		case stPDUHdr:
			if st.hn == 0 {
				st.pduAt = ts
			}
			n := copy(st.hdr[st.hn:6], b)
			st.hn += n
			b = b[n:]
			if st.hn < 6 {
				return nil
			}
			st.hn = 0
			if err := s.startPDU(d, st); err != nil {
				return err
			}

		case stPDUBody:
			take := clip(len(b), st.pduLeft)
			if !st.trunc {
				keep := min(take, s.p.cfg.MaxAssociatePDU-len(st.buf))
				st.buf = append(st.buf, b[:keep]...)
				st.trunc = keep < take
			}
			st.pduLeft -= uint32(take)
			b = b[take:]
			if st.pduLeft == 0 {
				st.st = stPDUHdr
				s.endPDU(d, st)
			}

		case stPDVHdr:
			n := copy(st.hdr[st.hn:6], b)
			st.hn += n
			st.pduLeft -= uint32(n)
			b = b[n:]
			if st.hn < 6 {
				return nil
			}
			st.hn = 0
			if err := s.startPDV(d, ts, st); err != nil {
				return err
			}

		case stPDVBody:
			take := clip(len(b), st.pdvLeft)
			s.pdvBytes(ts, st, b[:take])
			st.pdvLeft -= uint32(take)
			st.pduLeft -= uint32(take)
			b = b[take:]
			if st.pdvLeft == 0 {
				if err := s.endPDV(d, ts, st); err != nil {
					return err
				}
			}

		case stSkip:
			take := clip(len(b), st.pduLeft)
			st.pduLeft -= uint32(take)
			b = b[take:]
			if st.pduLeft == 0 {
				st.st = stPDUHdr
			}

		case stLost:
			var ok bool
			if b, ok = s.scan(d, st, b); !ok {
				return nil
			}
			// b starts at a plausible PDU header: decode from there.
			st.st, st.hn, st.resynced = stPDUHdr, 0, true
			st.inCmd, st.dataKind = false, -1
			if s.a != nil {
				s.a.Anomalies |= anResync
			}
		}
	}
	return nil
}

// clip is min(n, left) as an int.
func clip(n int, left uint32) int {
	if uint64(n) > uint64(left) {
		return int(left)
	}
	return n
}

// startPDU checks a complete PDU header and sets up its body.
func (s *Session) startPDU(d flow.Dir, st *stream) error {
	st.typ = st.hdr[0]
	n := be32(st.hdr[2:])
	st.pduLeft = n
	switch st.typ {
	case pduPData:
		if n < 6 { // at least one PDV header
			return errPDULength
		}
		st.st = stPDVHdr
		return nil
	case pduAssociateRQ, pduAssociateAC:
		if n < assocFixed {
			return errPDULength
		}
	case pduAssociateRJ, pduReleaseRQ, pduReleaseRP, pduAbort:
		if n < 4 || n > 1024 { // 4 in PS3.8; tolerate a little padding
			return errPDULength
		}
	default:
		return errPDUType
	}
	st.st = stPDUBody
	st.buf, st.trunc = st.buf[:0], false
	return nil
}

// startPDV checks a complete PDV item header.
func (s *Session) startPDV(d flow.Dir, ts time.Time, st *stream) error {
	n := be32(st.hdr[0:])
	if n < 2 || n-2 > st.pduLeft {
		return errPDVLength
	}
	st.pdvLeft = n - 2
	st.flags = st.hdr[5]
	if st.flags&pdvCommand != 0 {
		if !st.inCmd {
			st.inCmd, st.cmdBad = true, false
			st.cmd = st.cmd[:0]
		}
	} else if st.inCmd {
		// A data PDV before the command's last fragment.
		s.assoc(ts).Anomalies |= anBadCommand
		st.inCmd = false
	}
	st.st = stPDVBody
	if st.pdvLeft == 0 {
		return s.endPDV(d, ts, st)
	}
	return nil
}

// pdvBytes takes PDV body bytes: command bytes are buffered, data bytes
// are only counted.
func (s *Session) pdvBytes(ts time.Time, st *stream, b []byte) {
	if st.flags&pdvCommand != 0 {
		if st.cmdBad {
			return
		}
		if len(st.cmd)+len(b) > s.p.cfg.MaxCommandBytes {
			st.cmdBad = true
			s.assoc(ts).Anomalies |= anCommandTooLarge
			return
		}
		st.cmd = append(st.cmd, b...)
		return
	}
	s.dataBytes(ts, st, uint64(len(b)))
}

func (s *Session) dataBytes(ts time.Time, st *stream, n uint64) {
	a := s.assoc(ts)
	a.DataBytes += n
	if st.dataKind >= 0 {
		a.Commands[st.dataKind].DatasetBytes += n
	}
}

// endPDV finishes a PDV and moves to the next PDV or PDU.
func (s *Session) endPDV(d flow.Dir, ts time.Time, st *stream) error {
	if st.flags&pdvLast != 0 {
		if st.flags&pdvCommand != 0 {
			st.inCmd = false
			st.dataKind = -1
			if !st.cmdBad {
				st.dataKind = s.onCommand(d, ts, st.cmd)
			}
		} else {
			st.dataKind = -1 // the data set is complete
		}
	}
	switch {
	case st.pduLeft == 0:
		st.st = stPDUHdr
	case st.pduLeft < 6:
		return errPDVLength
	default:
		st.st = stPDVHdr
	}
	return nil
}

// endPDU acts on a complete non-P-DATA PDU.
func (s *Session) endPDU(d flow.Dir, st *stream) {
	ts, body := st.pduAt, st.buf
	switch st.typ {
	case pduAssociateRQ:
		if s.a != nil {
			if s.a.requested {
				s.a.Anomalies |= anRepeatedRequest
			}
			s.flush(ts)
		}
		a := s.assoc(ts)
		a.Anomalies &^= anStartNotSeen
		a.requested = true
		if st.trunc {
			a.Anomalies |= anAssocTruncated
		}
		s.parseAssociate(a, body, false, st.trunc)
	case pduAssociateAC:
		a := s.assoc(ts)
		a.answered, a.Answer = true, "accepted"
		if st.trunc {
			a.Anomalies |= anAssocTruncated
		}
		s.parseAssociate(a, body, true, st.trunc)
	case pduAssociateRJ:
		a := s.assoc(ts)
		a.answered, a.Answer = true, "rejected"
		if len(body) >= 4 {
			copy(a.Reject[:], body[1:4])
		}
		s.flush(ts)
	case pduReleaseRQ:
		if s.a != nil || !s.ended {
			s.assoc(ts).ReleaseReq = true
		}
	case pduReleaseRP:
		if s.a != nil || !s.ended {
			s.assoc(ts).End = "released"
			s.flush(ts)
		}
	case pduAbort:
		if s.a != nil || !s.ended {
			a := s.assoc(ts)
			a.End = "aborted"
			if len(body) >= 4 {
				copy(a.Abort[:], body[2:4])
			}
			a.AbortBy = "client"
			if d == flow.FromServer {
				a.AbortBy = "server"
			}
			s.flush(ts)
		}
	}
	if cap(st.buf) > 4096 {
		st.buf = nil // keep large association buffers only while needed
	}
	st.buf, st.trunc = st.buf[:0], false
}

// assoc returns the current association, starting one (as picked up
// mid-way) if there is none.
func (s *Session) assoc(ts time.Time) *Association {
	if s.a == nil {
		s.a = &Association{Anomalies: anStartNotSeen}
		if s.ended {
			s.a.Anomalies |= anPDUAfterEnd
		}
		s.start, s.ended = ts, false
	}
	return s.a
}

// flush emits the association record and forgets the association.
func (s *Session) flush(end time.Time) {
	a := s.a
	if a == nil {
		return
	}
	for _, p := range s.pending {
		a.Commands[p.kind].Unanswered++
	}
	r := &Record{Assoc: a}
	r.Base = s.base(s.start, "dicom_association")
	r.Duration = durationBetween(s.start, end)
	switch {
	case a.Answer == "rejected":
		r.Outcome = "failure"
		r.Reason = "association rejected: " + rejectReason(a.Reject[1], a.Reject[2])
	case a.End == "aborted":
		r.Outcome = "failure"
		r.Reason = "association aborted by " + abortSource(a.Abort[0])
		if why := abortReason(a.Abort[0], a.Abort[1]); why != "" {
			r.Reason += ": " + why
		}
	case a.Answer == "accepted" && a.ContextsAccepted == 0:
		r.Outcome = "failure"
		r.Reason = "no presentation context accepted"
	case a.Answer == "accepted":
		r.Outcome = "success"
	case a.requested:
		r.Outcome = "unknown"
		r.Reason = "no answer"
	default:
		r.Outcome = "unknown"
	}
	if a.Username != "" {
		r.RelatedUsers = []string{a.Username}
	}
	s.emit(r)
	s.a, s.ended = nil, true
	s.pending = s.pending[:0]
	s.failures = 0
}

func (s *Session) base(ts time.Time, action string) event.Base {
	return event.Base{Conn: s.conn, Timestamp: ts, Protocol: "dicom", Action: action}
}

// Gap implements proto.Session. A gap inside a data PDV is skipped (and its
// bytes still counted: the PDV length says how many there were); a gap
// inside a PDU skips the rest of that PDU; a longer one loses sync, and the
// stream scans for the next plausible PDU header.
func (s *Session) Gap(d flow.Dir, n int) {
	st := &s.dir[d]
	if n <= 0 || st.st == stLost {
		return
	}
	if s.a != nil {
		s.a.Anomalies |= anGap
	}
	gap := uint32(n)
	if uint64(n) > uint64(^uint32(0)) {
		gap = ^uint32(0)
	}
	switch {
	case st.st == stPDVBody && gap <= st.pdvLeft:
		if st.flags&pdvCommand != 0 {
			st.cmdBad = true
		} else {
			s.dataBytes(s.last, st, uint64(gap))
		}
		st.pdvLeft -= gap
		st.pduLeft -= gap
		if st.pdvLeft == 0 {
			if s.endPDV(d, s.last, st) != nil {
				s.lose(st)
			}
		}
	case st.st == stPDUBody && gap <= st.pduLeft:
		st.trunc = true // decode what came before the gap
		st.pduLeft -= gap
		if st.pduLeft == 0 {
			st.st = stPDUHdr
			s.endPDU(d, st)
		}
	case (st.st == stPDVBody || st.st == stPDVHdr || st.st == stSkip) && gap <= st.pduLeft:
		st.pduLeft -= gap
		st.inCmd, st.dataKind, st.hn = false, -1, 0
		st.st = stSkip
		if st.pduLeft == 0 {
			st.st = stPDUHdr
		}
	default:
		s.lose(st)
	}
}

// lose puts a stream out of sync.
func (s *Session) lose(st *stream) {
	st.st, st.hn = stLost, 0
	st.inCmd, st.dataKind = false, -1
	st.buf, st.trunc = st.buf[:0], false
	if s.a != nil {
		s.a.Anomalies |= anLostSync
	}
}

// scan looks for a plausible PDU header in the carried tail plus b. It
// returns the bytes from that header on and true, or keeps the last bytes
// as the new tail and returns false.
func (s *Session) scan(d flow.Dir, st *stream, b []byte) ([]byte, bool) {
	const need = 12
	if st.hn > 0 {
		// Candidates starting in the tail: look at tail + the head of b.
		var w [2 * need]byte
		n := copy(w[:], st.hdr[:st.hn])
		n += copy(w[n:], b)
		for i := 0; i < st.hn; i++ {
			if i+need <= n && s.plausible(w[i:n]) {
				// Re-feed the tail bytes from i, then all of b.
				var tail [need]byte
				m := copy(tail[:], st.hdr[i:st.hn])
				st.st, st.hn, st.resynced = stPDUHdr, 0, true
				st.inCmd, st.dataKind = false, -1
				if s.a != nil {
					s.a.Anomalies |= anResync
				}
				if err := s.decode(d, s.last, st, tail[:m]); err != nil {
					s.lose(st)
					return nil, false
				}
				return b, true
			}
		}
	}
	for i := 0; i+need <= len(b); i++ {
		if b[i] >= pduPData && b[i] <= pduAbort && b[i+1] == 0 && s.plausible(b[i:]) {
			return b[i:], true
		}
	}
	// Keep the last need-1 bytes of tail+b.
	var w [2 * need]byte
	n := copy(w[:], st.hdr[:st.hn])
	if len(b) >= need-1 {
		n = copy(w[:], b[len(b)-(need-1):])
	} else {
		n += copy(w[n:], b)
	}
	if n > need-1 {
		copy(w[:], w[n-(need-1):n])
		n = need - 1
	}
	st.hn = copy(st.hdr[:], w[:n])
	return nil, false
}

// plausible reports whether w (at least 12 bytes) starts with a PDU header
// strict enough to resynchronise on: a P-DATA-TF whose first PDV fits and
// names an accepted presentation context, or an exact release or abort PDU.
func (s *Session) plausible(w []byte) bool {
	if len(w) < 12 || w[1] != 0 {
		return false
	}
	n := be32(w[2:])
	switch w[0] {
	case pduPData:
		pdv := be32(w[6:])
		if n < 6 || n > 1<<24 || pdv < 2 || pdv > n-4 || w[11] > 3 || w[10]&1 == 0 {
			return false
		}
		if s.a == nil {
			return true
		}
		for _, c := range s.a.Contexts {
			if c.ID == w[10] && c.Result == 0 {
				return true
			}
		}
		return len(s.a.Contexts) == 0
	case pduReleaseRQ, pduReleaseRP:
		return n == 4 && be32(w[6:]) == 0
	case pduAbort:
		return n == 4 && w[6] == 0 && w[7] == 0 && (w[8] == 0 || w[8] == 2) && w[9] <= 6
	}
	return false
}

// End implements proto.Session: the association still open is written with
// how the connection ended.
func (s *Session) End(ts time.Time, why event.EndReason) {
	if s.a == nil {
		return
	}
	if s.a.End == "" {
		switch why {
		case event.EndTCPClose:
			s.a.End = "closed"
		case event.EndIdle:
			s.a.End = "idle"
		default:
			s.a.End = "unfinished"
		}
	}
	s.flush(ts)
}
