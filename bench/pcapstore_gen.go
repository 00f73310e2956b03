//go:build ignore

// pcapstore_gen builds a large pcap store for bench/pcapstore.sh: the
// mixed captures (../shared/pcaps/mixed) merged into one base (the second
// capture moved to start with the first), then COPIES copies of it, copy k
// shifted k*SHIFT later and with every IPv4 address's second and third
// bytes XORed with k (IPv6: bytes 2 and 3; ARP addresses too), merged in
// time order and written through the store's writer, so that the store
// looks like one large LAN of many similar hosts. It prints the write
// rate and, for copy PICK, the addresses the queries use.
//
//	go run bench/pcapstore_gen.go -store DIR -copies 480 -pick 123
package main

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mamori/sensor"
	"mamori/sensor/pcapstore"
)

type pkt struct {
	data []byte
	ci   gopacket.CaptureInfo
}

func load(path string) ([]pkt, error) {
	src, err := sensor.OpenFiles([]string{path})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []pkt
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if src.LinkType(ci.InterfaceIndex) != layers.LinkTypeEthernet {
			return nil, fmt.Errorf("%s: not Ethernet", path)
		}
		out = append(out, pkt{bytes.Clone(data), ci})
	}
}

// remap rewrites the addresses of an Ethernet frame in place for copy k.
func remap(b []byte, k int) {
	if len(b) < 14 {
		return
	}
	hi, lo := byte(k>>8), byte(k)
	switch binary.BigEndian.Uint16(b[12:]) {
	case 0x0800:
		if len(b) >= 14+20 {
			for _, off := range []int{14 + 12, 14 + 16} {
				b[off+1] ^= hi
				b[off+2] ^= lo
			}
		}
	case 0x86dd:
		if len(b) >= 14+40 {
			for _, off := range []int{14 + 8, 14 + 24} {
				b[off+2] ^= hi
				b[off+3] ^= lo
			}
		}
	case 0x0806:
		if len(b) >= 14+28 {
			for _, off := range []int{14 + 14, 14 + 24} {
				b[off+1] ^= hi
				b[off+2] ^= lo
			}
		}
	}
}

func remapAddr(a netip.Addr, k int) netip.Addr {
	hi, lo := byte(k>>8), byte(k)
	if a.Is4() {
		b := a.As4()
		b[1] ^= hi
		b[2] ^= lo
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	b[2] ^= hi
	b[3] ^= lo
	return netip.AddrFrom16(b)
}

type cursor struct {
	k  int
	i  int
	ts time.Time
}

type cursors []*cursor

func (h cursors) Len() int { return len(h) }
func (h cursors) Less(i, j int) bool {
	if !h[i].ts.Equal(h[j].ts) {
		return h[i].ts.Before(h[j].ts)
	}
	return h[i].k < h[j].k
}
func (h cursors) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursors) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func main() {
	dir := flag.String("store", "", "store directory to create")
	shared := flag.String("mixed", "../shared/pcaps/mixed", "directory of the mixed captures")
	copies := flag.Int("copies", 480, "copies of the base")
	shift := flag.Duration("shift", 5*time.Second, "time between copies")
	pick := flag.Int("pick", 123, "copy whose addresses the queries use")
	fileSize := flag.String("file-size", "256MiB", "store file size")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "pcapstore_gen: -store DIR is required")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(*shared, "*.pcap"))
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Fprintf(os.Stderr, "pcapstore_gen: no captures in %s\n", *shared)
		os.Exit(1)
	}
	var base []pkt
	var start time.Time
	for i, f := range files {
		p, err := load(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if i == 0 {
			start = p[0].ci.Timestamp
		}
		d := start.Sub(p[0].ci.Timestamp)
		for j := range p {
			p[j].ci.Timestamp = p[j].ci.Timestamp.Add(d)
		}
		base = append(base, p...)
	}
	sort.SliceStable(base, func(i, j int) bool { return base[i].ci.Timestamp.Before(base[j].ci.Timestamp) })
	var baseBytes int64
	for _, p := range base {
		baseBytes += int64(len(p.data))
	}
	fs, err := pcapstore.ParseByteSize(*fileSize)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, err := pcapstore.OpenWriter(pcapstore.Config{Dir: *dir, FileSize: fs, MaxBytes: 1 << 40, MinFree: -1, FileDuration: 24 * time.Hour},
		pcapstore.Options{Lossless: true, Report: func(err error) { fmt.Fprintln(os.Stderr, err) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := make(cursors, 0, *copies)
	for k := 0; k < *copies; k++ {
		h = append(h, &cursor{k: k, ts: base[0].ci.Timestamp.Add(time.Duration(k) * *shift)})
	}
	heap.Init(&h)
	buf := make([]byte, 0, 65536)
	began := time.Now()
	var n, bytesN int64
	for h.Len() > 0 {
		c := h[0]
		p := base[c.i]
		buf = append(buf[:0], p.data...)
		remap(buf, c.k)
		ci := p.ci
		ci.Timestamp = c.ts
		if err := w.Append(buf, ci, layers.LinkTypeEthernet); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		n++
		bytesN += int64(len(buf))
		c.i++
		if c.i == len(base) {
			heap.Pop(&h)
			continue
		}
		c.ts = base[c.i].ci.Timestamp.Add(time.Duration(c.k) * *shift)
		heap.Fix(&h, 0)
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	el := time.Since(began)
	st := w.Stats()
	fmt.Fprintf(os.Stderr, "wrote %d packets, %d bytes in %s: %.0f packets/s, %.0f MB/s, %.2f Gbit/s (generator included); %d files; dropped %d lost %d\n",
		n, bytesN, el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(bytesN)/1e6/el.Seconds(), float64(bytesN)*8/1e9/el.Seconds(),
		st.FilesClosed, st.Dropped, st.Lost)
	// The query values: copy PICK's busiest internal host, and a second one.
	fmt.Printf("HOST=%s\n", remapAddr(netip.MustParseAddr("192.168.1.46"), *pick))
	fmt.Printf("HOST2=%s\n", remapAddr(netip.MustParseAddr("192.168.1.195"), *pick))
}
