package service

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/sensor/ebpf"
)

// flowEnds is what a flow record says each side sent.
type flowEnds struct {
	key            ebpf.Key
	srcIsB         bool
	bytes, packets [2]uint64 // [0] source, [1] destination
	cutOff         bool      // mamori.flow.cut_off
}

// flowRecords indexes the TCP and UDP flow records of an output by
// community ID (each must be unique in the captures used here).
func flowRecords(t *testing.T, docs []map[string]any) map[string]flowEnds {
	t.Helper()
	out := map[string]flowEnds{}
	num := func(d map[string]any, k string) uint64 {
		switch v := get(d, k).(type) {
		case float64:
			return uint64(v)
		case string:
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
		return 0
	}
	for _, d := range docs {
		if get(d, "event.action") != "network_flow" {
			continue
		}
		proto := uint8(num(d, "network.iana_number"))
		if proto != 6 && proto != 17 {
			continue
		}
		id := get(d, "network.community_id").(string)
		if _, dup := out[id]; dup {
			t.Fatalf("community ID %s twice: pick a capture without reused 5-tuples", id)
		}
		src := netip.AddrPortFrom(netip.MustParseAddr(get(d, "source.ip").(string)), uint16(num(d, "source.port")))
		dst := netip.AddrPortFrom(netip.MustParseAddr(get(d, "destination.ip").(string)), uint16(num(d, "destination.port")))
		k, srcIsB := ebpf.NewKey(proto, src, dst, uint16(num(d, "network.vlan.id")), uint16(num(d, "network.inner.vlan.id")))
		out[id] = flowEnds{key: k, srcIsB: srcIsB,
			bytes:   [2]uint64{num(d, "source.bytes"), num(d, "destination.bytes")},
			packets: [2]uint64{num(d, "source.packets"), num(d, "destination.packets")},
			cutOff:  get(d, "mamori.flow.cut_off") == true}
	}
	return out
}

// TestLiveCutoff runs bulk SMB transfers (real, VLAN-tagged on the wire so
// the kernel's tag handling is covered) through `mamori run` with a 64 KiB
// cutoff: bulk flows must be cut, and for every flow the kernel's counters
// must make the record exact: what user space counted plus what the kernel
// cut equals what replay counts from every packet, per direction, and the
// kernel's own totals equal replay's. (Until the flow table merges the
// kernel counters itself, this checks the arithmetic the merge will do.)
func TestLiveCutoff(t *testing.T) {
	frames, infos, _, err := pcaptest.ReadAll(testenv.Pcap(t, "recorded/smb_mass_rename.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		frames[i] = pcaptest.AddVLAN(frames[i], 42)
		infos[i].CaptureLength, infos[i].Length = len(frames[i]), len(frames[i])
	}
	tagged := filepath.Join(t.TempDir(), "smb_mass_rename_vlan42.pcap")
	if err := pcaptest.WritePcap(tagged, layers.LinkTypeEthernet, frames, infos); err != nil {
		t.Fatal(err)
	}
	replayOut, stderr, _, err := replay(t, tagged)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	want := flowRecords(t, records(t, replayOut))

	n := newTestNet(t, 65535)
	cfg := liveConfig(t)
	cfg.Capture.EBPF.Cutoff = 64 << 10
	r := startRun(t, n, cfg)
	s := n.Sender(t)
	for _, f := range frames {
		s.Send(t, f)
	}
	st, err := r.live.Program.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != uint64(len(frames)) {
		t.Fatalf("the kernel saw %d of %d packets", st.Packets, len(frames))
	}
	r.waitPackets(t, uint64(len(frames))-st.CutPackets)
	kernel := map[ebpf.Key]ebpf.Counters{}
	if err := r.live.Program.Flows(func(k ebpf.Key, c ebpf.Counters) bool { kernel[k] = c; return true }); err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var processed uint64
	for _, w := range r.res.Workers {
		processed += w.Ring.Packets
		if w.Kernel.Drops != 0 {
			t.Fatalf("drops: %+v", w.Kernel)
		}
	}
	if processed+st.CutPackets != uint64(len(frames)) || st.CutPackets == 0 {
		t.Fatalf("processed %d + cut %d != sent %d", processed, st.CutPackets, len(frames))
	}
	got := flowRecords(t, records(t, r.out.String()))
	if len(got) != len(want) {
		t.Fatalf("%d live flows, %d replayed", len(got), len(want))
	}
	var cutFlows int
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("flow %s missing live", id)
		}
		c, ok := kernel[w.key]
		if !ok {
			t.Fatalf("flow %s (%+v) not in the kernel map", id, w.key)
		}
		src, dst := 0, 1 // kernel index of the record's source and destination
		if w.srcIsB {
			src, dst = 1, 0
		}
		if c.Cut() {
			cutFlows++
		}
		// The flow table adds the kernel's cut-off counts to the record:
		// live records are exact, equal to replay's, and say they were cut.
		if g.bytes != w.bytes || g.packets != w.packets || g.cutOff != c.Cut() {
			t.Errorf("flow %s: live %v bytes %v packets cut_off %v (kernel cut %v/%v), replay %v/%v", id, g.bytes, g.packets,
				g.cutOff, c.CutBytes, c.CutPackets, w.bytes, w.packets)
		}
		var kb [2]uint64 // replay's bytes in the kernel's order
		kb[src], kb[dst] = w.bytes[0], w.bytes[1]
		if c.Bytes != kb {
			t.Errorf("flow %s: kernel bytes %v, replay %v", id, c.Bytes, kb)
		}
		if c.Cut() && g.bytes[0]+g.bytes[1]-c.CutBytes[0]-c.CutBytes[1] < 64<<10 {
			t.Errorf("flow %s cut after %d bytes, before the 64 KiB cutoff", id, g.bytes[0]+g.bytes[1]-c.CutBytes[0]-c.CutBytes[1])
		}
	}
	if cutFlows == 0 {
		t.Fatal("no flow was cut off")
	}
	t.Logf("%d frames: %d processed, %d cut off (%d bytes) in %d of %d flows", len(frames), processed, st.CutPackets, st.CutBytes, cutFlows, len(want))
}
