package sensor

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// pcapDir holds the real captures shared by the whole tree.
const pcapDir = "../testdata/pcaps"

// pkt is one packet as a test sees it.
type pkt struct {
	ts     time.Time
	length int
	capLen int
	iface  int
	data   []byte
	file   string // Position().file
	index  int    // Position().packet
}

// readAll reads s to io.EOF, copying every packet and collecting every
// error. It fails the test on an error that is not a *FileError and on a
// Source that never ends.
func readAll(t testing.TB, s *FileSource) (pkts []pkt, errs []error) {
	t.Helper()
	for range 10_000_000 {
		data, ci, err := s.ZeroCopyReadPacketData()
		if err == io.EOF {
			return pkts, errs
		}
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("read returned %T %v, want *FileError or io.EOF", err, err)
			}
			errs = append(errs, err)
			continue
		}
		if len(data) != ci.CaptureLength {
			t.Fatalf("len(data) = %d, CaptureLength = %d", len(data), ci.CaptureLength)
		}
		file, index := s.Position()
		pkts = append(pkts, pkt{
			ts: ci.Timestamp, length: ci.Length, capLen: ci.CaptureLength, iface: ci.InterfaceIndex,
			data: bytes.Clone(data), file: file, index: index,
		})
	}
	t.Fatal("source did not end")
	return nil, nil
}

// openAll opens paths and reads them to the end.
func openAll(t testing.TB, paths ...string) (*FileSource, []pkt, []error) {
	t.Helper()
	s, err := OpenFiles(paths)
	if err != nil {
		t.Fatalf("OpenFiles: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	pkts, errs := readAll(t, s)
	return s, pkts, errs
}

// checkFileError checks that err is a *FileError for file and packet whose
// message reads "FILE: [packet N: ]reason" with reason containing want.
func checkFileError(t testing.TB, err error, file string, packet int, want string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FileError", err, err)
	}
	if fe.File != file || fe.Packet != packet {
		t.Errorf("error %q: file %q packet %d, want %q packet %d", err, fe.File, fe.Packet, file, packet)
	}
	prefix := file + ": "
	if packet > 0 {
		prefix += fmt.Sprintf("packet %d: ", packet)
	}
	msg := err.Error()
	reason, ok := strings.CutPrefix(msg, prefix)
	if !ok {
		t.Errorf("error %q does not start with %q", msg, prefix)
	}
	if !strings.Contains(reason, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
	if reason == "" || strings.ToLower(reason[:1]) != reason[:1] {
		t.Errorf("error %q: reason is not lowercase", msg)
	}
}

// requireTool returns the path of an external tool, skipping the test when
// it is not installed. (internal/testenv.RequireTool will replace it.)
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	return path
}

// tsharkPackets lists the timestamp, length and captured length of every
// packet of a capture as tshark reads it.
func tsharkPackets(t testing.TB, path string) []pkt {
	t.Helper()
	tshark := requireTool(t, "tshark")
	cmd := exec.Command(tshark, "-n", "-r", path, "-T", "fields",
		"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", path, err, stderr.Bytes())
	}
	var pkts []pkt
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("tshark line %q: want 3 fields", line)
		}
		ts, err := parseEpoch(f[0])
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		length, err1 := strconv.Atoi(f[1])
		capLen, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("tshark line %q: bad length", line)
		}
		pkts = append(pkts, pkt{ts: ts, length: length, capLen: capLen})
	}
	return pkts
}

// parseEpoch parses tshark's "seconds.fraction" exactly, without floats.
func parseEpoch(s string) (time.Time, error) {
	secStr, fracStr, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing epoch %q: %w", s, err)
	}
	if len(fracStr) > 9 {
		return time.Time{}, fmt.Errorf("parsing epoch %q: more than nanosecond precision", s)
	}
	var nsec int64
	if fracStr != "" {
		nsec, err = strconv.ParseInt(fracStr+strings.Repeat("0", 9-len(fracStr)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("parsing epoch %q: %w", s, err)
		}
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// comparePackets checks got against want on timestamp and lengths.
func comparePackets(t testing.TB, got, want []pkt) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("read %d packets, want %d", len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if !g.ts.Equal(w.ts) || g.length != w.length || g.capLen != w.capLen {
			t.Errorf("packet %d: got %s len %d caplen %d, want %s len %d caplen %d",
				i+1, g.ts.Format(time.RFC3339Nano), g.length, g.capLen, w.ts.Format(time.RFC3339Nano), w.length, w.capLen)
			if bad++; bad > 5 {
				t.FailNow()
			}
		}
	}
}

// rec is a packet to write into a test capture.
type rec struct {
	ts    time.Time
	data  []byte
	orig  int // original length; 0 means len(data)
	iface int // pcapng interface
}

func (r rec) origLen() int {
	if r.orig == 0 {
		return len(r.data)
	}
	return r.orig
}

// pcapBytes builds a classic pcap file in either byte order and resolution.
func pcapBytes(o binary.AppendByteOrder, nano bool, snaplen uint32, lt layers.LinkType, recs []rec) []byte {
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := o.AppendUint32(nil, magic)
	b = o.AppendUint16(b, 2)
	b = o.AppendUint16(b, 4)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, snaplen)
	b = o.AppendUint32(b, uint32(lt))
	for _, r := range recs {
		frac := r.ts.Nanosecond()
		if !nano {
			frac /= 1000
		}
		b = o.AppendUint32(b, uint32(r.ts.Unix()))
		b = o.AppendUint32(b, uint32(frac))
		b = o.AppendUint32(b, uint32(len(r.data)))
		b = o.AppendUint32(b, uint32(r.origLen()))
		b = append(b, r.data...)
	}
	return b
}

// ngFile builds a pcapng file block by block, in either byte order.
type ngFile struct {
	o binary.AppendByteOrder
	b []byte
}

func (w *ngFile) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = w.o.AppendUint32(w.b, typ)
	w.b = w.o.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.o.AppendUint32(w.b, n)
}

func (w *ngFile) section() {
	b := w.o.AppendUint32(nil, 0x1a2b3c4d)
	b = w.o.AppendUint16(b, 1)
	b = w.o.AppendUint16(b, 0)
	b = w.o.AppendUint64(b, ^uint64(0))
	w.block(0x0a0d0d0a, b)
}

// iface writes an Interface Description Block; tsresol 0 leaves the option
// out (microseconds).
func (w *ngFile) iface(lt layers.LinkType, snaplen uint32, tsresol byte, tsoffset int64) {
	b := w.o.AppendUint16(nil, uint16(lt))
	b = w.o.AppendUint16(b, 0)
	b = w.o.AppendUint32(b, snaplen)
	b = w.option(b, 2, []byte("eth-test")) // if_name
	if tsresol != 0 {
		b = w.option(b, 9, []byte{tsresol})
	}
	if tsoffset != 0 {
		b = w.option(b, 14, w.o.AppendUint64(nil, uint64(tsoffset)))
	}
	b = w.option(b, 0, nil)
	w.block(0x00000001, b)
}

func (w *ngFile) option(b []byte, code uint16, v []byte) []byte {
	b = w.o.AppendUint16(b, code)
	b = w.o.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// epb writes an Enhanced Packet Block with an epb_flags option.
func (w *ngFile) epb(iface uint32, ticks uint64, data []byte, orig int) {
	b := w.o.AppendUint32(nil, iface)
	b = w.o.AppendUint32(b, uint32(ticks>>32))
	b = w.o.AppendUint32(b, uint32(ticks))
	b = w.o.AppendUint32(b, uint32(len(data)))
	b = w.o.AppendUint32(b, uint32(orig))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = w.option(b, 2, w.o.AppendUint32(nil, 1)) // epb_flags: inbound
	b = w.option(b, 0, nil)
	w.block(0x00000006, b)
}

// spb writes a Simple Packet Block.
func (w *ngFile) spb(data []byte, orig int) {
	b := w.o.AppendUint32(nil, uint32(orig))
	w.block(0x00000003, append(b, data...))
}

// pb writes an obsolete Packet Block.
func (w *ngFile) pb(iface uint16, ticks uint64, data []byte) {
	b := w.o.AppendUint16(nil, iface)
	b = w.o.AppendUint16(b, 0)
	b = w.o.AppendUint32(b, uint32(ticks>>32))
	b = w.o.AppendUint32(b, uint32(ticks))
	b = w.o.AppendUint32(b, uint32(len(data)))
	b = w.o.AppendUint32(b, uint32(len(data)))
	w.block(0x00000002, append(b, data...))
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pcapRecordEnds returns the end offset of every record of a little-endian
// classic pcap file.
func pcapRecordEnds(t testing.TB, data []byte) []int {
	t.Helper()
	var ends []int
	for off := 24; off+16 <= len(data); {
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
		if off > len(data) {
			break
		}
		ends = append(ends, off)
	}
	return ends
}

// pcapngPacketEnds returns the end offset of every Enhanced Packet Block of
// a little-endian pcapng file.
func pcapngPacketEnds(t testing.TB, data []byte) []int {
	t.Helper()
	var ends []int
	for off := 0; off+8 <= len(data); {
		typ, n := binary.LittleEndian.Uint32(data[off:]), int(binary.LittleEndian.Uint32(data[off+4:]))
		if n < 12 {
			t.Fatalf("block at %d: length %d", off, n)
		}
		off += n
		if typ == 6 && off <= len(data) {
			ends = append(ends, off)
		}
	}
	return ends
}
