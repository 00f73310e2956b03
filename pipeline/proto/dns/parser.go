package dns

import (
	"encoding/binary"
	"fmt"
	"sync"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser recognises DNS flows. It is read-only after New and safe for
// concurrent use by every worker.
type Parser struct {
	cfg      Config
	domains  *domainCache
	sessions sync.Pool // recycled *Session
}

var _ proto.Parser = (*Parser)(nil)

// New returns a DNS parser. It returns an error naming the bad field when
// cfg does not validate.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &Parser{cfg: c, domains: &domainCache{max: c.DomainCache}}, nil
}

// Name is the ECS network.protocol value (mDNS and LLMNR included).
func (p *Parser) Name() string { return "dns" }

// Well-known ports: hints that relax the content check, never required.
const (
	portDNS   = 53
	portMDNS  = 5353
	portLLMNR = 5355
)

// hinted reports whether either end uses a DNS port: the originator too,
// since a capture may start with a server's response.
func hinted(f *flow.Info) bool {
	switch f.Conn.Source.Port() {
	case portDNS, portMDNS, portLLMNR:
		return true
	}
	return proto.PortHint(f, portDNS, portMDNS, portLLMNR)
}

// Match wants a UDP flow whose first datagram is a DNS message and a TCP
// flow whose first bytes are a length-prefixed DNS message. On the DNS
// ports (53, 5353, 5355) the header and the first question must decode;
// elsewhere the whole message must decode with nothing left over, the Z
// bit must be clear and the counts small, since random UDP payloads
// often pass a 12-byte header check.
func (p *Parser) Match(f *flow.Info, dir flow.Dir, first []byte) bool {
	hint := hinted(f)
	switch {
	case proto.IsUDP(f):
		return looksLikeDNS(first, hint)
	case proto.IsTCP(f):
		if len(first) < 2 {
			return hint && len(first) > 0
		}
		n := int(binary.BigEndian.Uint16(first))
		if n < headerLen {
			return false
		}
		m := first[2:]
		if len(m) < n {
			// The first segment holds part of the message: on the DNS
			// port a plausible header is enough; elsewhere the strict
			// header and the first question must be there.
			if hint {
				return len(m) < headerLen || headerPlausible(m, true)
			}
			return firstQuestion(m)
		}
		return looksLikeDNS(m[:n], hint)
	}
	return false
}

// headerPlausible checks the fixed header alone.
func headerPlausible(b []byte, hint bool) bool {
	var m message
	if !parseHeader(b, &m) {
		return false
	}
	switch m.opcode() {
	case 0, 2, 4, 5, 6:
	default:
		return false
	}
	if m.qd > 64 {
		return false
	}
	if hint {
		return true
	}
	return m.flags&flagZ == 0 && m.qd >= 1 && m.qd <= 4 && m.an <= 256 && m.ns <= 64 && m.ar <= 64 && (m.flags&flagQR != 0 || m.an == 0)
}

// firstQuestion reports whether b (a message's start) has a strictly
// plausible header and a complete first question.
func firstQuestion(b []byte) bool {
	if !headerPlausible(b, false) {
		return false
	}
	off, err := skipName(b, headerLen)
	return err == nil && off+4 <= len(b) && b[headerLen] != 0xC0
}

// looksLikeDNS decodes b as a whole message.
func looksLikeDNS(b []byte, hint bool) bool {
	if !headerPlausible(b, hint) {
		return false
	}
	// Only what Match needs: no names, no answer data, and the question
	// and answer arrays from a pool: nothing allocated per flow.
	ms := matchScratch.Get().(*matchMessage)
	defer matchScratch.Put(ms)
	ms.m = message{maxAnswers: len(ms.as), validate: true, questions: ms.qs[:0], answers: ms.as[:0], anomalies: ms.m.anomalies[:0]}
	m := &ms.m
	if _, ok := parse(b, m, ms.scratch[:0]); !ok {
		return false
	}
	if hint {
		return len(m.questions) > 0 || m.qd == 0
	}
	return m.complete && len(m.anomalies) == 0 && m.end == len(b)
}

// matchMessage is looksLikeDNS's decoding state, pooled: a message's
// slices escape to the heap.
type matchMessage struct {
	m       message
	qs      [maxQuestions]question
	as      [1]Answer
	scratch [512]byte
}

var matchScratch = sync.Pool{New: func() any { return new(matchMessage) }}

// NewSession starts the state of one flow.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	s, _ := p.sessions.Get().(*Session)
	if s == nil {
		s = new(Session)
	}
	// All state afresh; only the pending table's array is kept.
	*s = Session{cfg: p.cfg, domains: p.domains, pool: &p.sessions, emit: emit, conn: f.Conn, tcp: proto.IsTCP(f), variant: VariantDNS,
		pending: s.pending[:0], text: s.text[:0], fixes: s.fixes[:0]}
	s.questions = s.qbuf[:0]
	switch {
	case f.Conn.Source.Port() == portMDNS || f.Conn.Destination.Port() == portMDNS:
		s.variant = VariantMDNS
	case f.Conn.Source.Port() == portLLMNR || f.Conn.Destination.Port() == portLLMNR:
		s.variant = VariantLLMNR
	}
	return s
}
