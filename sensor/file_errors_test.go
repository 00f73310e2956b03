package sensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBadInputs puts one bad file between two good ones and checks that
// the bad one is reported, with its packet index, after every packet before
// the fault, and that the good ones are read completely.
func TestBadInputs(t *testing.T) {
	smb2 := readTestFile(t, smb2Pcap)
	smb2Ends := pcapRecordEnds(t, smb2)
	merlin := readTestFile(t, merlinPcapng)
	merlinEnds := pcapngPacketEnds(t, merlin)
	if len(smb2Ends) != smb2Packets || len(merlinEnds) != 100 {
		t.Fatalf("test helpers found %d and %d packets", len(smb2Ends), len(merlinEnds))
	}
	// packetsBefore counts the whole records before offset cut, moving cut
	// off a record boundary.
	packetsBefore := func(ends []int, cut int) (int, int) {
		for slices.Contains(ends, cut) {
			cut += 2
		}
		n := 0
		for n < len(ends) && ends[n] <= cut {
			n++
		}
		return n, cut
	}
	pcapCut, pcapCutAt := packetsBefore(smb2Ends, len(smb2)*2/3|1)
	ngCut, ngCutAt := packetsBefore(merlinEnds, len(merlin)/2|1)

	// withRecord returns the first three records of smb2 followed by one
	// whose capture length is capLen, then the rest of the file.
	withRecord := func(snaplen, capLen uint32) []byte {
		b := bytes.Clone(smb2[:smb2Ends[2]])
		binary.LittleEndian.PutUint32(b[16:], snaplen)
		b = binary.LittleEndian.AppendUint32(b, 1_700_000_000)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, capLen)
		b = binary.LittleEndian.AppendUint32(b, capLen)
		return append(b, smb2[smb2Ends[2]:]...)
	}
	// ngWith returns the first packet of merlin (with its section and
	// interface blocks) followed by one crafted block.
	ngWith := func(block []byte) []byte {
		return append(bytes.Clone(merlin[:merlinEnds[0]]), block...)
	}
	le := binary.LittleEndian
	epbHeader := func(length, iface, capLen uint32) []byte {
		b := le.AppendUint32(nil, 6)
		b = le.AppendUint32(b, length)
		b = le.AppendUint32(b, iface)
		b = le.AppendUint64(b, 0)
		b = le.AppendUint32(b, capLen)
		b = le.AppendUint32(b, capLen)
		return b
	}
	goodEPB := func(iface, trailer uint32) []byte {
		b := append(epbHeader(36, iface, 4), 1, 2, 3, 4)
		return le.AppendUint32(b, trailer)
	}
	random := make([]byte, 4096)
	rand.NewChaCha8([32]byte{1}).Read(random)
	random[0] = 0 // not a magic number by chance

	const anyPacket = -1
	tests := []struct {
		name      string
		build     func(t *testing.T) []byte // nil: the path does not exist
		dir       bool                      // the path is a directory
		packet    int                       // FileError.Packet; anyPacket: delivered+1
		delivered int                       // packets read from the bad file first
		prefix    []byte                    // the original they come from
		want      string                    // in the message
		truncated bool                      // errors.Is(err, io.ErrUnexpectedEOF)
	}{
		{name: "missing file", want: "no such file or directory"},
		{name: "directory", dir: true, want: "is a directory"},
		{name: "empty file", build: func(*testing.T) []byte { return nil }, want: "empty file"},
		{name: "random bytes", build: func(*testing.T) []byte { return random }, want: "not a pcap or pcapng file (magic 0x00"},
		{name: "text file", build: func(*testing.T) []byte { return []byte("# notes\nnot a capture\n") }, want: "not a pcap or pcapng file (magic 0x23206e6f)"},
		{name: "three bytes", build: func(*testing.T) []byte { return smb2[:3] }, want: "only 3 bytes"},
		{name: "truncated pcap header", build: func(*testing.T) []byte { return smb2[:10] }, want: "truncated pcap file header", truncated: true},
		{
			name: "unsupported pcap version",
			build: func(*testing.T) []byte {
				b := bytes.Clone(smb2[:200])
				b[4] = 3
				return b
			},
			want: "unsupported pcap version 3.4",
		},
		{name: "truncated pcapng header", build: func(*testing.T) []byte { return merlin[:20] }, want: "truncated block", truncated: true},
		{
			name: "unsupported pcapng version",
			build: func(*testing.T) []byte {
				b := bytes.Clone(merlin)
				b[12] = 2
				return b
			},
			want: "unsupported pcapng version 2.0",
		},
		{name: "gzip with a bad header", build: func(*testing.T) []byte { return []byte{0x1f, 0x8b, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9} }, want: "reading gzip header: gzip: invalid header"},
		{name: "gzip of nothing", build: func(t *testing.T) []byte { return gzipBytes(t, nil) }, want: "empty gzip stream"},
		{name: "gzip of text", build: func(t *testing.T) []byte { return gzipBytes(t, []byte("hello, world\n")) }, want: "not a pcap or pcapng file (magic 0x68656c6c)"},
		{
			name:      "pcap cut mid-record",
			build:     func(*testing.T) []byte { return smb2[:pcapCutAt] },
			packet:    pcapCut + 1,
			delivered: pcapCut,
			prefix:    smb2,
			want:      "truncated packet record: unexpected EOF",
			truncated: true,
		},
		{
			name:      "pcap cut after a record header",
			build:     func(*testing.T) []byte { return smb2[:smb2Ends[99]+16] },
			packet:    101,
			delivered: 100,
			prefix:    smb2,
			want:      "truncated packet record",
			truncated: true,
		},
		{
			name:      "pcap capture length 0x7fffffff",
			build:     func(*testing.T) []byte { return withRecord(65535, 0x7fffffff) },
			packet:    4,
			delivered: 3,
			prefix:    smb2,
			want:      "bad packet record: capture length exceeds snap length: 2147483647",
		},
		{
			name:      "pcap capture length 0x7fffffff under snap length 0x7fffffff",
			build:     func(*testing.T) []byte { return withRecord(0x7fffffff, 0x7fffffff) },
			packet:    4,
			delivered: 3,
			prefix:    smb2,
			want:      "capture length exceeds snap length: 2147483647 > 262144",
		},
		{
			name:      "pcapng cut mid-block",
			build:     func(*testing.T) []byte { return merlin[:ngCutAt] },
			packet:    ngCut + 1,
			delivered: ngCut,
			prefix:    merlin,
			want:      "truncated block: unexpected EOF",
			truncated: true,
		},
		{
			name:      "pcapng capture length 0x7fffffff",
			build:     func(*testing.T) []byte { return ngWith(append(epbHeader(0x7fffffff&^3, 0, 0x7fffffff), 0, 0, 0, 0)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: capture length 2147483647 exceeds maximum 262144",
		},
		{
			name:      "pcapng capture length beyond its block",
			build:     func(*testing.T) []byte { return ngWith(append(epbHeader(36, 0, 100), make([]byte, 200)...)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: capture length 100 overruns block with room for 4",
		},
		{
			name:      "pcapng block length not a multiple of 4",
			build:     func(*testing.T) []byte { return ngWith(epbHeader(37, 0, 4)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: block type 0x00000006 has length 37",
		},
		{
			name:      "pcapng block length too small",
			build:     func(*testing.T) []byte { return ngWith(le.AppendUint32(le.AppendUint32(nil, 0x0bad), 4)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: block type 0x00000bad has length 4",
		},
		{
			name:      "pcapng trailer mismatch",
			build:     func(*testing.T) []byte { return ngWith(goodEPB(0, 40)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: trailing length 40 does not match length 36",
		},
		{
			name:      "pcapng undeclared interface",
			build:     func(*testing.T) []byte { return ngWith(goodEPB(7, 36)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: packet on undeclared interface 7",
		},
		{
			name:      "pcapng bad byte-order magic",
			build:     func(*testing.T) []byte { return ngWith(append(bytes.Clone(merlin[:8:8]), 9, 9, 9, 9)) },
			packet:    2,
			delivered: 1,
			prefix:    merlin,
			want:      "corrupt block: byte-order magic",
		},
		{
			name:      "gzip pcap cut short",
			build:     func(t *testing.T) []byte { gz := gzipBytes(t, smb2); return gz[:len(gz)/2|1] },
			packet:    anyPacket,
			prefix:    smb2,
			want:      "truncated packet record: unexpected EOF",
			truncated: true,
		},
		{
			name: "gzip pcap with a bad checksum",
			build: func(t *testing.T) []byte {
				gz := gzipBytes(t, smb2)
				gz[len(gz)-8] ^= 0xff // CRC-32 of the trailer
				return gz
			},
			packet:    smb2Packets + 1,
			delivered: smb2Packets,
			prefix:    smb2,
			want:      "reading packet record: gzip: invalid checksum",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.pcap")
			switch {
			case tc.dir:
				if err := os.Mkdir(bad, 0o755); err != nil {
					t.Fatal(err)
				}
			case tc.build != nil:
				writeFile(t, dir, "bad.pcap", tc.build(t))
			}
			s, got, errs := openAll(t, smb2Pcap, bad, combinedGz)
			if len(errs) != 1 {
				t.Fatalf("got errors %v, want one", errs)
			}
			var fromBad, fromGood []pkt
			for _, p := range got {
				if p.file == bad {
					fromBad = append(fromBad, p)
				} else {
					fromGood = append(fromGood, p)
				}
			}
			packet := tc.packet
			if packet == anyPacket {
				packet = len(fromBad) + 1
			} else if len(fromBad) != tc.delivered {
				t.Errorf("read %d packets from the bad file, want %d", len(fromBad), tc.delivered)
			}
			t.Log(errs[0])
			checkFileError(t, errs[0], bad, packet, tc.want)
			if errors.Is(errs[0], io.ErrUnexpectedEOF) != tc.truncated {
				t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = %v, want %v", errs[0], !tc.truncated, tc.truncated)
			}
			if len(fromGood) != smb2Packets+combinedPackets {
				t.Errorf("read %d packets from the good files, want %d", len(fromGood), smb2Packets+combinedPackets)
			}
			if len(fromBad) > 0 {
				_, orig, _ := openAll(t, writeFile(t, dir, "orig", tc.prefix))
				for i, p := range fromBad {
					if p.index != i+1 || !bytes.Equal(p.data, orig[i].data) || !p.ts.Equal(orig[i].ts) {
						t.Fatalf("packet %d of the bad file differs from the original", i+1)
					}
				}
			}
			st := s.Stats()
			wantFiles := 3
			if packet == 0 {
				wantFiles = 2
			}
			if st.Files != wantFiles || st.FilesFailed != 1 || st.Packets != uint64(len(got)) {
				t.Errorf("Stats() = %+v, want %d files, 1 failed, %d packets", st, wantFiles, len(got))
			}
		})
	}
}

// TestOpenErrorsComeFirst checks that errors found by OpenFiles are returned
// before any packet, in argument order.
func TestOpenErrorsComeFirst(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pcap")
	empty := writeFile(t, dir, "empty.pcap", nil)
	// A valid header and a broken first record: reported by OpenFiles too.
	first := writeFile(t, dir, "first.pcap", readTestFile(t, smb2Pcap)[:30])
	s, err := OpenFiles([]string{missing, combinedGz, empty, first})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []struct {
		file   string
		packet int
		msg    string
	}{
		{missing, 0, "opening file: no such file or directory"},
		{empty, 0, "empty file"},
		{first, 1, "truncated packet record: unexpected EOF"},
	} {
		_, _, err := s.ZeroCopyReadPacketData()
		if err == nil {
			t.Fatalf("call %d returned a packet before the open errors", i+1)
		}
		checkFileError(t, err, want.file, want.packet, want.msg)
	}
	pkts, errs := readAll(t, s)
	if len(pkts) != combinedPackets || len(errs) != 0 {
		t.Errorf("then read %d packets and errors %v, want %d packets", len(pkts), errs, combinedPackets)
	}
}

func TestOpenFilesFails(t *testing.T) {
	if _, err := OpenFiles(nil); err == nil || !strings.Contains(err.Error(), "no files given") {
		t.Errorf("OpenFiles(nil) = %v", err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pcap")
	text := writeFile(t, dir, "notes.txt", []byte("hello\n"))
	s, err := OpenFiles([]string{missing, text})
	if err == nil {
		s.Close()
		t.Fatal("OpenFiles succeeded with no readable file")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], missing+": ") || !strings.HasPrefix(lines[1], text+": ") {
		t.Errorf("error %q: want one FILE: reason line per file", err)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != missing {
		t.Errorf("errors.As(%v) does not find the first *FileError", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", err)
	}
}
