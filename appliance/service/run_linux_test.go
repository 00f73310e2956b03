package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"mamori/appliance/config"
	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/sensor/ebpf"
	"mamori/sensor/iface"
)

// liveRun is a mamori run inside a test network.
type liveRun struct {
	out  bytes.Buffer
	errb syncBuffer
	res  RunResult
	err  error
	live *Live

	cancel  context.CancelFunc
	done    chan struct{}
	started chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun starts Run on the test network's capture end; it returns once
// capture runs, or fails the test with Run's error.
func startRun(t *testing.T, n *testNet, cfg *config.Config) *liveRun {
	t.Helper()
	r := &liveRun{done: make(chan struct{}), started: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if r.err = netns.Set(n.NS); r.err != nil {
			return
		}
		r.res, r.err = Run(ctx, RunOptions{Config: cfg, Interface: n.Capture, Output: "-", Stdout: &r.out, Stderr: &r.errb,
			Started: func(l *Live) { r.live = l; close(r.started) }})
	}()
	select {
	case <-r.started:
	case <-r.done:
		t.Fatalf("run did not start: %v\n%s", r.err, r.errb.String())
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the run (as SIGTERM would) and waits for it.
func (r *liveRun) stop(t *testing.T) {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop within 20s of being cancelled")
	}
}

// waitPackets waits until the rings have handed over n packets.
func (r *liveRun) waitPackets(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := r.live.Group.Stats()
		if st.Packets+st.KernelDrops >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d packets captured (%d dropped) after 20s", st.Packets, n, st.KernelDrops)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func liveConfig(t *testing.T) *config.Config {
	cfg := testConfig(t)
	cfg.Sensor.DataDir = t.TempDir() // the live baseline is saved there
	cfg.Capture.Workers = 2
	cfg.Capture.BlockSize = 1 << 20
	cfg.Capture.BlockCount = 16
	return cfg
}

// records parses NDJSON output into documents.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		docs = append(docs, d)
	}
	return docs
}

// alertKeys lists the distinct "rule.id source.ip" of the alerts in docs,
// sorted.
func alertKeys(docs []map[string]any) []string {
	seen := map[string]bool{}
	for _, d := range docs {
		if get(d, "event.kind") == "alert" {
			seen[fmt.Sprint(get(d, "rule.id"), " ", get(d, "source.ip"))] = true
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// comparable returns the flow and protocol records with what depends on
// when the packets were seen (timestamps, durations, why a flow ended,
// flow.id, which hashes the first packet's time) and on where (the
// interface name) taken out,
// each as canonical JSON, sorted.
func comparable(t *testing.T, docs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		if get(d, "event.kind") != "event" {
			continue
		}
		del(d, "@timestamp")
		del(d, "event.start")
		del(d, "event.end")
		del(d, "event.duration")
		del(d, "event.reason") // idle or tcp_close timeouts depend on the gaps between packets
		del(d, "flow.id")
		del(d, "observer.ingress.interface.name")
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func del(doc map[string]any, dotted string) {
	parts := strings.Split(dotted, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// sendCapture sends every frame of a bundled capture into the test
// network and returns the frames.
func sendCapture(t *testing.T, n *testNet, rel string) [][]byte {
	t.Helper()
	frames, _, link, err := pcaptest.ReadAll(testenv.Pcap(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	if link != layers.LinkTypeEthernet {
		t.Fatalf("%s: link type %s", rel, link)
	}
	s := n.Sender(t)
	for _, f := range frames {
		s.Send(t, f)
	}
	return frames
}

// TestLiveEqualsReplay sends the packets of real captures through a veth
// pair to `mamori run` (two fanout workers) and checks that its flow and
// protocol records are those `mamori replay` writes for the same capture,
// timestamps aside; and that nothing was lost: every packet sent was
// processed, none dropped.
func TestLiveEqualsReplay(t *testing.T) {
	for _, rel := range []string{
		"recorded/smb_mass_rename.pcap",
		"dicom/dcmtk_echo_store_find_reject.pcap",
		"tls/ndpi_443-firefox.pcap",
		"rdp/zeek_rdp-to-ssl.pcap",
	} {
		t.Run(rel, func(t *testing.T) {
			replayOut, stderr, _, err := replay(t, testenv.Pcap(t, rel))
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, stderr)
			}
			want := comparable(t, records(t, replayOut))

			n := newTestNet(t, 65535)
			cfg := liveConfig(t)
			cfg.Capture.EBPF.Cutoff = ebpf.Unlimited // count in the kernel, cut nothing
			r := startRun(t, n, cfg)
			frames := sendCapture(t, n, rel)
			r.waitPackets(t, uint64(len(frames)))
			r.stop(t)
			if r.err != nil {
				t.Fatalf("run: %v\n%s", r.err, r.errb.String())
			}
			var processed, dropped, kernel uint64
			for _, w := range r.res.Workers {
				processed += w.Ring.Packets
				dropped += w.Kernel.Drops
				kernel += w.Kernel.Packets
			}
			if processed != uint64(len(frames)) || dropped != 0 || kernel != processed {
				t.Fatalf("sent %d, processed %d, dropped %d, kernel counted %d", len(frames), processed, dropped, kernel)
			}
			if r.res.EBPF == nil || r.res.EBPF.Packets != uint64(len(frames)) || r.res.EBPF.CutPackets != 0 {
				t.Fatalf("eBPF stats %+v, want %d packets seen and none cut", r.res.EBPF, len(frames))
			}
			got := comparable(t, records(t, r.out.String()))
			if !slices.Equal(got, want) {
				t.Errorf("live records differ from replay's: %d live, %d replayed", len(got), len(want))
				for _, d := range diff(want, got) {
					t.Log(d)
				}
			}
			// The rules run live on the merged records of every worker: the
			// ransomware-like renames raise their alert while capturing.
			alerts := alertKeys(records(t, r.out.String()))
			if rel == "recorded/smb_mass_rename.pcap" && !slices.Contains(alerts, "smb-lateral 10.30.1.12") {
				t.Errorf("live alerts %q lack smb-lateral from 10.30.1.12", alerts)
			}
			// Every captured packet went to the rolling pcap store, which
			// verifies (file hashes, manifest chain).
			st, err := OpenPcapStore(cfg, filepath.Join(cfg.Sensor.DataDir, "pcap"))
			if err != nil {
				t.Fatalf("pcap store: %v", err)
			}
			rep, err := st.Verify(context.Background(), nil)
			if err != nil || len(rep.Problems) > 0 || rep.Files == 0 {
				t.Errorf("pcap store verify: %d files, problems %v, err %v", rep.Files, rep.Problems, err)
			}
			t.Logf("%d frames, %d records, live alerts %q, pcap store %d files %d bytes, workers %+v", len(frames), len(got), alerts, rep.Files, rep.Bytes, r.res.Workers)
		})
	}
}

// diff lists records only in a or only in b (at most 10 of each).
func diff(a, b []string) []string {
	in := func(s []string, x string) bool { _, ok := slices.BinarySearch(s, x); return ok }
	var out []string
	for _, x := range a {
		if !in(b, x) && len(out) < 10 {
			out = append(out, "replay only: "+x)
		}
	}
	for _, x := range b {
		if !in(a, x) && len(out) < 20 {
			out = append(out, "live only:   "+x)
		}
	}
	return out
}

// TestLiveSummaryRecords checks the records a run writes besides flows: a
// run_summary metric per worker with kernel counters, the eBPF summary,
// and a health record when the interval passes.
func TestLiveSummaryRecords(t *testing.T) {
	n := newTestNet(t, 65535)
	cfg := liveConfig(t)
	cfg.Capture.HealthInterval = time.Second
	r := startRun(t, n, cfg)
	frames := sendCapture(t, n, "dicom/dcmtk_echo_store_find_reject.pcap")
	r.waitPackets(t, uint64(len(frames)))
	time.Sleep(2200 * time.Millisecond)
	r.stop(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var summaries, health, ebpfSummary int
	var packets float64
	for _, d := range records(t, r.out.String()) {
		if get(d, "event.kind") != "metric" {
			continue
		}
		switch get(d, "event.action") {
		case "run_summary":
			if v := get(d, "mamori.ebpf.packets"); v != nil {
				ebpfSummary++
				continue
			}
			summaries++
			if get(d, "observer.ingress.interface.name") != n.Capture {
				t.Errorf("summary without the interface: %v", d)
			}
			for _, k := range []string{"kernel_drops", "kernel_freezes", "kernel_packets", "packets", "idle_ticks"} {
				found := false
				for w := range 2 {
					if get(d, "mamori.worker_"+string(rune('0'+w))+"."+k) != nil {
						found = true
					}
				}
				if !found {
					t.Errorf("summary lacks mamori.worker_N.%s: %v", k, d)
				}
			}
		case "health":
			health++
			if p, ok := get(d, "mamori.capture.packets").(float64); ok {
				packets = p
			}
			for _, k := range []string{"mamori.capture.kernel_drops", "mamori.capture.kernel_freezes", "mamori.ebpf.cutoff_packets", "mamori.worker_0.packets", "mamori.worker_1.flows_tracked",
				"mamori.pcap_store.packets", "mamori.pcap_store.dropped", "mamori.pcap_store.store_bytes"} {
				if get(d, k) == nil {
					t.Errorf("health record lacks %s", k)
				}
			}
		}
	}
	if summaries != 2 || ebpfSummary != 1 || health < 1 {
		t.Fatalf("%d worker summaries, %d eBPF summaries, %d health records:\n%s", summaries, ebpfSummary, health, r.out.String())
	}
	if packets != float64(len(frames)) {
		t.Errorf("last health record counts %v packets, sent %d", packets, len(frames))
	}
	for _, s := range []string{"worker 0:", "worker 1:", "kernel drops", "freezes", "ebpf:", "cut off"} {
		if !strings.Contains(r.errb.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, r.errb.String())
		}
	}
}

// TestLiveLinkState takes the capture link down and up (and the peer, for
// the carrier) during a run and checks the state records.
func TestLiveLinkState(t *testing.T) {
	n := newTestNet(t, 1500)
	r := startRun(t, n, liveConfig(t))
	h, err := netlink.NewHandleAt(n.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, s := n.Link(t, n.Capture), n.Link(t, n.Send)
	for _, step := range []func(netlink.Link) error{h.LinkSetDown, h.LinkSetUp} {
		if err := step(c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, step := range []func(netlink.Link) error{h.LinkSetDown, h.LinkSetUp} {
		if err := step(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.stop(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var kinds []string
	for _, d := range records(t, r.out.String()) {
		if get(d, "event.kind") == "state" {
			kinds = append(kinds, get(d, "event.action").(string))
			if get(d, "observer.ingress.interface.name") != n.Capture || get(d, "mamori.link.up") == nil || get(d, "message") == nil {
				t.Errorf("state record lacks fields: %v", d)
			}
		}
	}
	want := []string{"link_down", "carrier_lost", "link_up", "carrier_up", "carrier_lost", "carrier_up"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("state records %v, want %v", kinds, want)
	}
	if log := r.errb.String(); !strings.Contains(log, "link link_down") || !strings.Contains(log, "level=WARN") {
		t.Errorf("link changes not logged:\n%s", log)
	}
}

// TestLiveRefusesAddress checks that run refuses an interface with an IP
// address, leaves it as it was, and starts when that is allowed.
func TestLiveRefusesAddress(t *testing.T) {
	n := newTestNet(t, 1500)
	h, _ := netlink.NewHandleAt(n.NS)
	defer h.Close()
	a, _ := netlink.ParseAddr("192.0.2.10/24")
	if err := h.AddrAdd(n.Link(t, n.Capture), a); err != nil {
		t.Fatal(err)
	}
	var err error
	n.Do(t, func() error {
		_, err = Run(context.Background(), RunOptions{Config: liveConfig(t), Interface: n.Capture, Output: "-", Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		return nil
	})
	var ae *iface.AddressError
	if !errors.Is(err, ErrCaptureSetup) || !errors.As(err, &ae) || ae.Addresses[0] != netip.MustParsePrefix("192.0.2.10/24") {
		t.Fatalf("got %v, want a refusal naming 192.0.2.10/24", err)
	}
	if l := n.Link(t, n.Capture); l.Attrs().RawFlags&unix.IFF_PROMISC != 0 {
		t.Error("interface left promiscuous")
	}
	cfg := liveConfig(t)
	cfg.Capture.Link.AllowAddress = true
	r := startRun(t, n, cfg)
	r.stop(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
}

// TestLiveDrops overwhelms a deliberately tiny ring: the run must report
// drops (summary, metrics, log) and processed + dropped must equal sent.
func TestLiveDrops(t *testing.T) {
	n := newTestNet(t, 1500)
	cfg := liveConfig(t)
	cfg.Capture.Workers = 1
	cfg.Capture.BlockSize = 4096
	cfg.Capture.BlockCount = 2
	cfg.Capture.FrameSize = 2048
	cfg.Capture.EBPF.Disabled = true
	r := startRun(t, n, cfg)
	s := n.Sender(t)
	const sent = 20000
	frame := func(i int) []byte {
		buf := gopacket.NewSerializeBuffer()
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, byte(i >> 8), byte(i)}, DstIP: []byte{10, 1, 0, 1}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(i), DstPort: 514}
		udp.SetNetworkLayerForChecksum(ip)
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
			&layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, gopacket.Payload(make([]byte, 1000)))
		return buf.Bytes()
	}
	for i := range sent {
		s.Send(t, frame(i))
	}
	r.waitPackets(t, sent)
	time.Sleep(1200 * time.Millisecond) // the monitor logs drops within a second
	r.stop(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	w := r.res.Workers[0]
	t.Logf("sent %d: processed %d, dropped %d, freezes %d", sent, w.Ring.Packets, w.Kernel.Drops, w.Kernel.Freezes)
	if w.Kernel.Drops == 0 {
		t.Fatal("no drops reported from an 8 KiB ring")
	}
	if w.Ring.Packets+w.Kernel.Drops != sent || w.Kernel.Packets != sent {
		t.Fatalf("processed %d + dropped %d != sent %d (kernel counted %d)", w.Ring.Packets, w.Kernel.Drops, sent, w.Kernel.Packets)
	}
	if !strings.Contains(r.errb.String(), "kernel dropped packets") {
		t.Errorf("drops not logged:\n%s", r.errb.String())
	}
	var drops float64
	for _, d := range records(t, r.out.String()) {
		if get(d, "event.action") == "run_summary" {
			drops, _ = get(d, "mamori.worker_0.kernel_drops").(float64)
		}
	}
	if drops != float64(w.Kernel.Drops) {
		t.Errorf("summary record says %v drops, run %d", drops, w.Kernel.Drops)
	}
}
