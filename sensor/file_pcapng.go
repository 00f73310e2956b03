package sensor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ngReader reads pcapng. It replaces pcapgo.NgReader, which
//
//   - allocates on every Enhanced Packet Block that carries options, even in
//     ZeroCopyReadPacketData: it parses them into NgPacketOptions, and
//     epb_flags (written by dumpcap for the packet direction) becomes a
//     heap-allocated *NgEpbFlags, one allocation per packet;
//   - numbers interfaces per section without telling the caller where a new
//     section starts, so its indices cannot be made global;
//   - checks neither that a packet fits in its block nor the trailing block
//     length, and a block length under 12 wraps around, so a corrupt block
//     is misread instead of reported;
//   - gives a Simple Packet Block the zero time, which would jump a merged
//     stream back to 1970;
//   - returns capitalised error messages.
//
// It reads Section Header, Interface Description, Enhanced, Simple and
// (obsolete) Packet Blocks and skips every other block. Options are parsed
// only in Interface Description Blocks (if_tsresol, if_tsoffset).
type ngReader struct {
	br        *bufio.Reader
	register  func(layers.LinkType) (int, error)
	bigEndian bool
	ifaces    []ngInterface // interfaces of the current section
	hdr       [20]byte
	buf       []byte // packet data, reused
	meta      []byte // interface description bodies, reused
	lastTS    time.Time
}

// ngInterface is one interface of the current section.
type ngInterface struct {
	global  int // global interface index
	snaplen uint32
	units   uint64 // timestamp ticks per second
	mul     uint64 // nanoseconds per tick, when units divides 1e9
	div     uint64 // ticks per nanosecond, when 1e9 divides units
	offset  int64  // if_tsoffset, seconds
}

const (
	ngBlockSHB = 0x0a0d0d0a
	ngBlockIDB = 0x00000001
	ngBlockPB  = 0x00000002 // obsolete Packet Block
	ngBlockSPB = 0x00000003
	ngBlockEPB = 0x00000006

	ngByteOrderMagic = 0x1a2b3c4d

	ngOptEnd      = 0
	ngOptTsresol  = 9
	ngOptTsoffset = 14

	// maxNgMetaBlock bounds the Interface Description Blocks read into
	// memory.
	maxNgMetaBlock = 1 << 20
)

var errCorruptBlock = errors.New("corrupt block")

// newNgReader reads the first Section Header Block from br, whose first four
// bytes are the pcapng magic number.
func newNgReader(br *bufio.Reader, register func(layers.LinkType) (int, error)) (*ngReader, error) {
	r := &ngReader{br: br, register: register}
	_, length, err := r.blockHeader()
	if err == nil {
		err = r.sectionHeader(length)
	}
	if err != nil {
		if err == io.EOF {
			err = truncated()
		}
		return nil, fmt.Errorf("reading section header: %w", err)
	}
	return r, nil
}

func (r *ngReader) next() ([]byte, gopacket.CaptureInfo, error) {
	for {
		typ, length, err := r.blockHeader()
		if err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
		switch typ {
		case ngBlockEPB, ngBlockPB:
			return r.packet(typ, length)
		case ngBlockSPB:
			return r.simplePacket(length)
		case ngBlockSHB:
			err = r.sectionHeader(length)
		case ngBlockIDB:
			err = r.interfaceDescription(length)
		default:
			err = r.skip(int(length) - 12)
			if err == nil {
				err = r.trailer(length)
			}
		}
		if err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
	}
}

// blockHeader reads a block's type and total length (and, for a Section
// Header Block, its byte-order magic, which sets the byte order). It
// returns io.EOF only at a clean end, between blocks.
func (r *ngReader) blockHeader() (typ, length uint32, err error) {
	if _, err := io.ReadFull(r.br, r.hdr[:8]); err != nil {
		if err == io.EOF {
			return 0, 0, io.EOF
		}
		return 0, 0, readError(err)
	}
	typ = r.u32(r.hdr[0:4]) // the section header type reads the same either way
	minLength := uint32(12)
	switch typ {
	case ngBlockSHB:
		if err := r.read(r.hdr[8:12]); err != nil {
			return 0, 0, err
		}
		switch m := binary.BigEndian.Uint32(r.hdr[8:12]); m {
		case ngByteOrderMagic:
			r.bigEndian = true
		case 0x4d3c2b1a:
			r.bigEndian = false
		default:
			return 0, 0, fmt.Errorf("%w: byte-order magic 0x%08x", errCorruptBlock, m)
		}
		minLength = 28
	case ngBlockIDB:
		minLength = 20
	case ngBlockSPB:
		minLength = 16
	case ngBlockEPB, ngBlockPB:
		minLength = 32
	}
	length = r.u32(r.hdr[4:8])
	if length%4 != 0 || length < minLength {
		return 0, 0, fmt.Errorf("%w: block type 0x%08x has length %d", errCorruptBlock, typ, length)
	}
	return typ, length, nil
}

// sectionHeader reads the rest of a Section Header Block (after its
// byte-order magic) and starts a new section.
func (r *ngReader) sectionHeader(length uint32) error {
	if err := r.read(r.hdr[:12]); err != nil {
		return err
	}
	major, minor := r.u16(r.hdr[0:2]), r.u16(r.hdr[2:4])
	if major != 1 || (minor != 0 && minor != 2) {
		return fmt.Errorf("unsupported pcapng version %d.%d", major, minor)
	}
	if err := r.skip(int(length) - 28); err != nil {
		return err
	}
	if err := r.trailer(length); err != nil {
		return err
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// interfaceDescription reads an Interface Description Block and declares its
// interface.
func (r *ngReader) interfaceDescription(length uint32) error {
	n := int(length) - 12
	if n > maxNgMetaBlock {
		return fmt.Errorf("%w: interface description of %d bytes", errCorruptBlock, n)
	}
	if cap(r.meta) < n {
		r.meta = make([]byte, n)
	}
	b := r.meta[:n]
	if err := r.read(b); err != nil {
		return err
	}
	if err := r.trailer(length); err != nil {
		return err
	}

	linkType := layers.LinkType(r.u16(b[0:2]))
	in := ngInterface{snaplen: r.u32(b[4:8]), units: 1e6, mul: 1e3}
	opts := b[8:]
	for len(opts) >= 4 {
		code, n := r.u16(opts[0:2]), int(r.u16(opts[2:4]))
		opts = opts[4:]
		if code == ngOptEnd {
			break
		}
		if n > len(opts) {
			return fmt.Errorf("%w: interface option %d overruns its block", errCorruptBlock, code)
		}
		switch v := opts[:n]; {
		case code == ngOptTsresol && n >= 1:
			if err := in.setResolution(v[0]); err != nil {
				return err
			}
		case code == ngOptTsoffset && n >= 8:
			in.offset = int64(r.u64(v))
		}
		opts = opts[min(len(opts), (n+3)&^3):]
	}

	global, err := r.register(linkType)
	if err != nil {
		return err
	}
	in.global = global
	r.ifaces = append(r.ifaces, in)
	return nil
}

// setResolution applies an if_tsresol value.
func (in *ngInterface) setResolution(v byte) error {
	var units uint64 = 1
	if v&0x80 != 0 {
		e := v & 0x7f
		if e > 63 {
			return fmt.Errorf("%w: timestamp resolution 2^-%d", errCorruptBlock, e)
		}
		units <<= e
	} else {
		if v > 19 {
			return fmt.Errorf("%w: timestamp resolution 10^-%d", errCorruptBlock, v)
		}
		for range v {
			units *= 10
		}
	}
	in.units, in.mul, in.div = units, 0, 0
	switch {
	case 1e9%units == 0:
		in.mul = 1e9 / units
	case units%1e9 == 0:
		in.div = units / 1e9
	}
	return nil
}

// time converts a timestamp in ticks to a time.
func (in *ngInterface) time(ticks uint64) time.Time {
	sec, frac := ticks/in.units, ticks%in.units
	var ns uint64
	switch {
	case in.mul != 0:
		ns = frac * in.mul
	case in.div != 0:
		ns = frac / in.div
	default:
		// frac < units, so the quotient is below 1e9 and Div64 cannot
		// overflow.
		hi, lo := bits.Mul64(frac, 1e9)
		ns, _ = bits.Div64(hi, lo, in.units)
	}
	return time.Unix(int64(sec)+in.offset, int64(ns)).UTC()
}

// packet reads an Enhanced Packet Block or an obsolete Packet Block, whose
// fixed fields have the same layout apart from the interface ID's width.
func (r *ngReader) packet(typ, length uint32) ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if err := r.read(r.hdr[:20]); err != nil {
		return nil, ci, err
	}
	id := r.u32(r.hdr[0:4])
	if typ == ngBlockPB {
		id = uint32(r.u16(r.hdr[0:2]))
	}
	ticks := uint64(r.u32(r.hdr[4:8]))<<32 | uint64(r.u32(r.hdr[8:12]))
	capLen, origLen := r.u32(r.hdr[12:16]), r.u32(r.hdr[16:20])
	room := length - 32 // packet data, padding and options
	if err := checkCapLen(capLen, room); err != nil {
		return nil, ci, err
	}
	if id >= uint32(len(r.ifaces)) {
		return nil, ci, fmt.Errorf("%w: packet on undeclared interface %d", errCorruptBlock, id)
	}
	in := &r.ifaces[id]
	data, err := r.data(capLen, room, length)
	if err != nil {
		return nil, ci, err
	}
	ci.Timestamp = in.time(ticks)
	ci.CaptureLength = int(capLen)
	ci.Length = int(origLen)
	ci.InterfaceIndex = in.global
	r.lastTS = ci.Timestamp
	return data, ci, nil
}

// simplePacket reads a Simple Packet Block. It belongs to the section's
// first interface and has no timestamp: it takes the previous packet's.
func (r *ngReader) simplePacket(length uint32) ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if err := r.read(r.hdr[:4]); err != nil {
		return nil, ci, err
	}
	if len(r.ifaces) == 0 {
		return nil, ci, fmt.Errorf("%w: simple packet before any interface description", errCorruptBlock)
	}
	in := &r.ifaces[0]
	origLen := r.u32(r.hdr[0:4])
	capLen := origLen
	if in.snaplen != 0 && capLen > in.snaplen {
		capLen = in.snaplen
	}
	room := length - 16
	if err := checkCapLen(capLen, room); err != nil {
		return nil, ci, err
	}
	data, err := r.data(capLen, room, length)
	if err != nil {
		return nil, ci, err
	}
	ci.Timestamp = r.lastTS
	ci.CaptureLength = int(capLen)
	ci.Length = int(origLen)
	ci.InterfaceIndex = in.global
	return data, ci, nil
}

func checkCapLen(capLen, room uint32) error {
	if capLen > maxCaptureLength {
		return fmt.Errorf("%w: capture length %d exceeds maximum %d", errCorruptBlock, capLen, maxCaptureLength)
	}
	if capLen > room {
		return fmt.Errorf("%w: capture length %d overruns block with room for %d", errCorruptBlock, capLen, room)
	}
	return nil
}

// data reads capLen bytes of packet data into the reused buffer, then the
// rest of the room (padding, options) and the block trailer.
func (r *ngReader) data(capLen, room, length uint32) ([]byte, error) {
	n := int(capLen)
	if cap(r.buf) < n {
		r.buf = make([]byte, max(n, min(2*cap(r.buf), maxCaptureLength), 2048))
	}
	data := r.buf[:n]
	if err := r.read(data); err != nil {
		return nil, err
	}
	if err := r.skip(int(room - capLen)); err != nil {
		return nil, err
	}
	if err := r.trailer(length); err != nil {
		return nil, err
	}
	return data, nil
}

// trailer reads the trailing copy of the block length and checks it.
func (r *ngReader) trailer(length uint32) error {
	if err := r.read(r.hdr[:4]); err != nil {
		return err
	}
	if t := r.u32(r.hdr[:4]); t != length {
		return fmt.Errorf("%w: trailing length %d does not match length %d", errCorruptBlock, t, length)
	}
	return nil
}

// read fills p from inside a block, where any end of file is truncation.
func (r *ngReader) read(p []byte) error {
	if _, err := io.ReadFull(r.br, p); err != nil {
		return readError(err)
	}
	return nil
}

func (r *ngReader) skip(n int) error {
	if n <= 0 {
		return nil
	}
	if _, err := r.br.Discard(n); err != nil {
		return readError(err)
	}
	return nil
}

func readError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return truncated()
	}
	return fmt.Errorf("reading block: %w", err)
}

func truncated() error {
	return fmt.Errorf("truncated block: %w", io.ErrUnexpectedEOF)
}

func (r *ngReader) u16(b []byte) uint16 {
	if r.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *ngReader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *ngReader) u64(b []byte) uint64 {
	if r.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
