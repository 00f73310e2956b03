package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"mamori/sensor"
)

// Offsets in the TPACKET_V3 ring (linux/if_packet.h). A block starts with
// struct tpacket_block_desc (version, offset_to_priv, then struct
// tpacket_hdr_v1); each packet with struct tpacket3_hdr.
const (
	blkStatus   = 8  // hdr.bh1.block_status
	blkNumPkts  = 12 // hdr.bh1.num_pkts
	blkFirstPkt = 16 // hdr.bh1.offset_to_first_pkt

	pktNext     = 0  // tp_next_offset
	pktSec      = 4  // tp_sec
	pktNsec     = 8  // tp_nsec
	pktSnaplen  = 12 // tp_snaplen
	pktLen      = 16 // tp_len
	pktStatus   = 20 // tp_status
	pktMac      = 24 // tp_mac (u16)
	pktVLANTCI  = 32 // hv1.tp_vlan_tci
	pktVLANTPID = 36 // hv1.tp_vlan_tpid (u16)
	pktHdrLen   = 48 // sizeof(struct tpacket3_hdr)
)

// Group is a fanout group: Workers rings on one interface, among which the
// kernel spreads packets by a symmetric flow hash, so both directions of a
// flow reach the same ring. Each Ring is a sensor.Source for one worker.
//
// A Group's methods are safe for concurrent use; each Ring has one reader.
type Group struct {
	cfg   Config
	rings []*Ring
	id    int
}

// Setup is called for every socket of a group after its ring is mapped and
// before it is bound to the interface, so that a filter it attaches sees
// every packet: attach the eBPF flow counter, join promiscuous mode. fd is
// the socket, ifIndex the interface's index.
type Setup func(fd, ifIndex int) error

// Open creates the group's sockets and rings on cfg.Interface, in the
// calling thread's network namespace. setup may be nil. It needs
// CAP_NET_RAW; errors name the interface and the step that failed.
func Open(cfg Config, setup Setup) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Interface == "" {
		return nil, errors.New("interface: no capture interface given")
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("finding capture interface: %w", err)
	}
	g := &Group{cfg: cfg, id: cfg.FanoutGroup}
	for i := range cfg.Workers {
		r, err := g.open(i, ifc.Index, setup)
		if err != nil {
			g.Close()
			g.Close()
			return nil, fmt.Errorf("opening ring %d on %s: %w", i, cfg.Interface, err)
		}
		g.rings = append(g.rings, r)
	}
	return g, nil
}

func (g *Group) open(i, ifIndex int, setup Setup) (_ *Ring, err error) {
	cfg := g.cfg
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating packet socket: %w", err)
	}
	r := &Ring{
		name: cfg.Interface, ifIndex: ifIndex, worker: i, fd: fd,
		bsize: cfg.BlockSize, nblocks: cfg.BlockCount,
		tick: cfg.IdleTick, statsEvery: cfg.StatsInterval, blockTimeout: cfg.BlockTimeout,
		fdsOpen: true,
	}
	defer func() {
		if err != nil {
			r.mu.Lock()
			r.closeFDs()
			r.unmap()
			r.mu.Unlock()
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("selecting TPACKET_V3: %w", err)
	}
	// A passive sensor has no business with what this host sends (kernels
	// before 4.20 lack the option: then outgoing packets are captured too).
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	frame := (cfg.FrameSize + 15) &^ 15
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.BlockCount),
		Frame_size:     uint32(frame),
		Frame_nr:       uint32(cfg.BlockSize/frame) * uint32(cfg.BlockCount),
		Retire_blk_tov: uint32(cfg.BlockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("creating ring of %d×%d bytes: %w", cfg.BlockCount, cfg.BlockSize, err)
	}
	mem, err := unix.Mmap(fd, 0, cfg.BlockSize*cfg.BlockCount, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mapping ring: %w", err)
	}
	r.mem, r.mapped = mem, true
	// Copy at most FrameSize bytes of a packet. An eBPF filter attached by
	// setup replaces this one and must truncate itself.
	snap := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: uint32(cfg.FrameSize)}}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &snap[0]}); err != nil {
		return nil, fmt.Errorf("attaching snap length filter: %w", err)
	}
	if setup != nil {
		if err := setup(fd, ifIndex); err != nil {
			return nil, err
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifIndex}); err != nil {
		return nil, fmt.Errorf("binding to interface: %w", err)
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		if ll, ok := sa.(*unix.SockaddrLinklayer); ok {
			r.link = linkType(ll.Hatype)
		}
	}
	if cfg.Workers > 1 {
		if err := g.join(fd); err != nil {
			return nil, err
		}
	}
	// The reader waits for blocks in Go's network poller (epoll), not in
	// a blocking poll(2): a goroutine parked there holds no thread, so the
	// runtime neither hands its processor to a new thread nor wakes its
	// monitor every 20µs, which on a small or virtual machine costs more
	// than the wait itself. Deadlines give the idle ticks and stats reads;
	// Close wakes the reader with a deadline in the past.
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("making the socket non-blocking: %w", err)
	}
	r.file = os.NewFile(uintptr(fd), "afpacket:"+cfg.Interface)
	if r.rc, err = r.file.SyscallConn(); err != nil {
		return nil, fmt.Errorf("registering the socket with the poller: %w", err)
	}
	if err := r.file.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("registering the socket with the poller: %w", err)
	}
	r.cleanup = runtime.AddCleanup(r, func(mem []byte) { unix.Munmap(mem) }, mem)
	return r, nil
}

// join adds fd to the group's fanout, creating the group on the first call.
func (g *Group) join(fd int) error {
	mode := unix.PACKET_FANOUT_HASH
	if !g.cfg.NoDefrag {
		mode |= unix.PACKET_FANOUT_FLAG_DEFRAG
	}
	if g.id == 0 {
		// Let the kernel pick an ID no other socket uses (Linux 4.3+).
		err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, (mode|unix.PACKET_FANOUT_FLAG_UNIQUEID)<<16)
		if err == nil {
			v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
			if err != nil {
				return fmt.Errorf("reading fanout group: %w", err)
			}
			g.id = v & 0xffff
			return nil
		}
		g.id = (unix.Getpid() & 0xfffe) + 1
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, g.id|mode<<16); err != nil {
		return fmt.Errorf("joining fanout group %d: %w", g.id, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func linkType(hatype uint16) layers.LinkType {
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return layers.LinkTypeEthernet
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_IPGRE:
		return layers.LinkTypeRaw
	}
	return layers.LinkTypeNull
}

// Rings are the group's rings, one per worker.
func (g *Group) Rings() []*Ring { return g.rings }

// FanoutID is the fanout group's ID (0 with a single ring, which needs no
// fanout).
func (g *Group) FanoutID() int {
	if len(g.rings) < 2 {
		return 0
	}
	return g.id
}

// Stats sums the rings' counters.
func (g *Group) Stats() sensor.Stats {
	var s sensor.Stats
	for _, r := range g.rings {
		rs := r.Stats()
		s.Packets += rs.Packets
		s.Bytes += rs.Bytes
		s.KernelDrops += rs.KernelDrops
		s.KernelFreezes += rs.KernelFreezes
	}
	return s
}

// Close closes every ring (see Ring.Close).
func (g *Group) Close() error {
	for _, r := range g.rings {
		r.Close()
	}
	return nil
}

// Ring is one TPACKET_V3 socket and its memory-mapped ring: a
// sensor.Source. Packets are returned in place, without copying: the data
// is valid until the next call to ZeroCopyReadPacketData (which hands the
// block it came from back to the kernel when it is used up).
//
// One goroutine reads a Ring. Stats, KernelStats and Close are safe to call
// from any goroutine.
type Ring struct {
	name    string
	ifIndex int
	worker  int
	link    layers.LinkType

	bsize, nblocks int
	tick           time.Duration
	statsEvery     time.Duration
	blockTimeout   time.Duration
	cleanup        runtime.Cleanup

	// Reader state, touched only by the reading goroutine.
	mem       []byte
	cur       int    // block the reader holds or waits for
	blk       []byte // the held block; nil when none
	left      int    // packets left in blk
	off       int    // offset of the next packet in blk
	lastTS    time.Time
	stopAt    time.Time // when closing: the end of the drain
	idleSince time.Time // wall clock of the last packet or tick returned
	nextStats time.Time
	// Packets and bytes returned from the held block, added to the
	// shared counters when the block is handed back (one atomic add per
	// block, not two per packet).
	blkPackets, blkBytes uint64

	packets, bytes, ticks atomic.Uint64
	polls                 atomic.Uint64 // waits, for tests
	closedFlag            atomic.Bool

	mu      sync.Mutex // guards everything below
	fd      int
	file    *os.File        // fd, registered with the runtime's poller; nil until set up
	rc      syscall.RawConn // file's
	closed  bool
	waiting bool // the reader is waiting for a block
	fdsOpen bool
	mapped  bool
	kernel  KernelStats
}

var _ sensor.Source = (*Ring)(nil)

// KernelStats are the kernel's PACKET_STATISTICS for a socket, summed
// since it was opened. Packets counts what reached the socket (past any
// filter), dropped ones included.
type KernelStats struct {
	Packets uint64
	Drops   uint64
	Freezes uint64
}

// Worker is the ring's index in its group.
func (r *Ring) Worker() int { return r.worker }

// LinkType implements sensor.Source: every packet has interface index 0.
func (r *Ring) LinkType(ifIndex int) layers.LinkType {
	if ifIndex != 0 {
		return layers.LinkTypeNull
	}
	return r.link
}

// Interface implements sensor.Source.
func (r *Ring) Interface(ifIndex int) string {
	if ifIndex != 0 {
		return ""
	}
	return r.name
}

// Stats implements sensor.Source. It reads the kernel's counters first.
// Packets and Bytes count a block's packets once the reader is done with
// the block: while it reads, they may lag by one block; once it waits for
// the kernel or has stopped, they are exact.
func (r *Ring) Stats() sensor.Stats {
	k := r.KernelStats()
	return sensor.Stats{Packets: r.packets.Load(), Bytes: r.bytes.Load(), KernelDrops: k.Drops, KernelFreezes: k.Freezes}
}

// Ticks is the number of idle ticks returned (they are not in Stats).
func (r *Ring) Ticks() uint64 { return r.ticks.Load() }

// KernelStats reads and returns the kernel's counters for the socket.
func (r *Ring) KernelStats() KernelStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readStats()
	return r.kernel
}

// readStats adds the kernel's counters (which reading resets) to r.kernel.
// r.mu is held.
func (r *Ring) readStats() {
	if !r.fdsOpen {
		return
	}
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return
	}
	r.kernel.Packets += uint64(st.Packets)
	r.kernel.Drops += uint64(st.Drops)
	r.kernel.Freezes += uint64(st.Freeze_q_cnt)
}

// ZeroCopyReadPacketData implements sensor.Source. It blocks until a
// packet arrives, an idle tick is due, or the ring is closed (io.EOF).
//
// An idle tick is returned as zero-length data with CaptureInfo.Length 0
// and a Timestamp of the current time less BlockTimeout (no packet still
// in the kernel is older than that, so time never goes backwards).
func (r *Ring) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if r.left > 0 {
			if data, ci, ok := r.next(); ok {
				r.blkPackets++
				r.blkBytes += uint64(ci.Length)
				return data, ci, nil
			}
			r.left = 0 // a block we cannot walk: give it back
		}
		if r.blk != nil {
			r.release()
		}
		if r.mem == nil {
			return r.eof()
		}
		closing := r.closedFlag.Load()
		if closing && r.stopAt.IsZero() {
			r.stop()
		}
		if r.blockReady() {
			r.take()
			continue
		}
		if closing && !time.Now().Before(r.stopAt) {
			return r.eof()
		}
		ts, tick, err := r.wait()
		if err != nil {
			return nil, gopacket.CaptureInfo{}, err
		}
		if tick {
			r.ticks.Add(1)
			return nil, gopacket.CaptureInfo{Timestamp: ts}, nil
		}
	}
}

// stop starts the end of a closed ring: a filter that drops everything
// keeps new packets out, and the reader drains what the kernel has, up to
// the block timeout (which hands over the block being filled) and a
// margin, so that what was read plus what was dropped is exactly what the
// kernel counted.
func (r *Ring) stop() {
	r.stopAt = time.Now().Add(r.blockTimeout + 20*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fdsOpen {
		r.stopAt = time.Now()
		return
	}
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &drop[0]}); err != nil {
		r.stopAt = time.Now() // cannot stop the input: end now
	}
}

// take starts reading the current block.
func (r *Ring) take() {
	b := r.mem[r.cur*r.bsize : (r.cur+1)*r.bsize]
	r.blk = b
	r.left = int(binary.NativeEndian.Uint32(b[blkNumPkts:]))
	r.off = int(binary.NativeEndian.Uint32(b[blkFirstPkt:]))
	now := time.Now()
	r.idleSince = now
	if now.After(r.nextStats) {
		r.mu.Lock()
		r.readStats()
		r.mu.Unlock()
		r.nextStats = now.Add(r.statsEvery)
	}
}

// release hands the current block back to the kernel.
func (r *Ring) release() {
	r.publish()
	status := (*uint32)(unsafe.Pointer(&r.blk[blkStatus]))
	atomic.StoreUint32(status, 0) // TP_STATUS_KERNEL
	r.blk = nil
	r.left = 0
	r.cur++
	if r.cur == r.nblocks {
		r.cur = 0
	}
}

// publish adds the held block's packets to the counters Stats reads.
func (r *Ring) publish() {
	if r.blkPackets > 0 {
		r.packets.Add(r.blkPackets)
		r.bytes.Add(r.blkBytes)
		r.blkPackets, r.blkBytes = 0, 0
	}
}

// next returns the packet at r.off and moves past it; ok is false when the
// block's bookkeeping points outside it.
func (r *Ring) next() (data []byte, ci gopacket.CaptureInfo, ok bool) {
	b, off := r.blk, r.off
	if off < 0 || off+pktHdrLen > len(b) {
		return nil, ci, false
	}
	h := b[off:]
	snap := int(binary.NativeEndian.Uint32(h[pktSnaplen:]))
	wire := int(binary.NativeEndian.Uint32(h[pktLen:]))
	mac := int(binary.NativeEndian.Uint16(h[pktMac:]))
	status := binary.NativeEndian.Uint32(h[pktStatus:])
	if mac < pktHdrLen || mac+snap > len(h) {
		return nil, ci, false
	}
	ci.Timestamp = time.Unix(int64(binary.NativeEndian.Uint32(h[pktSec:])), int64(binary.NativeEndian.Uint32(h[pktNsec:])))
	start, end := mac, mac+snap
	if status&unix.TP_STATUS_VLAN_VALID != 0 && snap >= 12 {
		// The stack took the outer VLAN tag off; put it back, in place,
		// into the gap before the frame (tp_mac leaves at least 16
		// bytes after the header), so the frame is what was on the wire.
		tci := uint16(binary.NativeEndian.Uint32(h[pktVLANTCI:]))
		tpid := uint16(unix.ETH_P_8021Q)
		if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			if t := binary.NativeEndian.Uint16(h[pktVLANTPID:]); t != 0 {
				tpid = t
			}
		}
		copy(h[mac-4:], h[mac:mac+12])
		binary.BigEndian.PutUint16(h[mac+8:], tpid)
		binary.BigEndian.PutUint16(h[mac+10:], tci)
		start -= 4
		wire += 4
	}
	data = h[start:end:end]
	ci.CaptureLength = len(data)
	ci.Length = wire
	if next := int(binary.NativeEndian.Uint32(h[pktNext:])); next != 0 {
		r.off = off + next
	} else {
		r.off = len(b) // the last packet
	}
	r.left--
	if ci.Timestamp.After(r.lastTS) {
		r.lastTS = ci.Timestamp
	}
	return data, ci, true
}

// wait blocks until the kernel may have handed over a block, an idle tick
// is due (tick true), the ring is closed, or (once closing) the drain time
// is up.
func (r *Ring) wait() (ts time.Time, tick bool, err error) {
	now := time.Now()
	if r.idleSince.IsZero() {
		r.idleSince = now
	}
	if now.After(r.nextStats) {
		r.mu.Lock()
		r.readStats()
		r.mu.Unlock()
		r.nextStats = now.Add(r.statsEvery)
	}
	stopping := !r.stopAt.IsZero()
	if r.tick > 0 && !stopping && now.Sub(r.idleSince) >= r.tick {
		r.idleSince = now
		ts = now.Add(-r.blockTimeout)
		if ts.Before(r.lastTS) {
			ts = r.lastTS
		}
		r.lastTS = ts
		return ts, true, nil
	}
	timeout := r.nextStats.Sub(now)
	if r.tick > 0 {
		timeout = min(timeout, r.idleSince.Add(r.tick).Sub(now))
	}
	if stopping {
		timeout = min(timeout, r.stopAt.Sub(now))
	}
	deadline := now.Add(max(timeout, time.Millisecond))

	r.mu.Lock()
	if !r.fdsOpen || (r.closed && !stopping) {
		r.mu.Unlock()
		return ts, false, nil // the caller starts stopping (or ends)
	}
	r.waiting = true
	// Set under mu: a Close after this point moves the deadline to the
	// past and so wakes the wait below.
	derr := r.file.SetReadDeadline(deadline)
	r.mu.Unlock()

	var werr error
	if derr == nil {
		calls := 0
		werr = r.rc.Read(func(fd uintptr) bool {
			if r.blockReady() {
				return true
			}
			if calls++; calls > 1 {
				// Woken without a block: the interface went down
				// (ENETDOWN). Clear the error; the socket rejoins
				// when the link comes back.
				unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			}
			return false
		})
	}
	r.polls.Add(1)

	r.mu.Lock()
	r.waiting = false
	r.mu.Unlock()
	switch {
	case derr != nil:
		return ts, false, fmt.Errorf("waiting for packets on %s: %w", r.name, derr)
	case werr == nil, errors.Is(werr, os.ErrDeadlineExceeded), errors.Is(werr, os.ErrClosed):
		return ts, false, nil
	}
	return ts, false, fmt.Errorf("waiting for packets on %s: %w", r.name, werr)
}

// blockReady reports whether the kernel has handed over the block the
// reader waits for.
func (r *Ring) blockReady() bool {
	status := (*uint32)(unsafe.Pointer(&r.mem[r.cur*r.bsize+blkStatus]))
	return atomic.LoadUint32(status)&unix.TP_STATUS_USER != 0
}

// eof releases everything (the reader is done with the data it was given)
// and returns io.EOF.
func (r *Ring) eof() ([]byte, gopacket.CaptureInfo, error) {
	r.publish()
	r.mu.Lock()
	r.closeFDs()
	r.unmap()
	r.mu.Unlock()
	return nil, gopacket.CaptureInfo{}, io.EOF
}

// Close stops the ring. It may be called from any goroutine. The reader
// then drains what the kernel has already taken in (a filter keeps new
// packets out; at most the block timeout plus 20ms) and gets io.EOF; so
// packets read plus KernelDrops is exactly what reached the socket. The
// data the reader was last given stays readable until its next call.
//
// When nobody reads any more, call Close a second time (from the goroutine
// that read, or after it stopped): it closes the socket and unmaps the
// ring, which the reader's io.EOF otherwise does. Close returns nil.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	again := r.closed
	r.closed = true
	r.closedFlag.Store(true)
	if r.waiting {
		r.file.SetReadDeadline(time.Unix(1, 0)) // wakes the reader
		return nil
	}
	if again {
		r.closeFDs()
		r.unmap()
	}
	return nil
}

// closeFDs reads the final counters and closes the socket. r.mu is held.
func (r *Ring) closeFDs() {
	if !r.fdsOpen {
		return
	}
	r.readStats()
	if r.file != nil {
		r.file.Close() // closes fd
	} else {
		unix.Close(r.fd)
	}
	r.fdsOpen = false
}

// unmap releases the ring's memory. r.mu is held.
func (r *Ring) unmap() {
	if !r.mapped {
		return
	}
	r.publish() // the reader has stopped
	r.cleanup.Stop()
	unix.Munmap(r.mem)
	r.mapped = false
	r.mem = nil
	r.blk = nil
	r.left = 0
}
