package smb

import (
	"encoding/binary"
	"unicode/utf16"
)

// Builders of SMB2, SMB1, NTLMSSP and DCE/RPC messages laid out as
// MS-SMB2 §2.2, MS-CIFS §2.2, MS-NLMP §2.2.1 and C706 §12.6 specify.

var le = binary.LittleEndian

func u16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = le.AppendUint16(b, u)
	}
	return b
}

// pdu2 is one SMB2 command: header fields and body (offsets in the body
// that point into the PDU are written by the body builders relative to
// the header, i.e. 64 + position in body).
type pdu2 struct {
	cmd          uint16
	resp         bool
	status       uint32
	msgID        uint64
	treeID       uint32
	sessionID    uint64
	flags        uint32
	creditCharge uint16
	asyncID      uint64
	body         []byte
}

func (p pdu2) bytes(next uint32) []byte {
	h := make([]byte, 64, 64+len(p.body))
	copy(h, "\xfeSMB")
	le.PutUint16(h[4:], 64)
	le.PutUint16(h[6:], p.creditCharge)
	le.PutUint32(h[8:], p.status)
	le.PutUint16(h[12:], p.cmd)
	le.PutUint16(h[14:], 1)
	f := p.flags
	if p.resp {
		f |= flagResponse
	}
	le.PutUint32(h[16:], f)
	le.PutUint32(h[20:], next)
	le.PutUint64(h[24:], p.msgID)
	if f&flagAsync != 0 {
		le.PutUint64(h[32:], p.asyncID)
	} else {
		le.PutUint32(h[36:], p.treeID)
	}
	le.PutUint64(h[40:], p.sessionID)
	return append(h, p.body...)
}

// nbt frames a message in a NetBIOS session message (type 0).
func nbt(msg []byte) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

// msg2 builds one SMB2 message from one or more (compound) PDUs, each
// but the last padded to 8 bytes, and frames it.
func msg2(pdus ...pdu2) []byte {
	var out []byte
	for i, p := range pdus {
		var next uint32
		b := p.bytes(0)
		if i < len(pdus)-1 {
			for len(b)%8 != 0 {
				b = append(b, 0)
			}
			next = uint32(len(b))
			b = p.bytes(next)
			for len(b)%8 != 0 {
				b = append(b, 0)
			}
		}
		out = append(out, b...)
	}
	return nbt(out)
}

func negotiateReq(dialects ...uint16) []byte {
	b := make([]byte, 36)
	le.PutUint16(b, 36)
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], 1) // signing enabled
	for _, d := range dialects {
		b = le.AppendUint16(b, d)
	}
	return b
}

func negotiateResp(dialect uint16, secMode uint16) []byte {
	b := make([]byte, 64)
	le.PutUint16(b, 65)
	le.PutUint16(b[2:], secMode)
	le.PutUint16(b[4:], dialect)
	return b
}

// secBody builds a body with a fixed part of n bytes whose security
// buffer offset/length fields sit at offOff/offOff+2 (uint16 each).
func secBody(size uint16, n, offOff int, blob []byte) []byte {
	b := make([]byte, n)
	le.PutUint16(b, size)
	le.PutUint16(b[offOff:], uint16(64+n))
	le.PutUint16(b[offOff+2:], uint16(len(blob)))
	return append(b, blob...)
}

func sessionSetupReq(blob []byte) []byte { return secBody(25, 24, 12, blob) }

func sessionSetupResp(flags uint16, blob []byte) []byte {
	b := secBody(9, 8, 4, blob)
	le.PutUint16(b[2:], flags)
	return b
}

func treeConnectReq(path string) []byte {
	p := u16le(path)
	b := make([]byte, 8)
	le.PutUint16(b, 9)
	le.PutUint16(b[4:], 64+8)
	le.PutUint16(b[6:], uint16(len(p)))
	return append(b, p...)
}

func treeConnectResp(shareType uint8, shareFlags uint32) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, 16)
	b[2] = shareType
	le.PutUint32(b[4:], shareFlags)
	return b
}

func errorResp() []byte {
	b := make([]byte, 9)
	le.PutUint16(b, 9)
	return b
}

func createReq(name string, disposition, options, access uint32) []byte {
	n := u16le(name)
	b := make([]byte, 56)
	le.PutUint16(b, 57)
	le.PutUint32(b[24:], access)
	le.PutUint32(b[36:], disposition)
	le.PutUint32(b[40:], options)
	le.PutUint16(b[44:], 64+56)
	le.PutUint16(b[46:], uint16(len(n)))
	return append(b, n...)
}

func fid(n byte) [16]byte { return [16]byte{n, 0, 0, 0, 0, 0, 0, 0, n, 0, 0, 0, 0, 0, 0, 0} }

var related = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func createResp(action uint32, id [16]byte, size uint64, attrs uint32) []byte {
	b := make([]byte, 88)
	le.PutUint16(b, 89)
	le.PutUint32(b[4:], action)
	le.PutUint64(b[48:], size)
	le.PutUint32(b[56:], attrs)
	copy(b[64:], id[:])
	return b
}

func closeReq(id [16]byte) []byte {
	b := make([]byte, 24)
	le.PutUint16(b, 24)
	copy(b[8:], id[:])
	return b
}

func closeResp() []byte {
	b := make([]byte, 60)
	le.PutUint16(b, 60)
	return b
}

func readReq(id [16]byte, n uint32) []byte {
	b := make([]byte, 48)
	le.PutUint16(b, 49)
	le.PutUint32(b[4:], n)
	copy(b[16:], id[:])
	return b
}

func readResp(data []byte) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, 17)
	b[2] = 64 + 16
	le.PutUint32(b[4:], uint32(len(data)))
	return append(b, data...)
}

func writeReq(id [16]byte, data []byte) []byte {
	b := make([]byte, 48)
	le.PutUint16(b, 49)
	le.PutUint16(b[2:], 64+48)
	le.PutUint32(b[4:], uint32(len(data)))
	copy(b[16:], id[:])
	return append(b, data...)
}

func writeResp(n uint32) []byte {
	b := make([]byte, 16)
	le.PutUint16(b, 17)
	le.PutUint32(b[4:], n)
	return b
}

func ioctlReq(id [16]byte, ctl uint32, in []byte) []byte {
	b := make([]byte, 56)
	le.PutUint16(b, 57)
	le.PutUint32(b[4:], ctl)
	copy(b[8:], id[:])
	le.PutUint32(b[24:], 64+56)
	le.PutUint32(b[28:], uint32(len(in)))
	le.PutUint32(b[44:], 1024)
	le.PutUint32(b[48:], 1) // FSCTL
	return append(b, in...)
}

func ioctlResp(id [16]byte, ctl uint32, out []byte) []byte {
	b := make([]byte, 48)
	le.PutUint16(b, 49)
	le.PutUint32(b[4:], ctl)
	copy(b[8:], id[:])
	le.PutUint32(b[24:], 64+48)
	le.PutUint32(b[32:], 64+48)
	le.PutUint32(b[36:], uint32(len(out)))
	return append(b, out...)
}

func setInfoReq(id [16]byte, class uint8, buf []byte) []byte {
	b := make([]byte, 32)
	le.PutUint16(b, 33)
	b[2] = 1
	b[3] = class
	le.PutUint32(b[4:], uint32(len(buf)))
	le.PutUint16(b[8:], 64+32)
	copy(b[16:], id[:])
	return append(b, buf...)
}

func renameInfo(name string) []byte {
	n := u16le(name)
	b := make([]byte, 20)
	le.PutUint32(b[16:], uint32(len(n)))
	return append(b, n...)
}

func setInfoResp() []byte {
	b := make([]byte, 2)
	le.PutUint16(b, 2)
	return b
}

func treeDisconnect() []byte {
	b := make([]byte, 4)
	le.PutUint16(b, 4)
	return b
}

// transform is an SMB3 TRANSFORM_HEADER (encrypted message) of session
// sid followed by n bytes of ciphertext.
func transform(sid uint64, n int) []byte {
	b := make([]byte, 52+n)
	copy(b, "\xfdSMB")
	le.PutUint32(b[36:], uint32(n))
	le.PutUint16(b[42:], 1)
	le.PutUint64(b[44:], sid)
	return nbt(b)
}

// NTLMSSP messages (MS-NLMP §2.2.1).
type ntlmField struct {
	desc int
	data []byte
}

func ntlmMsg(typ uint32, fixed int, flagsAt int, flags uint32, fields ...ntlmField) []byte {
	b := make([]byte, fixed)
	copy(b, "NTLMSSP\x00")
	le.PutUint32(b[8:], typ)
	le.PutUint32(b[flagsAt:], flags)
	for _, f := range fields {
		le.PutUint16(b[f.desc:], uint16(len(f.data)))
		le.PutUint16(b[f.desc+2:], uint16(len(f.data)))
		le.PutUint32(b[f.desc+4:], uint32(len(b)))
		b = append(b, f.data...)
	}
	return b
}

func ntlmNegotiate() []byte { return ntlmMsg(1, 32, 12, 0xe2088297) }

func avPair(id uint16, v []byte) []byte {
	b := le.AppendUint16(nil, id)
	b = le.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func ntlmChallenge(target, nb, dns string) []byte {
	ti := append(avPair(1, u16le(nb)), avPair(3, u16le(dns))...)
	ti = append(ti, avPair(0, nil)...)
	return ntlmMsg(2, 56, 20, 0xe2898215, ntlmField{12, u16le(target)}, ntlmField{40, ti})
}

func ntlmAuth(domain, user, ws string, ntLen int) []byte {
	return ntlmMsg(3, 88, 60, 0xe2888215,
		ntlmField{12, make([]byte, 24)}, ntlmField{20, make([]byte, ntLen)},
		ntlmField{28, u16le(domain)}, ntlmField{36, u16le(user)}, ntlmField{44, u16le(ws)},
		ntlmField{52, make([]byte, 16)})
}

// spnego wraps a token in a GSS-API/SPNEGO-looking envelope (the parser
// finds the NTLMSSP signature in it).
func spnego(tok []byte) []byte {
	n := len(tok)
	b := []byte{0xa1, 0x82, byte((n + 4) >> 8), byte(n + 4), 0x04, 0x82, byte(n >> 8), byte(n)}
	return append(b, tok...)
}

// krbAPReq is a Kerberos GSS-API InitialContextToken: the krb5 OID, TOK_ID
// 01 00, and an AP-REQ (application tag 14).
func krbAPReq() []byte {
	b := []byte{0x60, 0x82, 0x01, 0x00}
	b = append(b, oidKerberos...)
	b = append(b, 0x01, 0x00, 0x6e, 0x82, 0x00, 0x10)
	return append(b, make([]byte, 16)...)
}

// DCE/RPC connection-oriented PDUs, little-endian NDR.
func rpcPDU(ptype, flags uint8, callID uint32, body []byte) []byte {
	b := []byte{5, 0, ptype, flags, 0x10, 0, 0, 0}
	b = le.AppendUint16(b, uint16(16+len(body)))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, callID)
	return append(b, body...)
}

func uuidWire(s string) []byte {
	var raw [16]byte
	hexs := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	for i := range 16 {
		var v byte
		for _, c := range hexs[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		raw[i] = v
	}
	return []byte{raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6],
		raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]}
}

const ndr20 = "8a885d04-1ceb-11c9-9fe8-08002b104860"

func rpcBind(callID uint32, iface string, ver uint16) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0}
	b = append(b, 0, 0, 1, 0) // ctx 0, 1 transfer syntax
	b = append(b, uuidWire(iface)...)
	b = le.AppendUint16(b, ver)
	b = le.AppendUint16(b, 0)
	b = append(b, uuidWire(ndr20)...)
	b = le.AppendUint32(b, 2)
	return rpcPDU(11, 3, callID, b)
}

func rpcBindAck(callID uint32) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 0x12, 0x34, 0, 0}
	port := []byte("\\PIPE\\svcctl\x00")
	b = le.AppendUint16(b, uint16(len(port)))
	b = append(b, port...)
	for (16+len(b))%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, 1, 0, 0, 0, 0, 0, 0, 0)
	b = append(b, uuidWire(ndr20)...)
	b = le.AppendUint32(b, 2)
	return rpcPDU(12, 3, callID, b)
}

func rpcRequest(callID uint32, flags uint8, opnum uint16, stub []byte) []byte {
	b := le.AppendUint32(nil, uint32(len(stub)))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, opnum)
	return rpcPDU(0, flags, callID, append(b, stub...))
}

func rpcResponse(callID uint32, stub []byte) []byte {
	b := le.AppendUint32(nil, uint32(len(stub)))
	b = append(b, 0, 0, 0, 0)
	return rpcPDU(2, 3, callID, append(b, stub...))
}

// ndrString is a conformant varying wide string, padded to 4.
func ndrString(s string) []byte {
	u := append(u16le(s), 0, 0)
	n := uint32(len(u) / 2)
	b := le.AppendUint32(nil, n)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, n)
	b = append(b, u...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// createServiceW is RCreateServiceW's request stub (MS-SCMR §3.1.4.12).
func createServiceW(name, display, path string) []byte {
	b := make([]byte, 20) // hSCManager
	b = append(b, ndrString(name)...)
	b = le.AppendUint32(b, 0x20000) // lpDisplayName referent
	b = append(b, ndrString(display)...)
	b = le.AppendUint32(b, 0xf01ff) // access
	b = le.AppendUint32(b, 0x10)    // own process
	b = le.AppendUint32(b, 3)       // demand start
	b = le.AppendUint32(b, 0)
	b = append(b, ndrString(path)...)
	return append(b, make([]byte, 24)...) // null pointers that follow
}
