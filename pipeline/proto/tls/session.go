package tls

import (
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Record content types (RFC 8446 §5.1, RFC 6520).
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
	typeHeartbeat        = 24
	typeSSLv2            = 0x80 // pseudo type: an SSL 2.0 record
)

// maxPlaintext is the largest plaintext record (2^14); a protected record
// may be 2048 bytes longer (RFC 5246 §6.2.3).
const (
	maxPlaintext = 1 << 14
	maxRecord    = maxPlaintext + 2048
)

// minTLS13Finished is the shortest protected record that can hold a TLS
// 1.3 Finished: header 4 + SHA-256 hash 32 + content type 1 + AEAD tag 16.
const minTLS13Finished = 4 + 32 + 1 + 16

// half is one direction of a connection: the record being read and the
// handshake message being reassembled.
type half struct {
	hdr     [5]byte
	hdrN    int
	typ     uint8 // content type of the record being read
	left    int   // its body bytes still to come
	recLen  int
	records int

	alert  [2]byte
	alertN int

	hs     []byte // a handshake message being reassembled, cap ≤ HandshakeLimit
	hsSkip int    // bytes of an over-limit handshake message still to skip
	hsType uint8  // the type of the message being skipped

	ccs      bool // sent ChangeCipherSpec
	finished bool // sent a handshake record after ChangeCipherSpec (Finished)
	appData  bool // sent application data after the ServerHello
	lost     bool // a gap broke record framing: the direction is ignored
}

// Session is one TLS connection's handshake state. It is not safe for
// concurrent use.
type Session struct {
	p    *Parser
	emit proto.Emit
	rec  *Record

	dir [2]half

	haveHello   bool // a ClientHello was parsed
	serverHello bool // a ServerHello (not a HelloRetryRequest) was parsed
	tls13       bool // the negotiated version encrypts the rest
	helloDone   bool // ServerHelloDone seen: a full (not resumed) handshake
	fatal       bool
	malformed   string
	done        bool // the record was emitted; the rest of the flow is ignored
	start, last time.Time
}

var _ proto.Session = (*Session)(nil)

// Payload implements proto.Session.
func (s *Session) Payload(d flow.Dir, ts time.Time, b []byte) error {
	if s.done || d > flow.FromServer {
		return nil
	}
	h := &s.dir[d]
	if h.lost {
		return nil
	}
	if s.start.IsZero() {
		s.start = ts
	}
	s.last = ts
	for len(b) > 0 && !s.done && !h.lost {
		if h.left == 0 {
			n, err := s.header(d, h, b)
			if err != nil {
				s.malformed = proto.Reason(err)
				return err
			}
			b = b[n:]
			continue
		}
		n := min(h.left, len(b))
		h.left -= n
		if err := s.body(d, h, b[:n], h.left == 0); err != nil {
			s.malformed = proto.Reason(err)
			return err
		}
		b = b[n:]
	}
	return nil
}

// header reads (part of) a record header from b and returns the bytes used.
func (s *Session) header(d flow.Dir, h *half, b []byte) (int, error) {
	need := 5
	if d == flow.FromClient && h.records == 0 && (h.hdrN > 0 && h.hdr[0]&0x80 != 0 || h.hdrN == 0 && b[0]&0x80 != 0) {
		need = 2 // SSL 2.0 record header, only as the client's first record
	}
	n := copy(h.hdr[h.hdrN:need], b)
	h.hdrN += n
	if h.hdrN < need {
		return n, nil
	}
	h.hdrN = 0
	h.records++
	if need == 2 {
		l := int(h.hdr[0]&0x7f)<<8 | int(h.hdr[1])
		if l < 9 || l > s.p.cfg.HandshakeLimit {
			return n, proto.Malformed(reasonSSLv2Hello)
		}
		h.typ, h.left, h.recLen = typeSSLv2, l, l
		return n, nil
	}
	typ := h.hdr[0]
	l := int(h.hdr[3])<<8 | int(h.hdr[4])
	if typ < typeChangeCipherSpec || typ > typeHeartbeat || h.hdr[1] != 3 || h.hdr[2] > 4 || l > maxRecord {
		return n, proto.Malformed(reasonRecordHeader)
	}
	h.typ, h.left, h.recLen = typ, l, l
	if l == 0 {
		return n, s.recordDone(d, h)
	}
	return n, nil
}

// encrypted reports whether d's handshake records are protected: after its
// ChangeCipherSpec in TLS ≤ 1.2. (In TLS 1.3 the protected handshake
// travels as application data, and a ChangeCipherSpec means nothing.)
func (s *Session) encrypted(h *half) bool { return h.ccs && s.serverHello && !s.tls13 }

// body handles part of a record's body; end is true for its last part.
func (s *Session) body(d flow.Dir, h *half, b []byte, end bool) error {
	switch h.typ {
	case typeHandshake:
		if !s.encrypted(h) {
			if err := s.handshake(d, h, b); err != nil {
				return err
			}
		}
	case typeSSLv2:
		if len(h.hs) == 0 && end && len(b) == h.recLen {
			return s.sslv2Hello(b) // the whole record at once: no copy
		}
		h.hs = append(s.grow(h.hs, h.recLen), b...)
		if end {
			err := s.sslv2Hello(h.hs)
			h.hs = h.hs[:0]
			return err
		}
		return nil
	case typeAlert:
		if h.recLen == 2 && !s.encrypted(h) {
			h.alertN += copy(h.alert[h.alertN:], b)
		}
	}
	if end {
		return s.recordDone(d, h)
	}
	return nil
}

// recordDone acts on a finished record.
func (s *Session) recordDone(d flow.Dir, h *half) error {
	switch h.typ {
	case typeChangeCipherSpec:
		if s.serverHello && !s.tls13 && !h.ccs && d == flow.FromServer && !s.helloDone {
			s.rec.Resumed = true // abbreviated handshake: session id or ticket
		}
		h.ccs = true
	case typeHandshake:
		if s.encrypted(h) {
			h.finished = true
		}
	case typeApplicationData:
		switch {
		case !s.serverHello:
			// 0-RTT early data, or a capture that missed the hello.
		case s.tls13 && d == flow.FromClient && h.recLen < minTLS13Finished:
			// Too short for the client's Finished: an encrypted alert
			// (2 bytes + type + tag), e.g. a rejected certificate.
			s.anomaly(anomalyEncryptedAlert)
		default:
			h.appData = true
		}
	case typeAlert:
		if h.recLen == 2 && h.alertN == 2 {
			s.alert(d, h.alert[0], h.alert[1])
		} else if s.rec.AlertFrom == "" && !s.established() {
			s.anomaly(anomalyEncryptedAlert)
		}
		h.alertN = 0
	case typeHeartbeat:
		s.rec.Heartbeat = true
	}
	s.check()
	return nil
}

func (s *Session) alert(d flow.Dir, level, desc uint8) {
	if s.rec.AlertFrom == "" || level == 2 && s.rec.AlertLevel != 2 {
		s.rec.AlertFrom = "client"
		if d == flow.FromServer {
			s.rec.AlertFrom = "server"
		}
		s.rec.AlertLevel, s.rec.AlertDesc = level, desc
	}
	if level == 2 {
		s.fatal = true
	}
}

// established reports a handshake seen through.
func (s *Session) established() bool {
	c, sv := &s.dir[flow.FromClient], &s.dir[flow.FromServer]
	if !s.serverHello {
		return false
	}
	if s.tls13 {
		return c.appData && sv.appData
	}
	return c.ccs && sv.ccs && c.finished && sv.finished
}

// check emits the record once the outcome is known.
func (s *Session) check() {
	if s.done || !s.haveHello {
		return
	}
	if s.fatal || s.established() {
		s.flush(s.last)
	}
}

// grow returns buf with room for n bytes in all (n ≤ HandshakeLimit), so
// that its capacity never passes the limit.
func (s *Session) grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf
	}
	if len(buf) == 0 {
		if b, ok := s.p.buffers.Get().([]byte); ok {
			if cap(b) >= n {
				return b
			}
			s.p.buffers.Put(b) // for a smaller message
		}
	}
	nb := make([]byte, len(buf), n)
	copy(nb, buf)
	return nb
}

// handshake reassembles handshake messages from a record's body.
func (s *Session) handshake(d flow.Dir, h *half, b []byte) error {
	limit := s.p.cfg.HandshakeLimit
	for len(b) > 0 {
		if h.hsSkip > 0 {
			n := min(h.hsSkip, len(b))
			h.hsSkip -= n
			b = b[n:]
			continue
		}
		if len(h.hs) == 0 && len(b) >= 4 {
			// The common case: a whole message inside this piece.
			l := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
			if l <= len(b) && l <= limit {
				if err := s.message(d, b[0], b[4:l]); err != nil {
					return err
				}
				b = b[l:]
				continue
			}
		}
		if len(h.hs) < 4 {
			h.hs = s.grow(h.hs, 4)
			n := min(4-len(h.hs), len(b))
			h.hs = append(h.hs, b[:n]...)
			b = b[n:]
			if len(h.hs) < 4 {
				return nil
			}
		}
		l := 4 + (int(h.hs[1])<<16 | int(h.hs[2])<<8 | int(h.hs[3]))
		if l > limit {
			h.hsSkip, h.hsType = l-4, h.hs[0]
			h.hs = h.hs[:0]
			s.overLimit(d, h.hsType)
			continue
		}
		h.hs = s.grow(h.hs, l)
		n := min(l-len(h.hs), len(b))
		h.hs = append(h.hs, b[:n]...)
		b = b[n:]
		if len(h.hs) == l {
			err := s.message(d, h.hs[0], h.hs[4:])
			h.hs = h.hs[:0]
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// overLimit notes a handshake message too long to buffer.
func (s *Session) overLimit(d flow.Dir, typ uint8) {
	switch {
	case d == flow.FromClient && typ == hsClientHello && !s.haveHello:
		// Without a ClientHello there is nothing to report but this.
		s.haveHello = true
		s.rec.Client.Hellos++
		s.rec.Timestamp = s.start
	case d == flow.FromServer && typ == hsCertificate:
		s.rec.Server.Certificate = "skipped"
	}
	s.anomaly(anomalyHandshakeTooLong)
}

// message handles one whole handshake message.
func (s *Session) message(d flow.Dir, typ uint8, body []byte) error {
	if d == flow.FromClient {
		switch typ {
		case hsClientHello:
			return s.clientHello(body)
		case hsCertificate:
			if !s.haveHello {
				return proto.Malformed(reasonNoHello)
			}
			s.rec.Client.Certs = s.certificates(body)
		default:
			if !s.haveHello {
				return proto.Malformed(reasonNoHello)
			}
		}
		return nil
	}
	switch typ {
	case hsServerHello:
		return s.serverHelloMsg(body)
	case hsCertificate:
		if s.tls13 {
			return nil
		}
		s.rec.Server.Certs = s.certificates(body)
		if len(s.rec.Server.Certs) > 0 {
			s.rec.Server.Certificate = "visible"
		}
	case hsServerKeyExchange:
		if s.rec.HasCipher && isECDHE(s.rec.Cipher) {
			if g, ok := ecdheCurve(body); ok {
				s.rec.Curve, s.rec.HasCurve = g, true
			} else {
				s.anomaly(anomalyServerKeyShare)
			}
		}
	case hsCertificateRequest:
		s.rec.Client.CertRequested = true
	case hsServerHelloDone:
		s.helloDone = true
	}
	return nil
}

func isECDHE(cipher uint16) bool {
	n := cipherName(cipher)
	for i := 0; i+6 <= len(n); i++ {
		if n[i:i+6] == "ECDHE_" {
			return true
		}
	}
	return false
}

func (s *Session) clientHello(body []byte) error {
	if s.haveHello {
		s.rec.Client.Hellos++ // the second one, after a HelloRetryRequest
		return nil
	}
	h, _ := s.p.hellosParsed.Get().(*clientHello)
	if h == nil {
		h = new(clientHello)
	}
	defer s.p.recycleHello(h)
	if !h.parse(body) {
		return proto.Malformed(reasonClientHello)
	}
	s.setClient(h)
	return nil
}

func (s *Session) sslv2Hello(b []byte) error {
	if s.haveHello {
		return nil
	}
	h, ok := parseSSLv2Hello(b)
	if !ok {
		return proto.Malformed(reasonSSLv2Hello)
	}
	s.setClient(&h)
	return nil
}

// setClient fills the record's client side from the first ClientHello.
func (s *Session) setClient(h *clientHello) {
	s.haveHello = true
	s.rec.Timestamp = s.start
	c := &s.rec.Client
	c.Hellos++
	c.Version = h.version
	c.SSLv2 = h.sslv2
	c.ServerName = h.serverName
	c.ECH = h.ech
	if h.serverName != "" {
		s.rec.RelatedHosts = []string{h.serverName}
	}
	in := s.p.hellos.get(h, s.p.cfg.MaxListItems)
	c.hello = in
	c.GREASE = in.grease
	if in.truncated {
		s.anomaly(anomalyListTruncated)
	}
	c.Ciphers, c.Extensions, c.Versions = in.ciphers, in.extensions, in.versions
	c.Groups, c.SigAlgs = in.groups, in.sigAlgs
	c.PointFormats, c.ALPN = in.pointFormats, in.alpn
	c.JA3String, c.JA3 = in.ja3String, in.ja3
	c.JA4, c.JA4Raw = in.ja4, in.ja4Raw
}

// list caps a list at MaxListItems, noting when it does.
func (s *Session) list(vs []uint16) []uint16 {
	if max := s.p.cfg.MaxListItems; len(vs) > max {
		s.anomaly(anomalyListTruncated)
		return vs[:max:max]
	}
	if len(vs) == 0 {
		return nil
	}
	return vs
}

func (s *Session) serverHelloMsg(body []byte) error {
	if s.serverHello {
		return nil // renegotiation is encrypted; a second one is odd but harmless
	}
	var h serverHello
	var exts [32]uint16
	h.extensions = exts[:0]
	if !h.parse(body) {
		return proto.Malformed(reasonServerHello)
	}
	rec := s.rec
	if h.retry {
		rec.HelloRetry = true
		if h.hasGroup {
			rec.Curve, rec.HasCurve = h.group, true
		}
		return nil
	}
	s.serverHello = true
	rec.Version = h.negotiated()
	s.tls13 = isTLS13(rec.Version)
	rec.Cipher, rec.HasCipher = h.cipher, true
	if len(h.alpn) > 0 {
		rec.NextProtocol = alpnString(h.alpn)
	}
	rec.Server.Version = h.version
	in := s.p.servers.get(&h, s.p.cfg.MaxListItems)
	if in.truncated {
		s.anomaly(anomalyListTruncated)
	}
	rec.Server.Extensions = in.extensions
	rec.Server.JA3SString, rec.Server.JA3S = in.ja3sString, in.ja3s
	if h.hasGroup {
		rec.Curve, rec.HasCurve = h.group, true
	}
	if s.tls13 {
		rec.Resumed = h.psk
		rec.Server.Certificate = "encrypted"
	}
	return nil
}

// certificates parses a TLS ≤ 1.2 Certificate message.
func (s *Session) certificates(body []byte) []Cert {
	ders, more, ok := certificateList(body, s.p.cfg.MaxCertificates)
	if !ok {
		s.anomaly(anomalyCertificateList)
	}
	if more {
		s.anomaly(anomalyChainTruncated)
	}
	if len(ders) == 0 {
		return nil
	}
	out := make([]Cert, len(ders))
	for i, der := range ders {
		out[i] = s.p.certs.parse(der, s.p.cfg.MaxListItems)
		if !out[i].Parsed {
			s.anomaly(anomalyCertUnparsable)
		}
	}
	return out
}

// anomaly notes a fixed anomaly string once.
func (s *Session) anomaly(a string) {
	for _, x := range s.rec.Anomalies {
		if x == a {
			return
		}
	}
	s.rec.Anomalies = append(s.rec.Anomalies, a)
}

// Gap implements proto.Session. Bytes missing inside an application-data
// (or other skipped) record keep the framing; anywhere else the direction
// cannot be followed any more.
func (s *Session) Gap(d flow.Dir, n int) {
	if s.done || d > flow.FromServer || n <= 0 {
		return
	}
	h := &s.dir[d]
	if h.lost {
		return
	}
	skippable := h.hdrN == 0 && h.left >= n &&
		(h.typ == typeApplicationData || h.typ == typeHeartbeat || h.typ == typeHandshake && s.encrypted(h))
	if h.typ == typeHandshake && !s.encrypted(h) && h.hdrN == 0 && h.left >= n && h.hsSkip >= n {
		skippable = true
		h.hsSkip -= n
	}
	if skippable {
		h.left -= n
		if h.left == 0 {
			_ = s.recordDone(d, h)
		}
		return
	}
	h.lost = true
	h.hs = nil
	if s.haveHello && !s.established() {
		s.anomaly(anomalyGap)
	}
}

// End implements proto.Session: it emits the record if the handshake did
// not reach an outcome before the flow ended.
func (s *Session) End(ts time.Time, _ event.EndReason) {
	if s.done || !s.haveHello {
		s.done = true
		return
	}
	s.flush(ts)
}

// flush emits the record with its outcome.
func (s *Session) flush(ts time.Time) {
	s.done = true
	r := s.rec
	s.rec = nil
	for i := range s.dir {
		// Nothing the record holds points into the buffer: every field
		// is copied out of the messages.
		if h := &s.dir[i]; cap(h.hs) > 0 {
			s.p.buffers.Put(h.hs[:0])
		}
		s.dir[i].hs = nil
	}
	r.Established = s.established()
	if r.Server.Certificate == "" {
		r.Server.Certificate = "not_seen"
	}
	switch {
	case r.Established:
		r.Outcome = "success"
	case s.fatal:
		r.Outcome = "failure"
		r.Reason = alertName(r.AlertDesc) + " alert from " + r.AlertFrom
	default:
		r.Outcome = "unknown"
		switch {
		case s.malformed != "":
			r.Reason = "malformed: " + s.malformed
		case !s.serverHello && !r.HelloRetry:
			r.Reason = "no server hello"
		default:
			r.Reason = "handshake incomplete"
		}
	}
	if ts.After(r.Timestamp) {
		r.Duration = ts.Sub(r.Timestamp)
	}
	s.emit(r)
}
