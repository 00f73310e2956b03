package pcapstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/internal/testenv"
)

// BenchmarkWrite measures the write path (Append, the writer goroutine's
// sequential writes and index building) on the mixed captures: b.N
// packets, reported as bytes/s of packet data.
func BenchmarkWrite(b *testing.B) {
	var pkts []pkt
	for _, name := range []string{"elcab_aug_16_par4.pcap", "elcab_capture-Thu-11-24-16-10-28-11_cerber.pcap"} {
		p, _ := readPackets(b, filepath.Join(testenv.SharedPcaps(b), "mixed", name))
		pkts = append(pkts, p...)
	}
	var size int64
	for _, p := range pkts {
		size += int64(len(p.data))
	}
	w, err := OpenWriter(Config{Dir: b.TempDir(), MinFree: -1, FileDuration: 1000 * time.Hour}, Options{Lossless: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size / int64(len(pkts)))
	b.ResetTimer()
	base := time.Unix(1700000000, 0)
	for i := 0; i < b.N; i++ {
		p := &pkts[i%len(pkts)]
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(p.data), Length: p.orig}
		w.Append(p.data, ci, layers.LinkTypeEthernet)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	w.Close()
}

// BenchmarkIndexAdd measures index building alone (extract, canonical
// tuple, posting) per packet.
func BenchmarkIndexAdd(b *testing.B) {
	p, _ := readPackets(b, filepath.Join(testenv.SharedPcaps(b), "mixed", "elcab_capture-Thu-11-24-16-10-28-11_cerber.pcap"))
	ib := newIndexBuilder(linkEthernet, 0)
	b.ReportAllocs()
	b.ResetTimer()
	off := uint32(fileHeaderLen)
	for i := 0; i < b.N; i++ {
		if i%(1<<20) == 0 {
			ib = newIndexBuilder(linkEthernet, 0)
			off = fileHeaderLen
		}
		q := &p[i%len(p)]
		ib.add(off, int64(i), q.data)
		off += uint32(recHeaderLen + len(q.data))
	}
}
