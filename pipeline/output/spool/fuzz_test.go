package spool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func segmentBytes(docs ...string) []byte {
	b := []byte(segmentHeader)
	for _, d := range docs {
		b = appendRecord(b, []byte(d))
	}
	return b
}

// FuzzSegment opens a spool whose segments are arbitrary bytes and reads it
// to the end: no panic, every document returned passed its checksum.
func FuzzSegment(f *testing.F) {
	good := segmentBytes(`{"a":1}`, `{"b":2}`, "x")
	f.Add(good, []byte("mamori-spool-cursor 1\n1 1 23 \n"))
	f.Add(good[:len(good)-3], []byte(""))
	f.Add([]byte(segmentHeader+"\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("mamori-spool-cursor 1\n1 0 8 ff\n"))
	f.Add([]byte("junk"), []byte("mamori-spool-cursor 1\n1 5 999999 00\n"))
	f.Fuzz(func(t *testing.T, seg, cursor []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segmentName(1)), seg, 0o640)
		os.WriteFile(filepath.Join(dir, segmentName(2)), seg, 0o640)
		if len(cursor) > 0 {
			os.WriteFile(filepath.Join(dir, "cursor"), cursor, 0o640)
		}
		s, err := Open(Config{Dir: dir, SyncInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		deadline := time.Now().Add(2 * time.Second)
		for !s.Empty() {
			if time.Now().After(deadline) {
				t.Fatalf("stuck with %+v", s.Stats())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
			es, _ := s.Read(ctx, nil, 100, 1<<20)
			cancel()
			for _, e := range es {
				if len(e.Data) == 0 {
					t.Fatal("empty document returned")
				}
				s.Ack(e.Pos)
			}
		}
	})
}

// FuzzCursor checks that parseCursor never panics and that what it accepts
// formats back to something it reads the same.
func FuzzCursor(f *testing.F) {
	f.Add([]byte("mamori-spool-cursor 1\n3 10 4096 0a0f\n4 0 8\n"))
	f.Add([]byte("mamori-spool-cursor 1\n"))
	f.Add([]byte("mamori-spool-cursor 1\n-1 x y zz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseCursor(b, 1<<16)
		if err != nil {
			return
		}
		again, err := parseCursor(formatCursor(es), 1<<16)
		if err != nil || len(again) != len(es) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range es {
			if es[i].seq != again[i].seq || es[i].index != again[i].index || es[i].offset != again[i].offset || string(es[i].acked) != string(again[i].acked) {
				t.Fatalf("round trip changed line %d", i)
			}
		}
	})
}
