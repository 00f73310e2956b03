package sensor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// pcapReader reads classic pcap. It keeps its own read buffer and returns
// records straight from it, so a packet costs no copy and no allocation;
// the buffer is refilled with reads of nearly its whole size, after moving
// the unread tail (at most one partial record) to its front, and grows
// when a record is longer than it. It checks what a damaged file can get
// wrong:
//
//   - the header's version, and a snap length a corrupt header can set near
//     4 GiB: capture lengths above maxCaptureLength are refused, so a bad
//     record never makes the reader swallow the rest of the file;
//   - a capture length larger than the original length;
//   - a file cut inside a record, which is reported as truncation, while a
//     file that ends between records ends cleanly.
type pcapReader struct {
	src       io.Reader // the file (or decompressed stream) after the bytes in buf
	buf       []byte
	r, w      int   // buf[r:w] is read and not yet returned
	err       error // src's error, once it has returned one
	bigEndian bool
	nanos     bool
	snaplen   uint32
	iface     int // global interface index of the file's only interface
}

// newPcapReader reads the 24-byte pcap file header from br, whose first four
// bytes are a pcap magic number. br reads src; the reader takes over the
// bytes br has buffered and then reads src itself, with a buffer of bufSize
// bytes, so br must not be used afterwards.
func newPcapReader(br *bufio.Reader, src io.Reader, bufSize int, register func(layers.LinkType) (int, error)) (*pcapReader, error) {
	hdr, err := br.Peek(24)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("truncated pcap file header: %w", err)
	}
	p := &pcapReader{src: src, bigEndian: hdr[0] == 0xa1}
	switch binary.BigEndian.Uint32(hdr) {
	case magicPcapNanoLE, magicPcapNanoBE:
		p.nanos = true
	}
	if major, minor := p.u16(hdr[4:6]), p.u16(hdr[6:8]); major != 2 || minor != 4 {
		return nil, fmt.Errorf("unsupported pcap version %d.%d", major, minor)
	}
	p.snaplen = p.u32(hdr[16:20])
	if p.snaplen == 0 || p.snaplen > maxCaptureLength {
		p.snaplen = maxCaptureLength
	}
	// The link type is the low 16 bits; the upper bits hold the FCS length
	// and flags (pcap-savefile(5)).
	lt := layers.LinkType(p.u32(hdr[20:24]) & 0xffff)
	if _, err := br.Discard(24); err != nil {
		return nil, fmt.Errorf("reading pcap file header: %w", err)
	}
	if p.iface, err = register(lt); err != nil {
		return nil, err
	}
	// Take over what br has read ahead; reads go to src from now on.
	buffered, _ := br.Peek(br.Buffered())
	p.buf = make([]byte, max(bufSize, len(buffered), 4096))
	p.w = copy(p.buf, buffered)
	return p, nil
}

func (p *pcapReader) u16(b []byte) uint16 {
	if p.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (p *pcapReader) u32(b []byte) uint32 {
	if p.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// fill reads until buf[r:w] holds at least n bytes, or src fails; it
// returns src's error then (io.EOF at its end).
func (p *pcapReader) fill(n int) error {
	if p.r > 0 {
		p.w = copy(p.buf, p.buf[p.r:p.w])
		p.r = 0
	}
	if n > len(p.buf) {
		buf := make([]byte, max(n, 2*len(p.buf)))
		copy(buf, p.buf[:p.w])
		p.buf = buf
	}
	for empty := 0; p.w < n; {
		if p.err != nil {
			return p.err
		}
		m, err := p.src.Read(p.buf[p.w:])
		p.w += m
		switch {
		case err != nil:
			p.err = err
		case m > 0:
			empty = 0
		default:
			if empty++; empty >= 100 {
				p.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

func (p *pcapReader) next() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	data, err := p.nextInto(&ci)
	return data, ci, err
}

// nextInto is next, writing the capture info into *ci: FileSource calls it
// directly, saving the copies of CaptureInfo on the way.
func (p *pcapReader) nextInto(ci *gopacket.CaptureInfo) ([]byte, error) {
	if p.w-p.r < 16 {
		if err := p.fill(16); err != nil {
			switch avail := p.w - p.r; {
			case err == io.EOF && avail == 0:
				return nil, io.EOF
			case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
				return nil, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
			default:
				return nil, fmt.Errorf("reading packet record: %w", err)
			}
		}
	}
	hdr := p.buf[p.r : p.r+16]
	sec, frac := int64(p.u32(hdr[0:4])), int64(p.u32(hdr[4:8]))
	caplen, wire := p.u32(hdr[8:12]), p.u32(hdr[12:16])
	if !p.nanos {
		frac *= 1000
	}
	ci.Timestamp = time.Unix(sec, frac).UTC()
	ci.CaptureLength, ci.Length, ci.InterfaceIndex = int(caplen), int(wire), p.iface
	if caplen > maxCaptureLength {
		// A few writers exceed their own snap length; nothing sane exceeds
		// maxCaptureLength.
		return nil, fmt.Errorf("bad packet record: capture length exceeds snap length: %d > %d", caplen, max(p.snaplen, maxCaptureLength))
	}
	if caplen > wire && wire != 0 {
		return nil, fmt.Errorf("bad packet record: capture length %d exceeds the original length %d", caplen, wire)
	}
	if wire == 0 {
		ci.Length = int(caplen)
	}
	n := 16 + int(caplen)
	if p.w-p.r < n {
		if err := p.fill(n); err != nil {
			return nil, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
		}
	}
	start := p.r + 16
	p.r += n
	return p.buf[start:p.r:p.r], nil
}
