package hl7

import (
	"fmt"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser is the HL7 v2 over MLLP parser. It is safe for concurrent use: it
// holds only its read-only Config.
type Parser struct {
	cfg Config
}

// New returns a Parser with cfg's zero fields set to their defaults, or an
// error naming the invalid fields.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("hl7: %w", err)
	}
	return &Parser{cfg: c}, nil
}

// Name implements proto.Parser.
func (p *Parser) Name() string { return "hl7" }

// StreamLimit implements proto.Limiter: MLLP connections are long-lived and
// carry messages all through, so the session wants the whole flow. It
// buffers only the MSH, MSA and ERR segments of each message.
func (p *Parser) StreamLimit() int { return 0 }

// Match implements proto.Parser: a TCP flow whose first payload is an MLLP
// start block (0x0b) followed by "MSH", on any port (2575 is the IANA
// port; 6661 and others are common).
func (p *Parser) Match(f *flow.Info, _ flow.Dir, b []byte) bool {
	return proto.IsTCP(f) && len(b) >= 4 && b[0] == startBlock && b[1] == 'M' && b[2] == 'S' && b[3] == 'H'
}

// NewSession implements proto.Parser.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	return &Session{p: p, conn: f.Conn, emit: emit}
}
