package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Message types (MS-NLMP §2.2.1).
const (
	TypeNegotiate    = 1
	TypeChallenge    = 2
	TypeAuthenticate = 3
)

// Negotiate flags used by the decoder (MS-NLMP §2.2.2.5).
const (
	FlagUnicode                = 0x00000001
	FlagOEM                    = 0x00000002
	FlagAnonymous              = 0x00000800
	FlagOEMDomainSupplied      = 0x00001000
	FlagOEMWorkstationSupplied = 0x00002000
	FlagExtendedSecurity       = 0x00080000
	FlagTargetInfo             = 0x00800000
)

// Limits of the decoder.
const (
	// MaxString bounds every decoded string field, in bytes of the message.
	MaxString = 512
	// MaxAVPairs bounds the CHALLENGE target-info walk.
	MaxAVPairs = 32
	// maxFind bounds how many signature candidates Find tries in one blob.
	maxFind = 4
)

// Signature starts every NTLMSSP message.
var Signature = []byte("NTLMSSP\x00")

// Errors returned by Parse; fixed, so callers may use them as counter labels.
var (
	ErrShort     = errors.New("ntlm: message too short")
	ErrSignature = errors.New("ntlm: no NTLMSSP signature")
	ErrType      = errors.New("ntlm: unknown message type")
	ErrBounds    = errors.New("ntlm: field outside message")
)

// Message is one decoded NTLMSSP message. Which fields are set depends on
// Type: NEGOTIATE (1) may carry Domain and Workstation (OEM, when supplied);
// CHALLENGE (2) carries TargetName, ServerNetBIOSName and ServerDNSName;
// AUTHENTICATE (3) carries User, Domain and Workstation.
type Message struct {
	Type                                         int
	User, Domain, Workstation                    string
	TargetName, ServerNetBIOSName, ServerDNSName string
	Flags                                        uint32
}

// Anonymous reports whether an AUTHENTICATE message is an anonymous
// (null session) logon: the anonymous flag, or no user name at all.
func (m *Message) Anonymous() bool {
	return m.Type == TypeAuthenticate && (m.Flags&FlagAnonymous != 0 || m.User == "")
}

// Parse decodes one raw NTLMSSP message starting at b[0]. On error the
// returned Message holds whatever was decoded before the error (at least
// Type once the header was read), so a truncated AUTHENTICATE still yields
// the fields that lie inside b.
func Parse(b []byte) (Message, error) {
	var m Message
	if len(b) < 12 {
		if len(b) >= 8 && !bytes.Equal(b[:8], Signature) {
			return m, ErrSignature
		}
		return m, ErrShort
	}
	if !bytes.Equal(b[:8], Signature) {
		return m, ErrSignature
	}
	m.Type = int(binary.LittleEndian.Uint32(b[8:12]))
	switch m.Type {
	case TypeNegotiate:
		return m, parseNegotiate(b, &m)
	case TypeChallenge:
		return m, parseChallenge(b, &m)
	case TypeAuthenticate:
		return m, parseAuthenticate(b, &m)
	}
	m.Type = 0
	return m, ErrType
}

// Find locates an NTLMSSP message inside a security blob (SPNEGO, GSS-API,
// CredSSP or raw) and decodes it. It reports false when no signature is
// present or none of the first few candidates decodes.
func Find(b []byte) (Message, bool) {
	for range maxFind {
		i := bytes.Index(b, Signature)
		if i < 0 {
			return Message{}, false
		}
		m, err := Parse(b[i:])
		if err == nil {
			return m, true
		}
		b = b[i+1:]
	}
	return Message{}, false
}

func parseNegotiate(b []byte, m *Message) error {
	if len(b) < 16 {
		return ErrShort
	}
	m.Flags = binary.LittleEndian.Uint32(b[12:16])
	// Domain and workstation fields are optional in old clients' short
	// NEGOTIATE messages (16 bytes).
	if len(b) < 32 {
		return nil
	}
	var err error
	if m.Flags&FlagOEMDomainSupplied != 0 {
		if m.Domain, err = field(b, 16, false); err != nil {
			return err
		}
	}
	if m.Flags&FlagOEMWorkstationSupplied != 0 {
		if m.Workstation, err = field(b, 24, false); err != nil {
			return err
		}
	}
	return nil
}

func parseChallenge(b []byte, m *Message) error {
	if len(b) < 32 {
		return ErrShort
	}
	m.Flags = binary.LittleEndian.Uint32(b[20:24])
	uni := m.Flags&FlagUnicode != 0
	var err error
	if m.TargetName, err = field(b, 12, uni); err != nil {
		return err
	}
	if len(b) < 48 {
		return nil // no target info fields (old servers)
	}
	ti, err := fieldBytes(b, 40)
	if err != nil {
		return err
	}
	// AV pairs (MS-NLMP §2.2.2.1): id, length, value; always UTF-16LE.
	for range MaxAVPairs {
		if len(ti) < 4 {
			break
		}
		id := binary.LittleEndian.Uint16(ti[0:2])
		n := int(binary.LittleEndian.Uint16(ti[2:4]))
		if id == 0 { // MsvAvEOL
			break
		}
		if 4+n > len(ti) {
			return ErrBounds
		}
		v := ti[4 : 4+n]
		switch id {
		case 1: // MsvAvNbComputerName
			m.ServerNetBIOSName = decode(v, true)
		case 3: // MsvAvDnsComputerName
			m.ServerDNSName = decode(v, true)
		}
		ti = ti[4+n:]
	}
	return nil
}

func parseAuthenticate(b []byte, m *Message) error {
	if len(b) < 52 {
		return ErrShort
	}
	if len(b) >= 64 {
		m.Flags = binary.LittleEndian.Uint32(b[60:64])
	} else {
		m.Flags = FlagUnicode // the usual; old 52-byte form has no flags
	}
	uni := m.Flags&FlagUnicode != 0
	var err error
	if m.Domain, err = field(b, 28, uni); err != nil {
		return err
	}
	if m.User, err = field(b, 36, uni); err != nil {
		return err
	}
	if m.Workstation, err = field(b, 44, uni); err != nil {
		return err
	}
	return nil
}

// NTLMVersion reports, for a raw AUTHENTICATE message, "v1" when its NT
// challenge response is 24 bytes (NTLMv1, or NTLMv1 with extended session
// security), "v2" when longer, and "" when it has none (anonymous) or b is
// not an AUTHENTICATE message. NTLMv1 on a network is itself a finding.
func NTLMVersion(b []byte) string {
	if len(b) < 28 || !bytes.Equal(b[:8], Signature) || binary.LittleEndian.Uint32(b[8:12]) != TypeAuthenticate {
		return ""
	}
	switch n := binary.LittleEndian.Uint16(b[20:22]); {
	case n == 24:
		return "v1"
	case n > 24:
		return "v2"
	}
	return ""
}

// FindNTLMVersion is NTLMVersion on the first NTLMSSP message inside blob.
func FindNTLMVersion(blob []byte) string {
	i := bytes.Index(blob, Signature)
	if i < 0 {
		return ""
	}
	return NTLMVersion(blob[i:])
}

// fieldBytes returns the payload of the 8-byte field descriptor at off
// (length uint16, max length uint16, offset uint32), bounded by MaxString
// for strings by the caller.
func fieldBytes(b []byte, off int) ([]byte, error) {
	if off+8 > len(b) {
		return nil, ErrShort
	}
	n := int(binary.LittleEndian.Uint16(b[off : off+2]))
	if n == 0 {
		return nil, nil
	}
	o := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
	if o < 0 || o > len(b) || n > len(b)-o {
		return nil, ErrBounds
	}
	return b[o : o+n], nil
}

func field(b []byte, off int, unicode bool) (string, error) {
	v, err := fieldBytes(b, off)
	if err != nil || len(v) == 0 {
		return "", err
	}
	return decode(v, unicode), nil
}

// decode turns a string field into UTF-8: UTF-16LE when unicode, else OEM
// bytes (valid UTF-8 kept, other bytes replaced: the OEM code page is not
// known on the wire). At most MaxString bytes are read; NULs are trimmed.
func decode(v []byte, unicode bool) string {
	if len(v) > MaxString {
		v = v[:MaxString]
	}
	if !unicode {
		v = bytes.TrimRight(v, "\x00")
		if utf8.Valid(v) {
			return string(v)
		}
		return string(bytes.ToValidUTF8(v, []byte("\uFFFD")))
	}
	var buf [MaxString / 2]uint16
	u := buf[:0]
	for i := 0; i+1 < len(v); i += 2 {
		u = append(u, binary.LittleEndian.Uint16(v[i:]))
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}
