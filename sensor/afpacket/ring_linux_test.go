package afpacket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vishvananda/netlink"

	"mamori/internal/pcaptest"
)

// udpFrame builds an Ethernet/IPv4/UDP frame between 10.0.a.b hosts.
func udpFrame(t testing.TB, src, dst [4]byte, sport, dport uint16, n int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, src[3]}, DstMAC: []byte{2, 0, 0, 0, 0, dst[3]}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src[:], DstIP: dst[:]}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, n)
	binary.BigEndian.PutUint32(payload, uint32(sport)<<16|uint32(dport))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// open opens a group on the test network's capture end.
func open(t testing.TB, n *testNet, cfg Config) *Group {
	t.Helper()
	cfg.Interface = n.Capture
	var g *Group
	n.Do(t, func() error {
		var err error
		g, err = Open(cfg, nil)
		return err
	})
	t.Cleanup(func() { g.Close(); g.Close() })
	return g
}

type got struct {
	ring  int
	frame []byte
	ci    gopacket.CaptureInfo
}

// readAll reads every ring on its own goroutine until want packets came
// in all (ticks ignored) or the deadline passed, then closes the group.
func readAll(t testing.TB, g *Group, want int, deadline time.Duration) []got {
	t.Helper()
	var (
		mu  sync.Mutex
		out []got
		wg  sync.WaitGroup
	)
	done := make(chan struct{})
	for i, r := range g.Rings() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				data, ci, err := r.ZeroCopyReadPacketData()
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if ci.Length == 0 {
					continue
				}
				mu.Lock()
				out = append(out, got{i, bytes.Clone(data), ci})
				if len(out) == want {
					close(done)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(deadline):
	}
	g.Close()
	wg.Wait()
	return out
}

// TestCapture sends frames of many flows, some VLAN-tagged, into the veth
// pair and checks that a two-socket fanout group delivers each exactly once
// and unchanged, both directions of a flow to the same socket, with kernel
// timestamps, and that the kernel's counters agree.
func TestCapture(t *testing.T) {
	n := newTestNet(t, 9000)
	g := open(t, n, Config{Workers: 2, BlockSize: 1 << 16, BlockCount: 8})
	if g.FanoutID() == 0 {
		t.Fatal("no fanout group")
	}
	s := n.Sender(t)

	var frames [][]byte
	for i := range 64 {
		a, b := [4]byte{10, 0, 0, byte(1 + i%7)}, [4]byte{10, 0, 1, byte(1 + i%5)}
		f := udpFrame(t, a, b, uint16(40000+i), 53, 20+i)
		r := udpFrame(t, b, a, 53, uint16(40000+i), 200+i)
		switch i % 4 {
		case 1:
			f, r = pcaptest.AddVLAN(f, 10), pcaptest.AddVLAN(r, 10)
		case 2:
			f, r = pcaptest.AddQinQ(f, 20, 30), pcaptest.AddQinQ(r, 20, 30)
		}
		frames = append(frames, f, r)
	}
	frames = append(frames, udpFrame(t, [4]byte{10, 9, 9, 9}, [4]byte{10, 9, 9, 8}, 1, 2, 8000)) // a jumbo frame
	before := time.Now()
	for _, f := range frames {
		s.Send(t, f)
	}
	for _, r := range g.Rings() {
		t.Logf("ring %d before reading: %+v", r.worker, r.KernelStats())
	}
	out := readAll(t, g, len(frames), 5*time.Second)
	after := time.Now()
	if len(out) != len(frames) {
		t.Fatalf("received %d of %d frames", len(out), len(frames))
	}
	seen := map[string]int{}
	for _, f := range frames {
		seen[string(f)]++
	}
	rings := map[uint32]int{} // flow (ports) → ring
	perRing := map[int]int{}
	for _, o := range out {
		if seen[string(o.frame)] == 0 {
			t.Fatalf("received a frame that was not sent (or was changed): % x", o.frame)
		}
		seen[string(o.frame)]--
		if o.ci.Length != len(o.frame) || o.ci.CaptureLength != len(o.frame) || o.ci.InterfaceIndex != 0 {
			t.Errorf("capture info %+v for a %d-byte frame", o.ci, len(o.frame))
		}
		if o.ci.Timestamp.Before(before) || o.ci.Timestamp.After(after) {
			t.Errorf("timestamp %s outside [%s, %s]", o.ci.Timestamp, before, after)
		}
		pkt := gopacket.NewPacket(o.frame, layers.LinkTypeEthernet, gopacket.Default)
		if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			key := uint32(udp.SrcPort) ^ uint32(udp.DstPort)
			if r, ok := rings[key]; ok && r != o.ring {
				t.Errorf("flow %d<->%d on rings %d and %d", udp.SrcPort, udp.DstPort, r, o.ring)
			}
			rings[key] = o.ring
		}
		perRing[o.ring]++
	}
	if len(perRing) != 2 {
		t.Errorf("fanout used %d of 2 rings: %v", len(perRing), perRing)
	}
	st := g.Stats()
	var kernel KernelStats
	for _, r := range g.Rings() {
		k := r.KernelStats()
		kernel.Packets += k.Packets
		kernel.Drops += k.Drops
	}
	if st.Packets != uint64(len(frames)) || kernel.Packets != uint64(len(frames)) || st.KernelDrops != 0 || kernel.Drops != 0 {
		t.Errorf("stats %+v, kernel %+v; sent %d", st, kernel, len(frames))
	}
}

// TestIdleTick checks that a quiet ring hands out idle ticks whose time
// moves forward with the clock and never goes back past a packet's.
func TestIdleTick(t *testing.T) {
	n := newTestNet(t, 1500)
	g := open(t, n, Config{Workers: 1, BlockSize: 1 << 16, BlockCount: 4, IdleTick: 50 * time.Millisecond})
	s := n.Sender(t)
	r := g.Rings()[0]
	s.Send(t, udpFrame(t, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 2, 10))
	var last time.Time
	var ticks, packets int
	start := time.Now()
	for ticks < 5 {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("time went back from %s to %s", last, ci.Timestamp)
		}
		last = ci.Timestamp
		if len(data) == 0 && ci.Length == 0 {
			ticks++
		} else {
			packets++
		}
	}
	el := time.Since(start)
	if packets != 1 || r.Ticks() != 5 || el < 200*time.Millisecond || el > 2*time.Second {
		t.Fatalf("%d packets, %d ticks in %s", packets, r.Ticks(), el)
	}
	if d := time.Since(last); d < 0 || d > time.Second {
		t.Fatalf("last tick %s old", d)
	}
}

// TestCloseUnblocks checks that Close from another goroutine wakes a
// reader blocked on a quiet ring, which then gets io.EOF, as do later reads.
func TestCloseUnblocks(t *testing.T) {
	n := newTestNet(t, 1500)
	g := open(t, n, Config{Workers: 1, BlockSize: 1 << 16, BlockCount: 4, IdleTick: -1})
	r := g.Rings()[0]
	errc := make(chan error, 1)
	go func() {
		_, _, err := r.ZeroCopyReadPacketData()
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	r.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("got %v, want io.EOF", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reader still blocked 2s after Close")
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("reader woke %s after Close", d)
	}
	if _, _, err := r.ZeroCopyReadPacketData(); !errors.Is(err, io.EOF) {
		t.Fatalf("read after Close: %v", err)
	}
}

// TestDrops overwhelms a deliberately tiny ring that nobody reads, then
// reads it: the kernel must report drops, and what was read plus what was
// dropped must be exactly what was sent.
func TestDrops(t *testing.T) {
	n := newTestNet(t, 1500)
	g := open(t, n, Config{Workers: 1, BlockSize: 4096, BlockCount: 2, FrameSize: 2048, IdleTick: -1})
	s := n.Sender(t)
	const sent = 2000
	for i := range sent {
		s.Send(t, udpFrame(t, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, uint16(i), 9, 500))
	}
	r := g.Rings()[0]
	var read uint64
	for {
		// Everything that fit is in the ring already; stop at the first
		// wait (the idle tick is off, so a wait with nothing returns
		// nothing until Close).
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(300 * time.Millisecond):
				r.Close()
			}
		}()
		_, _, err := r.ZeroCopyReadPacketData()
		close(done)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read++
	}
	st := r.Stats()
	k := r.KernelStats()
	t.Logf("sent %d, read %d, kernel %+v", sent, read, k)
	if st.KernelDrops == 0 {
		t.Fatal("no drops reported from a 8 KiB ring")
	}
	if read+st.KernelDrops != sent || k.Packets != sent || st.Packets != read {
		t.Fatalf("read %d + dropped %d != sent %d (kernel saw %d, ring counted %d)", read, st.KernelDrops, sent, k.Packets, st.Packets)
	}
}

// TestOpenErrors checks that bad settings and a missing interface are
// refused with a reason.
func TestOpenErrors(t *testing.T) {
	n := newTestNet(t, 1500)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interface: "nosuch0"}, "finding capture interface"},
		{Config{}, "no capture interface"},
		{Config{Interface: n.Capture, BlockSize: 1000}, "block_size: must be a multiple of the page size"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var err error
			n.Do(t, func() error {
				_, err = Open(tc.cfg, nil)
				return nil
			})
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	_ = fmt.Sprint()
}

// TestLinkDownUp checks that a ring survives its interface going down and
// up again: the reader does not spin on the socket's ENETDOWN, and packets
// sent after the link is back are captured.
func TestLinkDownUp(t *testing.T) {
	n := newTestNet(t, 1500)
	g := open(t, n, Config{Workers: 2, BlockSize: 1 << 16, BlockCount: 4, IdleTick: 20 * time.Millisecond})
	s := n.Sender(t)
	frame := func(i int) []byte { return udpFrame(t, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, uint16(i), 9, 50) }
	h, err := netlink.NewHandleAt(n.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := n.Link(t, n.Capture)

	result := make(chan []got, 1)
	go func() { result <- readAll(t, g, 20, 5*time.Second) }()
	for i := range 10 {
		s.Send(t, frame(i))
	}
	time.Sleep(50 * time.Millisecond)
	if err := h.LinkSetDown(c); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := h.LinkSetUp(c); err != nil {
		t.Fatal(err)
	}
	n.WaitUp(t)
	for i := range 10 {
		s.Send(t, frame(100+i))
	}
	out := <-result
	if len(out) != 20 {
		t.Fatalf("captured %d of 20 frames across a link flap", len(out))
	}
	for _, r := range g.Rings() {
		// One poll per block, tick or stats read: a few dozen. A reader
		// spinning on POLLERR would poll thousands of times.
		if p := r.polls.Load(); p > 200 {
			t.Errorf("ring %d polled %d times in a second: spinning on the link's error", r.Worker(), p)
		}
	}
}

// TestCloseDrains closes rings while packets keep coming: each reader must
// still end with io.EOF, and what the readers got plus what the kernel
// dropped must be exactly what the kernel counted, with nothing left
// unaccounted in the ring.
func TestCloseDrains(t *testing.T) {
	n := newTestNet(t, 1500)
	g := open(t, n, Config{Workers: 2, BlockSize: 1 << 14, BlockCount: 4})
	s := n.Sender(t)
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		i := 0
		for {
			select {
			case <-stop:
				sent <- i
				return
			default:
			}
			s.Send(t, udpFrame(t, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, byte(2 + i%50)}, uint16(i), 9, 300))
			i++
		}
	}()
	var read [2]uint64
	var wg sync.WaitGroup
	for i, r := range g.Rings() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, ci, err := r.ZeroCopyReadPacketData()
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if ci.Length > 0 {
					read[i]++
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	g.Close()
	wg.Wait()
	close(stop)
	total := <-sent
	for i, r := range g.Rings() {
		k := r.KernelStats()
		if read[i]+k.Drops != k.Packets || r.Stats().Packets != read[i] {
			t.Errorf("ring %d: read %d + dropped %d != %d counted by the kernel", i, read[i], k.Drops, k.Packets)
		}
		t.Logf("ring %d: read %d, kernel %+v", i, read[i], k)
	}
	if read[0]+read[1] == 0 || uint64(total) < read[0]+read[1] {
		t.Fatalf("sent %d, read %v", total, read)
	}
}
