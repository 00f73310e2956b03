// Command livesend replays the frames of capture files into a network
// interface as fast as it can, or at a given rate, for bench/live.sh.
//
// Two ways to send, both with PACKET_QDISC_BYPASS (the qdisc layer is
// skipped): -m mmsg (the default) hands the kernel batches of up to 256
// frames per sendmmsg(2) straight from the loaded frames; -m ring writes
// each frame into a PACKET_TX_RING (TPACKET_V2) and sends the batch with
// one send(2). On a veth pair mmsg costs about 10% less CPU per frame: the
// ring's frames are copied into the ring and then again, when the kernel
// detaches the ring's pages from the frame for the receiving side.
// tcpreplay (one sendto per packet through the qdisc) tops out at a few
// hundred thousand packets/s.
//
// It is a benchmark tool: it sends whatever the files hold to the named
// interface. bench/live.sh runs it only inside a network namespace it
// created, into one end of a veth pair.
//
// Usage: livesend -i IFACE [-m mmsg|ring] [-r PPS] [-d DURATION] [-n PACKETS] FILE...
//
// The frames are loaded into memory first and sent in a loop. The last line
// printed is "sent N packets B bytes S seconds P pps".
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// TX ring geometry: 64 KiB frames (the largest TSO-sized frames in the
// bundled captures fit), 512 of them.
const (
	frameSize  = 1 << 16
	blockSize  = 1 << 18
	blockCount = 128
	frames     = blockSize / frameSize * blockCount
	dataOff    = 32 // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)
)

func main() {
	ifname := flag.String("i", "", "interface to send on")
	rate := flag.Float64("r", 0, "packets per second; 0 sends as fast as possible")
	dur := flag.Duration("d", 5*time.Second, "how long to send")
	max := flag.Int64("n", 0, "stop after this many packets (0: no limit)")
	mode := flag.String("m", "mmsg", "how to send: mmsg (sendmmsg from the loaded frames, no copy in user space) or ring (PACKET_TX_RING)")
	flag.Parse()
	if *ifname == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: livesend -i IFACE [-r PPS] [-d DURATION] [-n PACKETS] FILE...")
		os.Exit(2)
	}
	var pkts [][]byte
	for _, f := range flag.Args() {
		p, err := load(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "livesend: %v\n", err)
			os.Exit(1)
		}
		pkts = append(pkts, p...)
	}
	if len(pkts) == 0 {
		fmt.Fprintln(os.Stderr, "livesend: no frames")
		os.Exit(1)
	}
	sendFn := send
	switch *mode {
	case "mmsg":
		sendFn = sendMmsg
	case "ring":
	default:
		fmt.Fprintf(os.Stderr, "livesend: -m %q: want mmsg or ring\n", *mode)
		os.Exit(2)
	}
	n, b, el, err := sendFn(*ifname, pkts, *rate, *dur, *max)
	if err != nil {
		fmt.Fprintf(os.Stderr, "livesend: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("sent %d packets %d bytes %.3f seconds %.0f pps\n", n, b, el.Seconds(), float64(n)/el.Seconds())
}

// load reads the Ethernet frames of a pcap or pcapng file (frames larger
// than a TX frame slot are skipped).
func load(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var next func() ([]byte, error)
	var link layers.LinkType
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		link = r.LinkType()
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		link = r.LinkType()
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	}
	if link != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("%s: link type %s, want Ethernet", path, link)
	}
	var out [][]byte
	for {
		d, err := next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		if len(d) >= 14 && len(d)+dataOff <= frameSize {
			out = append(out, append([]byte(nil), d...))
		}
	}
}

// send loops over pkts for dur (or max packets) at rate packets/s.
func send(ifname string, pkts [][]byte, rate float64, dur time.Duration, max int64) (n, bytes int64, el time.Duration, err error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, 0, 0, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return 0, 0, 0, fmt.Errorf("TPACKET_V2: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	req := unix.TpacketReq{Block_size: blockSize, Block_nr: blockCount, Frame_size: frameSize, Frame_nr: frames}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return 0, 0, 0, fmt.Errorf("TX ring: %w", err)
	}
	ring, err := unix.Mmap(fd, 0, blockSize*blockCount, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("mapping TX ring: %w", err)
	}
	defer unix.Munmap(ring)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0x0300, Ifindex: ifc.Index}); err != nil { // htons(ETH_P_ALL)
		return 0, 0, 0, fmt.Errorf("bind: %w", err)
	}

	status := func(i int) *uint32 { return (*uint32)(unsafe.Pointer(&ring[i*frameSize])) }
	slot, pi := 0, 0
	var rejected int64
	pc := newPacer(rate, dur)
	start, batch := pc.start, pc.batch
	for (max == 0 || n < max) && pc.wait() {
		queued := 0
		for queued < batch && (max == 0 || n+int64(queued) < max) {
			st := status(slot)
			v := atomic.LoadUint32(st)
			if v&(unix.TP_STATUS_SEND_REQUEST|unix.TP_STATUS_SENDING) != 0 {
				break // the ring is full: send what is queued
			}
			if v&unix.TP_STATUS_WRONG_FORMAT != 0 {
				rejected++ // the kernel refused the frame that was here
			}
			p := pkts[pi]
			h := ring[slot*frameSize:]
			binary.NativeEndian.PutUint32(h[4:], uint32(len(p))) // tp_len
			copy(h[dataOff:], p)
			atomic.StoreUint32(st, unix.TP_STATUS_SEND_REQUEST)
			bytes += int64(len(p))
			queued++
			pi++
			if pi == len(pkts) {
				pi = 0
			}
			slot++
			if slot == frames {
				slot = 0
			}
		}
		if _, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, 0, 0, 0); e != 0 && e != unix.EAGAIN && e != unix.ENOBUFS {
			return n, bytes, time.Since(start), fmt.Errorf("send: %w", e)
		}
		n += int64(queued)
	}
	// Wait for the kernel to finish the last batch.
	for i := range frames {
		for atomic.LoadUint32(status(i))&(unix.TP_STATUS_SEND_REQUEST|unix.TP_STATUS_SENDING) != 0 {
			unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, 0, 0, 0)
		}
		if atomic.LoadUint32(status(i))&unix.TP_STATUS_WRONG_FORMAT != 0 {
			rejected++
		}
	}
	if rejected > 0 {
		return n - rejected, bytes, time.Since(start), fmt.Errorf("the kernel refused %d frames (larger than the MTU?)", rejected)
	}
	return n, bytes, time.Since(start), nil
}

// pacer spreads batches of frames over time: at rate frames/s (0: as fast
// as possible) until dur has passed. Batches are large enough to amortise
// the system call, small enough to pace.
type pacer struct {
	batch       int
	interval    time.Duration
	start, next time.Time
	deadline    time.Time
}

func newPacer(rate float64, dur time.Duration) *pacer {
	p := &pacer{batch: 256, start: time.Now()}
	if rate > 0 {
		p.batch = int(min(256, max64(1, rate/20000)))
		p.interval = time.Duration(float64(p.batch) / rate * float64(time.Second))
	}
	p.next, p.deadline = p.start, p.start.Add(dur)
	return p
}

// wait returns when the next batch is due, false when the time is up.
func (p *pacer) wait() bool {
	now := time.Now()
	if now.After(p.deadline) {
		return false
	}
	if p.interval > 0 {
		if wait := p.next.Sub(now); wait > 0 {
			if wait > 200*time.Microsecond {
				time.Sleep(wait)
			}
			for time.Now().Before(p.next) {
			}
		}
		p.next = p.next.Add(p.interval)
	}
	return true
}

func max64(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// sendMmsg loops over pkts for dur (or max packets) at rate packets/s with
// sendmmsg(2): one system call sends a batch straight from the loaded
// frames, so the only copy is the kernel's into its socket buffer. (A TX
// ring costs a copy into the ring and, on a veth pair, a second one when
// the kernel detaches the ring's pages from the frame before handing it to
// the receiving side.)
func sendMmsg(ifname string, pkts [][]byte, rate float64, dur time.Duration, max int64) (n, bytes int64, el time.Duration, err error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, 0, 0, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 64<<20)
	// Bound with ETH_P_ALL like the ring (with protocol 0 the frames go
	// nowhere); nothing arrives on the sending end of the pair.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0x0300, Ifindex: ifc.Index}); err != nil { // htons(ETH_P_ALL)
		return 0, 0, 0, fmt.Errorf("bind: %w", err)
	}
	// One message per frame, built once; the loop hands the kernel a
	// window of them.
	iovs := make([]unix.Iovec, len(pkts))
	hdrs := make([]unix.Mmsghdr, len(pkts))
	for i, p := range pkts {
		iovs[i].Base = &p[0]
		iovs[i].SetLen(len(p))
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	pi := 0
	pc := newPacer(rate, dur)
	start, batch := pc.start, pc.batch
	for (max == 0 || n < max) && pc.wait() {
		// A batch: up to batch frames, not past the end of the list.
		want := min(batch, len(pkts)-pi)
		if max > 0 {
			want = int(min(int64(want), max-n))
		}
		for want > 0 {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[pi])), uintptr(want), 0, 0, 0)
			if e != 0 {
				if e == unix.EAGAIN || e == unix.ENOBUFS || e == unix.EINTR {
					continue
				}
				return n, bytes, time.Since(start), fmt.Errorf("sendmmsg: %w", e)
			}
			for _, p := range pkts[pi : pi+int(r)] {
				bytes += int64(len(p))
			}
			n += int64(r)
			pi += int(r)
			want -= int(r)
			if pi == len(pkts) {
				pi = 0
			}
		}
	}
	runtime.KeepAlive(pkts)
	return n, bytes, time.Since(start), nil
}
