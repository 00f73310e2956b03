package pcapstore

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestMergeOverlappingFiles checks the result order when the store's files
// overlap in time and time goes backwards inside a file (an import of
// captures that are not in time order): the packets of one file in the
// order they were captured, files merged by packet time. The reference is
// the plain k-way merge of each file's matching packets (smallest head
// first, ties to the older file); the store joins a file to its merge only
// when no earlier packet can come from it, which must not change the order.
func TestMergeOverlappingFiles(t *testing.T) {
	orig, link := readPackets(t, pcapPath(t, "recorded/benign_smb_rdp.pcap"))
	if link != linkEthernet || len(orig) < 100 {
		t.Fatalf("capture: link %d, %d packets", link, len(orig))
	}
	dir := t.TempDir()
	w, err := OpenWriter(Config{Dir: dir, FileSize: 64 << 10, MinFree: -1, FileDuration: 1000 * time.Hour}, Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	// Three rounds over the capture, each starting 1.5 ms after the one
	// before and 1 ms a packet: the files of later rounds overlap those of
	// earlier ones. Every seventh packet goes 4 ms back, and some share a
	// time with a packet of another round.
	for round := 0; round < 3; round++ {
		for i, p := range orig {
			ts := base.Add(time.Duration(round)*1500*time.Microsecond + time.Duration(i)*time.Millisecond)
			if i%7 == 3 {
				ts = ts.Add(-4 * time.Millisecond)
			}
			if i%11 == 5 {
				ts = base.Add(time.Duration(i) * time.Millisecond) // the time of round 0's packet i
			}
			ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(p.data), Length: p.orig}
			if err := w.Append(p.data, ci, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("%d files, want several overlapping ones", len(files))
	}
	var perFile [][]pkt
	total := 0
	for _, fi := range files {
		p, _ := readPackets(t, filepath.Join(dir, fi.Name))
		perFile = append(perFile, p)
		total += len(p)
	}
	if total != 3*len(orig) {
		t.Fatalf("the files hold %d packets, want %d", total, 3*len(orig))
	}
	for _, expr := range []string{"", "tcp", "not port 445", "host 10.30.1.13 and not tcp port 3389"} {
		p, err := s.compile(Query{Expr: expr})
		if err != nil {
			t.Fatal(err)
		}
		// Each file's matching packets, then the k-way merge.
		var heads [][]pkt
		for _, f := range perFile {
			var m []pkt
			for _, q := range f {
				if p.match(q.ts, q.data, linkEthernet) {
					m = append(m, q)
				}
			}
			heads = append(heads, m)
		}
		var want []pkt
		for {
			best := -1
			for i, h := range heads {
				if len(h) > 0 && (best < 0 || h[0].ts < heads[best][0].ts) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			want = append(want, heads[best][0])
			heads[best] = heads[best][1:]
		}
		if expr == "" && len(want) != total {
			t.Fatalf("reference merge: %d of %d packets", len(want), total)
		}
		var buf bytes.Buffer
		if _, err := s.Export(context.Background(), Query{Expr: expr, Who: "test"}, &buf); err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		samePackets(t, expr, readPcapBytes(t, buf.Bytes()), want)
	}
}
