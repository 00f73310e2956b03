package dns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Header flag bits (RFC 1035 §4.1.1, RFC 2535 AD/CD).
const (
	flagQR = 0x8000
	flagAA = 0x0400
	flagTC = 0x0200
	flagRD = 0x0100
	flagRA = 0x0080
	flagZ  = 0x0040
	flagAD = 0x0020
	flagCD = 0x0010
)

const headerLen = 12

// Limits of the decoder itself (not configurable: they are the protocol's).
const (
	maxPointers  = 64   // compression pointers followed in one name
	maxWireName  = 255  // RFC 1035 §2.3.4
	maxQuestions = 8    // questions kept (the rest counted)
	maxData      = 1024 // bytes of presentation data kept per answer
)

var (
	errTruncated = errors.New("truncated")
	errBadName   = errors.New("bad name")
)

// question is one entry of the question section.
type question struct {
	name        string
	typ, class  uint16
	unicastResp bool // mDNS QU bit
}

// Answer is one answer record.
type Answer struct {
	Name  string
	Type  uint16
	Class uint16
	TTL   uint32
	Data  string     // presentation form; empty for types not decoded
	IP    netip.Addr // A and AAAA
}

// message is one decoded DNS message.
type message struct {
	id, flags      uint16
	qd, an, ns, ar uint16
	questions      []question
	answers        []Answer
	answersDropped int
	hasOPT, do     bool
	extRcode       uint8
	anomalies      []string
	end            int // offset after the last record parsed
	complete       bool
	mdns           bool
	maxAnswers     int
	// validate decodes without keeping text: names and answer data stay
	// empty, so that Match can check a whole message without allocating
	// (with questions and answers given stack backing arrays).
	validate bool
	// reuse holds names the session has as strings already (its waiting
	// queries'): a question with one of them shares its string instead
	// of allocating another (a response repeats its query's question).
	reuse  [4]string
	nreuse int
	// text collects the answers' names and data as bytes, fixes which
	// answer field gets which part; setText makes them one string (one
	// allocation per message, not one per value). lastName is the fix of
	// the last answer's name when it is in text (-1 when not).
	text     []byte
	fixes    []textFix
	lastName int
}

// textFix places text[start:end] in answers[answer].Data (or .Name).
type textFix struct {
	answer     int
	data       bool
	start, end int
}

// fix notes that answer i's Data (or Name) is text from start to its end.
func (m *message) fix(i int, data bool, start int) {
	m.fixes = append(m.fixes, textFix{answer: i, data: data, start: start, end: len(m.text)})
}

// setText sets the answers' strings from text, in one allocation.
func (m *message) setText() {
	if len(m.fixes) == 0 {
		return
	}
	s := string(m.text)
	for _, f := range m.fixes {
		if f.data {
			m.answers[f.answer].Data = s[f.start:f.end]
		} else {
			m.answers[f.answer].Name = s[f.start:f.end]
		}
	}
	m.fixes = m.fixes[:0]
}

// questionName returns name as a string, one of m.reuse when equal.
func (m *message) questionName(name []byte) string {
	for _, k := range m.reuse[:m.nreuse] {
		if string(name) == k {
			return k
		}
	}
	return string(name)
}

func (m *message) anomaly(a string) {
	for _, x := range m.anomalies {
		if x == a {
			return
		}
	}
	m.anomalies = append(m.anomalies, a)
}

func (m *message) rcode() uint16 { return uint16(m.extRcode)<<4 | m.flags&0xF }

func (m *message) opcode() uint8 { return uint8(m.flags>>11) & 0xF }

// parseHeader reads the fixed header.
func parseHeader(b []byte, m *message) bool {
	if len(b) < headerLen {
		return false
	}
	m.id = binary.BigEndian.Uint16(b[0:])
	m.flags = binary.BigEndian.Uint16(b[2:])
	m.qd = binary.BigEndian.Uint16(b[4:])
	m.an = binary.BigEndian.Uint16(b[6:])
	m.ns = binary.BigEndian.Uint16(b[8:])
	m.ar = binary.BigEndian.Uint16(b[10:])
	return true
}

// parse decodes msg into m. It returns false only when not even the header
// and the first question could be read; otherwise problems are anomalies
// and m holds what was decoded.
func parse(msg []byte, m *message, scratch []byte) ([]byte, bool) {
	if !parseHeader(msg, m) {
		return scratch, false
	}
	off := headerLen
	var err error
	for i := 0; i < int(m.qd); i++ {
		var q question
		var name []byte
		name, off, err = readName(msg, off, scratch[:0])
		scratch = name
		if err == nil && off+4 > len(msg) {
			err = errTruncated
		}
		if err != nil {
			m.fail(err)
			return scratch, i > 0
		}
		q.typ = binary.BigEndian.Uint16(msg[off:])
		q.class = binary.BigEndian.Uint16(msg[off+2:])
		if m.mdns {
			q.unicastResp = q.class&0x8000 != 0
			q.class &= 0x7FFF
		}
		off += 4
		if len(m.questions) < maxQuestions {
			if !m.validate {
				q.name = m.questionName(name)
			}
			m.questions = append(m.questions, q)
		}
	}
	m.end = off
	m.lastName = -1
	if m.an > 0 && cap(m.answers) == 0 {
		// An answer takes at least 11 bytes: no more can follow.
		m.answers = make([]Answer, 0, min(int(m.an), m.maxAnswers, (len(msg)-off)/11))
	}
	for sec, n := range [3]uint16{m.an, m.ns, m.ar} {
		for range int(n) {
			off, scratch, err = m.record(msg, off, sec, scratch)
			if err != nil {
				m.fail(err)
				m.setText()
				return scratch, true
			}
			m.end = off
		}
	}
	m.complete = true
	m.setText()
	return scratch, true
}

// answerName sets the name of answer i (about to be appended as *a):
// the first question's string or the previous answer's name when it is
// the same name (answers usually repeat the question's name by a
// compression pointer), otherwise its own part of text.
func (m *message) answerName(i int, name []byte, a *Answer) {
	if m.validate {
		return
	}
	if len(m.questions) > 0 && string(name) == m.questions[0].name {
		a.Name = m.questions[0].name
		m.lastName = -1
		return
	}
	if n := len(m.answers); n > 0 {
		if k := m.lastName; k >= 0 {
			if f := m.fixes[k]; string(name) == string(m.text[f.start:f.end]) {
				m.fixes = append(m.fixes, textFix{answer: i, start: f.start, end: f.end})
				m.lastName = len(m.fixes) - 1
				return
			}
		} else if string(name) == m.answers[n-1].Name {
			a.Name = m.answers[n-1].Name
			return
		}
	}
	start := len(m.text)
	m.text = append(m.text, name...)
	m.fix(i, false, start)
	m.lastName = len(m.fixes) - 1
}

func (m *message) fail(err error) {
	if err == errBadName {
		m.anomaly(AnomalyBadName)
	} else {
		m.anomaly(AnomalyTruncated)
	}
}

// record decodes one resource record of section sec (0 answer, 1
// authority, 2 additional) at off.
func (m *message) record(msg []byte, off, sec int, scratch []byte) (int, []byte, error) {
	var a Answer
	var name []byte
	var err error
	if sec == 0 {
		name, off, err = readName(msg, off, scratch[:0])
		scratch = name
	} else {
		off, err = skipName(msg, off)
	}
	if err != nil {
		return off, scratch, err
	}
	if off+10 > len(msg) {
		return off, scratch, errTruncated
	}
	a.Type = binary.BigEndian.Uint16(msg[off:])
	a.Class = binary.BigEndian.Uint16(msg[off+2:])
	a.TTL = binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	off += 10
	if off+rdlen > len(msg) {
		return off, scratch, errTruncated
	}
	rd := msg[off : off+rdlen]
	rdOff := off
	off += rdlen
	switch {
	case sec == 2 && a.Type == 41: // OPT: class is the UDP size, TTL holds ext-rcode, version, DO
		m.hasOPT = true
		m.extRcode = uint8(a.TTL >> 24)
		m.do = a.TTL&0x8000 != 0
		return off, scratch, nil
	case sec != 0:
		return off, scratch, nil
	}
	if len(m.answers) >= m.maxAnswers {
		m.answersDropped++
		return off, scratch, nil
	}
	m.answerName(len(m.answers), name, &a)
	if m.mdns {
		a.Class &= 0x7FFF // cache-flush bit
	}
	scratch = m.rdata(msg, rdOff, rd, len(m.answers), &a, scratch)
	m.answers = append(m.answers, a)
	return off, scratch, nil
}

// rdata fills a.Data (and a.IP) from the record data rd at offset rdOff;
// a is answer i, Data its part of m.text.
func (m *message) rdata(msg []byte, rdOff int, rd []byte, i int, a *Answer, scratch []byte) []byte {
	bad := func() { m.anomaly(AnomalyBadRData) }
	name := func(off int) ([]byte, int, bool) {
		n, next, err := readName(msg, off, scratch[:0])
		scratch = n
		if err != nil || next > rdOff+len(rd) {
			bad()
			return nil, next, false
		}
		return n, next, true
	}
	start := len(m.text)
	switch a.Type {
	case 1:
		if len(rd) != 4 {
			bad()
			return scratch
		}
		a.IP = netip.AddrFrom4([4]byte(rd))
		if !m.validate {
			m.text = a.IP.AppendTo(m.text)
			m.fix(i, true, start)
		}
	case 28:
		if len(rd) != 16 {
			bad()
			return scratch
		}
		a.IP = netip.AddrFrom16([16]byte(rd))
		if !m.validate {
			m.text = a.IP.AppendTo(m.text)
			m.fix(i, true, start)
		}
	case 2, 5, 12, 39: // NS, CNAME, PTR, DNAME
		if n, _, ok := name(rdOff); ok && !m.validate {
			m.text = append(m.text, n...)
			m.fix(i, true, start)
		}
	case 15: // MX: preference, exchange
		if len(rd) < 3 {
			bad()
			return scratch
		}
		if n, _, ok := name(rdOff + 2); ok && !m.validate {
			m.text = strconv.AppendUint(m.text, uint64(binary.BigEndian.Uint16(rd)), 10)
			m.text = append(m.text, ' ')
			m.text = append(m.text, n...)
			m.fix(i, true, start)
		}
	case 33: // SRV: priority, weight, port, target
		if len(rd) < 7 {
			bad()
			return scratch
		}
		if n, _, ok := name(rdOff + 6); ok && !m.validate {
			for k := 0; k < 6; k += 2 {
				m.text = strconv.AppendUint(m.text, uint64(binary.BigEndian.Uint16(rd[k:])), 10)
				m.text = append(m.text, ' ')
			}
			m.text = append(m.text, n...)
			m.fix(i, true, start)
		}
	case 6: // SOA: mname, rname, serial, refresh, retry, expire, minimum
		mname, next, ok := name(rdOff)
		if !ok {
			return scratch
		}
		if !m.validate {
			// Into text before the next name overwrites scratch.
			m.text = append(m.text, mname...)
			m.text = append(m.text, ' ')
		}
		rname, next, ok := name(next)
		if !ok || next+20 != rdOff+len(rd) {
			if ok {
				bad()
			}
			m.text = m.text[:start]
			return scratch
		}
		if m.validate {
			return scratch
		}
		m.text = append(m.text, rname...)
		for k := range 5 {
			m.text = append(m.text, ' ')
			m.text = strconv.AppendUint(m.text, uint64(binary.BigEndian.Uint32(msg[next+4*k:])), 10)
		}
		m.fix(i, true, start)
	case 16, 99: // TXT, SPF: character-strings, concatenated
		buf := scratch[:0]
		for j := 0; j < len(rd); {
			n := int(rd[j])
			if j+1+n > len(rd) {
				bad()
				break
			}
			buf = appendText(buf, rd[j+1:j+1+n])
			j += 1 + n
		}
		if len(buf) > maxData {
			buf = buf[:maxData]
		}
		if m.validate {
			return buf
		}
		// appendText leaves printable ASCII only: valid UTF-8 as it is.
		m.text = append(m.text, buf...)
		m.fix(i, true, start)
		scratch = buf
	}
	return scratch
}

// appendText appends a character-string, escaping bytes that are not
// printable ASCII as \DDD (RFC 1035 §5.1) so the data stays text.
func appendText(dst, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '\\' {
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// readName decodes the name at off into dst in presentation form (labels
// joined by '.', no trailing dot, "." for the root; '.', '\' and bytes
// outside printable ASCII escaped as in RFC 1035 §5.1) and returns the
// offset after the name where it started.
//
// Loop protection: a pointer must point before the start of the run of
// labels that led to it (so every jump lands strictly lower than all
// earlier runs), at most maxPointers are followed, and the wire name is at
// most 255 bytes.
func readName(msg []byte, off int, dst []byte) ([]byte, int, error) {
	start := len(dst)
	next := -1
	run := off
	ptrs, wire := 0, 0
	for {
		if off >= len(msg) {
			return dst, off, errTruncated
		}
		c := msg[off]
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(dst) == start {
					dst = append(dst, '.')
				}
				return dst, next, nil
			}
			l := int(c)
			if off+1+l > len(msg) {
				return dst, off, errTruncated
			}
			if wire += l + 1; wire > maxWireName {
				return dst, off, errBadName
			}
			if len(dst) > start {
				dst = append(dst, '.')
			}
			dst = appendLabel(dst, msg[off+1:off+1+l])
			off += 1 + l
		case 0xC0:
			if off+1 >= len(msg) {
				return dst, off, errTruncated
			}
			p := int(c&0x3F)<<8 | int(msg[off+1])
			if next < 0 {
				next = off + 2
			}
			if ptrs++; ptrs > maxPointers || p >= run {
				return dst, next, errBadName
			}
			off, run = p, p
		default: // 0x40 extended and 0x80 reserved label types
			return dst, off, errBadName
		}
	}
}

// skipName returns the offset after the name at off without decoding it.
func skipName(msg []byte, off int) (int, error) {
	for wire := 0; ; {
		if off >= len(msg) {
			return off, errTruncated
		}
		c := msg[off]
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			if wire += int(c) + 1; wire > maxWireName {
				return off, errBadName
			}
			off += 1 + int(c)
		case 0xC0:
			if off+1 >= len(msg) {
				return off, errTruncated
			}
			return off + 2, nil
		default:
			return off, errBadName
		}
	}
}

func appendLabel(dst, l []byte) []byte {
	// Most labels need no escape: copy them whole.
	for i, c := range l {
		if c == '.' || c == '\\' || c < 0x21 || c > 0x7e {
			return appendLabelEscaped(append(dst, l[:i]...), l[i:])
		}
	}
	return append(dst, l...)
}

// appendLabelEscaped appends l byte by byte, escaping as appendLabel does.
func appendLabelEscaped(dst, l []byte) []byte {
	for _, c := range l {
		switch {
		case c == '.' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x21 || c > 0x7e:
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
