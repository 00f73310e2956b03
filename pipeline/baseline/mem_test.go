package baseline

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestMemory10k learns a 10,000-host network (each host using 20 servers
// of 200, plus 2 outside peers and 5 names) and reports the model's heap
// size; it must stay within the bound the limits imply.
func TestMemory10k(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a 10,000-host model (and the race detector skews heap sizes)")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := New(DefaultConfig(), jst, nil)
	o := Obs{Kind: ObsFlow, Proto: 6, Bytes: 5000}
	for h := range 10_000 {
		client := netip.AddrFrom4([4]byte{10, 20, byte(h >> 8), byte(h)})
		for s := range 20 {
			o.Time = t0.Add(time.Duration(h*20+s) * time.Second)
			o.End = o.Time.Add(time.Second)
			o.Client, o.Server, o.Port = client, netip.AddrFrom4([4]byte{10, 1, 0, byte((h + s*7) % 200)}), uint16(443+s%3)
			m.Learn(&o)
		}
		for p := range 2 {
			o.Client, o.Server, o.Port = client, netip.AddrFrom4([4]byte{203, 0, byte(p), byte(h)}), 443
			m.Learn(&o)
		}
		for n := range 5 {
			name := Obs{Kind: ObsName, Time: o.Time, Client: client, Server: o.Server, Name: "host" + string(rune('a'+n)) + ".example.com"}
			m.Learn(&name)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := m.Stats()
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("10k hosts: %+v, heap %.1f MB (%.0f bytes per edge)", st, float64(heap)/1e6, float64(heap)/float64(st.Edges))
	if heap > 120e6 {
		t.Errorf("heap %d bytes", heap)
	}
	runtime.KeepAlive(m)
}
