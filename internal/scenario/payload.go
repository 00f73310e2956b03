package scenario

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf16"
)

// Payload builders, laid out as the protocols' specifications say: just
// enough of each message for a passive analyzer to read what a hospital's
// IT person would want to know, and nothing made up in between.

var le = binary.LittleEndian

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func u16(v uint16) []byte { return be.AppendUint16(nil, v) }

// --- DNS (RFC 1035) ---

func dnsName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func dnsQuery(id uint16, name string) []byte {
	b := cat(u16(id), u16(0x0100), u16(1), u16(0), u16(0), u16(0), dnsName(name), u16(1), u16(1))
	return b
}

// dnsAnswer answers an A query for name with addrs (names compressed to
// the question).
func dnsAnswer(id uint16, name string, addrs ...netip.Addr) []byte {
	rcode := uint16(0)
	if len(addrs) == 0 {
		rcode = 3 // NXDOMAIN
	}
	b := cat(u16(id), u16(0x8180|rcode), u16(1), u16(uint16(len(addrs))), u16(0), u16(0), dnsName(name), u16(1), u16(1))
	for _, a := range addrs {
		a4 := a.As4()
		b = cat(b, u16(0xc00c), u16(1), u16(1), be.AppendUint32(nil, 300), u16(4), a4[:])
	}
	return b
}

// --- TLS (RFC 5246, RFC 8446) ---

func tlsRecord(typ byte, body []byte) []byte {
	return cat([]byte{typ, 3, 3}, u16(uint16(len(body))), body)
}

func handshake(typ byte, body []byte) []byte {
	n := len(body)
	return cat([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body)
}

func ext(typ uint16, body []byte) []byte { return cat(u16(typ), u16(uint16(len(body))), body) }

func vec16(b []byte) []byte { return cat(u16(uint16(len(b))), b) }

// clientHello is a TLS 1.2 ClientHello, with a server_name extension
// when sni is set.
func clientHello(sni string, random [32]byte) []byte {
	var exts []byte
	if sni != "" {
		exts = ext(0, vec16(cat([]byte{0}, vec16([]byte(sni)))))
	}
	exts = cat(exts,
		ext(0x000a, vec16(cat(u16(0x001d), u16(0x0017), u16(0x0018)))), // supported_groups
		ext(0x000b, []byte{1, 0}),                                      // ec_point_formats
		ext(0x000d, vec16(cat(u16(0x0804), u16(0x0403), u16(0x0401)))), // signature_algorithms
		ext(0x0010, vec16(cat([]byte{8}, []byte("http/1.1")))),         // ALPN
		ext(0xff01, []byte{0}),                                         // renegotiation_info
	)
	suites := cat(u16(0xc02f), u16(0xc030), u16(0xc02b), u16(0xc02c), u16(0x009c), u16(0x009d))
	body := cat(u16(0x0303), random[:], []byte{0}, vec16(suites), []byte{1, 0}, vec16(exts))
	return tlsRecord(22, handshake(1, body))
}

// serverHello is the server's side of an abbreviated TLS 1.2 handshake:
// ServerHello, ChangeCipherSpec and the encrypted Finished.
func serverHello(random [32]byte) []byte {
	body := cat(u16(0x0303), random[:], []byte{32}, random[:], u16(0xc02f), []byte{0}, vec16(ext(0xff01, []byte{0})))
	return cat(tlsRecord(22, handshake(2, body)), tlsRecord(20, []byte{1}), tlsRecord(22, random[:]))
}

// clientFinished is the client's ChangeCipherSpec and encrypted Finished
// followed by n bytes of application data.
func clientFinished(random [32]byte, n int) []byte {
	return cat(tlsRecord(20, []byte{1}), tlsRecord(22, random[:]), tlsRecord(23, make([]byte, n)))
}

func appData(n int) []byte { return tlsRecord(23, make([]byte, n)) }

// --- HTTP/1.1 (RFC 9112) ---

func httpGet(host, path, agent string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + agent + "\r\nAccept: */*\r\nConnection: close\r\n\r\n")
}

func httpOK(body int) []byte {
	return append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", body)), make([]byte, body)...)
}

// --- RDP (MS-RDPBCGR §2.2.1.1-2, X.224, RFC 1006 TPKT) ---

func tpkt(x []byte) []byte { return cat([]byte{3, 0}, u16(uint16(4+len(x))), x) }

// rdpRequest is the X.224 Connection Request with a mstshash cookie
// (omitted when user is "") and an RDP_NEG_REQ for TLS and CredSSP.
func rdpRequest(user string) []byte {
	var v []byte
	if user != "" {
		v = []byte("Cookie: mstshash=" + user + "\r\n")
	}
	v = cat(v, []byte{1, 0, 8, 0, 3, 0, 0, 0})
	return tpkt(cat([]byte{byte(6 + len(v)), 0xe0, 0, 0, 0, 0, 0}, v))
}

// rdpConfirm is the X.224 Connection Confirm with RDP_NEG_RSP selecting
// CredSSP, or RDP_NEG_FAILURE with code when code is not 0.
func rdpConfirm(code uint32) []byte {
	v := []byte{2, 0x1f, 8, 0, 2, 0, 0, 0}
	if code != 0 {
		v = []byte{3, 0, 8, 0, byte(code), 0, 0, 0}
	}
	return tpkt(cat([]byte{byte(6 + len(v)), 0xd0, 0, 0, 0x12, 0x34, 0}, v))
}

// --- HL7 v2 over MLLP ---

func mllp(segs ...string) []byte {
	return cat([]byte{0x0b}, []byte(strings.Join(segs, "\r")+"\r"), []byte{0x1c, 0x0d})
}

func hl7Message(from, to, typ, id string, at time.Time) []byte {
	ts := at.Format("20060102150405")
	return mllp("MSH|^~\\&|"+from+"|HOSP|"+to+"|HOSP|"+ts+"||"+typ+"|"+id+"|P|2.5.1|||AL|NE||UNICODE UTF-8",
		"PID|1||"+id[len(id)-4:]+"^^^HOSP^MR||PATIENT^TEST",
		"ORC|NW|"+id)
}

func hl7Ack(from, to, id string, at time.Time) []byte {
	ts := at.Format("20060102150405")
	return mllp("MSH|^~\\&|"+from+"|HOSP|"+to+"|HOSP|"+ts+"||ACK|A"+id+"|P|2.5.1", "MSA|AA|"+id)
}

// --- DICOM upper layer (PS3.8 §9.3) ---

func dicomPDU(typ byte, body []byte) []byte {
	return cat([]byte{typ, 0}, be.AppendUint32(nil, uint32(len(body))), body)
}

func dicomItem(typ byte, v []byte) []byte { return cat([]byte{typ, 0}, u16(uint16(len(v))), v) }

func aeTitle(s string) []byte { return []byte(fmt.Sprintf("%-16s", s)) }

const (
	ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
	explicitLE     = "1.2.840.10008.1.2.1"
	implicitLE     = "1.2.840.10008.1.2"
)

func dicomAssociate(rq bool, called, calling string) []byte {
	typ, pctx := byte(1), dicomItem(0x20, cat([]byte{1, 0, 0, 0},
		dicomItem(0x30, []byte(ctImageStorage)), dicomItem(0x40, []byte(explicitLE)), dicomItem(0x40, []byte(implicitLE))))
	if !rq {
		typ, pctx = 2, dicomItem(0x21, cat([]byte{1, 0, 0, 0}, dicomItem(0x40, []byte(explicitLE))))
	}
	user := dicomItem(0x50, cat(dicomItem(0x51, be.AppendUint32(nil, 16384)),
		dicomItem(0x52, []byte("1.2.392.200036.9116.2.6.1.48")), dicomItem(0x55, []byte("MAMORI_SIM"))))
	body := cat(u16(1), u16(0), aeTitle(called), aeTitle(calling), make([]byte, 32),
		dicomItem(0x10, []byte("1.2.840.10008.3.1.1.1")), pctx, user)
	return dicomPDU(typ, body)
}

// dicomCommand is a command set in implicit VR little endian, group
// length first.
func dicomCommand(elems ...[]byte) []byte {
	body := cat(elems...)
	return cat(dicomElem(0x0000, le.AppendUint32(nil, uint32(len(body)))), body)
}

func dicomElem(tag uint16, v []byte) []byte {
	if len(v)%2 == 1 {
		v = append(v, 0)
	}
	return cat(le.AppendUint16(nil, 0), le.AppendUint16(nil, tag), le.AppendUint32(nil, uint32(len(v))), v)
}

func us(v uint16) []byte { return le.AppendUint16(nil, v) }

// pdata is a P-DATA-TF PDU of one PDV on presentation context 1; flags
// 3 is the last fragment of a command, 2 the last of a data set.
func pdata(flags byte, data []byte, extra int) []byte {
	pdv := cat(be.AppendUint32(nil, uint32(2+len(data)+extra)), []byte{1, flags}, data)
	return cat([]byte{4, 0}, be.AppendUint32(nil, uint32(len(pdv)+extra)), pdv)
}

func cStoreRQ(id uint16, instance string) []byte {
	return pdata(3, dicomCommand(dicomElem(0x0002, []byte(ctImageStorage)), dicomElem(0x0100, us(1)), dicomElem(0x0110, us(id)),
		dicomElem(0x0700, us(0)), dicomElem(0x0800, us(0)), dicomElem(0x1000, []byte(instance))), 0)
}

func cStoreRSP(id uint16, instance string) []byte {
	return pdata(3, dicomCommand(dicomElem(0x0002, []byte(ctImageStorage)), dicomElem(0x0100, us(0x8001)), dicomElem(0x0120, us(id)),
		dicomElem(0x0800, us(0x0101)), dicomElem(0x0900, us(0)), dicomElem(0x1000, []byte(instance))), 0)
}

// --- SMB2 (MS-SMB2 §2.2), NTLMSSP (MS-NLMP §2.2.1), DCE/RPC (C706) ---

const (
	smbNegotiate      = 0
	smbSessionSetup   = 1
	smbTreeConnect    = 3
	smbTreeDisconnect = 4
	smbCreate         = 5
	smbClose          = 6
	smbRead           = 8
	smbWrite          = 9
	smbIoctl          = 0x0b
	smbSetInfo        = 0x11

	statusOK            = 0
	statusMoreProc      = 0xc0000016
	statusAccessDenied  = 0xc0000022
	fsctlPipeTransceive = 0x0011c017
)

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = le.AppendUint16(b, u)
	}
	return b
}

func smb2(cmd uint16, resp bool, status uint32, msgID, sid uint64, tid uint32, body []byte) []byte {
	return nbss(smb2PDU(cmd, resp, status, msgID, sid, tid, body))
}

// nbss frames an SMB message in a NetBIOS session message (RFC 1002
// §4.3.6), as direct TCP (MS-SMB2 §2.1) does too.
func nbss(msg []byte) []byte {
	n := len(msg)
	return cat([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, msg)
}

// chain is a compound message (MS-SMB2 §3.2.4.1.4): each PDU but the
// last padded to 8 bytes, NextCommand pointing at the next one, the
// later ones flagged related.
func chain(pdus ...[]byte) []byte {
	var out []byte
	for i, p := range pdus {
		if i > 0 {
			le.PutUint32(p[16:], le.Uint32(p[16:])|4) // SMB2_FLAGS_RELATED_OPERATIONS
		}
		if i < len(pdus)-1 {
			for len(p)%8 != 0 {
				p = append(p, 0)
			}
			le.PutUint32(p[20:], uint32(len(p)))
		}
		out = append(out, p...)
	}
	return nbss(out)
}

// nbName is a NetBIOS name in first-level encoding (RFC 1001 §14.1).
func nbName(name string, suffix byte) []byte {
	b := []byte{32}
	raw := []byte(fmt.Sprintf("%-15s", strings.ToUpper(name)))[:15]
	for _, c := range append(raw, suffix) {
		b = append(b, 'A'+c>>4, 'A'+c&0xf)
	}
	return append(b, 0)
}

// nbSessionRequest is the NetBIOS session request that opens SMB over
// port 139 (RFC 1002 §4.3.2).
func nbSessionRequest(called, calling string) []byte {
	v := cat(nbName(called, 0x20), nbName(calling, 0))
	return cat([]byte{0x81, 0, byte(len(v) >> 8), byte(len(v))}, v)
}

func smb2PDU(cmd uint16, resp bool, status uint32, msgID, sid uint64, tid uint32, body []byte) []byte {
	h := make([]byte, 64, 64+len(body))
	copy(h, "\xfeSMB")
	le.PutUint16(h[4:], 64)
	le.PutUint16(h[6:], 1)
	le.PutUint32(h[8:], status)
	le.PutUint16(h[12:], cmd)
	le.PutUint16(h[14:], 1)
	if resp {
		le.PutUint32(h[16:], 1)
	}
	le.PutUint64(h[24:], msgID)
	le.PutUint32(h[36:], tid)
	le.PutUint64(h[40:], sid)
	return append(h, body...)
}

// fixed returns a body of n bytes starting with StructureSize size.
func fixed(size uint16, n int) []byte {
	b := make([]byte, n)
	le.PutUint16(b, size)
	return b
}

// secBlob is a body whose fixed part (n bytes) has a security buffer
// offset and length (uint16 each) at off.
func secBlob(size uint16, n, off int, blob []byte) []byte {
	b := fixed(size, n)
	le.PutUint16(b[off:], uint16(64+n))
	le.PutUint16(b[off+2:], uint16(len(blob)))
	return append(b, blob...)
}

// negotiateContexts are SMB 3.1.1's preauth integrity (SHA-512) and
// encryption (AES-128-GCM) contexts (MS-SMB2 §2.2.3.1), each 8-aligned.
func negotiateContexts() []byte {
	salt := make([]byte, 32)
	pre := cat(le.AppendUint16(nil, 1), le.AppendUint16(nil, 32), salt, le.AppendUint16(nil, 1))
	enc := cat(le.AppendUint16(nil, 1), le.AppendUint16(nil, 2))
	ctx := func(typ uint16, data []byte) []byte {
		return cat(le.AppendUint16(nil, typ), le.AppendUint16(nil, uint16(len(data))), make([]byte, 4), data)
	}
	out := ctx(1, pre)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return append(out, ctx(2, enc)...)
}

// negotiateReq offers SMB 2.0.2 to 3.0.2, and 3.1.1 with its contexts.
func negotiateReq(v311 bool) []byte {
	b := fixed(36, 36)
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	if v311 {
		dialects = append(dialects, 0x0311)
	}
	le.PutUint16(b[2:], uint16(len(dialects)))
	le.PutUint16(b[4:], 1)
	for _, d := range dialects {
		b = le.AppendUint16(b, d)
	}
	if v311 {
		for (64+len(b))%8 != 0 {
			b = append(b, 0)
		}
		le.PutUint32(b[28:], uint32(64+len(b)))
		le.PutUint16(b[32:], 2)
		b = append(b, negotiateContexts()...)
	}
	return b
}

func negotiateResp(v311 bool) []byte {
	b := fixed(65, 64)
	le.PutUint16(b[2:], 1)
	le.PutUint16(b[4:], 0x0302)
	le.PutUint32(b[28:], 1<<20)
	le.PutUint32(b[32:], 1<<20)
	le.PutUint32(b[36:], 1<<20)
	if v311 {
		le.PutUint16(b[4:], 0x0311)
		le.PutUint16(b[6:], 2)
		le.PutUint32(b[60:], 64+64)
		b = append(b, negotiateContexts()...)
	}
	return b
}

func ntlmMsg(typ uint32, fixedLen, flagsAt int, flags uint32, fields ...struct {
	at   int
	data []byte
}) []byte {
	b := make([]byte, fixedLen)
	copy(b, "NTLMSSP\x00")
	le.PutUint32(b[8:], typ)
	le.PutUint32(b[flagsAt:], flags)
	for _, f := range fields {
		le.PutUint16(b[f.at:], uint16(len(f.data)))
		le.PutUint16(b[f.at+2:], uint16(len(f.data)))
		le.PutUint32(b[f.at+4:], uint32(len(b)))
		b = append(b, f.data...)
	}
	return b
}

type ntlmField = struct {
	at   int
	data []byte
}

func ntlmNegotiate() []byte { return ntlmMsg(1, 32, 12, 0xe2088297) }

func ntlmChallenge(domain, server string) []byte {
	av := func(id uint16, v []byte) []byte {
		return cat(le.AppendUint16(nil, id), le.AppendUint16(nil, uint16(len(v))), v)
	}
	info := cat(av(2, utf16le(domain)), av(1, utf16le(server)), av(0, nil))
	return ntlmMsg(2, 56, 20, 0xe2898215, ntlmField{12, utf16le(domain)}, ntlmField{40, info})
}

func ntlmAuth(domain, user, ws string) []byte {
	return ntlmMsg(3, 88, 60, 0xe2888215,
		ntlmField{12, make([]byte, 24)}, ntlmField{20, make([]byte, 120)},
		ntlmField{28, utf16le(domain)}, ntlmField{36, utf16le(user)}, ntlmField{44, utf16le(ws)},
		ntlmField{52, make([]byte, 16)})
}

// der is a DER element: tag, definite length, value.
func der(tag byte, v []byte) []byte {
	n := len(v)
	switch {
	case n < 0x80:
		return cat([]byte{tag, byte(n)}, v)
	case n < 0x100:
		return cat([]byte{tag, 0x81, byte(n)}, v)
	}
	return cat([]byte{tag, 0x82, byte(n >> 8), byte(n)}, v)
}

var (
	oidSPNEGO = []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}
	oidNTLM   = []byte{0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
)

// spnegoInit wraps the first NTLM token in a GSS-API InitialContextToken
// with an SPNEGO NegTokenInit (RFC 4178 §4.2.1).
func spnegoInit(tok []byte) []byte {
	init := der(0x30, cat(der(0xa0, der(0x30, oidNTLM)), der(0xa2, der(0x04, tok))))
	return der(0x60, cat(oidSPNEGO, der(0xa0, init)))
}

// spnegoResp wraps a later token in an SPNEGO NegTokenResp (§4.2.2);
// state 1 is accept-incomplete, -1 leaves negState out.
func spnegoResp(state int, tok []byte) []byte {
	var v []byte
	if state >= 0 {
		v = cat(der(0xa0, []byte{0x0a, 1, byte(state)}), der(0xa1, oidNTLM))
	}
	if tok != nil {
		v = cat(v, der(0xa2, der(0x04, tok)))
	}
	return der(0xa1, der(0x30, v))
}

func treeConnectReq(path string) []byte {
	p := utf16le(path)
	b := fixed(9, 8)
	le.PutUint16(b[4:], 64+8)
	le.PutUint16(b[6:], uint16(len(p)))
	return append(b, p...)
}

func treeConnectResp(pipe bool) []byte {
	b := fixed(16, 16)
	b[2] = 1
	if pipe {
		b[2] = 2
	}
	le.PutUint32(b[12:], 0x001f01ff)
	return b
}

func createReq(name string, disposition, options, access uint32) []byte {
	n := utf16le(name)
	b := fixed(57, 56)
	le.PutUint32(b[24:], access)
	le.PutUint32(b[32:], 7) // share read, write, delete
	le.PutUint32(b[36:], disposition)
	le.PutUint32(b[40:], options)
	le.PutUint16(b[44:], 64+56)
	le.PutUint16(b[46:], uint16(len(n)))
	return append(b, n...)
}

func createResp(action uint32, fid [16]byte, size uint64) []byte {
	b := fixed(89, 88)
	le.PutUint32(b[4:], action)
	le.PutUint64(b[48:], size)
	le.PutUint32(b[56:], 0x20)
	copy(b[64:], fid[:])
	return b
}

func closeReq(fid [16]byte) []byte {
	b := fixed(24, 24)
	copy(b[8:], fid[:])
	return b
}

func writeReq(fid [16]byte, data []byte) []byte {
	b := fixed(49, 48)
	le.PutUint16(b[2:], 64+48)
	le.PutUint32(b[4:], uint32(len(data)))
	copy(b[16:], fid[:])
	return append(b, data...)
}

func writeResp(n int) []byte {
	b := fixed(17, 16)
	le.PutUint32(b[4:], uint32(n))
	return b
}

func readReq(fid [16]byte, n uint32) []byte {
	b := fixed(49, 48)
	le.PutUint32(b[4:], n)
	copy(b[16:], fid[:])
	return b
}

func readResp(data []byte) []byte {
	b := fixed(17, 16)
	b[2] = 64 + 16
	le.PutUint32(b[4:], uint32(len(data)))
	return append(b, data...)
}

func ioctlReq(fid [16]byte, in []byte) []byte {
	b := fixed(57, 56)
	le.PutUint32(b[4:], fsctlPipeTransceive)
	copy(b[8:], fid[:])
	le.PutUint32(b[24:], 64+56)
	le.PutUint32(b[28:], uint32(len(in)))
	le.PutUint32(b[44:], 4280)
	le.PutUint32(b[48:], 1)
	return append(b, in...)
}

func ioctlResp(fid [16]byte, out []byte) []byte {
	b := fixed(49, 48)
	le.PutUint32(b[4:], fsctlPipeTransceive)
	copy(b[8:], fid[:])
	le.PutUint32(b[24:], 64+48)
	le.PutUint32(b[32:], 64+48)
	le.PutUint32(b[36:], uint32(len(out)))
	return append(b, out...)
}

// renameReq is SET_INFO FileRenameInformation (class 10) to name.
func renameReq(fid [16]byte, name string) []byte {
	n := utf16le(name)
	info := make([]byte, 20)
	le.PutUint32(info[16:], uint32(len(n)))
	info = append(info, n...)
	b := fixed(33, 32)
	b[2], b[3] = 1, 10
	le.PutUint32(b[4:], uint32(len(info)))
	le.PutUint16(b[8:], 64+32)
	copy(b[16:], fid[:])
	return append(b, info...)
}

func rpcPDU(ptype uint8, callID uint32, body []byte) []byte {
	b := []byte{5, 0, ptype, 3, 0x10, 0, 0, 0}
	b = le.AppendUint16(b, uint16(16+len(body)))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, callID)
	return append(b, body...)
}

func uuidLE(s string) []byte {
	var raw []byte
	fmt.Sscanf(strings.ReplaceAll(s, "-", ""), "%x", &raw)
	return []byte{raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6],
		raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]}
}

const (
	svcctlUUID = "367abb81-9844-35f1-ad32-98f038001003"
	ndrUUID    = "8a885d04-1ceb-11c9-9fe8-08002b104860"
)

func rpcBind(callID uint32) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0}
	b = cat(b, uuidLE(svcctlUUID), le.AppendUint16(nil, 2), le.AppendUint16(nil, 0), uuidLE(ndrUUID), le.AppendUint32(nil, 2))
	return rpcPDU(11, callID, b)
}

func rpcBindAck(callID uint32) []byte {
	b := []byte{0xb8, 0x10, 0xb8, 0x10, 0x12, 0x34, 0, 0}
	port := []byte("\\PIPE\\svcctl\x00")
	b = cat(b, le.AppendUint16(nil, uint16(len(port))), port)
	for (16+len(b))%4 != 0 {
		b = append(b, 0)
	}
	b = cat(b, []byte{1, 0, 0, 0, 0, 0, 0, 0}, uuidLE(ndrUUID), le.AppendUint32(nil, 2))
	return rpcPDU(12, callID, b)
}

func rpcRequest(callID uint32, opnum uint16, stub []byte) []byte {
	return rpcPDU(0, callID, cat(le.AppendUint32(nil, uint32(len(stub))), le.AppendUint16(nil, 0), le.AppendUint16(nil, opnum), stub))
}

func rpcResponse(callID uint32, stub []byte) []byte {
	return rpcPDU(2, callID, cat(le.AppendUint32(nil, uint32(len(stub))), []byte{0, 0, 0, 0}, stub))
}

// ndrString is a conformant varying wide string, padded to 4.
func ndrString(s string) []byte {
	u := append(utf16le(s), 0, 0)
	n := uint32(len(u) / 2)
	b := cat(le.AppendUint32(nil, n), le.AppendUint32(nil, 0), le.AppendUint32(nil, n), u)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// createServiceW is RCreateServiceW's request stub (MS-SCMR §3.1.4.12).
func createServiceW(handle []byte, name, path string) []byte {
	b := cat(handle, ndrString(name), le.AppendUint32(nil, 0x20000), ndrString(name))
	b = cat(b, le.AppendUint32(nil, 0xf01ff), le.AppendUint32(nil, 0x10), le.AppendUint32(nil, 3), le.AppendUint32(nil, 0))
	return cat(b, ndrString(path), make([]byte, 28))
}

// openSCManagerW is ROpenSCManagerW's request stub (§3.1.4.15).
func openSCManagerW(machine string) []byte {
	return cat(le.AppendUint32(nil, 0x20000), ndrString(`\\`+machine), le.AppendUint32(nil, 0), le.AppendUint32(nil, 0xf003f))
}
