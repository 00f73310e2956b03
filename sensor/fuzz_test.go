package sensor

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// FuzzFileSource opens the input as a capture file, gzip-compressed when gz
// is set, twice in one OpenFiles call so that the merge runs too, and reads
// it to the end. It must not panic, must end, and may return only io.EOF and
// *FileError.
//
// Every input is written to a file, which makes an execution cost a few
// hundred microseconds; at that speed Go's minimiser spends the default 60 s
// on each new input of a few KB. Run it with a short -fuzzminimizetime:
//
//	go test -run='^$' -fuzz='^FuzzFileSource$' -fuzztime=5m -fuzzminimizetime=5s ./sensor
func FuzzFileSource(f *testing.F) {
	for _, path := range []string{smb2Pcap, merlinPcapng, combinedGz, filepath.Join(pcapDir, "dns/zeek_dns_mdns.pcap")} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 2048)], false)
	}
	base := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	recs := []rec{{ts: base, data: []byte{1, 2, 3, 4, 5}}, {ts: base.Add(-time.Second), data: []byte{6}, orig: 90}}
	f.Add(pcapBytes(binary.BigEndian, true, 65535, layers.LinkTypeEthernet, recs), false)
	f.Add(pcapBytes(binary.LittleEndian, false, 0, layers.LinkTypeRaw, recs), true)
	f.Add(pcapBytes(binary.LittleEndian, false, 0x7fffffff, layers.LinkTypeRaw, recs)[:40], false)
	for _, o := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		w := &ngFile{o: o}
		w.section()
		w.iface(layers.LinkTypeEthernet, 8, 0x8a, -5)
		w.iface(layers.LinkTypeRaw, 0, 19, 0)
		w.epb(1, 12345, []byte("packet"), 100)
		w.spb([]byte("simple packet"), 13)
		w.pb(0, 99, []byte("old"))
		w.block(0x0bad, []byte("skip me"))
		w.section()
		w.iface(layers.LinkTypeLinuxSLL, 0, 9, 0)
		w.epb(0, 1, nil, 0)
		f.Add(w.b, false)
		f.Add(w.b, true)
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0}, false)
	f.Add([]byte{0xa1, 0xb2, 0xc3, 0xd4}, false)
	f.Add([]byte{0x1f, 0x8b}, false)
	f.Add([]byte{}, true)

	// Inputs run one at a time in each fuzzing process, so they share one
	// gzip.Writer (whose state is large to allocate). Each input gets a new
	// file, removed after use: rewriting one file in place makes ext4 flush
	// on close and runs some 30 times slower.
	dir := f.TempDir()
	seq := 0
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		if gz {
			zbuf.Reset()
			zw.Reset(&zbuf)
			if _, err := zw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			data = zbuf.Bytes()
		}
		seq++
		path := filepath.Join(dir, "fuzz"+strconv.Itoa(seq)+".pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		s, err := OpenFiles([]string{path, path})
		if err != nil {
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("OpenFiles error %v (%T) is not joined", err, err)
			}
			for _, e := range joined.Unwrap() {
				if fe, ok := e.(*FileError); !ok || fe.Packet != 0 {
					t.Fatalf("OpenFiles error %v (%T) is not a *FileError for the header", e, e)
				}
			}
			return
		}
		defer s.Close()

		// Every packet takes at least 16 bytes of (decompressed) file, and
		// deflate expands at most about 1032 times.
		limit := 2*(1100*len(data)/16+1) + 10
		for i := 0; ; i++ {
			if i > limit {
				t.Fatalf("no io.EOF after %d reads", i)
			}
			pkt, ci, err := s.ZeroCopyReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				if _, ok := err.(*FileError); !ok {
					t.Fatalf("read returned %v (%T), want io.EOF or *FileError", err, err)
				}
				var fe *FileError
				if errors.As(err, &fe); fe.File != path {
					t.Fatalf("error %v names the wrong file", err)
				}
				continue
			}
			if len(pkt) != ci.CaptureLength || len(pkt) > maxCaptureLength {
				t.Fatalf("packet of %d bytes, CaptureLength %d", len(pkt), ci.CaptureLength)
			}
			if s.Interface(ci.InterfaceIndex) == "" {
				t.Fatalf("packet on unknown interface %d", ci.InterfaceIndex)
			}
		}
		if done, total := s.Progress(); done != total {
			t.Fatalf("Progress() = %d, %d at the end", done, total)
		}
		if st := s.Stats(); st.Files+st.FilesFailed < 2 {
			t.Fatalf("Stats() = %+v", st)
		}
	})
}
