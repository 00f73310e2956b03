package prototest

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/pipeline/flow"
)

// RewritePorts copies the capture src to a file in a temporary directory
// with every TCP and UDP port from replaced by to (checksums adjusted as
// RFC 1624 says), and returns its path: the same traffic on a port the
// parsers must recognise by content alone.
func RewritePorts(tb testing.TB, src string, from, to uint16) string {
	tb.Helper()
	return RewritePortMap(tb, src, map[uint16]uint16{from: to})
}

// RewritePortMap is RewritePorts for several ports at once: every TCP and
// UDP port that is a key of m becomes its value. It fails the test when no
// port was rewritten.
func RewritePortMap(tb testing.TB, src string, m map[uint16]uint16) string {
	tb.Helper()
	frames, infos, link, err := pcaptest.ReadAll(src)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, fr := range frames {
		pkt := gopacket.NewPacket(fr, link, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
		var hdr []byte
		csum := -1
		if l, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			hdr, csum = l.Contents, 16
		} else if l, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			hdr, csum = l.Contents, 6
		}
		if len(hdr) < 8 || pkt.Layer(layers.LayerTypeIPv4) == nil && pkt.Layer(layers.LayerTypeIPv6) == nil {
			continue
		}
		off := cap(fr) - cap(hdr) // hdr is a view of fr (NoCopy)
		h := fr[off:]
		for _, at := range []int{0, 2} {
			from := binary.BigEndian.Uint16(h[at:])
			to, ok := m[from]
			if !ok {
				continue
			}
			binary.BigEndian.PutUint16(h[at:], to)
			n++
			if c := binary.BigEndian.Uint16(h[csum:]); c != 0 || csum == 16 {
				sum := uint32(^c) + uint32(^from) + uint32(to)
				sum = sum&0xffff + sum>>16
				sum = sum&0xffff + sum>>16
				binary.BigEndian.PutUint16(h[csum:], ^uint16(sum))
			}
		}
	}
	if n == 0 {
		tb.Fatalf("%s: none of the ports %v to rewrite", src, m)
	}
	out := filepath.Join(tb.TempDir(), filepath.Base(src))
	if err := pcaptest.WritePcap(out, link, frames, infos); err != nil {
		tb.Fatal(err)
	}
	return out
}

// EncodeChunks turns chunks into fuzz input: each piece is a byte holding
// the direction (low bit) and the length (high 7 bits), then the bytes.
func EncodeChunks(chunks []Chunk, max int) []byte {
	var out []byte
	for _, c := range chunks {
		d := c.Data
		for len(d) > 0 && len(out) < max {
			n := min(len(d), 127)
			out = append(out, byte(n<<1)|byte(c.Dir))
			out = append(out, d[:n]...)
			d = d[n:]
		}
	}
	return out
}

// DecodeChunks is EncodeChunks' inverse; a length byte of 0 is a gap of 100
// bytes in its direction.
func DecodeChunks(b []byte) []Chunk {
	var out []Chunk
	for len(b) > 0 {
		k := b[0]
		b = b[1:]
		d := flow.Dir(k & 1)
		n := int(k >> 1)
		if n == 0 {
			out = append(out, Chunk{Dir: d, Gap: 100})
			continue
		}
		n = min(n, len(b))
		out = append(out, C(d, b[:n]))
		b = b[n:]
	}
	return out
}

// EncodeFuzzInput serialises chunks for a fuzz target (gaps and 64 KiB
// chunks included): per chunk a flag byte
// (bit 0 direction, bit 1 gap) and a 2-byte length, then the data (none for
// a gap, whose length is the gap).
func EncodeFuzzInput(chunks []Chunk) []byte {
	var b []byte
	for _, c := range chunks {
		data := c.Data
		for len(data) > 0 || c.Gap > 0 {
			flag := byte(c.Dir) & 1
			n := len(data)
			if c.Gap > 0 {
				flag |= 2
				n = c.Gap
			}
			n = min(n, 0xffff)
			b = append(b, flag, byte(n>>8), byte(n))
			if c.Gap > 0 {
				c.Gap = 0
				continue
			}
			b = append(b, data[:n]...)
			data = data[n:]
		}
	}
	return b
}

// DecodeFuzzInput is EncodeFuzzInput's inverse for any input: the fuzzer's
// bytes always make some sequence of chunks.
func DecodeFuzzInput(b []byte) []Chunk {
	var out []Chunk
	for len(b) >= 3 {
		flag, n := b[0], int(b[1])<<8|int(b[2])
		b = b[3:]
		d := flow.Dir(flag & 1)
		if flag&2 != 0 {
			out = append(out, Chunk{Dir: d, Gap: n})
			continue
		}
		n = min(n, len(b))
		out = append(out, C(d, b[:n]))
		b = b[n:]
	}
	return out
}
