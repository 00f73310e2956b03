package hl7

import (
	"time"
	"unicode/utf8"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// MLLP framing bytes (HL7 v2.5.1 Appendix C, MLLP release 1).
const (
	startBlock = 0x0b
	endBlock   = 0x1c
)

// Session is one MLLP connection: a message decoder per direction and the
// messages awaiting their acknowledgement. It is not safe for concurrent
// use (the dispatcher calls it from one worker).
//
// Each direction scans for start blocks, segment terminators and end
// blocks. Of each message only the MSH, the first MSA and the first ERR
// segment are buffered (bounded by MaxSegmentBytes); every other segment
// is counted by its three-letter ID and skipped, so patient data is never
// kept, let alone emitted.
type Session struct {
	p       *Parser
	conn    event.Conn
	emit    proto.Emit
	dir     [2]stream
	pending []*Message // awaiting an acknowledgement, oldest first
}

// Kinds of kept segments.
const (
	keepNone = iota
	keepMSH
	keepMSA
	keepERR
)

type stream struct {
	m          *Message // message being read; nil outside a frame
	segStart   bool     // the next content byte starts a segment
	id         [3]byte
	idN        int
	keep       uint8
	seg        []byte // kept segment (bounded)
	segTrunc   bool
	sep        byte // field separator from MSH-1
	comp, rep  byte // component and repetition separators from MSH-2
	sub        byte // subcomponent separator
	sawMSA     bool
	sawERR     bool
	outside    int // bytes outside frames in a row
	hadMessage bool
}

// Payload implements proto.Session.
func (s *Session) Payload(d flow.Dir, ts time.Time, b []byte) error {
	st := &s.dir[d]
	for i := 0; i < len(b); {
		c := b[i]
		if st.m == nil {
			i++
			switch c {
			case startBlock:
				s.begin(d, st, ts)
			case '\r', '\n', ' ', '\t', 0:
			default:
				st.outside++
				if st.outside > maxOutside {
					return errOutside
				}
			}
			continue
		}
		switch c {
		case endBlock:
			i++
			s.endSegment(st)
			s.finish(d, st)
		case startBlock:
			i++
			st.m.Anomalies |= anUnterminated
			s.endSegment(st)
			s.finish(d, st)
			s.begin(d, st, ts)
		case '\r', '\n':
			i++
			st.m.Bytes++
			s.endSegment(st)
		default:
			j := i + 1
			for j < len(b) && !special(b[j]) {
				j++
			}
			s.content(st, b[i:j])
			i = j
		}
	}
	return nil
}

func special(c byte) bool {
	return c == '\r' || c == '\n' || c == endBlock || c == startBlock
}

func (s *Session) begin(d flow.Dir, st *stream, ts time.Time) {
	st.outside = 0
	st.m = &Message{At: ts, FromServ: d == flow.FromServer}
	st.segStart = true
	st.sep, st.comp, st.rep, st.sub = '|', '^', '~', '&'
	st.sawMSA, st.sawERR = false, false
	st.keep, st.idN = keepNone, 0
}

// content takes segment bytes (no terminators or blocks).
func (s *Session) content(st *stream, b []byte) {
	m := st.m
	m.Bytes += len(b)
	if st.segStart {
		st.segStart = false
		m.Segments++
		st.idN, st.keep = 0, keepNone
		st.seg, st.segTrunc = st.seg[:0], false
	}
	for st.idN < 3 && len(b) > 0 {
		st.id[st.idN] = b[0]
		st.idN++
		b = b[1:]
		if st.idN == 3 {
			s.segmentID(st)
		}
	}
	if st.keep != keepNone && len(b) > 0 {
		room := s.p.cfg.MaxSegmentBytes - len(st.seg)
		if len(b) > room {
			b = b[:room]
			if !st.segTrunc {
				st.segTrunc = true
				m.Anomalies |= anSegmentTruncated
			}
		}
		st.seg = append(st.seg, b...)
	}
}

// segmentID acts on a segment's three-letter ID: lists it and decides
// whether to keep the segment.
func (s *Session) segmentID(st *stream) {
	m := st.m
	id := st.id
	first := m.Segments == 1
	switch {
	case first && id == [3]byte{'M', 'S', 'H'}:
		st.keep = keepMSH
	case first:
		m.Anomalies |= anNoMSH
	case id == [3]byte{'M', 'S', 'A'} && !st.sawMSA:
		st.keep, st.sawMSA = keepMSA, true
	case id == [3]byte{'E', 'R', 'R'} && !st.sawERR:
		st.keep, st.sawERR = keepERR, true
	}
	if st.keep != keepNone {
		st.seg = append(st.seg[:0], id[:]...)
	}
	if !segmentName(id) {
		return
	}
	for _, t := range m.SegmentTypes {
		if t[0] == id[0] && t[1] == id[1] && t[2] == id[2] {
			return
		}
	}
	if len(m.SegmentTypes) >= s.p.cfg.MaxSegmentTypes {
		m.Anomalies |= anSegmentTypesFull
		return
	}
	m.SegmentTypes = append(m.SegmentTypes, string(id[:]))
}

// segmentName reports whether id looks like a segment ID: an upper-case
// letter and two upper-case letters or digits.
func segmentName(id [3]byte) bool {
	up := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	dig := func(c byte) bool { return c >= '0' && c <= '9' }
	return up(id[0]) && (up(id[1]) || dig(id[1])) && (up(id[2]) || dig(id[2]))
}

// endSegment parses the kept segment, if any, and waits for the next.
func (s *Session) endSegment(st *stream) {
	if !st.segStart {
		switch st.keep {
		case keepMSH:
			s.parseMSH(st)
		case keepMSA:
			s.parseMSA(st)
		case keepERR:
			s.parseERR(st)
		}
		st.keep = keepNone
	}
	st.segStart = true
}

// finish ends the current message of st and pairs it.
func (s *Session) finish(d flow.Dir, st *stream) {
	m := st.m
	st.m = nil
	st.hadMessage = true
	if m.AckCode != "" || m.AckControlID != "" {
		s.acknowledge(m)
		return
	}
	if len(s.pending) >= s.p.cfg.MaxPending {
		old := s.pending[0]
		s.pending = s.pending[:copy(s.pending, s.pending[1:])]
		old.Anomalies |= anPendingFull
		s.record(old, nil)
	}
	s.pending = append(s.pending, m)
}

// acknowledge pairs an acknowledging message with the message it names
// (MSA-2 = MSH-10, sent the other way). Messages from the same sender
// still waiting before the acknowledged one were skipped by the peer: MLLP
// is one message at a time, so they are written as unanswered.
func (s *Session) acknowledge(ack *Message) {
	idx := -1
	for i, m := range s.pending {
		if m.FromServ != ack.FromServ && m.ControlID == ack.AckControlID {
			idx = i
			break
		}
	}
	if idx < 0 {
		ack.Anomalies |= anAckWithoutMessage
		s.record(ack, nil)
		return
	}
	req := s.pending[idx]
	keep := s.pending[:0]
	for i, m := range s.pending {
		switch {
		case i == idx:
		case i < idx && m.FromServ == req.FromServ:
			m.Anomalies |= anNoAck
			s.record(m, nil)
		default:
			keep = append(keep, m)
		}
	}
	for i := len(keep); i < len(s.pending); i++ {
		s.pending[i] = nil
	}
	s.pending = keep
	s.record(req, ack)
}

// record emits one exchange.
func (s *Session) record(m, ack *Message) {
	r := &Record{Message: m, Ack: ack}
	r.Base = event.Base{Conn: s.conn, Timestamp: m.At, Protocol: "hl7", Action: "hl7_message"}
	switch {
	case ack != nil:
		r.Outcome = ackOutcome(ack.AckCode)
		if ack.At.After(m.At) {
			r.Duration = ack.At.Sub(m.At)
		}
		if r.Outcome == "failure" {
			r.Reason = "acknowledged " + ack.AckCode + ": " + ackName(ack.AckCode)
		}
	case m.AckCode != "" || m.AckControlID != "":
		r.Action = "hl7_ack"
		r.Outcome = ackOutcome(m.AckCode)
		r.Reason = "acknowledgement without its message"
	default:
		r.Outcome = "unknown"
		r.Reason = "no answer"
	}
	s.emit(r)
}

// Gap implements proto.Session. Inside a message the gap is counted and
// the segment being read is closed; the next start block resynchronises.
func (s *Session) Gap(d flow.Dir, n int) {
	st := &s.dir[d]
	if st.m == nil || n <= 0 {
		return
	}
	st.m.Anomalies |= anGap
	st.m.Bytes += n
	if !st.segStart {
		st.segTrunc = true
		switch st.keep {
		case keepMSH:
			s.parseMSH(st)
		case keepMSA:
			s.parseMSA(st)
		case keepERR:
			s.parseERR(st)
		}
		st.keep = keepNone
		st.idN = 3 // the rest of this segment is not a new segment
	}
}

// End implements proto.Session: messages still waiting are written as
// unanswered, and a message cut off without its end block is written too.
func (s *Session) End(time.Time, event.EndReason) {
	for d := range s.dir {
		st := &s.dir[d]
		if st.m != nil {
			st.m.Anomalies |= anNoEnd
			s.endSegment(st)
			s.finish(flow.Dir(d), st)
		}
	}
	for _, m := range s.pending {
		s.record(m, nil)
	}
	s.pending = s.pending[:0]
}

// text returns a field as a string: as is when it is valid UTF-8 without
// control characters, otherwise with every control byte, every byte that
// is not part of valid UTF-8, and the backslash written as \xNN. HL7 feeds
// in Japan use ISO-2022-JP (MSH-18 "ISO IR87", escape sequences such as
// ESC $ B) or Shift_JIS: those bytes come out escaped, never mis-decoded.
func text(b []byte) string {
	if clean(b) {
		return string(b)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if (r == utf8.RuneError && n <= 1) || r < 0x20 || r == 0x7f || r == '\\' {
			out = append(out, '\\', 'x', hex[b[0]>>4], hex[b[0]&0xf])
			b = b[1:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return string(out)
}

func clean(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			if c >= utf8.RuneSelf {
				return utf8.Valid(b) && !hasControl(b)
			}
			return false
		}
	}
	return true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
