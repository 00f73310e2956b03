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

// pcapReader reads classic pcap. Records are returned straight from the
// bufio.Reader's buffer (Peek, then Discard), so a packet costs no copy and
// no allocation; a record longer than the buffer is read into a scratch
// slice instead. It checks what a damaged file can get wrong:
//
//   - the header's version, and a snap length a corrupt header can set near
//     4 GiB: capture lengths above maxCaptureLength are refused, so a bad
//     record never makes the reader swallow the rest of the file;
//   - a capture length larger than the original length;
//   - a file cut inside a record, which is reported as truncation, while a
//     file that ends between records ends cleanly.
type pcapReader struct {
	br      *bufio.Reader
	order   binary.ByteOrder
	nanos   bool
	snaplen uint32
	iface   int // global interface index of the file's only interface
	scratch []byte
}

// newPcapReader reads the 24-byte pcap file header from br, whose first four
// bytes are a pcap magic number.
func newPcapReader(br *bufio.Reader, register func(layers.LinkType) (int, error)) (*pcapReader, error) {
	hdr, err := br.Peek(24)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("truncated pcap file header: %w", err)
	}
	p := &pcapReader{br: br, order: binary.LittleEndian}
	if hdr[0] == 0xa1 {
		p.order = binary.BigEndian
	}
	switch binary.BigEndian.Uint32(hdr) {
	case magicPcapNanoLE, magicPcapNanoBE:
		p.nanos = true
	}
	if major, minor := p.order.Uint16(hdr[4:6]), p.order.Uint16(hdr[6:8]); major != 2 || minor != 4 {
		return nil, fmt.Errorf("unsupported pcap version %d.%d", major, minor)
	}
	p.snaplen = p.order.Uint32(hdr[16:20])
	if p.snaplen == 0 || p.snaplen > maxCaptureLength {
		p.snaplen = maxCaptureLength
	}
	// The link type is the low 16 bits; the upper bits hold the FCS length
	// and flags (pcap-savefile(5)).
	lt := layers.LinkType(p.order.Uint32(hdr[20:24]) & 0xffff)
	if _, err := br.Discard(24); err != nil {
		return nil, fmt.Errorf("reading pcap file header: %w", err)
	}
	if p.iface, err = register(lt); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pcapReader) next() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	hdr, err := p.br.Peek(16)
	switch {
	case err == io.EOF && len(hdr) == 0:
		return nil, ci, io.EOF
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, ci, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
	case err != nil:
		return nil, ci, fmt.Errorf("reading packet record: %w", err)
	}
	sec := int64(p.order.Uint32(hdr[0:4]))
	frac := int64(p.order.Uint32(hdr[4:8]))
	caplen := p.order.Uint32(hdr[8:12])
	wire := p.order.Uint32(hdr[12:16])
	if !p.nanos {
		frac *= 1000
	}
	ci.Timestamp = time.Unix(sec, frac).UTC()
	ci.CaptureLength, ci.Length, ci.InterfaceIndex = int(caplen), int(wire), p.iface
	if caplen > maxCaptureLength {
		// A few writers exceed their own snap length; nothing sane exceeds
		// maxCaptureLength.
		return nil, ci, fmt.Errorf("bad packet record: capture length exceeds snap length: %d > %d", caplen, max(p.snaplen, maxCaptureLength))
	}
	if caplen > wire && wire != 0 {
		return nil, ci, fmt.Errorf("bad packet record: capture length %d exceeds the original length %d", caplen, wire)
	}
	if wire == 0 {
		ci.Length = int(caplen)
	}
	n := 16 + int(caplen)
	if n <= p.br.Size() {
		rec, err := p.br.Peek(n)
		if err != nil {
			return nil, ci, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
		}
		p.br.Discard(n) // cannot fail: the bytes are buffered
		return rec[16:n:n], ci, nil
	}
	p.br.Discard(16)
	if cap(p.scratch) < int(caplen) {
		p.scratch = make([]byte, caplen)
	}
	data := p.scratch[:caplen]
	if _, err := io.ReadFull(p.br, data); err != nil {
		return nil, ci, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
	}
	return data, ci, nil
}
