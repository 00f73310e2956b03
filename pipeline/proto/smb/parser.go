package smb

import (
	"bytes"
	"sync/atomic"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// Parser is the SMB protocol. It is shared read-only by every worker,
// except for its atomic counters.
type Parser struct {
	cfg Config
	c   counters
}

type counters struct {
	truncated, pendingEvicted, filesFull, treesFull, sessionsFull, pipesFull,
	recordsDropped, gaps, resyncs, encrypted, compressed, smb1, rpcOversize atomic.Uint64
}

// Counters are the limits hit and notable events of all sessions, for the
// metrics endpoint.
type Counters struct {
	Truncated      uint64 // messages longer than MaxMessage
	PendingEvicted uint64 // requests pushed out of a full pending table
	FilesFull      uint64 // opens not tracked: file table full
	TreesFull      uint64
	SessionsFull   uint64
	PipesFull      uint64
	RecordsDropped uint64 // records over MaxRecords
	Gaps           uint64 // gaps that lost a message
	Resyncs        uint64 // resynchronisations on a message header
	Encrypted      uint64 // SMB3 transform (encrypted) messages
	Compressed     uint64 // SMB3 compressed messages (not decoded)
	SMB1           uint64 // SMB1 messages
	RPCOversize    uint64 // DCE/RPC PDUs longer than the buffer
}

// New returns the SMB parser; cfg's zero fields take their defaults.
func New(cfg Config) (*Parser, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Parser{cfg: c}, nil
}

// Name implements proto.Parser.
func (p *Parser) Name() string { return "smb" }

// StreamLimit implements proto.Limiter: SMB sessions carry their tree
// connects, opens and RPC calls all through a long connection, so the
// session sees the whole flow (and skips READ/WRITE data itself).
func (p *Parser) StreamLimit() int { return 0 }

// Counters returns a snapshot of the counters.
func (p *Parser) Counters() Counters {
	c := &p.c
	return Counters{
		Truncated: c.truncated.Load(), PendingEvicted: c.pendingEvicted.Load(),
		FilesFull: c.filesFull.Load(), TreesFull: c.treesFull.Load(),
		SessionsFull: c.sessionsFull.Load(), PipesFull: c.pipesFull.Load(),
		RecordsDropped: c.recordsDropped.Load(), Gaps: c.gaps.Load(), Resyncs: c.resyncs.Load(),
		Encrypted: c.encrypted.Load(), Compressed: c.compressed.Load(), SMB1: c.smb1.Load(),
		RPCOversize: c.rpcOversize.Load(),
	}
}

var (
	sigSMB2       = []byte{0xFE, 'S', 'M', 'B'}
	sigSMB1       = []byte{0xFF, 'S', 'M', 'B'}
	sigTransform  = []byte{0xFD, 'S', 'M', 'B'}
	sigCompressed = []byte{0xFC, 'S', 'M', 'B'}
)

func isSig(b []byte) bool {
	if len(b) < 4 || b[1] != 'S' || b[2] != 'M' || b[3] != 'B' {
		return false
	}
	switch b[0] {
	case 0xFE, 0xFF, 0xFD, 0xFC:
		return true
	}
	return false
}

// Match implements proto.Parser. It wants TCP flows whose first bytes are
// a NetBIOS session message holding an SMB1/SMB2/SMB3 header (direct TCP
// on 445, NetBIOS on 139, any port), or a NetBIOS session request (139).
// On the SMB ports it also takes a flow joined mid-way whose first segment
// holds an SMB header further in.
func (p *Parser) Match(f *flow.Info, dir flow.Dir, first []byte) bool {
	if !proto.IsTCP(f) || len(first) < 8 {
		return false
	}
	if first[0] == 0x00 && first[1] <= 0x01 && isSig(first[4:8]) {
		return true
	}
	if first[0] == 0x81 && dir == flow.FromClient && nbSessionRequest(first) {
		return true
	}
	if proto.PortHint(f, 445, 139) {
		return resyncPoint(first) >= 0
	}
	return false
}

// nbSessionRequest reports whether b is a NetBIOS session request: two
// first-level encoded names (0x20, 32 letters A-P, 0x00).
func nbSessionRequest(b []byte) bool {
	l := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if l < 68 || len(b) < 4+34 || b[4] != 0x20 {
		return false
	}
	for _, c := range b[5 : 5+32] {
		if c < 'A' || c > 'P' {
			return false
		}
	}
	return b[37] == 0
}

// resyncPoint finds a NetBIOS session message header followed by an SMB
// signature in b, or -1.
func resyncPoint(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], []byte("SMB"))
		if i < 0 {
			return -1
		}
		j := off + i - 5 // NBT header start: 4 bytes + protocol byte
		if j >= 0 && b[j] == 0x00 && b[j+1] <= 0x01 && isSig(b[j+4:]) {
			return j
		}
		off += i + 3
		if off >= len(b) {
			return -1
		}
	}
}

// NewSession implements proto.Parser.
func (p *Parser) NewSession(f *flow.Info, emit proto.Emit) proto.Session {
	return newSession(p, f, emit)
}
