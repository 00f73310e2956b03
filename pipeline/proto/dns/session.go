package dns

import (
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Session is one flow's DNS state: the queries waiting for a response (in
// arrival order, at most Config.MaxPending) and, over TCP, a framer per
// direction.
type Session struct {
	cfg     Config
	domains *domainCache
	pool    *sync.Pool // the parser's, for Recycle
	emit    proto.Emit
	conn    event.Conn
	tcp     bool
	variant string

	pending   []*Record
	questions []question  // reused by each message's decoding
	qbuf      [1]question // questions' first backing array
	streams   [2]tcpStream
	carry     []string // anomalies for the next record (gap, skipped message)
	// text and fixes back each message's answer text (message.text):
	// copied into one string per message, so kept across messages.
	text  []byte
	fixes []textFix
}

var _ proto.Session = (*Session)(nil)

// tcpStream frames one direction of DNS over TCP.
type tcpStream struct {
	buf     []byte // a partial message with its length prefix
	skip    int    // bytes of an oversized message still to skip
	stopped bool
}

// Payload implements proto.Session.
func (s *Session) Payload(dir flow.Dir, ts time.Time, b []byte) error {
	if !s.tcp {
		s.message(ts, b)
		return nil
	}
	if dir > flow.FromServer {
		return nil
	}
	st := &s.streams[dir]
	for len(b) > 0 && !st.stopped {
		if st.skip > 0 {
			k := min(st.skip, len(b))
			st.skip -= k
			b = b[k:]
			continue
		}
		if len(st.buf) == 0 && len(b) >= 2 {
			n := int(binary.BigEndian.Uint16(b))
			if n < headerLen {
				st.stopped = true
				return proto.Malformed(reasonTCPLength)
			}
			if n > s.cfg.MaxMessage {
				s.carryAnomaly(AnomalyMessageTooLarge)
				st.skip = n
				b = b[2:]
				continue
			}
			if len(b) >= 2+n {
				s.message(ts, b[2:2+n])
				b = b[2+n:]
				continue
			}
		}
		if len(st.buf) < 2 {
			k := min(2-len(st.buf), len(b))
			st.buf = append(st.buf, b[:k]...)
			b = b[k:]
			if len(st.buf) < 2 {
				return nil
			}
			n := int(binary.BigEndian.Uint16(st.buf))
			if n < headerLen {
				st.stopped = true
				return proto.Malformed(reasonTCPLength)
			}
			if n > s.cfg.MaxMessage {
				s.carryAnomaly(AnomalyMessageTooLarge)
				st.skip = n
				st.buf = st.buf[:0]
				continue
			}
		}
		n := 2 + int(binary.BigEndian.Uint16(st.buf))
		k := min(n-len(st.buf), len(b))
		st.buf = append(st.buf, b[:k]...)
		b = b[k:]
		if len(st.buf) == n {
			s.message(ts, st.buf[2:])
			st.buf = st.buf[:0]
		}
	}
	return nil
}

func (s *Session) carryAnomaly(as ...string) {
next:
	for _, a := range as {
		for _, x := range s.carry {
			if x == a {
				continue next
			}
		}
		s.carry = append(s.carry, a)
	}
}

// maxKeptText bounds the answer-text buffer a session (and the pool)
// keeps between messages.
const maxKeptText = 8 << 10

// message handles one whole DNS message.
func (s *Session) message(ts time.Time, b []byte) {
	s.expire(ts)
	m := message{maxAnswers: s.cfg.MaxAnswers, mdns: s.variant == VariantMDNS, questions: s.questions[:0],
		text: s.text[:0], fixes: s.fixes[:0]}
	for i := len(s.pending) - 1; i >= 0 && m.nreuse < len(m.reuse); i-- {
		m.reuse[m.nreuse] = s.pending[i].Name
		m.nreuse++
	}
	// Names are decoded into a buffer on the stack (most sessions see one
	// query and its response: a buffer kept in the session would be grown
	// anew for each).
	var scratch [512]byte
	_, ok := parse(b, &m, scratch[:0])
	s.questions = m.questions[:0]
	s.text, s.fixes = m.text[:0], m.fixes[:0]
	if cap(s.text) > maxKeptText {
		s.text = nil // one large response does not stay with the session
	}
	if !ok {
		// Not even a header and a question: nothing to pair or report on
		// its own; say so on the next record.
		if len(b) < headerLen {
			s.carryAnomaly(AnomalyTruncated)
		} else {
			s.carryAnomaly(m.anomalies...)
		}
		return
	}
	if !s.tcp && m.complete && m.end < len(b) {
		m.anomaly(AnomalyTrailing)
	}
	if m.flags&flagQR == 0 {
		s.query(ts, &m)
		return
	}
	s.response(ts, &m)
}

func (s *Session) newRecord(ts time.Time, m *message) *Record {
	r := &Record{Variant: s.variant}
	r.Conn = s.conn
	r.Protocol = "dns"
	r.Category = recCategory
	r.Type = recType
	r.Timestamp = ts
	r.ID = m.id
	r.Opcode = m.opcode()
	r.QuestionCount = int(m.qd)
	if len(m.questions) > 0 {
		q := m.questions[0]
		r.Name, r.QType, r.QClass, r.UnicastResp = q.name, q.typ, q.class, q.unicastResp
		for _, o := range m.questions[1:] {
			r.OtherQuestions = append(r.OtherQuestions, o.name)
		}
	}
	if len(s.carry) > 0 {
		r.anomaly(s.carry...)
		s.carry = s.carry[:0]
	}
	return r
}

func (s *Session) query(ts time.Time, m *message) {
	for _, p := range s.pending {
		if p.ID == m.id && sameQuestion(p, m) {
			p.Retransmits++
			return
		}
	}
	r := s.newRecord(ts, m)
	r.HasQuery = true
	r.queryAt = ts
	r.QueryFlags = m.flags
	r.DO = m.do
	r.anomaly(m.anomalies...)
	if len(s.pending) >= s.cfg.MaxPending {
		old := s.pending[0]
		s.pending = s.pending[1:]
		old.anomaly(AnomalyPendingOverflow)
		s.flush(old)
	}
	s.pending = append(s.pending, r)
}

// sameQuestion reports whether m asks r's first question. A response
// without a question (FORMERR, NOTIMP) matches on the id alone, except in
// mDNS, where every message has id 0 and responses carry no question.
func sameQuestion(r *Record, m *message) bool {
	if len(m.questions) == 0 {
		return r.QuestionCount == 0 || (m.flags&flagQR != 0 && !m.mdns)
	}
	q := m.questions[0]
	return r.QuestionCount > 0 && q.typ == r.QType && q.class == r.QClass && strings.EqualFold(q.name, r.Name)
}

func (s *Session) response(ts time.Time, m *message) {
	var r *Record
	for i, p := range s.pending {
		if p.ID == m.id && sameQuestion(p, m) {
			r = p
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			break
		}
	}
	if r == nil {
		r = s.newRecord(ts, m)
	} else {
		r.Duration = ts.Sub(r.queryAt)
	}
	r.HasResponse = true
	r.RespFlags = m.flags
	r.Rcode = m.rcode()
	r.DO = r.DO || m.do
	r.Answers = m.answers
	r.AnswersDropped = m.answersDropped
	r.AnswerCount, r.AuthCount, r.AddCount = int(m.an), int(m.ns), int(m.ar)
	r.anomaly(m.anomalies...)
	s.flush(r)
}

func (s *Session) flush(r *Record) {
	r.finish()
	if r.QuestionCount > 0 {
		r.domain, r.split = s.domains.split(r.Name), true
	}
	s.emit(r)
}

// expire writes queries older than QueryTimeout as unanswered.
func (s *Session) expire(now time.Time) {
	n := 0
	for n < len(s.pending) && now.Sub(s.pending[n].queryAt) > s.cfg.QueryTimeout {
		s.flush(s.pending[n])
		n++
	}
	if n > 0 {
		s.pending = append(s.pending[:0], s.pending[n:]...)
	}
}

// Gap implements proto.Session. Over TCP, bytes lost inside a skipped
// message are harmless; elsewhere the direction can no longer be framed and
// stops. UDP datagrams have no gaps that matter (a datagram cut by the
// snap length was already decoded as far as it went).
func (s *Session) Gap(dir flow.Dir, n int) {
	if !s.tcp || dir > flow.FromServer {
		return
	}
	st := &s.streams[dir]
	if st.skip >= n {
		st.skip -= n
		return
	}
	st.stopped = true
	st.buf = nil
	s.carryAnomaly(AnomalyGap)
}

// End implements proto.Session: every waiting query is written unanswered.
func (s *Session) End(ts time.Time, why event.EndReason) {
	for _, r := range s.pending {
		s.flush(r)
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// Recycle implements proto.Recycler: records hold nothing of the session
// (answers, names and anomalies are their own).
func (s *Session) Recycle() {
	if s.pool == nil {
		return
	}
	pool := s.pool
	*s = Session{pending: s.pending[:0], text: s.text[:0], fixes: s.fixes[:0]}
	pool.Put(s)
}
