package ntlm

import (
	"encoding/binary"
	"unicode/utf16"
)

// The builders lay messages out as MS-NLMP §2.2.1 specifies: fixed header,
// 8-byte field descriptors (len, maxlen, offset), payload after the header.

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// msg builds header (signature, type) + fixed part of size fixed; fields
// maps descriptor offsets to payload bytes, appended in order.
type msgBuilder struct {
	b []byte
}

func newMsg(typ uint32, fixed int) *msgBuilder {
	b := make([]byte, fixed)
	copy(b, Signature)
	binary.LittleEndian.PutUint32(b[8:], typ)
	return &msgBuilder{b: b}
}

func (m *msgBuilder) u32(off int, v uint32) *msgBuilder {
	binary.LittleEndian.PutUint32(m.b[off:], v)
	return m
}

func (m *msgBuilder) field(desc int, payload []byte) *msgBuilder {
	binary.LittleEndian.PutUint16(m.b[desc:], uint16(len(payload)))
	binary.LittleEndian.PutUint16(m.b[desc+2:], uint16(len(payload)))
	binary.LittleEndian.PutUint32(m.b[desc+4:], uint32(len(m.b)))
	m.b = append(m.b, payload...)
	return m
}

func negotiateMsg(flags uint32, domain, ws string) []byte {
	m := newMsg(TypeNegotiate, 40).u32(12, flags)
	if domain != "" {
		m.field(16, []byte(domain))
	}
	if ws != "" {
		m.field(24, []byte(ws))
	}
	return m.b
}

func avPair(id uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func challengeMsg(flags uint32, target string, nb, dns string) []byte {
	m := newMsg(TypeChallenge, 56).u32(20, flags)
	if flags&FlagUnicode != 0 {
		m.field(12, utf16le(target))
	} else {
		m.field(12, []byte(target))
	}
	var ti []byte
	ti = append(ti, avPair(2, utf16le("DOMAIN"))...)
	ti = append(ti, avPair(1, utf16le(nb))...)
	ti = append(ti, avPair(4, utf16le("example.local"))...)
	ti = append(ti, avPair(3, utf16le(dns))...)
	ti = append(ti, avPair(7, make([]byte, 8))...)
	ti = append(ti, avPair(0, nil)...)
	m.field(40, ti)
	return m.b
}

func authenticateMsg(flags uint32, domain, user, ws string, ntLen int) []byte {
	m := newMsg(TypeAuthenticate, 88).u32(60, flags)
	enc := func(s string) []byte {
		if flags&FlagUnicode != 0 {
			return utf16le(s)
		}
		return []byte(s)
	}
	m.field(12, make([]byte, 24))
	m.field(20, make([]byte, ntLen))
	m.field(28, enc(domain))
	m.field(36, enc(user))
	m.field(44, enc(ws))
	m.field(52, make([]byte, 16))
	return m.b
}

// spnego wraps an NTLMSSP token the way SMB2 and HTTP Negotiate carry it:
// a GSS-API InitialContextToken with the SPNEGO OID and a NegTokenInit
// whose mechToken is the NTLMSSP message (lengths in long form).
func spnego(tok []byte) []byte {
	der := func(tag byte, body []byte) []byte {
		n := len(body)
		out := []byte{tag, 0x82, byte(n >> 8), byte(n)}
		return append(out, body...)
	}
	ntlmOID := []byte{0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
	mechTypes := der(0xa0, der(0x30, ntlmOID))
	mechToken := der(0xa2, der(0x04, tok))
	init := der(0xa0, der(0x30, append(mechTypes, mechToken...)))
	spnegoOID := []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}
	return der(0x60, append(spnegoOID, init...))
}
