package http

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/internal/ntlm"
)

// Session is one TCP flow's HTTP state: a parser per direction, the
// requests waiting for responses, and the response being read.
type Session struct {
	cfg  Config
	emit proto.Emit
	conn event.Conn

	half    [2]half
	pending []*Record // requests in order, waiting for responses
	cur     *Record   // the exchange whose response is being read
	started bool      // the first message was a plausible request or response
	hint    bool      // the server port is a web port
	// server is the direction responses come in: FromServer, unless the
	// capture missed the connection's start and its originator's first
	// bytes were a status line.
	server flow.Dir

	pool *sync.Pool // the parser's, for Recycle

	// ends are the line ends of the header block headerBlock found in
	// one piece (for startLine and eachHeaderField).
	ends lineEnds

	challenge     ntlm.Message // the last NTLM CHALLENGE from the server
	haveChallenge bool
	scratch       []byte // base64 decoding
}

var (
	_ proto.Session  = (*Session)(nil)
	_ proto.Recycler = (*Session)(nil)
)

// Parser states of one direction.
const (
	stStart     = iota // before a start line (leading empty lines skipped)
	stBody             // Content-Length body: remaining bytes
	stChunkSize        // a chunk-size line
	stChunkData        // chunk data: remaining bytes
	stChunkEnd         // the CRLF after chunk data
	stTrailer          // trailer fields up to an empty line
	stClose            // body until the connection closes
	stStopped          // no longer parsed (tunnel, gap, error)
)

// maxLine bounds a chunk-size or chunk-end line.
const maxLine = 1024

// half is one direction's parser.
type half struct {
	state     uint8
	buf       []byte // a header block or line split across chunks
	remaining int64
	body      int64
	trailer   int     // trailer bytes so far
	rec       *Record // the request being read (client side)
}

// Payload implements proto.Session.
func (s *Session) Payload(dir flow.Dir, ts time.Time, b []byte) error {
	if dir > flow.FromServer {
		return nil
	}
	role := dir
	if s.server != flow.FromServer {
		role = 1 - dir
	}
	h := &s.half[role]
	for len(b) > 0 {
		switch h.state {
		case stStart:
			if len(h.buf) == 0 {
				for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
					b = b[1:]
				}
				if len(b) == 0 {
					return nil
				}
			}
			block, rest, ok := s.headerBlock(h, b)
			if !ok {
				if len(h.buf) > s.cfg.MaxHeaderBytes {
					h.buf, h.state = nil, stStopped
					return proto.Malformed(reasonHeaderTooLarge)
				}
				return nil
			}
			b = rest
			if !s.started {
				// Roles by content: a capture that missed the
				// connection's start may begin with the originator's
				// status line; that side is then the server.
				if role == flow.FromClient && isStatusLine(block, false) && !isRequestStart(block, false, s.hint) {
					s.server, role = dir, flow.FromServer
					old := h
					h = &s.half[role]
					defer func() { old.buf = old.buf[:0] }()
				}
				if !s.plausible(role, block) {
					h.buf, h.state = nil, stStopped
					return proto.Malformed(reasonNotHTTP)
				}
			}
			s.started = true
			var err error
			if role == flow.FromClient {
				s.request(h, ts, block)
			} else {
				err = s.response(h, ts, block)
			}
			h.buf = h.buf[:0]
			if err != nil {
				return err
			}
		case stBody, stChunkData:
			n := int(min(h.remaining, int64(len(b))))
			h.remaining -= int64(n)
			h.body += int64(n)
			b = b[n:]
			if h.remaining == 0 {
				if h.state == stChunkData {
					h.state = stChunkEnd
				} else {
					s.endMessage(role, ts)
				}
			}
		case stChunkSize, stChunkEnd, stTrailer:
			line, rest, ok := s.line(h, b)
			if !ok {
				if len(h.buf) > maxLine {
					s.lost(role, AnomalyBadChunk)
				}
				return nil
			}
			b = rest
			s.chunkLine(role, ts, h, line)
			h.buf = h.buf[:0]
		case stClose:
			h.body += int64(len(b))
			return nil
		default:
			return nil
		}
	}
	return nil
}

// plausible checks the first complete header block, whose start Match may
// have seen only a prefix of.
func (s *Session) plausible(role flow.Dir, block []byte) bool {
	if role == flow.FromServer {
		return isStatusLine(block, false)
	}
	return isRequestStart(block, false, s.hint)
}

// headerBlock returns the header block (start line to the empty line,
// inclusive) once it is complete, buffering a partial one in h.buf.
func (s *Session) headerBlock(h *half, b []byte) (block, rest []byte, ok bool) {
	s.ends.n = 0
	if len(h.buf) == 0 {
		if i := endOfHeadersAt(b, &s.ends); i >= 0 {
			return b[:i], b[i:], true
		}
		n := min(len(b), s.cfg.MaxHeaderBytes+1)
		h.buf = append(h.buf, b[:n]...)
		return nil, nil, false
	}
	old := len(h.buf)
	n := min(len(b), s.cfg.MaxHeaderBytes+1-old)
	h.buf = append(h.buf, b[:max(n, 0)]...)
	if i := endOfHeaders(h.buf, max(old-3, 0)); i >= 0 {
		return h.buf[:i], b[i-old:], true
	}
	return nil, nil, false
}

// endOfHeadersAt is endOfHeaders(b, 0) noting every line end in e (for
// headerLines).
func endOfHeadersAt(b []byte, e *lineEnds) int {
	e.n = 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		k := i + j + 1
		e.add(k - 1)
		switch {
		case k < len(b) && b[k] == '\n':
			e.add(k)
			return k + 1
		case k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n':
			e.add(k + 1)
			return k + 2
		}
		i = k
	}
	e.n = 0
	return -1
}

// endOfHeaders returns the offset after the empty line that ends a header
// block ("\n\r\n" or "\n\n"), searching from 'from', or -1.
func endOfHeaders(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		k := i + j + 1
		switch {
		case k < len(b) && b[k] == '\n':
			return k + 1
		case k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n':
			return k + 2
		}
		i = k
	}
	return -1
}

// line returns one line (without its line end) once complete, buffering a
// partial one (at most maxLine+1 bytes) in h.buf.
func (s *Session) line(h *half, b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		n := min(len(b), maxLine+1-len(h.buf))
		h.buf = append(h.buf, b[:max(n, 0)]...)
		return nil, nil, false
	}
	if len(h.buf) == 0 {
		return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
	}
	if len(h.buf)+i > maxLine {
		h.buf = append(h.buf, b[:min(i, maxLine+1)]...)
		return nil, nil, false
	}
	h.buf = append(h.buf, b[:i]...)
	return bytes.TrimSuffix(h.buf, []byte("\r")), b[i+1:], true
}

// chunkLine handles a chunk-size line, the line end after chunk data, or a
// trailer line.
func (s *Session) chunkLine(dir flow.Dir, ts time.Time, h *half, line []byte) {
	switch h.state {
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			s.lost(dir, AnomalyBadChunk)
			return
		}
		if n == 0 {
			h.state, h.trailer = stTrailer, 0
			return
		}
		h.state, h.remaining = stChunkData, n
	case stChunkEnd:
		if len(line) != 0 {
			s.lost(dir, AnomalyBadChunk)
			return
		}
		h.state = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			s.endMessage(dir, ts)
			return
		}
		if h.trailer += len(line); h.trailer > s.cfg.MaxHeaderBytes {
			s.lost(dir, AnomalyBadChunk)
		}
	}
}

// lost stops parsing dir, noting anomaly on the exchange it concerns.
func (s *Session) lost(dir flow.Dir, anomaly string) {
	h := &s.half[dir]
	h.state, h.buf = stStopped, nil
	switch {
	case dir == flow.FromServer && s.cur != nil:
		s.cur.anomaly(anomaly)
	case dir == flow.FromClient && h.rec != nil:
		h.rec.anomaly(anomaly)
	case len(s.pending) > 0:
		s.pending[len(s.pending)-1].anomaly(anomaly)
	}
}

// request handles a request header block.
func (s *Session) request(h *half, ts time.Time, block []byte) {
	r := newRecord(s.conn, ts)
	r.HasRequest = true
	r.ReqHeaderBytes = len(block)
	var text strs
	r.requestLine(&text, startLine(block, &s.ends))
	var f framing
	eachHeaderField(block, &s.ends, func(name, value []byte) {
		switch {
		case f.field(name, value):
		case equalFold(name, "Host"):
			text.add(&r.Host, value)
		case equalFold(name, "User-Agent"):
			text.add(&r.UserAgent, value)
		case equalFold(name, "Referer"):
			text.add(&r.Referrer, value)
		case equalFold(name, "Content-Type"):
			text.add(&r.ReqContentType, value)
		case equalFold(name, "Authorization"), equalFold(name, "Proxy-Authorization"):
			s.authorization(r, value)
		}
	})
	text.done()
	r.finishURL()
	r.anomaly(f.anomalies...)
	if f.hasLength {
		r.reqCL = f.length
	}
	h.rec = r
	h.body = 0
	switch {
	case f.chunked:
		h.state = stChunkSize
	case f.otherTE:
		h.state = stClose // RFC 9112 §6.3: a server answers 400 and closes
	case f.length > 0:
		h.state, h.remaining = stBody, f.length
		r.ReqBodyBytes = f.length
	default:
		h.state = stStart
		h.rec = nil
	}
	if len(s.pending) >= s.cfg.MaxPending {
		old := s.popPending()
		old.anomaly(AnomalyPendingOverflow)
		s.flush(old)
	}
	s.pending = append(s.pending, r)
}

// response handles a response header block.
func (s *Session) response(h *half, ts time.Time, block []byte) error {
	version, status, ok := statusLine(startLine(block, &s.ends))
	if !ok {
		h.state = stStopped
		return proto.Malformed(reasonStatusLine)
	}
	var f framing
	var ctype, server []byte
	var auth [][]byte
	eachHeaderField(block, &s.ends, func(name, value []byte) {
		switch {
		case f.field(name, value):
		case equalFold(name, "Content-Type"):
			ctype = value
		case equalFold(name, "Server"):
			server = value
		case equalFold(name, "WWW-Authenticate"), equalFold(name, "Proxy-Authenticate"):
			if len(auth) < 4 {
				auth = append(auth, value)
			}
		}
	})
	if status >= 100 && status < 200 && status != 101 {
		h.state = stStart // interim: the final response follows
		return nil
	}
	r := s.take(ts)
	r.HasResponse = true
	r.respAt = ts
	r.Status = status
	r.RespVersion = version
	var text strs
	text.add(&r.RespContentType, ctype)
	text.add(&r.Server, server)
	text.done()
	r.RespHeaderBytes = len(block)
	if f.hasLength {
		r.respCL = f.length
	}
	for _, a := range auth {
		s.challengeHeader(r, a)
	}
	r.anomaly(f.anomalies...)
	s.cur = r
	h.body = 0
	switch {
	case r.Method == "HEAD" || status == 204 || status == 304:
		s.endMessage(flow.FromServer, ts)
	case status == 101 || r.Method == "CONNECT" && status >= 200 && status < 300:
		r.Tunnel = true
		s.endMessage(flow.FromServer, ts)
		s.half[0].state, s.half[1].state = stStopped, stStopped
	case f.chunked:
		h.state = stChunkSize
	case f.otherTE:
		h.state = stClose
	case f.hasLength:
		r.RespBodyBytes = f.length
		if f.length == 0 {
			s.endMessage(flow.FromServer, ts)
		} else {
			h.state, h.remaining = stBody, f.length
		}
	default:
		h.state = stClose
	}
	return nil
}

// popPending removes and returns the oldest waiting request, keeping the
// table's array (re-slicing past its start would shrink its capacity and
// make the next request allocate a new one).
func (s *Session) popPending() *Record {
	r := s.pending[0]
	n := copy(s.pending, s.pending[1:])
	s.pending[n] = nil
	s.pending = s.pending[:n]
	return r
}

// take returns the oldest waiting request, or a new response-only record.
func (s *Session) take(ts time.Time) *Record {
	if len(s.pending) > 0 {
		return s.popPending()
	}
	r := newRecord(s.conn, ts)
	r.anomaly(AnomalyNoRequest)
	return r
}

// endMessage finishes the message of dir.
func (s *Session) endMessage(dir flow.Dir, ts time.Time) {
	h := &s.half[dir]
	if h.state != stStopped {
		h.state = stStart
	}
	if dir == flow.FromClient {
		if r := h.rec; r != nil && !r.emitted {
			r.ReqBodyBytes = h.body
		}
		h.rec = nil
		return
	}
	if r := s.cur; r != nil {
		if h.body > 0 || r.RespBodyBytes == 0 {
			r.RespBodyBytes = h.body
		}
		s.cur = nil
		s.flush(r)
	}
}

// flush emits r, and its NTLM record when it carried an AUTHENTICATE.
func (s *Session) flush(r *Record) {
	if r.emitted {
		return
	}
	if c := &s.half[flow.FromClient]; c.rec == r && c.state != stClose {
		r.ReqBodyBytes = max(r.ReqBodyBytes, c.body)
	}
	r.finish()
	r.emitted = true
	s.emit(r)
	if r.ntlm != nil && r.ntlm.auth.Type == ntlm.TypeAuthenticate {
		n := ntlm.NewRecord(s.conn, r.Timestamp, "http", r.ntlm.auth, r.ntlm.challenge)
		n.Version = r.ntlm.version
		switch {
		case !r.HasResponse:
			n.Outcome = "unknown"
		case r.Status == 401 || r.Status == 407 || r.Status == 403:
			n.Outcome = "failure"
			n.Status = strconv.Itoa(r.Status)
		default:
			n.Outcome = "success"
			n.Status = strconv.Itoa(r.Status)
		}
		s.emit(n)
	}
}

// Gap implements proto.Session: bytes lost inside a body are counted as
// body; anywhere else the direction can no longer be framed and stops.
func (s *Session) Gap(dir flow.Dir, n int) {
	if dir > flow.FromServer {
		return
	}
	if s.server != flow.FromServer {
		dir = 1 - dir
	}
	if dir == flow.FromServer && s.cur != nil {
		s.cur.bodyGap = true
	}
	h := &s.half[dir]
	switch {
	case h.state == stStopped:
	case h.state == stClose:
		h.body += int64(n)
	case (h.state == stBody || h.state == stChunkData) && h.remaining > int64(n):
		h.remaining -= int64(n)
		h.body += int64(n)
	case h.state == stBody && h.remaining == int64(n):
		h.remaining = 0
		h.body += int64(n)
		s.endMessage(dir, time.Time{})
	case h.state == stChunkData && h.remaining == int64(n):
		h.remaining = 0
		h.body += int64(n)
		h.state = stChunkEnd
	default:
		s.lost(dir, AnomalyGap)
	}
}

// End implements proto.Session: the response being read (a body until the
// connection closes, or one cut short) is written, then every request still
// waiting, unanswered.
func (s *Session) End(ts time.Time, why event.EndReason) {
	if r := s.cur; r != nil {
		if h := &s.half[flow.FromServer]; h.state == stClose || h.body > r.RespBodyBytes {
			r.RespBodyBytes = h.body
		}
		s.cur = nil
		s.flush(r)
	}
	for _, r := range s.pending {
		s.flush(r)
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// maxKeptBuf bounds the header buffer a recycled session keeps per
// direction.
const maxKeptBuf = 4 << 10

// Recycle implements proto.Recycler: records hold nothing of the session
// (every value is copied out of the header blocks and the scratch buffer),
// so its buffers and pending table go to the next flow. The scratch
// buffer, which held decoded credentials, is cleared.
func (s *Session) Recycle() {
	if s.pool == nil {
		return
	}
	pool := s.pool
	clear(s.pending)
	clear(s.scratch[:cap(s.scratch)])
	scratch := s.scratch[:0]
	if cap(scratch) > maxKeptBuf {
		scratch = nil
	}
	var bufs [2][]byte
	for i := range s.half {
		if b := s.half[i].buf; cap(b) <= maxKeptBuf {
			bufs[i] = b[:0]
		}
	}
	*s = Session{pending: s.pending[:0], scratch: scratch}
	s.half[0].buf, s.half[1].buf = bufs[0], bufs[1]
	pool.Put(s)
}
