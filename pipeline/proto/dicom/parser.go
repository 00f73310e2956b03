package dicom

import (
	"fmt"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser is the DICOM upper-layer parser. It is safe for concurrent use:
// it holds only its read-only Config.
type Parser struct {
	cfg Config
}

// New returns a Parser with cfg's zero fields set to their defaults, or an
// error naming the invalid fields.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dicom: %w", err)
	}
	return &Parser{cfg: c}, nil
}

// Name implements proto.Parser.
func (p *Parser) Name() string { return "dicom" }

// StreamLimit implements proto.Limiter: DIMSE commands come all through an
// association, so the session wants the whole flow. It skips data set PDVs
// (pixel data) without buffering them.
func (p *Parser) StreamLimit() int { return 0 }

// hintPorts are the usual DICOM ports: 104 (IANA), 11112 (IANA "dicom"),
// 4242 (a common PACS default). They are only a hint.
var hintPorts = []uint16{104, 11112, 4242}

// Match implements proto.Parser. It takes a TCP flow whose first bytes are
// an A-ASSOCIATE-RQ (or, if the request was missed, an -AC) on any port:
// PDU type 1 (2), reserved 0, a plausible length, protocol version bit 0
// and printable AE-title bytes. On a hinted port it also takes a flow
// picked up mid-association (a P-DATA-TF, release or abort PDU).
func (p *Parser) Match(f *flow.Info, _ flow.Dir, b []byte) bool {
	if !proto.IsTCP(f) || len(b) < 6 || b[1] != 0 {
		return false
	}
	switch b[0] {
	case pduAssociateRQ, pduAssociateAC:
		return looksAssociate(b, proto.PortHint(f, hintPorts...))
	case pduPData:
		return proto.PortHint(f, hintPorts...) && looksPData(b)
	case pduReleaseRQ, pduReleaseRP, pduAbort:
		return proto.PortHint(f, hintPorts...) && be32(b[2:]) == 4
	}
	return false
}

// looksAssociate checks an A-ASSOCIATE-RQ/AC prefix. With fewer than the 10
// bytes that hold the protocol version it needs a port hint.
func looksAssociate(b []byte, hint bool) bool {
	n := be32(b[2:])
	if n < assocFixed || n > 1<<24 {
		return false
	}
	if len(b) < 10 {
		return hint
	}
	if v := be16(b[6:]); v&1 == 0 || v > 0xff {
		return false
	}
	// Called and calling AE titles: 32 bytes from offset 10, printable
	// ASCII padded with spaces (some implementations pad with NULs).
	for i := 10; i < len(b) && i < 42; i++ {
		if c := b[i]; (c < 0x20 || c > 0x7e) && c != 0 {
			return false
		}
	}
	return true
}

// looksPData checks a P-DATA-TF prefix: a PDV that fits in its PDU, an odd
// presentation context ID and valid flags.
func looksPData(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	n, pdv := be32(b[2:]), be32(b[6:])
	return n >= 6 && n <= 1<<26 && pdv >= 2 && pdv <= n-4 && b[10]&1 == 1 && b[11] <= 3
}

// NewSession implements proto.Parser.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	s := &Session{p: p, conn: f.Conn, emit: emit}
	s.dir[0].init()
	s.dir[1].init()
	return s
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
