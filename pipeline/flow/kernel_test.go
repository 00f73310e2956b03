package flow

import (
	"net/netip"
	"testing"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
)

// fakeKernel cuts a fixed count per key endpoint and records the calls.
type fakeKernel struct {
	c      KernelCounts
	finals int
	calls  int
}

func (k *fakeKernel) Cut(_ *Key, final bool) (KernelCounts, bool) {
	k.calls++
	if final {
		k.finals++
	}
	return k.c, true
}

// TestKernelCountsMergeByOrientation checks that the kernel's per-endpoint
// counts land on the record's source and destination whichever endpoint of
// the canonical key originated the flow, and that the table's own counts
// are not changed by it.
func TestKernelCountsMergeByOrientation(t *testing.T) {
	for _, clientIsLow := range []bool{true, false} {
		cli, srv := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
		if !clientIsLow {
			cli, srv = srv, cli
		}
		var recs []event.Flow
		tab, err := New(DefaultConfig(), func(f *event.Flow, _ int) { recs = append(recs, *f) })
		if err != nil {
			t.Fatal(err)
		}
		// Endpoint A of the key is the lower address, 10.0.0.1.
		k := &fakeKernel{c: KernelCounts{Packets: [2]uint64{100, 7}, Bytes: [2]uint64{150000, 700}}}
		tab.SetKernel(k)
		p := decode.Packet{Net: decode.NetIPv4, Proto: 6, Src: cli, Dst: srv, SrcPort: 50000, DstPort: 445, TCPFlags: decode.FlagSYN}
		tab.Packet(&p, 1e9, 60, 0)
		p.Src, p.Dst, p.SrcPort, p.DstPort, p.TCPFlags = srv, cli, 445, 50000, decode.FlagSYN|decode.FlagACK
		tab.Packet(&p, 1e9+1e6, 60, 0)
		tab.Flush(event.EndShutdown)
		if len(recs) != 1 {
			t.Fatalf("%d records", len(recs))
		}
		r := recs[0]
		wantSrc, wantDst := KernelCounts{}.Packets, KernelCounts{}.Packets
		if clientIsLow {
			wantSrc[0], wantDst[0] = 100, 7
		} else {
			wantSrc[0], wantDst[0] = 7, 100
		}
		if r.Source.Packets != 1+wantSrc[0] || r.Destination.Packets != 1+wantDst[0] || !r.CutOff {
			t.Errorf("client is A=%v: source %d packets, destination %d, cut_off %v; want %d, %d, true",
				clientIsLow, r.Source.Packets, r.Destination.Packets, r.CutOff, 1+wantSrc[0], 1+wantDst[0])
		}
		if r.Source.Bytes+r.Destination.Bytes != 120+150700 {
			t.Errorf("bytes %d + %d, want %d", r.Source.Bytes, r.Destination.Bytes, 120+150700)
		}
		if k.finals != 1 {
			t.Errorf("%d final Cut calls, want 1", k.finals)
		}
	}
}

// TestNoKernelCountsNoCutOff checks that a flow the kernel cut nothing of
// is not marked.
func TestNoKernelCountsNoCutOff(t *testing.T) {
	var recs []event.Flow
	tab, _ := New(DefaultConfig(), func(f *event.Flow, _ int) { recs = append(recs, *f) })
	tab.SetKernel(&fakeKernel{})
	p := decode.Packet{Net: decode.NetIPv4, Proto: 17, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 5353, DstPort: 53}
	tab.Packet(&p, 1e9, 80, 0)
	tab.Flush(event.EndShutdown)
	if len(recs) != 1 || recs[0].CutOff || recs[0].Source.Packets != 1 {
		t.Errorf("records %+v", recs)
	}
}
