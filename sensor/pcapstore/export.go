package pcapstore

import (
	"encoding/binary"
	"io"
)

// packetWriter writes a query result. rec is a stored record: the 16-byte
// pcap record header (nanosecond time) followed by the data.
type packetWriter interface {
	write(rec []byte, link uint32) error
	headerLen() int64
	recordLen(capLen int) int
	finish() error
}

// pcapWriter writes classic pcap with nanosecond timestamps: the stored
// records are copied as they are.
type pcapWriter struct {
	w   io.Writer
	err error
}

func newPcapWriter(w io.Writer, link uint32) *pcapWriter {
	p := &pcapWriter{w: w}
	_, p.err = w.Write(appendFileHeader(nil, link))
	return p
}

func (p *pcapWriter) headerLen() int64         { return fileHeaderLen }
func (p *pcapWriter) recordLen(capLen int) int { return recHeaderLen + capLen }
func (p *pcapWriter) finish() error            { return p.err }

func (p *pcapWriter) write(rec []byte, _ uint32) error {
	if p.err != nil {
		return p.err
	}
	_, p.err = p.w.Write(rec)
	return p.err
}

// pcapngWriter writes pcapng (one section, one interface per link type,
// if_tsresol 9: nanoseconds) for results that span several link types.
type pcapngWriter struct {
	w    io.Writer
	ifs  map[uint32]uint32
	buf  []byte
	err  error
	hlen int64
}

const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 0x00000001
	ngEPB = 0x00000006
)

func newPcapngWriter(w io.Writer) *pcapngWriter {
	p := &pcapngWriter{w: w, ifs: map[uint32]uint32{}}
	le := binary.LittleEndian
	b := le.AppendUint32(nil, ngSHB)
	b = le.AppendUint32(b, 28)
	b = le.AppendUint32(b, 0x1a2b3c4d)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, 0xffffffffffffffff) // section length unknown
	b = le.AppendUint32(b, 28)
	p.hlen = int64(len(b))
	_, p.err = w.Write(b)
	return p
}

func (p *pcapngWriter) headerLen() int64 { return p.hlen }

func (p *pcapngWriter) recordLen(capLen int) int { return 32 + (capLen+3)&^3 }

func (p *pcapngWriter) finish() error { return p.err }

func (p *pcapngWriter) write(rec []byte, link uint32) error {
	if p.err != nil {
		return p.err
	}
	le := binary.LittleEndian
	id, ok := p.ifs[link]
	if !ok {
		id = uint32(len(p.ifs))
		p.ifs[link] = id
		b := le.AppendUint32(p.buf[:0], ngIDB)
		b = le.AppendUint32(b, 32)
		b = le.AppendUint16(b, uint16(link))
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, SnapLen)
		b = le.AppendUint16(b, 9) // if_tsresol
		b = le.AppendUint16(b, 1)
		b = append(b, 9, 0, 0, 0)
		b = le.AppendUint32(b, 0) // opt_endofopt
		b = le.AppendUint32(b, 32)
		if _, p.err = p.w.Write(b); p.err != nil {
			return p.err
		}
	}
	h, _ := parseRecHeader(rec)
	data := rec[recHeaderLen:]
	total := uint32(32 + (len(data)+3)&^3)
	b := le.AppendUint32(p.buf[:0], ngEPB)
	b = le.AppendUint32(b, total)
	b = le.AppendUint32(b, id)
	b = le.AppendUint32(b, uint32(uint64(h.ts)>>32))
	b = le.AppendUint32(b, uint32(uint64(h.ts)))
	b = le.AppendUint32(b, h.capLen)
	b = le.AppendUint32(b, h.orig)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = le.AppendUint32(b, total)
	p.buf = b
	_, p.err = p.w.Write(b)
	return p.err
}
