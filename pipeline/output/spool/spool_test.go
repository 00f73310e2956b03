package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testConfig(t testing.TB) Config {
	return Config{Dir: t.TempDir(), SegmentBytes: 64 << 10, QueueBytes: 1 << 20, MaxBytes: 8 << 20, SyncInterval: 10 * time.Millisecond}
}

func open(t testing.TB, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func doc(i int) []byte { return fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%300)) }

// readN reads exactly n entries (or fails after a timeout).
func readN(t testing.TB, s *Spool, n int) []Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []Entry
	for len(out) < n {
		var err error
		out, err = s.Read(ctx, out, n-len(out), 64<<10)
		if err != nil {
			t.Fatalf("after %d of %d entries: %v (stats %+v)", len(out), n, err, s.Stats())
		}
	}
	if len(out) != n {
		t.Fatalf("read %d entries, want %d", len(out), n)
	}
	return out
}

// expectNothing checks that no entry becomes readable within d.
func expectNothing(t testing.TB, s *Spool, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := s.Read(ctx, nil, 1000, 1<<20)
	if len(out) > 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read %d entries (err %v), want none", len(out), err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func numbers(t testing.TB, es []Entry) []int {
	t.Helper()
	out := make([]int, len(es))
	for i, e := range es {
		if _, err := fmt.Sscanf(string(e.Data), `{"n":%d`, &out[i]); err != nil {
			t.Fatalf("entry %d: %q: %v", i, e.Data, err)
		}
		if string(e.Data) != string(doc(out[i])) {
			t.Fatalf("entry %d: payload differs from doc(%d)", i, out[i])
		}
	}
	return out
}

func seq(a, b int) []int {
	var out []int
	for i := a; i < b; i++ {
		out = append(out, i)
	}
	return out
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTripInOrderAndShrinks(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	const n = 3000
	for i := range n {
		if !s.Put(doc(i), false) {
			t.Fatalf("put %d refused: %+v", i, s.Stats())
		}
	}
	es := readN(t, s, n)
	if got := numbers(t, es); !slices.Equal(got, seq(0, n)) {
		t.Fatalf("order: got %v...", got[:10])
	}
	if len(segFiles(t, cfg.Dir)) < 2 {
		t.Fatalf("want several segments of %s for %d docs, have %d", cfg.SegmentBytes, n, len(segFiles(t, cfg.Dir)))
	}
	// Acknowledge in reverse: nothing may be deleted before all are acked.
	for i := n - 1; i >= 1; i-- {
		s.Ack(es[i].Pos)
	}
	if s.Empty() {
		t.Fatal("Empty with one document unacknowledged")
	}
	s.Ack(es[0].Pos)
	s.Ack(es[0].Pos) // a second ack has no effect
	waitFor(t, "the spool to shrink to nothing", func() bool {
		st := s.Stats()
		return st.DiskBytes == 0 && st.Segments == 0 && len(segFiles(t, cfg.Dir)) == 0
	})
	st := s.Stats()
	if !s.Empty() || st.Acked != n || st.InFlight != 0 || st.Written != n || st.Read != n {
		t.Fatalf("stats after drain: %+v", st)
	}
}

func TestRestartResumesAfterAcknowledged(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		s.Put(doc(i), i%7 == 0)
	}
	es := readN(t, s, 1200)
	// Acknowledge 0..499 and then every third of 500..1199 (out of order).
	acked := map[int]bool{}
	for i := 1199; i >= 0; i-- {
		if i < 500 || i%3 == 0 {
			s.Ack(es[i].Pos)
			acked[i] = true
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background(), nil, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}

	s2 := open(t, cfg)
	if r := s2.Recovered(); len(r.Problems) > 0 || r.TruncatedBytes != 0 {
		t.Fatalf("clean restart reported problems: %+v", r)
	}
	var want []int
	for i := range n {
		if !acked[i] {
			want = append(want, i)
		}
	}
	got := numbers(t, readN(t, s2, len(want)))
	if !slices.Equal(got, want) {
		t.Fatalf("after restart read %d docs %v..., want %d %v...", len(got), got[:5], len(want), want[:5])
	}
	expectNothing(t, s2, 50*time.Millisecond)
}

func TestRestartTwiceKeepsCursorOfUnreadSegments(t *testing.T) {
	// Acknowledgements recorded in the cursor must survive an Open/Close
	// during which the reader never reached their segment.
	cfg := testConfig(t)
	s, _ := Open(cfg)
	for i := range 100 {
		s.Put(doc(i), false)
	}
	es := readN(t, s, 100)
	for i := 0; i < 100; i += 2 {
		s.Ack(es[i].Pos)
	}
	s.Close()
	s2, _ := Open(cfg)
	s2.Close()
	s3 := open(t, cfg)
	got := numbers(t, readN(t, s3, 50))
	var want []int
	for i := 1; i < 100; i += 2 {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestCapCountsSegmentHeaders: the headers of the segments that queued
// documents will open are part of the cap. With small segments, documents
// queued up to the cap make the writer open many segments afterwards; the
// files must still stay within MaxBytes once everything is written.
func TestCapCountsSegmentHeaders(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBytes, cfg.QueueBytes, cfg.SegmentBytes = 4<<20, 4<<20, 64<<10
	s := open(t, cfg)
	d := doc(299)
	for range 20000 {
		s.Put(d, false)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().QueueBytes > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not written: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	st := s.Stats()
	if st.DroppedFull == 0 {
		t.Fatalf("the cap was never reached: %+v", st)
	}
	if total := st.DiskBytes + st.QueueBytes; total > int64(cfg.MaxBytes) {
		t.Fatalf("spool holds %d bytes in %d segments, cap %d", total, st.Segments, cfg.MaxBytes)
	}
}

func TestCapDropsNewestFlowsKeepsAlerts(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBytes = 1 << 20
	s := open(t, cfg)
	d := doc(299) // 300+ bytes
	accepted := 0
	for i := 0; i < 10000; i++ {
		if s.Put(d, false) {
			accepted++
		}
	}
	st := s.Stats()
	if st.DroppedFull+st.DroppedQueue == 0 || uint64(accepted) != st.Accepted {
		t.Fatalf("no drop counted at the cap: accepted %d, %+v", accepted, st)
	}
	if total := st.DiskBytes + st.QueueBytes; total > int64(cfg.MaxBytes) {
		t.Fatalf("spool holds %d bytes, cap %d", total, cfg.MaxBytes)
	}
	for i := 0; i < 100; i++ {
		if !s.Put(d, true) {
			t.Fatal("keep=true document refused at the cap")
		}
	}
	st = s.Stats()
	if st.OverCap != 100 {
		t.Fatalf("OverCap = %d, want 100", st.OverCap)
	}
	// The kept ones are the oldest: the first accepted are read first.
	es := readN(t, s, accepted+100)
	if len(es) != accepted+100 {
		t.Fatal("lost documents")
	}
	if s.Put(nil, true) || s.Put(make([]byte, MaxRecordBytes+1), true) {
		t.Fatal("empty or oversized document accepted")
	}
	if s.Stats().DroppedInvalid != 2 {
		t.Fatal("invalid documents not counted")
	}
}

func TestMaxInFlight(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxInFlight = 10
	s := open(t, cfg)
	for i := range 30 {
		s.Put(doc(i), false)
	}
	es := readN(t, s, 10)
	expectNothing(t, s, 30*time.Millisecond)
	s.Ack(es[3].Pos)
	more := readN(t, s, 1)
	if numbers(t, more)[0] != 10 {
		t.Fatalf("next read %v, want 10", numbers(t, more))
	}
}

func TestLargeRecordAcrossChunks(t *testing.T) {
	cfg := testConfig(t)
	cfg.QueueBytes = 16 << 20
	s := open(t, cfg)
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	s.Put([]byte("small"), false)
	s.Put(big, false)
	s.Put([]byte("after"), false)
	es := readN(t, s, 3)
	if string(es[0].Data) != "small" || string(es[1].Data) != string(big) || string(es[2].Data) != "after" {
		t.Fatal("payloads differ")
	}
}

func TestSizeParse(t *testing.T) {
	for in, want := range map[string]Size{"512MiB": 512 << 20, "4GiB": 4 << 30, "64KiB": 64 << 10, "10GB": 10e9, "1234": 1234, " 2 MiB ": 2 << 20} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1GiB", "1.5GiB", "99999999999TiB", "12XB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(4 << 30).String(); s != "4GiB" {
		t.Errorf("String = %s", s)
	}
	if _, err := (Config{MaxBytes: 100}).WithDefaults(); err == nil || !strings.Contains(err.Error(), "max_bytes") {
		t.Errorf("tiny max_bytes accepted: %v", err)
	}
}

func TestOpenRequiresDir(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Fatal("Open without dir succeeded")
	}
	// A file where the directory should be.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(Config{Dir: f}); err == nil {
		t.Fatal("Open on a file succeeded")
	}
}
