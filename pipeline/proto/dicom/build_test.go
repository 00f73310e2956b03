package dicom

// Builders of DICOM upper-layer PDUs and DIMSE command sets for tests,
// written from the layouts of PS3.8 §9.3 and PS3.7 §E.

import (
	"encoding/binary"
)

func pdu(typ byte, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], uint32(len(body)))
	return append(b, body...)
}

func item(typ byte, v []byte) []byte {
	b := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(v)))
	return append(b, v...)
}

// ae is a 16-byte AE title field, space padded.
func ae(s string) []byte {
	b := []byte(s)
	for len(b) < 16 {
		b = append(b, ' ')
	}
	return b[:16]
}

// uidv is a UID value padded with a NUL to even length.
func uidv(u string) []byte {
	b := []byte(u)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func associate(typ byte, called, calling string, items ...[]byte) []byte {
	body := []byte{0, 1, 0, 0}
	body = append(body, ae(called)...)
	body = append(body, ae(calling)...)
	body = append(body, make([]byte, 32)...)
	for _, it := range items {
		body = append(body, it...)
	}
	return pdu(typ, body)
}

func appContext() []byte { return item(itemAppContext, uidv("1.2.840.10008.3.1.1.1")) }

func pctxRQ(id byte, abstract string, ts ...string) []byte {
	v := []byte{id, 0, 0, 0}
	v = append(v, item(itemAbstract, uidv(abstract))...)
	for _, t := range ts {
		v = append(v, item(itemTransfer, uidv(t))...)
	}
	return item(itemPresContextRQ, v)
}

func pctxAC(id, result byte, ts string) []byte {
	v := []byte{id, 0, result, 0}
	v = append(v, item(itemTransfer, uidv(ts))...)
	return item(itemPresContextAC, v)
}

func userInfo(subs ...[]byte) []byte {
	var v []byte
	for _, s := range subs {
		v = append(v, s...)
	}
	return item(itemUserInfo, v)
}

func maxLen(n uint32) []byte {
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, n)
	return item(subMaxLength, v)
}

func implClass(u string) []byte   { return item(subImplClass, uidv(u)) }
func implVersion(s string) []byte { return item(subImplVersion, []byte(s)) }

func userIdentity(typ byte, primary, secondary string) []byte {
	v := []byte{typ, 1, 0, 0}
	binary.BigEndian.PutUint16(v[2:], uint16(len(primary)))
	v = append(v, primary...)
	v = append(v, 0, 0)
	binary.BigEndian.PutUint16(v[len(v)-2:], uint16(len(secondary)))
	v = append(v, secondary...)
	return item(subUserIdentityRQ, v)
}

func pdv(ctx, flags byte, data []byte) []byte {
	b := make([]byte, 6, 6+len(data))
	binary.BigEndian.PutUint32(b, uint32(len(data)+2))
	b[4], b[5] = ctx, flags
	return append(b, data...)
}

func pdata(pdvs ...[]byte) []byte {
	var body []byte
	for _, p := range pdvs {
		body = append(body, p...)
	}
	return pdu(pduPData, body)
}

func releaseRQ() []byte { return pdu(pduReleaseRQ, make([]byte, 4)) }
func releaseRP() []byte { return pdu(pduReleaseRP, make([]byte, 4)) }
func abortPDU(source, reason byte) []byte {
	return pdu(pduAbort, []byte{0, 0, source, reason})
}
func rejectPDU(result, source, reason byte) []byte {
	return pdu(pduAssociateRJ, []byte{0, result, source, reason})
}

// elem is one command set element (group 0000).
type elem struct {
	tag uint16
	v   []byte
}

func us(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

// cmdSet encodes elements in Implicit VR Little Endian, group length first.
func cmdSet(elems ...elem) []byte {
	var body []byte
	for _, e := range elems {
		h := make([]byte, 8)
		binary.LittleEndian.PutUint16(h[2:], e.tag)
		binary.LittleEndian.PutUint32(h[4:], uint32(len(e.v)))
		body = append(body, h...)
		body = append(body, e.v...)
	}
	gl := make([]byte, 12)
	binary.LittleEndian.PutUint32(gl[4:], 4)
	binary.LittleEndian.PutUint32(gl[8:], uint32(len(body)))
	return append(gl, body...)
}

const (
	noDataSet  = 0x0101
	hasDataSet = 0x0000
)

func request(field, id uint16, sop string, ds uint16, extra ...elem) []byte {
	es := []elem{{0x0002, uidv(sop)}, {0x0100, us(field)}, {0x0110, us(id)}, {0x0800, us(ds)}}
	return cmdSet(append(es, extra...)...)
}

func response(field, id uint16, sop string, status uint16, ds uint16, extra ...elem) []byte {
	es := []elem{{0x0002, uidv(sop)}, {0x0100, us(field | cmdResponse)}, {0x0120, us(id)}, {0x0800, us(ds)}, {0x0900, us(status)}}
	return cmdSet(append(es, extra...)...)
}

const (
	uidVerification = "1.2.840.10008.1.1"
	uidCTStorage    = "1.2.840.10008.5.1.4.1.1.2"
	uidStudyFind    = "1.2.840.10008.5.1.4.1.2.2.1"
	uidStudyMove    = "1.2.840.10008.5.1.4.1.2.2.2"
	tsImplicit      = "1.2.840.10008.1.2"
	tsExplicit      = "1.2.840.10008.1.2.1"
)
