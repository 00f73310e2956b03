package tls

import (
	"fmt"
	"sync"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Name is the parser's network.protocol value.
const Name = "tls"

// Dataset is the data stream of its records.
const Dataset = "mamori.tls"

// Parser recognises TLS from a flow's first bytes: a handshake record
// carrying a ClientHello, or an SSL 2.0-compatible ClientHello, on any port.
// It is safe for concurrent use.
type Parser struct {
	cfg     Config
	certs   *certCache
	hellos  *helloCache
	servers *serverCache
	// buffers recycles the handshake reassembly buffers (cap at most
	// cfg.HandshakeLimit) of sessions that emitted their record.
	buffers sync.Pool
	// hellosParsed recycles the clientHello a ClientHello is parsed
	// into (its lists' arrays): nothing of it outlives the message.
	hellosParsed sync.Pool
}

var (
	_ proto.Parser  = (*Parser)(nil)
	_ proto.Limiter = (*Parser)(nil)
)

// New returns a Parser; it fails when cfg does not validate.
func New(cfg Config) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Parser{cfg: cfg, certs: newCertCache(cfg.CertCache), hellos: newHelloCache(cfg.HelloCache), servers: newServerCache(cfg.HelloCache)}, nil
}

// Name implements proto.Parser.
func (p *Parser) Name() string { return Name }

// StreamLimit implements proto.Limiter.
func (p *Parser) StreamLimit() int { return p.cfg.StreamLimit }

// Match implements proto.Parser: the client's first bytes are a TLS
// handshake record (type 22, version 3.0 to 3.4, a plaintext length) whose
// first message is a ClientHello, or an SSL 2.0 CLIENT-HELLO. Ports are not
// looked at: TLS is found wherever it runs. A first segment shorter than
// the fields checked matches when the bytes it has agree with them (the
// dispatcher decides on the first segment).
func (p *Parser) Match(f *flow.Info, dir flow.Dir, first []byte) bool {
	if dir != flow.FromClient || !proto.IsTCP(f) || len(first) == 0 {
		return false
	}
	return matchTLS(first) || matchSSLv2(first)
}

// at reports whether b[i] is want, or b is too short to say otherwise.
func at(b []byte, i int, want byte) bool { return i >= len(b) || b[i] == want }

func matchTLS(b []byte) bool {
	if !at(b, 0, typeHandshake) || !at(b, 1, 3) || len(b) > 2 && b[2] > 4 || !at(b, 5, hsClientHello) {
		return false
	}
	if len(b) < 5 {
		return true
	}
	// A ClientHello may be split over records; the checks below look only
	// at bytes inside the first one.
	n := int(b[3])<<8 | int(b[4])
	if n == 0 || n > maxPlaintext {
		return false
	}
	if n >= 4 && len(b) >= 9 {
		if m := int(b[6])<<16 | int(b[7])<<8 | int(b[8]); m < minClientHello {
			return false
		}
	}
	return n < 5 || at(b, 9, 3)
}

// matchSSLv2 recognises an SSL 2.0 CLIENT-HELLO with a two-byte record
// header (RFC 6101 E.1), as old clients send to reach SSL 3.0/TLS servers.
func matchSSLv2(b []byte) bool {
	if b[0]&0x80 == 0 || !at(b, 2, 1) {
		return false
	}
	if len(b) >= 5 {
		if v := uint16(b[3])<<8 | uint16(b[4]); v != 0x0002 && (v < 0x0300 || v > 0x0304) {
			return false
		}
	}
	if len(b) < 11 {
		return true
	}
	n := int(b[0]&0x7f)<<8 | int(b[1])
	cs := int(b[5])<<8 | int(b[6])
	sid := int(b[7])<<8 | int(b[8])
	ch := int(b[9])<<8 | int(b[10])
	return cs > 0 && cs%3 == 0 && (sid == 0 || sid == 16) && ch >= 16 && ch <= 32 && n == 9+cs+sid+ch
}

// maxPooledList is the longest list array a pooled clientHello keeps (a
// hostile hello's huge lists are not kept).
const maxPooledList = 1024

// recycleHello puts h back in the pool unless its arrays grew large.
func (p *Parser) recycleHello(h *clientHello) {
	for _, c := range [...]int{cap(h.ciphers), cap(h.extensions), cap(h.versions), cap(h.groups), cap(h.sigAlgs), cap(h.pointFormats), cap(h.alpn)} {
		if c > maxPooledList {
			return
		}
	}
	p.hellosParsed.Put(h)
}

// NewSession implements proto.Parser.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	s := &Session{p: p, emit: emit}
	s.rec = newRecord(f)
	return s
}
