package rdp

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// T.125 MCS Connect-Initial/Response PDUs are BER encoded (application
// tags 101 and 102); their userData is a T.124 GCC Conference Create
// Request/Response in ALIGNED PER, whose own user data starts after the
// H.221 key "Duca" (client) or "McDn" (server) and a PER length, and is a
// list of MS-RDPBCGR data blocks (type and length, little-endian).

// berTLV reads one BER tag/length header at b and returns the tag (one or
// two bytes), the contents and the rest. ok is false when b is too short
// or uses a length form RDP never sends.
func berTLV(b []byte) (tag int, val, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	i := 1
	tag = int(b[0])
	if b[0]&0x1f == 0x1f {
		tag = tag<<8 | int(b[1])
		i = 2
	}
	if i >= len(b) {
		return 0, nil, nil, false
	}
	n := int(b[i])
	i++
	switch {
	case n < 0x80:
	case n == 0x81 && i+1 <= len(b):
		n = int(b[i])
		i++
	case n == 0x82 && i+2 <= len(b):
		n = int(binary.BigEndian.Uint16(b[i:]))
		i += 2
	default:
		return 0, nil, nil, false
	}
	if n > len(b)-i {
		return 0, nil, nil, false
	}
	return tag, b[i : i+n], b[i+n:], true
}

// mcsUserData returns the GCC user data blocks of an MCS Connect PDU d
// (starting at its application tag) and, for a Connect-Response, the
// result. key is "Duca" or "McDn".
func mcsUserData(d []byte, key string) (blocks []byte, result int, ok bool) {
	_, body, _, ok := berTLV(d)
	if !ok {
		return nil, -1, false
	}
	result = -1
	var user []byte
	for len(body) > 0 {
		tag, val, rest, ok := berTLV(body)
		if !ok {
			return nil, result, false
		}
		switch {
		case tag == 0x0a && result < 0 && len(val) == 1:
			result = int(val[0])
		case tag == 0x04:
			user = val
		}
		body = rest
	}
	i := bytes.Index(user, []byte(key))
	if i < 0 {
		return nil, result, false
	}
	g := user[i+len(key):]
	if len(g) < 1 {
		return nil, result, false
	}
	n, h := int(g[0]), 1
	if g[0]&0x80 != 0 {
		if len(g) < 2 {
			return nil, result, false
		}
		n, h = int(g[0]&0x3f)<<8|int(g[1]), 2
	}
	g = g[h:]
	if n < len(g) {
		g = g[:n]
	}
	return g, result, true
}

// eachBlock calls fn for every well-formed data block and reports whether
// the list was well formed.
func eachBlock(b []byte, fn func(typ uint16, blk []byte)) bool {
	for len(b) >= 4 {
		typ := binary.LittleEndian.Uint16(b[0:2])
		n := int(binary.LittleEndian.Uint16(b[2:4]))
		if n < 4 || n > len(b) {
			return false
		}
		fn(typ, b[:n])
		b = b[n:]
	}
	return len(b) == 0
}

// Client and server data block types (MS-RDPBCGR §2.2.1.3.1).
const (
	csCore     = 0xC001
	csSecurity = 0xC002
	csNet      = 0xC003
	scCore     = 0x0C01
	scSecurity = 0x0C02
)

// maxChannels is the most static virtual channels a client may request
// (MS-RDPBCGR §2.2.1.3.4: 31).
const maxChannels = 31

// connectInitial decodes the client data of an MCS Connect-Initial.
func (s *Session) connectInitial(d []byte) {
	blocks, _, ok := mcsUserData(d, "Duca")
	if ok {
		ok = eachBlock(blocks, s.clientBlock)
	}
	if !ok {
		s.rec.anomaly(AnomalyBadMCS)
	}
}

func (s *Session) clientBlock(typ uint16, b []byte) {
	r := &s.rec
	le16 := func(i int) uint16 { return binary.LittleEndian.Uint16(b[i:]) }
	le32 := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	switch typ {
	case csCore:
		if len(b) < 56 {
			s.rec.anomaly(AnomalyBadMCS)
			return
		}
		r.HasClient = true
		r.ClientVersion = le32(4)
		r.DesktopWidth, r.DesktopHeight = le16(8), le16(10)
		switch le16(12) {
		case 0xCA00:
			r.ColorDepth = 4
		case 0xCA01:
			r.ColorDepth = 8
		}
		r.KeyboardLayout = le32(16)
		r.ClientBuild = le32(20)
		r.ClientName = utf16z(b[24:56])
		if len(b) >= 136 {
			r.ProductID = le16(134)
		}
		if len(b) >= 142 {
			if d := le16(140); d != 0 {
				r.ColorDepth = d
			}
		}
		if len(b) >= 210 {
			r.DigProductID = utf16z(b[146:210])
		}
		if r.ClientName != "" {
			r.RelatedHosts = append(r.RelatedHosts[:0], r.ClientName)
		}
	case csSecurity:
		if len(b) >= 8 {
			r.ClientEncMeths = le32(4)
		}
	case csNet:
		if len(b) < 8 {
			return
		}
		n := min(int(le32(4)), maxChannels, (len(b)-8)/12)
		r.Channels = make([]string, 0, n)
		for i := range n {
			name := b[8+12*i : 8+12*i+8]
			if j := bytes.IndexByte(name, 0); j >= 0 {
				name = name[:j]
			}
			r.Channels = append(r.Channels, strings.ToValidUTF8(string(name), "\uFFFD"))
		}
	}
}

// connectResponse decodes the result and server data of an MCS
// Connect-Response.
func (s *Session) connectResponse(d []byte) {
	blocks, result, ok := mcsUserData(d, "McDn")
	if result >= 0 {
		s.rec.MCSResult = result
	}
	if ok {
		ok = eachBlock(blocks, s.serverBlock)
	}
	if !ok && result <= 0 {
		s.rec.anomaly(AnomalyBadMCS)
	}
}

func (s *Session) serverBlock(typ uint16, b []byte) {
	if typ != scSecurity || len(b) < 12 {
		return
	}
	r := &s.rec
	le32 := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	r.HasSecurity = true
	r.EncMethod, r.EncLevel = le32(4), le32(8)
	if len(b) < 20 {
		return
	}
	rnd, cert := int(le32(12)), int(le32(16))
	off := 20 + rnd
	if rnd > len(b) || cert < 4 || off > len(b)-4 {
		return
	}
	v := le32(off)
	r.CertPermanent = v&0x80000000 == 0
	switch v & 0x7FFFFFFF {
	case 1:
		r.CertType, r.CertCount = "proprietary", 1
	case 2:
		r.CertType = "x509"
		if off+8 <= len(b) {
			r.CertCount = le32(off + 4)
		}
	}
}

// utf16z decodes a NUL-terminated UTF-16LE string in b.
func utf16z(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.TrimSpace(string(utf16.Decode(u)))
}
