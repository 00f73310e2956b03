package sensor

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Real captures used by several tests.
var (
	smb2Pcap     = filepath.Join(pcapDir, "smb/zeek_smb2.pcap")          // 1178 packets, strictly increasing times
	merlinPcapng = filepath.Join(pcapDir, "beacon/zeek_merlinc2.pcapng") // 100 packets
	combinedGz   = filepath.Join(pcapDir, "communityid/combined.pcap.gz")
)

const (
	smb2Packets     = 1178
	combinedPackets = 68
)

func realCaptures(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"*/*.pcap", "*/*.pcapng", "*/*.gz"} {
		m, err := filepath.Glob(filepath.Join(pcapDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Fatalf("no captures under %s", pcapDir)
	}
	if testing.Short() {
		// One of each format: tshark takes most of a second per file.
		return []string{smb2Pcap, merlinPcapng, combinedGz}
	}
	slices.Sort(paths)
	return paths
}

// TestRealCapturesMatchTshark reads every real capture alone and compares
// each packet's timestamp, length and captured length with tshark's.
func TestRealCapturesMatchTshark(t *testing.T) {
	requireTool(t, "tshark")
	for _, path := range realCaptures(t) {
		name, _ := filepath.Rel(pcapDir, path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := tsharkPackets(t, path)
			s, got, errs := openAll(t, path)
			for _, err := range errs {
				t.Errorf("unexpected error: %v", err)
			}
			comparePackets(t, got, want)
			for i, p := range got {
				if p.iface != 0 || p.file != path || p.index != i+1 {
					t.Fatalf("packet %d: iface %d position %s:%d, want 0 %s:%d", i+1, p.iface, p.file, p.index, path, i+1)
				}
			}
			if got, want := s.Interface(0), filepath.Base(path); got != want {
				t.Errorf("Interface(0) = %q, want %q", got, want)
			}
			if s.LinkType(0) == layers.LinkTypeNull || s.LinkType(1) != layers.LinkTypeNull || s.Interface(1) != "" {
				t.Errorf("LinkType(0) = %v, LinkType(1) = %v, Interface(1) = %q", s.LinkType(0), s.LinkType(1), s.Interface(1))
			}
		})
	}
}

// TestFormats reads crafted files in every supported variant and checks
// each packet exactly, and against tshark where tshark reads the variant.
func TestFormats(t *testing.T) {
	base := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	frame := func(n int, tag byte) []byte { return bytes.Repeat([]byte{tag}, n) }
	recs := []rec{
		{ts: base.Add(123456789), data: frame(60, 1)},
		{ts: base.Add(time.Second + 1), data: frame(1514, 2)},
		{ts: base.Add(time.Second), data: frame(70, 3), orig: 9000}, // backwards, truncated by snaplen
		{ts: base.Add(2 * time.Second), data: nil},                  // empty frame
	}
	micro := func(ts time.Time) time.Time { return ts.Truncate(time.Microsecond) }
	want := func(round func(time.Time) time.Time, iface int, rs ...rec) []pkt {
		var ps []pkt
		for _, r := range rs {
			ps = append(ps, pkt{ts: round(r.ts), length: r.origLen(), capLen: len(r.data), iface: iface, data: r.data})
		}
		return ps
	}
	same := func(ts time.Time) time.Time { return ts }

	// Interfaces of the hand-built pcapng: Ethernet in microseconds, raw IP
	// in nanoseconds, Linux SLL in 2^-10 s with a 1000 s offset.
	buildTwoIfaces := func(o binary.AppendByteOrder) []byte {
		w := &ngFile{o: o}
		w.section()
		w.iface(layers.LinkTypeEthernet, 0, 0, 0)
		w.iface(layers.LinkTypeRaw, 65535, 9, 0)
		w.iface(layers.LinkTypeLinuxSLL, 0, 0x8a, 1000)
		w.epb(0, uint64(base.UnixMicro()), frame(60, 1), 60)
		w.epb(1, uint64(base.UnixNano())+1, frame(41, 2), 41)
		w.epb(2, uint64(base.Unix()-1000)<<10|512, frame(80, 3), 100)
		w.epb(0, uint64(base.UnixMicro())+7, frame(1514, 4), 1514)
		return w.b
	}
	twoIfacesWant := []pkt{
		{ts: base, length: 60, capLen: 60, iface: 0, data: frame(60, 1)},
		{ts: base.Add(1), length: 41, capLen: 41, iface: 1, data: frame(41, 2)},
		{ts: base.Add(500 * time.Millisecond), length: 100, capLen: 80, iface: 2, data: frame(80, 3)},
		{ts: base.Add(7 * time.Microsecond), length: 1514, capLen: 1514, iface: 0, data: frame(1514, 4)},
	}
	twoIfacesLinks := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL}
	threeNames := func(f string) []string { return []string{f, f + "#1", f + "#2"} }

	tests := []struct {
		name   string
		file   string
		build  func(t *testing.T) []byte
		want   []pkt
		links  []layers.LinkType
		names  []string
		tshark bool // tshark reads this variant the same way
	}{
		{
			name: "pcap microsecond little-endian",
			file: "a.pcap",
			build: func(*testing.T) []byte {
				return pcapBytes(binary.LittleEndian, false, 65535, layers.LinkTypeEthernet, recs)
			},
			want:   want(micro, 0, recs...),
			links:  []layers.LinkType{layers.LinkTypeEthernet},
			names:  []string{"a.pcap"},
			tshark: true,
		},
		{
			name:   "pcap microsecond big-endian",
			file:   "b.pcap",
			build:  func(*testing.T) []byte { return pcapBytes(binary.BigEndian, false, 65535, layers.LinkTypeRaw, recs) },
			want:   want(micro, 0, recs...),
			links:  []layers.LinkType{layers.LinkTypeRaw},
			names:  []string{"b.pcap"},
			tshark: true,
		},
		{
			name: "pcap nanosecond little-endian",
			file: "c.pcap",
			build: func(*testing.T) []byte {
				return pcapBytes(binary.LittleEndian, true, 262144, layers.LinkTypeEthernet, recs)
			},
			want:   want(same, 0, recs...),
			links:  []layers.LinkType{layers.LinkTypeEthernet},
			names:  []string{"c.pcap"},
			tshark: true,
		},
		{
			name:   "pcap nanosecond big-endian",
			file:   "d.pcap",
			build:  func(*testing.T) []byte { return pcapBytes(binary.BigEndian, true, 0, layers.LinkTypeLinuxSLL, recs) },
			want:   want(same, 0, recs...),
			links:  []layers.LinkType{layers.LinkTypeLinuxSLL},
			names:  []string{"d.pcap"},
			tshark: true,
		},
		{
			name: "gzip pcap nanosecond big-endian",
			file: "d.pcap.gz",
			build: func(t *testing.T) []byte {
				return gzipBytes(t, pcapBytes(binary.BigEndian, true, 0, layers.LinkTypeEthernet, recs))
			},
			want:   want(same, 0, recs...),
			links:  []layers.LinkType{layers.LinkTypeEthernet},
			names:  []string{"d.pcap.gz"},
			tshark: true,
		},
		{
			name:   "pcapng three interfaces with different link types and resolutions",
			file:   "e.pcapng",
			build:  func(*testing.T) []byte { return buildTwoIfaces(binary.LittleEndian) },
			want:   twoIfacesWant,
			links:  twoIfacesLinks,
			names:  threeNames("e.pcapng"),
			tshark: true,
		},
		{
			name:   "pcapng big-endian",
			file:   "f.pcapng",
			build:  func(*testing.T) []byte { return buildTwoIfaces(binary.BigEndian) },
			want:   twoIfacesWant,
			links:  twoIfacesLinks,
			names:  threeNames("f.pcapng"),
			tshark: true,
		},
		{
			name:   "gzip pcapng",
			file:   "g.pcapng.gz",
			build:  func(t *testing.T) []byte { return gzipBytes(t, buildTwoIfaces(binary.LittleEndian)) },
			want:   twoIfacesWant,
			links:  twoIfacesLinks,
			names:  threeNames("g.pcapng.gz"),
			tshark: true,
		},
		{
			// Interface IDs restart in each section; global indices don't.
			name: "pcapng two sections of different byte order",
			file: "h.pcapng",
			build: func(*testing.T) []byte {
				le := &ngFile{o: binary.LittleEndian}
				le.section()
				le.iface(layers.LinkTypeEthernet, 0, 9, 0)
				le.epb(0, uint64(base.UnixNano()), frame(60, 1), 60)
				be := &ngFile{o: binary.BigEndian}
				be.section()
				be.iface(layers.LinkTypeRaw, 0, 6, 0)
				be.epb(0, uint64(base.UnixMicro())+1, frame(40, 2), 40)
				return append(le.b, be.b...)
			},
			want: []pkt{
				{ts: base, length: 60, capLen: 60, iface: 0, data: frame(60, 1)},
				{ts: base.Add(time.Microsecond), length: 40, capLen: 40, iface: 1, data: frame(40, 2)},
			},
			links:  []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw},
			names:  []string{"h.pcapng", "h.pcapng#1"},
			tshark: true,
		},
		{
			// A Simple Packet Block has no timestamp: it takes the previous
			// packet's (tshark shows none), so no tshark comparison.
			name: "pcapng simple, obsolete and unknown blocks",
			file: "i.pcapng",
			build: func(*testing.T) []byte {
				w := &ngFile{o: binary.LittleEndian}
				w.section()
				w.iface(layers.LinkTypeEthernet, 64, 0, 0)
				w.spb(frame(50, 1), 50) // before any timestamp: zero time
				w.block(0x00000bad, []byte("unknown block type, skipped"))
				w.block(0x00000004, nil) // empty Name Resolution Block
				w.pb(0, uint64(base.UnixMicro()), frame(30, 2))
				w.spb(frame(64, 3), 100) // truncated to the snap length
				return w.b
			},
			want: []pkt{
				{ts: time.Time{}, length: 50, capLen: 50, iface: 0, data: frame(50, 1)},
				{ts: base, length: 30, capLen: 30, iface: 0, data: frame(30, 2)},
				{ts: base, length: 100, capLen: 64, iface: 0, data: frame(64, 3)},
			},
			links: []layers.LinkType{layers.LinkTypeEthernet},
			names: []string{"i.pcapng"},
		},
		{
			// pcapgo.NgWriter writes every interface in nanoseconds,
			// whatever NgInterface.TimestampResolution says, so it can vary
			// link types only.
			name: "pcapng written by pcapgo.NgWriter",
			file: "j.pcapng",
			build: func(t *testing.T) []byte {
				var b bytes.Buffer
				w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw}); err != nil {
					t.Fatal(err)
				}
				for i, r := range recs {
					ci := gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: r.origLen(), InterfaceIndex: i % 2}
					if err := w.WritePacket(ci, r.data); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			},
			want: func() []pkt {
				ps := want(same, 0, recs...)
				for i := range ps {
					ps[i].iface = i % 2
				}
				return ps
			}(),
			links:  []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw},
			names:  []string{"j.pcapng", "j.pcapng#1"},
			tshark: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // tshark takes most of a second to start
			path := writeFile(t, t.TempDir(), tc.file, tc.build(t))
			s, got, errs := openAll(t, path)
			for _, err := range errs {
				t.Errorf("unexpected error: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("read %d packets, want %d", len(got), len(tc.want))
			}
			for i, g := range got {
				w := tc.want[i]
				if !g.ts.Equal(w.ts) || g.length != w.length || g.capLen != w.capLen || g.iface != w.iface || !bytes.Equal(g.data, w.data) {
					t.Errorf("packet %d: got %s len %d caplen %d iface %d, want %s len %d caplen %d iface %d",
						i+1, g.ts.Format(time.RFC3339Nano), g.length, g.capLen, g.iface,
						w.ts.Format(time.RFC3339Nano), w.length, w.capLen, w.iface)
				}
			}
			for i, lt := range tc.links {
				if s.LinkType(i) != lt || s.Interface(i) != tc.names[i] {
					t.Errorf("interface %d: %v %q, want %v %q", i, s.LinkType(i), s.Interface(i), lt, tc.names[i])
				}
			}
			if n := len(tc.links); s.LinkType(n) != layers.LinkTypeNull || s.Interface(n) != "" || s.Interface(-1) != "" {
				t.Errorf("interface %d exists: %v %q", n, s.LinkType(n), s.Interface(n))
			}
			if tc.tshark {
				comparePackets(t, got, tsharkPackets(t, path))
			}
		})
	}
}

// TestGzipMatchesPlain reads real captures and their gzip copies and
// compares every packet, bytes included.
func TestGzipMatchesPlain(t *testing.T) {
	for _, path := range []string{smb2Pcap, merlinPcapng} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			gz := writeFile(t, t.TempDir(), filepath.Base(path)+".gz", gzipBytes(t, readTestFile(t, path)))
			_, want, errs1 := openAll(t, path)
			_, got, errs2 := openAll(t, gz)
			if len(errs1)+len(errs2) > 0 {
				t.Fatalf("errors: %v %v", errs1, errs2)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("read %d packets from gzip, %d plain", len(got), len(want))
			}
			for i := range got {
				if !got[i].ts.Equal(want[i].ts) || !bytes.Equal(got[i].data, want[i].data) || got[i].length != want[i].length {
					t.Fatalf("packet %d differs", i+1)
				}
			}
		})
	}
}

// TestMergeSplitCapture splits a real capture round-robin into k files and
// checks that merging them restores the original exactly.
func TestMergeSplitCapture(t *testing.T) {
	_, orig, errs := openAll(t, smb2Pcap)
	if len(errs) > 0 || len(orig) != smb2Packets {
		t.Fatalf("reading %s: %d packets, errors %v", smb2Pcap, len(orig), errs)
	}
	for i := 1; i < len(orig); i++ {
		if !orig[i].ts.After(orig[i-1].ts) {
			t.Fatalf("%s: packet %d is not strictly later than the one before; the test needs that", smb2Pcap, i+1)
		}
	}
	for _, k := range []int{2, 3} {
		t.Run(strings.Repeat("x", k), func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for f := range k {
				var b bytes.Buffer
				w := pcapgo.NewWriterNanos(&b)
				if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
					t.Fatal(err)
				}
				for i := f; i < len(orig); i += k {
					p := orig[i]
					ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: p.capLen, Length: p.length}
					if err := w.WritePacket(ci, p.data); err != nil {
						t.Fatal(err)
					}
				}
				paths = append(paths, writeFile(t, dir, "part"+string(rune('0'+f))+".pcap", b.Bytes()))
			}
			s, got, errs := openAll(t, paths...)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if len(got) != len(orig) {
				t.Fatalf("merged %d packets, want %d", len(got), len(orig))
			}
			for i, g := range got {
				o := orig[i]
				if !g.ts.Equal(o.ts) || !bytes.Equal(g.data, o.data) || g.length != o.length {
					t.Fatalf("packet %d: merge order differs from the original", i+1)
				}
				if g.iface != i%k || g.file != paths[i%k] || g.index != i/k+1 {
					t.Fatalf("packet %d: iface %d at %s:%d, want %d at %s:%d", i+1, g.iface, g.file, g.index, i%k, paths[i%k], i/k+1)
				}
			}
			if st := s.Stats(); st.Packets != uint64(len(orig)) || st.Files != k || st.FilesFailed != 0 {
				t.Errorf("Stats() = %+v", st)
			}
		})
	}
}

// TestMergeOrder merges three files with interleaved, tied and backwards
// timestamps, in pcap and pcapng, and checks the exact order.
func TestMergeOrder(t *testing.T) {
	dir := t.TempDir()
	at := func(sec int) time.Time { return time.Unix(int64(1_700_000_000+sec), 0).UTC() }
	tag := func(s string) []byte { return []byte(s) }

	a := pcapBytes(binary.LittleEndian, false, 65535, layers.LinkTypeEthernet, []rec{
		{ts: at(10), data: tag("a1")}, {ts: at(20), data: tag("a2")}, {ts: at(30), data: tag("a3")},
		{ts: at(15), data: tag("a4")}, // backwards: stays after a3
		{ts: at(40), data: tag("a5")},
	})
	bf := &ngFile{o: binary.LittleEndian}
	bf.section()
	bf.iface(layers.LinkTypeEthernet, 0, 0, 0)
	bf.iface(layers.LinkTypeRaw, 0, 9, 0)
	bf.epb(0, uint64(at(5).UnixMicro()), tag("b1"), 2)
	bf.epb(1, uint64(at(20).UnixNano()), tag("b2"), 2)
	bf.epb(0, uint64(at(25).UnixMicro()), tag("b3"), 2)
	bf.epb(1, uint64(at(35).UnixNano()), tag("b4"), 2)
	c := pcapBytes(binary.BigEndian, true, 65535, layers.LinkTypeLinuxSLL, []rec{
		{ts: at(20), data: tag("c1")}, {ts: at(50), data: tag("c2")},
	})
	paths := []string{
		writeFile(t, dir, "a.pcap", a),
		writeFile(t, dir, "b.pcapng", bf.b),
		writeFile(t, dir, "c.pcap", c),
	}
	s, got, errs := openAll(t, paths...)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantOrder := []string{"b1", "a1", "a2", "b2", "c1", "b3", "a3", "a4", "b4", "a5", "c2"}
	wantIface := map[string]int{"a": 0, "b1": 1, "b2": 2, "b3": 1, "b4": 2, "c": 3}
	var order []string
	for _, g := range got {
		tg := string(g.data)
		order = append(order, tg)
		wi, ok := wantIface[tg]
		if !ok {
			wi = wantIface[tg[:1]]
		}
		if g.iface != wi {
			t.Errorf("%s: iface %d, want %d", tg, g.iface, wi)
		}
		if wantFile := paths[tg[0]-'a']; g.file != wantFile || g.index != int(tg[1]-'0') {
			t.Errorf("%s: Position %s:%d, want %s:%c", tg, g.file, g.index, wantFile, tg[1])
		}
	}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("order %v, want %v", order, wantOrder)
	}
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL}
	names := []string{"a.pcap", "b.pcapng", "b.pcapng#1", "c.pcap"}
	for i := range links {
		if s.LinkType(i) != links[i] || s.Interface(i) != names[i] {
			t.Errorf("interface %d: %v %q, want %v %q", i, s.LinkType(i), s.Interface(i), links[i], names[i])
		}
	}
}

func TestStatsPositionProgress(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	s, err := OpenFiles([]string{smb2Pcap, missing, combinedGz})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, n := s.Position(); f != "" || n != 0 {
		t.Errorf("Position() before reading = %q, %d", f, n)
	}
	var total int64
	for _, p := range []string{smb2Pcap, combinedGz} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	done, tot := s.Progress()
	if tot != total || done < 0 || done >= total {
		t.Errorf("Progress() before reading = %d, %d; want done < total = %d", done, tot, total)
	}
	pkts, errs := readAll(t, s)
	if len(errs) != 1 {
		t.Errorf("errors %v, want one", errs)
	}
	var bytesRead uint64
	for _, p := range pkts {
		bytesRead += uint64(p.capLen)
	}
	want := Stats{Packets: smb2Packets + combinedPackets, Bytes: bytesRead, Files: 2, FilesFailed: 1}
	if st := s.Stats(); st != want {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
	if done, tot := s.Progress(); done != total || tot != total {
		t.Errorf("Progress() at the end = %d, %d; want %d, %d", done, tot, total, total)
	}
	last := pkts[len(pkts)-1]
	if f, n := s.Position(); f != last.file || n != last.index || n == 0 {
		t.Errorf("Position() = %q, %d, want the last packet's %q, %d", f, n, last.file, last.index)
	}
}

func TestClose(t *testing.T) {
	s, err := OpenFiles([]string{smb2Pcap, combinedGz})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.ZeroCopyReadPacketData(); err != io.EOF {
		t.Errorf("read after Close = %v, want io.EOF", err)
	}
}

// TestCloseWhileReading closes a FileSource from another goroutine while it
// is being read (run with -race).
func TestCloseWhileReading(t *testing.T) {
	paths := []string{smb2Pcap, combinedGz, merlinPcapng, filepath.Join(pcapDir, "smb/zeek_smb3_multichannel.pcap")}
	s, err := OpenFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var readErr error
	started := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			if i == 10 {
				close(started)
			}
			if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
				readErr = err
				return
			}
			s.Progress()
		}
	})
	<-started
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	s.Progress()
	wg.Wait()
	if readErr != io.EOF {
		t.Errorf("reader stopped with %v, want io.EOF", readErr)
	}
}

// TestReadAllocs checks that reading allocates nothing per packet once the
// buffers have grown, for every format and for a merge. It counts every
// allocation over 500 packets: testing.AllocsPerRun over single packets
// would round a rate below one per packet down to zero.
//
// gzip is the exception: compress/flate allocates the Huffman link tables
// of every dynamic deflate block (huffmanDecoder.init), some 0.3 to 0.9
// allocations per packet on these captures. That is inside the standard
// library and unavoidable short of another inflater, so gzip inputs are only
// held under one allocation per packet.
func TestReadAllocs(t *testing.T) {
	dir := t.TempDir()
	smb2 := readTestFile(t, smb2Pcap)
	// pcapng with two interfaces and epb_flags on every packet, the case
	// where pcapgo.NgReader allocates.
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeLinuxSLL2}); err != nil {
		t.Fatal(err)
	}
	flags := pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
	for i := range 2000 {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: 60 + i%1400, Length: 60 + i%1400, InterfaceIndex: i % 2}
		if err := w.WritePacketWithOptions(ci, make([]byte, ci.CaptureLength), pcapgo.NgPacketOptions{Flags: &flags}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	part := func(name string, k, f int) string {
		var b bytes.Buffer
		w := pcapgo.NewWriter(&b)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		ends := pcapRecordEnds(t, smb2)
		start := 24
		for i, end := range ends {
			if i%k == f {
				b.Write(smb2[start:end])
			}
			start = end
		}
		return writeFile(t, dir, name, b.Bytes())
	}

	const packets = 500
	tests := []struct {
		name      string
		paths     []string
		maxAllocs float64 // per packets packets
	}{
		{"pcap", []string{smb2Pcap}, 0},
		{"pcapng", []string{writeFile(t, dir, "flags.pcapng", ng.Bytes())}, 0},
		{"gzip pcap", []string{writeFile(t, dir, "smb2.pcap.gz", gzipBytes(t, smb2))}, packets},
		{"gzip pcapng", []string{writeFile(t, dir, "flags.pcapng.gz", gzipBytes(t, ng.Bytes()))}, packets},
		{"merge of three", []string{part("p0.pcap", 3, 0), part("p1.pcap", 3, 1), part("p2.pcap", 3, 2)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenFiles(tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			read := func() {
				for range packets {
					if _, _, err := s.ZeroCopyReadPacketData(); err != nil {
						t.Fatalf("read: %v", err)
					}
				}
			}
			// AllocsPerRun calls read once to warm up, then once measured.
			a := testing.AllocsPerRun(1, read)
			t.Logf("%v allocations in %d packets", a, packets)
			if a > tc.maxAllocs {
				t.Errorf("%v allocations in %d packets, want at most %v", a, packets, tc.maxAllocs)
			}
		})
	}
}
