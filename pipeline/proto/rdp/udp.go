package rdp

import (
	"encoding/binary"
	"time"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// udpSession is one MS-RDPEUDP flow: the client's SYN and the server's
// SYN+ACK (MS-RDPEUDP §3.1.5.1.1-2). Data after the handshake (DTLS or TLS
// inside RDPUDP) is not examined.
type udpSession struct {
	emit    proto.Emit
	rec     Record
	synTime time.Time
	syn     bool
	emitted bool
}

// Payload implements proto.Session.
func (s *udpSession) Payload(dir flow.Dir, ts time.Time, b []byte) error {
	if s.emitted || len(b) < 16 {
		return nil
	}
	fl := binary.BigEndian.Uint16(b[6:8])
	if fl&udpSYN == 0 {
		return nil
	}
	switch {
	case dir == flow.FromClient && !s.syn && fl&udpACK == 0 && binary.BigEndian.Uint32(b[0:4]) == 0xFFFFFFFF:
		s.syn = true
		s.synTime = ts
		s.rec.Timestamp = ts
		s.rec.UDPLossy = fl&udpSYNLOSSY != 0
		if v := synexVersion(b, fl); v != 0 {
			s.rec.UDPVersion = v
		}
	case dir == flow.FromServer && s.syn && fl&udpACK != 0:
		// The SYN+ACK's snSourceAck acknowledges the client's initial
		// sequence number.
		s.rec.Result = ResultNegotiated
		s.rec.Duration = ts.Sub(s.synTime)
		s.rec.UDPLossy = fl&udpSYNLOSSY != 0
		if v := synexVersion(b, fl); v != 0 {
			s.rec.UDPVersion = v
		}
		s.flush()
	}
	return nil
}

// synexVersion returns the uUdpVer of an RDPUDP_SYNDATAEX_PAYLOAD, which
// follows the SYN data and the correlation id when present; 0 when absent.
func synexVersion(b []byte, fl uint16) uint16 {
	if fl&udpSYNEX == 0 {
		return 0
	}
	off := 16
	if fl&udpCorrID != 0 {
		off += 32 // uCorrelationId (16) and reserved (16)
	}
	if off+4 > len(b) || binary.BigEndian.Uint16(b[off:])&0x0001 == 0 {
		return 0
	}
	return binary.BigEndian.Uint16(b[off+2:])
}

func (s *udpSession) flush() {
	if s.emitted || !s.syn {
		return
	}
	s.emitted = true
	s.rec.finish()
	s.emit(&s.rec)
}

// Gap implements proto.Session; datagrams have no gaps.
func (s *udpSession) Gap(flow.Dir, int) {}

// End implements proto.Session.
func (s *udpSession) End(time.Time, event.EndReason) { s.flush() }
