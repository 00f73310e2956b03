package scenario

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"time"
)

var be = binary.BigEndian

// packet is one captured frame: its time, the captured bytes and the
// length it had on the wire (longer for bulk data captured headers only).
type packet struct {
	ts   int64
	data []byte
	wire int
	seq  uint64 // generation order, to keep equal timestamps stable
}

// capture collects the packets of one pcap file.
type capture struct {
	pkts  []packet
	next  uint64
	bytes int
}

func (c *capture) add(t time.Time, data []byte, wire int) {
	c.pkts = append(c.pkts, packet{ts: t.UnixNano(), data: data, wire: wire, seq: c.next})
	c.next++
	c.bytes += len(data) + 16
}

// write sorts the packets by time and writes them as a classic pcap file
// (microsecond resolution, Ethernet link type).
func (c *capture) write(path string) error {
	slices.SortFunc(c.pkts, func(a, b packet) int {
		if a.ts != b.ts {
			return cmp.Compare(a.ts, b.ts)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [24]byte
	le := binary.LittleEndian
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	w.Write(hdr[:])
	for _, p := range c.pkts {
		var rh [16]byte
		le.PutUint32(rh[0:], uint32(p.ts/1e9))
		le.PutUint32(rh[4:], uint32(p.ts%1e9/1e3))
		le.PutUint32(rh[8:], uint32(len(p.data)))
		le.PutUint32(rh[12:], uint32(p.wire))
		w.Write(rh[:])
		w.Write(p.data)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write capture %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write capture %s: %w", path, err)
	}
	return nil
}

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// mac derives a locally administered MAC address from an IPv4 address;
// external addresses sit behind the router's MAC.
func mac(a netip.Addr, internal bool) [6]byte {
	if !internal {
		return [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	}
	b := a.As4()
	return [6]byte{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// frame builds Ethernet + IPv4 + (TCP or UDP) around payload. When
// truncate is set only the headers are captured and the payload is
// counted on the wire alone (a snap-length cut, used for bulk data).
func frame(src, dst netip.AddrPort, srcIn, dstIn bool, proto uint8, tcpSeq, tcpAck uint32, flags uint8, win uint16,
	payload []byte, bulk int, ipID uint16) (data []byte, wire int) {
	l4 := 8
	if proto == 6 {
		l4 = 20
	}
	plen := len(payload) + bulk
	ipLen := 20 + l4 + plen
	b := make([]byte, 14+20+l4, 14+20+l4+len(payload))
	dm, sm := mac(dst.Addr(), dstIn), mac(src.Addr(), srcIn)
	copy(b[0:], dm[:])
	copy(b[6:], sm[:])
	be.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(min(ipLen, 65535)))
	be.PutUint16(ip[4:], ipID)
	ip[6] = 0x40 // don't fragment
	ip[8] = 64
	if !srcIn {
		ip[8] = 52
	}
	ip[9] = proto
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	be.PutUint16(ip[10:], ^uint16(csum(0, ip)))
	l := b[34:]
	be.PutUint16(l[0:], src.Port())
	be.PutUint16(l[2:], dst.Port())
	if proto == 6 {
		be.PutUint32(l[4:], tcpSeq)
		be.PutUint32(l[8:], tcpAck)
		l[12] = 5 << 4
		l[13] = flags
		be.PutUint16(l[14:], win)
	} else {
		be.PutUint16(l[4:], uint16(8+plen))
	}
	b = append(b, payload...)
	if bulk == 0 {
		// Pseudo-header checksum over the whole segment.
		var ph [12]byte
		copy(ph[0:], s4[:])
		copy(ph[4:], d4[:])
		ph[9] = proto
		be.PutUint16(ph[10:], uint16(l4+len(payload)))
		sum := csum(csum(0, ph[:]), b[34:])
		c := ^uint16(sum)
		if proto == 17 && c == 0 {
			c = 0xffff
		}
		if proto == 6 {
			be.PutUint16(b[34+16:], c)
		} else {
			be.PutUint16(b[34+6:], c)
		}
	}
	return b, 14 + ipLen
}

// csum adds b to a running ones' complement sum (RFC 1071), folded.
func csum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(be.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum
}
