package sensor

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFileSource reads a real capture packet by packet; ns/op is the
// cost of one packet. The file is reopened, untimed, whenever it ends.
func BenchmarkFileSource(b *testing.B) {
	capture := filepath.Join(pcapDir, "smb/zeek_smb3_multichannel.pcap")
	data, err := os.ReadFile(capture)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	gz := filepath.Join(dir, "smb3.pcap.gz")
	if err := os.WriteFile(gz, gzipBytes(b, data), 0o644); err != nil {
		b.Fatal(err)
	}
	benchmarks := []struct {
		name  string
		paths []string
	}{
		{"pcap", []string{capture}},
		{"pcapng", []string{merlinPcapng}},
		{"gzip", []string{gz}},
		{"merge4", []string{capture, smb2Pcap, merlinPcapng, gz}},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			var size int64
			for _, p := range bm.paths {
				fi, err := os.Stat(p)
				if err != nil {
					b.Fatal(err)
				}
				size += fi.Size()
			}
			open := func() *FileSource {
				s, err := OpenFiles(bm.paths)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			s := open()
			var bytes uint64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, _, err := s.ZeroCopyReadPacketData()
				if err == io.EOF {
					b.StopTimer()
					bytes += s.Stats().Bytes
					s.Close()
					s = open()
					b.StartTimer()
					_, _, err = s.ZeroCopyReadPacketData()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			bytes += s.Stats().Bytes
			s.Close()
			b.ReportMetric(float64(bytes)/float64(b.N), "B/packet")
		})
	}
}
