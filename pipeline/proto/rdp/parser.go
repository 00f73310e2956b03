package rdp

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser recognises RDP flows. It is read-only after New and safe for
// concurrent use by every worker.
type Parser struct {
	cfg Config
}

var _ proto.Parser = (*Parser)(nil)

// New returns an RDP parser. It returns an error naming the bad field when
// cfg does not validate.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rdp: %w", err)
	}
	return &Parser{cfg: c}, nil
}

// Name is the ECS network.protocol value.
func (p *Parser) Name() string { return "rdp" }

// Match wants a TCP flow whose originator starts with a TPKT-framed X.224
// Connection Request that looks like RDP's (empty, a cookie or routing
// token, or an RDP_NEG_REQ), and a UDP flow whose first datagram is an
// MS-RDPEUDP SYN. Ports play no part: RDP is often moved off 3389. A first
// TCP segment shorter than the request is taken when every byte fits; the
// session drops the flow (malformed "not a connection request") if the
// complete request does not.
func (p *Parser) Match(f *flow.Info, dir flow.Dir, first []byte) bool {
	if dir != flow.FromClient {
		return false
	}
	switch {
	case proto.IsTCP(f):
		return isConnectionRequest(first, true)
	case proto.IsUDP(f):
		return isUDPSyn(first)
	}
	return false
}

// NewSession starts the state of one flow.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	if proto.IsUDP(f) {
		s := &udpSession{emit: emit}
		s.rec.init(f)
		return s
	}
	s := &Session{cfg: p.cfg, emit: emit}
	s.rec.init(f)
	return s
}

// X.224 TPDU codes (ITU-T X.224 §13), high nibble of the second byte.
const (
	x224CR = 0xE0 // Connection Request
	x224CC = 0xD0 // Connection Confirm
	x224DR = 0x80 // Disconnect Request
	x224DT = 0xF0 // Data
)

// RDP negotiation structure types (MS-RDPBCGR §2.2.1.1.1, §2.2.1.2.1-2).
const (
	negReq     = 0x01
	negRsp     = 0x02
	negFailure = 0x03
	negCorrel  = 0x06
)

// isConnectionRequest reports whether b starts with TPKT (version 3) and an
// X.224 CR TPDU whose variable part is RDP's. ISO-TSAP users of the same
// framing (S7comm, MMS on port 102) put TSAP parameters (0xC0-0xC2) there
// and are refused.
//
// With partial is true, b may be a prefix (the first segment of a stream cut
// short): every byte present must fit, and the session checks the complete
// PDU (validCR) before trusting it.
func isConnectionRequest(b []byte, partial bool) bool {
	if len(b) < 11 && !partial {
		return false
	}
	at := func(i int, want byte) bool { return i >= len(b) || b[i] == want }
	if !at(0, 3) || !at(1, 0) || !at(5, x224CR) || !at(6, 0) || !at(7, 0) {
		return false
	}
	if len(b) < 4 {
		return true
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 11 || n > 4+1+254 || len(b) >= 5 && int(b[4])+5 != n {
		return false
	}
	if len(b) <= 11 {
		return true
	}
	v := b[11:min(n, len(b))]
	switch {
	case n == 11:
		return true
	case v[0] == 'C':
		const c = "Cookie: "
		return bytes.HasPrefix(v, []byte(c)) || len(v) < len(c) && bytes.HasPrefix([]byte(c), v)
	case v[0] == negReq:
		return (len(v) < 3 || v[2] == 8) && (len(v) < 4 || v[3] == 0)
	case v[0] == 't':
		const t = "tsv://" // Remote Desktop Connection Broker routing token
		return bytes.HasPrefix(v, []byte(t)) || len(v) < len(t) && bytes.HasPrefix([]byte(t), v)
	}
	return false
}

// MS-RDPEUDP §2.2.2.1 RDPUDP_FEC_HEADER flags.
const (
	udpSYN      = 0x0001
	udpACK      = 0x0004
	udpSYNLOSSY = 0x0200
	udpCorrID   = 0x0800
	udpSYNEX    = 0x1000
)

// isUDPSyn reports whether b is an MS-RDPEUDP SYN datagram: snSourceAck
// -1, the SYN flag without ACK, and upstream/downstream MTUs in the range
// the specification allows (1132..1232).
func isUDPSyn(b []byte) bool {
	if len(b) < 16 || binary.BigEndian.Uint32(b[0:4]) != 0xFFFFFFFF {
		return false
	}
	fl := binary.BigEndian.Uint16(b[6:8])
	if fl&udpSYN == 0 || fl&udpACK != 0 {
		return false
	}
	up, down := binary.BigEndian.Uint16(b[12:14]), binary.BigEndian.Uint16(b[14:16])
	return up >= 1132 && up <= 1232 && down >= 1132 && down <= 1232
}
