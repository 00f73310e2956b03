package sensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// readPcap reads a pcap file's bytes through a pcapReader whose read
// buffer is bufSize bytes, with src wrapped by wrap; it returns the packets
// and the error that ended the file (io.EOF at a clean end).
func readPcap(t *testing.T, data []byte, bufSize int, wrap func(io.Reader) io.Reader) ([]pkt, error) {
	t.Helper()
	src := wrap(bytes.NewReader(data))
	br := bufio.NewReaderSize(src, bufSize)
	p, err := newPcapReader(br, src, bufSize, func(layers.LinkType) (int, error) { return 7, nil })
	if err != nil {
		return nil, err
	}
	var out []pkt
	for {
		var ci gopacket.CaptureInfo
		d, err := p.nextInto(&ci)
		if err != nil {
			return out, err
		}
		if ci.InterfaceIndex != 7 {
			t.Fatalf("interface index %d, want 7", ci.InterfaceIndex)
		}
		out = append(out, pkt{ts: ci.Timestamp, length: ci.Length, capLen: ci.CaptureLength, data: bytes.Clone(d)})
	}
}

// TestPcapReaderBuffering reads records of every size class, up to
// maxCaptureLength, through small and large read buffers and through
// sources that return short reads, and gets every record back intact.
func TestPcapReaderBuffering(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sizes := []int{0, 1, 15, 16, 17, 60, 1514, 4095, 4096, 4097, 9018, 65535, maxCaptureLength}
	var recs []rec
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 400 {
		n := sizes[r.IntN(len(sizes))]
		if r.IntN(2) == 0 {
			n = r.IntN(2000)
		}
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(r.Uint32())
		}
		recs = append(recs, rec{ts: base.Add(time.Duration(i) * 1001 * time.Microsecond), data: d, orig: n + r.IntN(2)*100})
	}
	wraps := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"half":     iotest.HalfReader,
		"data+eof": iotest.DataErrReader,
	}
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			data := pcapBytes(order, nano, 0, layers.LinkTypeEthernet, recs)
			for _, bufSize := range []int{4096, 70000, 1 << 20} {
				for name, wrap := range wraps {
					got, err := readPcap(t, data, bufSize, wrap)
					if err != io.EOF {
						t.Fatalf("%v nano=%v buf=%d %s: err = %v, want io.EOF", order, nano, bufSize, name, err)
					}
					if len(got) != len(recs) {
						t.Fatalf("%v nano=%v buf=%d %s: %d packets, want %d", order, nano, bufSize, name, len(got), len(recs))
					}
					for i, g := range got {
						w := recs[i]
						wantTS := w.ts
						if !nano {
							wantTS = wantTS.Truncate(time.Microsecond)
						}
						if !g.ts.Equal(wantTS) || g.length != w.origLen() || g.capLen != len(w.data) || !bytes.Equal(g.data, w.data) {
							t.Fatalf("%v nano=%v buf=%d %s: packet %d differs: ts %v len %d caplen %d", order, nano, bufSize, name, i, g.ts, g.length, g.capLen)
						}
					}
				}
			}
		}
	}
}

// TestPcapReaderCutEverywhere cuts a file at every byte near record
// boundaries and at every 61st byte elsewhere: a cut between records is a
// clean end, any other cut a truncated record, and the packets before the
// cut are all returned.
func TestPcapReaderCutEverywhere(t *testing.T) {
	var recs []rec
	for i := range 40 {
		recs = append(recs, rec{ts: time.Unix(int64(1e9+i), 0), data: bytes.Repeat([]byte{byte(i)}, 1+i*97%1600)})
	}
	data := pcapBytes(binary.LittleEndian, false, 65535, layers.LinkTypeEthernet, recs)
	ends := map[int]int{24: 0} // offset → packets complete there
	off := 24
	for i, r := range recs {
		off += 16 + len(r.data)
		ends[off] = i + 1
	}
	near := func(cut int) bool {
		for d := -17; d <= 17; d++ {
			if _, ok := ends[cut+d]; ok {
				return true
			}
		}
		return false
	}
	for cut := 24; cut <= len(data); cut++ {
		if cut%61 != 0 && !near(cut) {
			continue
		}
		for _, bufSize := range []int{4096, 1 << 16} {
			got, err := readPcap(t, data[:cut], bufSize, iotest.HalfReader)
			if n, clean := ends[cut]; clean {
				if err != io.EOF || len(got) != n {
					t.Fatalf("cut at %d (buf %d): %d packets, err %v; want %d, io.EOF", cut, bufSize, len(got), err, n)
				}
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d (buf %d): err = %v, want a truncated record", cut, bufSize, err)
			}
			want := 0
			for o, n := range ends {
				if o < cut && n > want {
					want = n
				}
			}
			if len(got) != want {
				t.Fatalf("cut at %d (buf %d): %d packets before the error, want %d", cut, bufSize, len(got), want)
			}
		}
	}
}

// stuck returns no data and no error forever.
type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

func TestPcapReaderNoProgress(t *testing.T) {
	hdr := pcapBytes(binary.LittleEndian, false, 0, layers.LinkTypeEthernet, nil)
	src := io.MultiReader(bytes.NewReader(hdr), stuck{})
	br := bufio.NewReaderSize(bytes.NewReader(hdr), 4096)
	p, err := newPcapReader(br, src, 4096, func(layers.LinkType) (int, error) { return 0, nil })
	if err != nil {
		t.Fatal(err)
	}
	// src still holds the header bytes br read already; skip them.
	io.CopyN(io.Discard, src, int64(len(hdr)))
	var ci gopacket.CaptureInfo
	if _, err := p.nextInto(&ci); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}
