package dcerpc

import "encoding/binary"

// PDU types (C706 §12.6.4).
const (
	PtypeRequest     = 0
	PtypeResponse    = 2
	PtypeFault       = 3
	PtypeBind        = 11
	PtypeBindAck     = 12
	PtypeBindNak     = 13
	PtypeAlterCtx    = 14
	PtypeAlterCtxAck = 15
	PtypeAuth3       = 16
	PtypeShutdown    = 17
	PtypeCancel      = 18
	PtypeOrphaned    = 19
)

// PFC flags.
const (
	FlagFirstFrag  = 0x01
	FlagLastFrag   = 0x02
	FlagObjectUUID = 0x80
)

// HeaderLen is the common connection-oriented PDU header's size.
const HeaderLen = 16

// Header is the common header of a connection-oriented PDU.
type Header struct {
	Type    uint8
	Flags   uint8
	BigEnd  bool // drep: integers big-endian
	FragLen uint16
	AuthLen uint16
	CallID  uint32
}

// ParseHeader decodes the 16-byte header and reports whether it is a
// plausible connection-oriented DCE/RPC v5 header.
func ParseHeader(b []byte) (Header, bool) {
	var h Header
	if len(b) < HeaderLen || b[0] != 5 || b[1] > 1 || b[2] > PtypeOrphaned {
		return h, false
	}
	h.Type, h.Flags = b[2], b[3]
	// drep[0]: high nibble integer representation (1 = little-endian),
	// low nibble character set; drep[1] float representation.
	switch b[4] & 0xf0 {
	case 0x10:
	case 0x00:
		h.BigEnd = true
	default:
		return h, false
	}
	if b[4]&0x0f > 1 || b[5] > 3 {
		return h, false
	}
	o := order(h.BigEnd)
	h.FragLen = o.Uint16(b[8:10])
	h.AuthLen = o.Uint16(b[10:12])
	h.CallID = o.Uint32(b[12:16])
	if int(h.FragLen) < HeaderLen || int(h.AuthLen)+HeaderLen > int(h.FragLen) {
		return h, false
	}
	return h, true
}

// Looks reports whether b starts with a plausible DCE/RPC PDU header: the
// content test for a pipe whose CREATE was not seen.
func Looks(b []byte) bool {
	_, ok := ParseHeader(b)
	return ok
}

func order(bigEnd bool) binary.ByteOrder {
	if bigEnd {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// stub returns the stub data of a request or response PDU body that
// starts at off within the PDU prefix p (frag bytes [0,len(p))), cut
// before the authentication trailer, and whether its end was reached.
func stub(p []byte, h Header, off int) ([]byte, bool) {
	end := int(h.FragLen)
	if h.AuthLen > 0 {
		end -= int(h.AuthLen) + 8 // sec_trailer
	}
	whole := true
	if end > len(p) {
		end, whole = len(p), false
	}
	if off > end {
		return nil, false
	}
	return p[off:end], whole
}

// authLevel returns the authentication level of the PDU's sec_trailer
// when it lies in p, or 0.
func authLevel(p []byte, h Header) uint8 {
	if h.AuthLen == 0 {
		return 0
	}
	t := int(h.FragLen) - int(h.AuthLen) - 8
	if t < HeaderLen || t+2 > len(p) {
		return 0
	}
	return p[t+1]
}

// Authentication levels (MS-RPCE §2.2.1.1.8).
const (
	AuthLevelPrivacy = 6
)

// AuthLevelName names an authentication level.
func AuthLevelName(l uint8) string {
	switch l {
	case 1:
		return "none"
	case 2:
		return "connect"
	case 3:
		return "call"
	case 4:
		return "packet"
	case 5:
		return "integrity"
	case 6:
		return "privacy"
	}
	return ""
}
