package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fill writes n documents and closes the spool, leaving them on disk.
func fill(t *testing.T, cfg Config, n int) {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !s.Put(doc(i), true) {
			t.Fatal("put refused")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func newest(t *testing.T, dir string) string {
	t.Helper()
	fs := segFiles(t, dir)
	if len(fs) == 0 {
		t.Fatal("no segment files")
	}
	return fs[len(fs)-1]
}

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestCrashTail(t *testing.T) {
	torn := make([]byte, recordHdr+10)
	binary.LittleEndian.PutUint32(torn, 100) // claims 100 bytes, has 10
	cases := []struct {
		name     string
		damage   func(t *testing.T, path string) int64 // returns the bytes that must be cut
		wantDocs int
	}{
		{"torn record", func(t *testing.T, p string) int64 { appendTo(t, p, torn); return int64(len(torn)) }, 500},
		{"torn header", func(t *testing.T, p string) int64 { appendTo(t, p, []byte{7, 0, 0}); return 3 }, 500},
		{"zero-filled pages", func(t *testing.T, p string) int64 { appendTo(t, p, make([]byte, 4096)); return 4096 }, 500},
		{"bad checksum in last record", func(t *testing.T, p string) int64 {
			b, _ := os.ReadFile(p)
			b[len(b)-2] ^= 0x40
			os.WriteFile(p, b, 0o640)
			return int64(recordHdr + len(doc(499)))
		}, 499},
		{"garbage length", func(t *testing.T, p string) int64 {
			g := []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 'x'}
			appendTo(t, p, g)
			return int64(len(g))
		}, 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.SegmentBytes = 8 << 20 // one segment
			fill(t, cfg, 500)
			p := newest(t, cfg.Dir)
			before, _ := os.Stat(p)
			cut := tc.damage(t, p)
			s := open(t, cfg)
			r := s.Recovered()
			if r.TruncatedBytes != cut || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "valid prefix kept") {
				t.Fatalf("recovery %+v, want %d bytes cut and one problem", r, cut)
			}
			after, _ := os.Stat(p)
			wantSize := before.Size() - (cut - (after.Size() + cut - before.Size()))
			_ = wantSize
			got := numbers(t, readN(t, s, tc.wantDocs))
			if !slices.Equal(got, seq(0, tc.wantDocs)) {
				t.Fatalf("valid prefix not kept: %d docs", len(got))
			}
			expectNothing(t, s, 30*time.Millisecond)
			if s.Stats().CorruptBytes != uint64(cut) {
				t.Fatalf("CorruptBytes = %d, want %d", s.Stats().CorruptBytes, cut)
			}
		})
	}
}

func TestCrashHeaderOnlyGarbage(t *testing.T) {
	cfg := testConfig(t)
	fill(t, cfg, 10)
	os.WriteFile(filepath.Join(cfg.Dir, segmentName(999)), []byte("MSP"), 0o640)
	s := open(t, cfg)
	r := s.Recovered()
	if r.TruncatedBytes != 3 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "no valid header") {
		t.Fatalf("recovery %+v", r)
	}
	readN(t, s, 10)
	if _, err := os.Stat(filepath.Join(cfg.Dir, segmentName(999))); !os.IsNotExist(err) {
		t.Fatal("headerless segment not removed")
	}
}

func TestCorruptOlderSegmentSkipsItsRest(t *testing.T) {
	cfg := testConfig(t)
	fill(t, cfg, 1000)
	fs := segFiles(t, cfg.Dir)
	if len(fs) < 3 {
		t.Fatalf("want at least 3 segments, got %d", len(fs))
	}
	// Damage the 6th record of the first segment.
	b, _ := os.ReadFile(fs[0])
	off := headerLen
	for range 5 {
		_, n, _ := parseRecord(b[off:])
		off += n
	}
	b[off+recordHdr+3] ^= 1
	os.WriteFile(fs[0], b, 0o640)
	firstCount := func() int { _, n := scanValid(b); return n }() // 5: stops at the bad one
	orig, _ := os.ReadFile(fs[0])
	_ = orig

	s := open(t, cfg)
	if r := s.Recovered(); r.TruncatedBytes != 0 {
		t.Fatalf("an older segment was truncated at open: %+v", r)
	}
	// The first segment's records after the bad one are lost; all later
	// segments are read.
	var total int
	for _, f := range fs[1:] {
		d, _ := os.ReadFile(f)
		_, n := scanValid(d)
		total += n
	}
	es := readN(t, s, firstCount+total)
	got := numbers(t, es)
	if !slices.Equal(got[:5], seq(0, 5)) || got[5] <= 5 {
		t.Fatalf("got %v...", got[:8])
	}
	expectNothing(t, s, 30*time.Millisecond)
	for _, e := range es {
		s.Ack(e.Pos)
	}
	st := s.Stats()
	if st.CorruptRecords != 1 || st.CorruptBytes == 0 {
		t.Fatalf("corruption not counted: %+v", st)
	}
}

func TestCrashWithoutCloseLosesNothingUnacked(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	for i := range 800 {
		s.Put(doc(i), i%2 == 0)
	}
	es := readN(t, s, 600)
	for _, e := range es[:300] {
		s.Ack(e.Pos)
	}
	// Let the writer fsync and write the cursor, then take the directory
	// as a crash would leave it (no Close).
	waitFor(t, "cursor", func() bool {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, "cursor"))
		return err == nil && bytes.Contains(b, []byte("\n"))
	})
	time.Sleep(5 * cfg.SyncInterval)
	snap := t.TempDir()
	ents, _ := os.ReadDir(cfg.Dir)
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, de.Name()))
		if err != nil {
			continue // deleted meanwhile
		}
		os.WriteFile(filepath.Join(snap, de.Name()), b, 0o640)
	}
	cfg2 := cfg
	cfg2.Dir = snap
	s2 := open(t, cfg2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []Entry
	for !s2.Empty() {
		n := len(got)
		var err error
		got, err = s2.Read(ctx, got, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got[n:] {
			s2.Ack(e.Pos)
		}
	}
	ns := numbers(t, got)
	// Every unacknowledged document is there, in order; acknowledged ones
	// may come again only if acknowledged after the last cursor write.
	if !slices.IsSorted(ns) || !slices.Equal(ns[len(ns)-500:], seq(300, 800)) {
		t.Fatalf("after crash: %d docs, first %v", len(ns), ns[:5])
	}
}

func TestBadCursorRereadsEverything(t *testing.T) {
	cfg := testConfig(t)
	s, _ := Open(cfg)
	for i := range 50 {
		s.Put(doc(i), false)
	}
	es := readN(t, s, 50)
	for _, e := range es[:20] {
		s.Ack(e.Pos)
	}
	s.Close()
	os.WriteFile(filepath.Join(cfg.Dir, "cursor"), []byte("not a cursor\n"), 0o640)
	s2 := open(t, cfg)
	if r := s2.Recovered(); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "cursor") {
		t.Fatalf("recovery %+v", r)
	}
	if got := numbers(t, readN(t, s2, 50)); !slices.Equal(got, seq(0, 50)) {
		t.Fatalf("got %v", got)
	}
}
