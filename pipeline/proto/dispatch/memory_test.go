package dispatch

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"mamori/pipeline/decode"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
	"mamori/pipeline/proto"
)

// TestReassemblyMemory100k opens 100,000 concurrent TCP flows, each with a
// parsed session and one out-of-order segment waiting behind a hole, and
// checks that the bytes held stay within MaxBuffered and that the protocol
// layer's own cost per flow is small. It logs the figures the issue asks
// for (go test -v -run Memory100k ./pipeline/proto/dispatch).
func TestReassemblyMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k flows")
	}
	const flows = 100_000
	const held = 512 // bytes each flow waits on
	cfg := Config{MaxBuffered: 32 << 20}
	p := &tape{prefix: "AB"}
	tab, err := flow.New(flow.Config{MaxFlows: 2 * flows}, func(*event.Flow, int) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, []proto.Parser{quiet{p}}, tab, func(event.Record) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab.SetHook(d)
	payload := make([]byte, held)
	copy(payload, "AB")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ts := time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC).UnixNano()
	pkt := decode.Packet{Net: decode.NetIPv4, Proto: 6, Dst: netip.MustParseAddr("10.9.9.9"), DstPort: 445}
	for i := range flows {
		pkt.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		pkt.SrcPort = 40000
		pkt.TCPFlags, pkt.Seq, pkt.Payload, pkt.PayloadLen = decode.FlagACK|decode.FlagPSH, 1000, payload[:2], 2
		tab.Packet(&pkt, ts, 60, 0) // matches: a session starts
		pkt.Seq, pkt.Payload, pkt.PayloadLen = 1100, payload, held
		tab.Packet(&pkt, ts, 60+held, 0) // ahead of a hole: held
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	c := d.Counters()
	if c.Sessions[0] != flows {
		t.Fatalf("sessions = %d, want %d", c.Sessions[0], flows)
	}
	if d.buffered > cfg.MaxBuffered {
		t.Errorf("holding %d bytes, more than MaxBuffered %d", d.buffered, cfg.MaxBuffered)
	}
	if c.Overflows == 0 {
		t.Errorf("100k × %d bytes exceed MaxBuffered, yet no overflow was counted", held)
	}
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perFlow := heap / flows
	t.Logf("100k flows: heap %.1f MiB (%d B/flow incl. flow table and held bytes), held now %.1f MiB (cap %.0f MiB), overflows %d",
		float64(heap)/(1<<20), perFlow, float64(d.buffered)/(1<<20), float64(cfg.MaxBuffered)/(1<<20), c.Overflows)
	// The flow table costs ~200 B/flow, the held bytes (capped at 32 MiB)
	// ~335 B/flow, the protocol state itself a few hundred: 2 KiB/flow
	// would mean a leak or a copy too many.
	if perFlow > 2048 {
		t.Errorf("%d bytes per flow", perFlow)
	}
	runtime.KeepAlive(tab)
	tab.Flush(event.EndShutdown)
	if d.buffered != 0 {
		t.Errorf("%d bytes still held after every flow ended", d.buffered)
	}
}

// quiet wraps tape so that its sessions do not log 100k entries.
type quiet struct{ *tape }

func (q quiet) NewSession(*flow.Info, proto.Emit) proto.Session { return quietSession{} }

type quietSession struct{}

func (quietSession) Payload(flow.Dir, time.Time, []byte) error { return nil }
func (quietSession) Gap(flow.Dir, int)                         {}
func (quietSession) End(time.Time, event.EndReason)            {}
