package sensor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapReader reads classic pcap with pcapgo.Reader, whose zero-copy path
// allocates nothing per packet. It guards against three things pcapgo gets
// wrong on damaged files:
//
//   - pcapgo rejects bad headers with capitalised messages ("Unknown magic"),
//     so the header is checked here first and pcapgo never sees a bad one.
//   - pcapgo accepts any capture length up to the header's snap length, which
//     a corrupt header can set near 4 GiB; it then reads the rest of the file
//     into memory looking for the record. The snap length is clamped to
//     maxCaptureLength, which is also pcapgo's floor, so longer records fail.
//   - A file cut right after a record header makes pcapgo return io.EOF, as
//     at a clean end, and the damage would pass silently. io.EOF with a
//     record header read (CaptureLength > 0) is reported as truncation.
type pcapReader struct {
	r     *pcapgo.Reader
	iface int // global interface index of the file's only interface
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
	var order binary.ByteOrder = binary.LittleEndian
	if hdr[0] == 0xa1 {
		order = binary.BigEndian
	}
	if major, minor := order.Uint16(hdr[4:6]), order.Uint16(hdr[6:8]); major != 2 || minor != 4 {
		return nil, fmt.Errorf("unsupported pcap version %d.%d", major, minor)
	}
	// pcapgo wraps br in a bufio.Reader of 4 KiB, which returns br itself.
	r, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("reading pcap file header: %w", err)
	}
	if r.Snaplen() > maxCaptureLength {
		r.SetSnaplen(maxCaptureLength)
	}
	iface, err := register(r.LinkType())
	if err != nil {
		return nil, err
	}
	return &pcapReader{r: r, iface: iface}, nil
}

func (p *pcapReader) next() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := p.r.ZeroCopyReadPacketData()
	switch {
	case err == nil:
		ci.InterfaceIndex = p.iface
		return data, ci, nil
	case err == io.EOF && ci.CaptureLength == 0:
		return nil, ci, io.EOF
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, ci, fmt.Errorf("truncated packet record: %w", io.ErrUnexpectedEOF)
	case ci.CaptureLength > maxCaptureLength || ci.CaptureLength > ci.Length:
		// pcapgo's own check: "capture length exceeds snap length: …"
		return nil, ci, fmt.Errorf("bad packet record: %w", err)
	default:
		return nil, ci, fmt.Errorf("reading packet record: %w", err)
	}
}
