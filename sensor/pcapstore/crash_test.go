package pcapstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/sensor"
)

// TestMain runs the crash test's child when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PCAPSTORE_CRASH_DIR"); dir != "" {
		if err := crashChild(dir, os.Getenv("PCAPSTORE_CRASH_PCAP")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashFileSize is large enough that the child is killed while writing
// its first file, not while closing it (TestRecoverUnmanifested covers
// that).
const crashFileSize = 64 << 20

func crashConfig(dir string) Config {
	return Config{Dir: dir, FileSize: crashFileSize, FileDuration: 1000 * time.Hour}
}

// crashChild writes a capture into a store, flushes, says so, and then
// keeps writing copies of the capture shifted by its span until it is
// killed.
func crashChild(dir, pcap string) error {
	w, err := OpenWriter(crashConfig(dir), Options{Lossless: true})
	if err != nil {
		return err
	}
	pkts, span, err := loadForCrash(pcap)
	if err != nil {
		return err
	}
	written := 0
	for k := 0; ; k++ {
		if written > crashFileSize*3/4 {
			select {} // wait for the kill without rolling to a second file
		}
		for _, p := range pkts {
			ci := p.ci
			ci.Timestamp = ci.Timestamp.Add(time.Duration(k) * span)
			if err := w.Append(p.data, ci, layers.LinkType(p.link)); err != nil {
				return err
			}
			written += recHeaderLen + len(p.data)
		}
		if k == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Println("flushed")
		}
	}
}

type crashPkt struct {
	data []byte
	ci   gopacket.CaptureInfo
	link uint32
}

func (p crashPkt) pkt(shift time.Duration) pkt {
	return pkt{ts: p.ci.Timestamp.Add(shift).UnixNano(), orig: p.ci.Length, data: p.data}
}

// loadForCrash reads a capture and returns its packets and the shift that
// puts a copy right after it.
func loadForCrash(path string) ([]crashPkt, time.Duration, error) {
	src, err := sensor.OpenFiles([]string{path})
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	var out []crashPkt
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, crashPkt{bytes.Clone(data), ci, uint32(src.LinkType(ci.InterfaceIndex))})
	}
	span := out[len(out)-1].ci.Timestamp.Sub(out[0].ci.Timestamp) + time.Second
	return out, span, nil
}

// TestCrashRecovery kills a writer process (SIGKILL) while it writes,
// adds a torn packet record to its open file, and checks that the next
// writer recovers: the store is readable, the open file is re-indexed and
// in the manifest, every packet written before the crash is there in
// order, and verify passes.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	pcap := pcapPath(t, "recorded/benign_smb_rdp.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PCAPSTORE_CRASH_DIR="+dir, "PCAPSTORE_CRASH_PCAP="+pcap)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "flushed" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v\n%s", line, err, stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // let it write more, then kill it mid-file
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	parts, _ := filepath.Glob(filepath.Join(dir, ".*.pcap.part"))
	if len(parts) != 1 {
		t.Fatalf("%d open files after the crash, want 1: %v\n%s", len(parts), parts, stderr.String())
	}
	// A torn write: half a record header at the end.
	f, err := os.OpenFile(parts[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3, 4, 5, 6, 7})
	f.Close()

	var reports []string
	w, err := OpenWriter(crashConfig(dir), Options{Report: func(err error) { reports = append(reports, err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.FilesRecovered != 1 {
		t.Errorf("recovered %d files, want 1", st.FilesRecovered)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(reports) == 0 || !strings.Contains(strings.Join(reports, "\n"), "bytes of a packet cut short removed") {
		t.Errorf("recovery reports %q, want the torn record named", reports)
	}
	s, err := Open(Config{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(t, s); !r.OK() || len(r.Open) != 0 {
		t.Fatalf("verify after recovery: %v (open %v)", r.Problems, r.Open)
	}
	m, _, err := s.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if last := m[len(m)-1]; last.Op != "add" || !strings.HasPrefix(last.Reason, "recovered after a crash") {
		t.Errorf("last manifest line %+v, want the recovered file", last)
	}

	// Every packet before the crash, in order: the capture, then copies.
	got, _ := export(t, s, Query{})
	src, span, err := loadForCrash(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(src) {
		t.Fatalf("%d packets after recovery, want at least the %d flushed before the crash", len(got), len(src))
	}
	for i, g := range got {
		w := src[i%len(src)].pkt(time.Duration(i/len(src)) * span)
		if g.ts != w.ts || g.orig != w.orig || !bytes.Equal(g.data, w.data) {
			t.Fatalf("packet %d: got %v, want %v", i+1, g, w)
		}
	}
	t.Logf("%d packets survived the crash (%d flushed), %d files", len(got), len(src), len(closedFiles(t, s)))
}

// TestRecoverUnmanifested covers a crash after a packet file was renamed
// to its final name and before its manifest line and index were written:
// the next writer indexes it and adds it to the manifest.
func TestRecoverUnmanifested(t *testing.T) {
	dir := t.TempDir()
	s := importStore(t, Config{Dir: dir, FileSize: 64 << 10}, pcapPath(t, "recorded/benign_smb_rdp.pcap"))
	files := closedFiles(t, s)
	last := files[len(files)-1]
	want, _ := export(t, s, Query{})
	// Undo the last close's manifest line and index.
	b, _ := os.ReadFile(s.path(manifestName))
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	os.WriteFile(s.path(manifestName), b, 0o640)
	os.Remove(s.path(idxName(last.Name)))
	if r := verify(t, s); r.OK() {
		t.Fatal("verify passed with a file missing from the manifest")
	}
	w, err := OpenWriter(Config{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.FilesRecovered != 1 {
		t.Errorf("recovered %d files, want 1", st.FilesRecovered)
	}
	w.Close()
	if r := verify(t, s); !r.OK() {
		t.Fatalf("verify after recovery: %v", r.Problems)
	}
	got, _ := export(t, s, Query{})
	samePackets(t, "all packets", got, want)
}
