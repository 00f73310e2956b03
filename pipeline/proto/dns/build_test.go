package dns

import (
	"encoding/binary"
	"strings"
)

// msgBuilder lays out DNS messages as RFC 1035 §4.1 describes them, for
// crafted test input.
type msgBuilder struct {
	b []byte
}

func newMsg(id, flags uint16, qd, an, ns, ar int) *msgBuilder {
	m := &msgBuilder{b: make([]byte, 12)}
	binary.BigEndian.PutUint16(m.b[0:], id)
	binary.BigEndian.PutUint16(m.b[2:], flags)
	binary.BigEndian.PutUint16(m.b[4:], uint16(qd))
	binary.BigEndian.PutUint16(m.b[6:], uint16(an))
	binary.BigEndian.PutUint16(m.b[8:], uint16(ns))
	binary.BigEndian.PutUint16(m.b[10:], uint16(ar))
	return m
}

// name appends an uncompressed name ("" or "." is the root).
func (m *msgBuilder) name(n string) *msgBuilder {
	if n != "" && n != "." {
		for _, l := range strings.Split(n, ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

// ptr appends a compression pointer to off.
func (m *msgBuilder) ptr(off int) *msgBuilder {
	m.b = append(m.b, 0xC0|byte(off>>8), byte(off))
	return m
}

func (m *msgBuilder) u16(v uint16) *msgBuilder {
	m.b = binary.BigEndian.AppendUint16(m.b, v)
	return m
}

func (m *msgBuilder) u32(v uint32) *msgBuilder {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

func (m *msgBuilder) raw(b ...byte) *msgBuilder {
	m.b = append(m.b, b...)
	return m
}

func (m *msgBuilder) question(n string, typ, class uint16) *msgBuilder {
	return m.name(n).u16(typ).u16(class)
}

// rr appends a record's type, class, TTL and data after its owner name
// (written by the caller).
func (m *msgBuilder) rr(typ, class uint16, ttl uint32, data []byte) *msgBuilder {
	m.u16(typ).u16(class).u32(ttl).u16(uint16(len(data)))
	m.b = append(m.b, data...)
	return m
}

func (m *msgBuilder) bytes() []byte { return m.b }

// wireName encodes a name uncompressed.
func wireName(n string) []byte { return (&msgBuilder{}).name(n).b }

// tcpFrame prefixes messages with their RFC 7766 length.
func tcpFrame(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

const (
	fQuery    = 0x0100 // RD
	fResponse = 0x8180 // QR RD RA
	tA        = 1
	tNS       = 2
	tCNAME    = 5
	tSOA      = 6
	tPTR      = 12
	tMX       = 15
	tTXT      = 16
	tAAAA     = 28
	tSRV      = 33
	tOPT      = 41
	cIN       = 1
)

// query builds a standard query for name/typ.
func query(id uint16, name string, typ uint16) []byte {
	return newMsg(id, fQuery, 1, 0, 0, 0).question(name, typ, cIN).bytes()
}

// answerA builds a response to query(id, name, A) with one A record per
// address, owner names compressed to the question (offset 12).
func answerA(id uint16, name string, rcode uint16, ips ...[4]byte) []byte {
	m := newMsg(id, fResponse|rcode, 1, len(ips), 0, 0).question(name, tA, cIN)
	for _, ip := range ips {
		m.ptr(12).rr(tA, cIN, 300, ip[:])
	}
	return m.bytes()
}
