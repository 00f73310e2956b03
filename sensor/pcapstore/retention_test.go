package pcapstore

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func importInto(t testing.TB, w *Writer, files ...string) {
	t.Helper()
	if _, err := Import(context.Background(), w, files); err != nil {
		t.Fatal(err)
	}
	if err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
}

func names(fs []FileInfo) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func deletions(t testing.TB, s *Store) map[string]string {
	t.Helper()
	m, problems, err := s.Manifest()
	if err != nil || len(problems) > 0 {
		t.Fatalf("manifest: %v %v", err, problems)
	}
	out := map[string]string{}
	for _, e := range m {
		if e.Op == "delete" {
			out[e.File] = e.Reason
		}
	}
	return out
}

// TestRetentionWithPins fills a store past its byte budget and checks that
// the oldest files go, except those holding a pinned alert's packets, which
// stay (and the alert's packets stay retrievable) until the pin expires;
// then age-based retention.
func TestRetentionWithPins(t *testing.T) {
	clock := &testClock{now: time.Now().UTC()}
	dir := t.TempDir()
	cfg := Config{Dir: dir, FileSize: 64 << 10, MaxBytes: 1 << 20, MaxAge: 24 * time.Hour, MinFree: -1}
	w, err := OpenWriter(cfg, Options{Lossless: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := w.Store()
	first := pcapPath(t, "recorded/benign_smb_rdp.pcap")
	importInto(t, w, first)
	early := closedFiles(t, s)
	if len(early) < 3 {
		t.Fatalf("%d files from the first capture, want several", len(early))
	}
	// Pin the RDP packets of the first capture: an alert about them.
	all, _ := export(t, s, Query{})
	pin := Pin{AlertID: "rdp-scan-0001", From: tsTime(all[0].ts), To: tsTime(all[len(all)-1].ts), Expr: "tcp port 3389",
		Until: clock.now.Add(time.Hour), Alert: []byte(`{"rule":{"id":"rdp-scan"}}`)}
	if err := s.Pin(pin); err != nil {
		t.Fatal(err)
	}
	want, _ := export(t, s, Query{Expr: "alert rdp-scan-0001"})
	direct, _ := export(t, s, Query{Expr: "tcp port 3389"})
	if len(want) == 0 {
		t.Fatal("the pinned alert has no packets")
	}
	samePackets(t, "alert = its expression in its window", want, direct)
	var pinned, unpinned []string
	for _, f := range early {
		x, unmap, err := s.openIndex(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := s.compile(Query{Expr: "tcp port 3389"})
		offs, _ := x.offsets(p)
		unmap()
		if len(offs) > 0 {
			pinned = append(pinned, f.Name)
		} else {
			unpinned = append(unpinned, f.Name)
		}
	}
	if len(pinned) == 0 || len(unpinned) == 0 {
		t.Fatalf("pinned %v, unpinned %v: the test wants both", pinned, unpinned)
	}

	// Overfill: 2.9 MB more into a 1 MiB store.
	importInto(t, w, pcapPath(t, "recorded/smb_mass_rename.pcap"), pcapPath(t, "recorded/smb_fanout_admin_shares.pcap"))
	now := names(closedFiles(t, s))
	for _, name := range pinned {
		if !slices.Contains(now, name) {
			t.Errorf("pinned file %s was deleted", name)
		}
	}
	del := deletions(t, s)
	for _, name := range unpinned {
		if slices.Contains(now, name) || del[name] != "max_bytes" {
			t.Errorf("unpinned old file %s: still there %v, deletion reason %q", name, slices.Contains(now, name), del[name])
		}
	}
	st := w.Stats()
	if st.StoreBytes > int64(cfg.MaxBytes)+int64(len(pinned))*(80<<10) || st.FilesDeleted == 0 || st.PinnedKept != uint64(len(pinned)) {
		t.Errorf("stats after retention: %+v (pinned %d)", st, len(pinned))
	}
	got, _ := export(t, s, Query{Expr: "alert rdp-scan-0001"})
	samePackets(t, "pinned alert after retention", got, want)
	if r := verify(t, s); !r.OK() {
		t.Fatalf("verify: %v", r.Problems)
	}

	// The pin expires: its files, the oldest, go first when room is needed.
	clock.now = clock.now.Add(2 * time.Hour)
	importInto(t, w, pcapPath(t, "recorded/rdp_scan_nmap.pcap"), pcapPath(t, "smb/sv_smb2-peter.pcap"))
	now = names(closedFiles(t, s))
	for _, name := range pinned {
		if slices.Contains(now, name) {
			t.Errorf("file %s kept after its pin expired", name)
		}
	}
	if got, _ := export(t, s, Query{Expr: "alert rdp-scan-0001"}); len(got) != 0 {
		t.Errorf("%d packets of the expired alert still retrievable", len(got))
	}

	// Age: a day later everything goes.
	clock.now = clock.now.Add(25 * time.Hour)
	if err := w.Rotate(); err != nil {
		t.Fatal(err)
	}
	if left := closedFiles(t, s); len(left) != 0 {
		t.Errorf("files older than max_age kept: %v", names(left))
	}
	reasons := map[string]int{}
	for _, r := range deletions(t, s) {
		reasons[r]++
	}
	if reasons["max_bytes"] == 0 || reasons["max_age"] == 0 {
		t.Errorf("deletion reasons %v, want max_bytes and max_age", reasons)
	}
	if r := verify(t, s); !r.OK() {
		t.Fatalf("verify: %v", r.Problems)
	}
}

// TestDiskFull makes packet writes fail with ENOSPC and checks that the
// failure is reported (ErrDiskFull), counted, that retention made room and
// that the store stays well formed.
func TestDiskFull(t *testing.T) {
	var mu sync.Mutex
	var reports []error
	dir := t.TempDir()
	w, err := OpenWriter(Config{Dir: dir, FileSize: 64 << 10, MinFree: -1}, Options{Lossless: true, Report: func(err error) {
		mu.Lock()
		reports = append(reports, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	importInto(t, w, pcapPath(t, "recorded/benign_smb_rdp.pcap"))
	before := len(closedFiles(t, w.Store()))
	fails := 2 // the write and its retry after retention
	w.writeFn = func(f *os.File, seg []byte, off int64) (int, error) {
		if fails > 0 {
			fails--
			n, _ := f.WriteAt(seg[:len(seg)/2], off) // a partial write, then the disk is full
			return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return f.WriteAt(seg, off)
	}
	importInto(t, w, pcapPath(t, "recorded/smb_mass_rename.pcap"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.DiskFull != 1 || st.WriteErrors != 1 || st.Lost == 0 || st.FilesDeleted != 1 {
		t.Errorf("stats %+v: want one disk-full write, lost packets, one file deleted to make room", st)
	}
	mu.Lock()
	var full *Event
	for _, r := range reports {
		if errors.Is(r, ErrDiskFull) {
			errors.As(r, &full)
		}
	}
	mu.Unlock()
	if full == nil || full.Op != "write" {
		t.Fatalf("no disk-full report among %v", reports)
	}
	s, _ := Open(Config{Dir: dir}, Options{})
	if r := verify(t, s); !r.OK() {
		t.Fatalf("verify after the failed write: %v", r.Problems)
	}
	got, _ := export(t, s, Query{})
	if uint64(len(got)) == 0 || len(closedFiles(t, s)) < before {
		t.Errorf("%d packets in %d files after the failure", len(got), len(closedFiles(t, s)))
	}
	for _, reason := range deletions(t, s) {
		if reason != "disk full" {
			t.Errorf("deletion reason %q, want \"disk full\"", reason)
		}
	}
}
