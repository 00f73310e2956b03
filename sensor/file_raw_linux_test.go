package sensor

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRawReadMatchesPipe reads real captures twice: as regular files,
// which are read with direct read(2) calls, and through FIFOs, which are
// read through os.File; the packets, their order and the byte counts of
// Progress must agree.
func TestRawReadMatchesPipe(t *testing.T) {
	for _, name := range []string{"recorded/benign_smb_rdp.pcap", "beacon/zeek_merlinc2.pcapng", "smb/mmt_37.WannaCry.pcap"} {
		path := filepath.Join(pcapDir, name)
		t.Run(name, func(t *testing.T) {
			s, want, errs := openAll(t, path)
			if len(errs) > 0 || len(want) == 0 {
				t.Fatalf("regular file: %d packets, errors %v", len(want), errs)
			}
			if s.files[0].in.raw == nil {
				t.Fatal("a regular file is not read with direct reads")
			}
			done, total := s.Progress()
			if fi, _ := os.Stat(path); done != total || total != fi.Size() {
				t.Errorf("Progress = %d, %d; want %d both", done, total, fi.Size())
			}

			fifo := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			data := readTestFile(t, path)
			wrote := make(chan error, 1)
			go func() {
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err == nil {
					_, err = f.Write(data)
					f.Close()
				}
				wrote <- err
			}()
			p, got, errs := openAll(t, fifo)
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if len(errs) > 0 {
				t.Fatalf("FIFO: errors %v", errs)
			}
			if p.files[0].in.raw != nil {
				t.Fatal("a FIFO is read with direct reads")
			}
			if len(got) != len(want) {
				t.Fatalf("FIFO: %d packets, regular file %d", len(got), len(want))
			}
			for i := range got {
				got[i].file = want[i].file // Position names the FIFO
			}
			comparePackets(t, got, want)
		})
	}
}
