package worker

import (
	"testing"

	"mamori/internal/pcaptest"
	"mamori/internal/testenv"
	"mamori/pipeline/decode"
	"mamori/pipeline/event"
	"mamori/pipeline/flow"
)

// BenchmarkDecodeFlow measures decode + flow table per packet on a real
// capture held in memory (no file reading, no record encoding): ns/op is
// per packet, and allocs/op must be 0.
func BenchmarkDecodeFlow(b *testing.B) {
	frames, infos, link, err := pcaptest.ReadAll(testenv.Pcap(b, "smb/zeek_smb2.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	dec := decode.New()
	tab, err := flow.New(flow.Config{}, func(*event.Flow, int) {})
	if err != nil {
		b.Fatal(err)
	}
	var p decode.Packet
	// Each pass over the capture is shifted in time so that its flows are new.
	span := infos[len(infos)-1].Timestamp.UnixNano() - infos[0].Timestamp.UnixNano() + 3600e9
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(frames)
		if err := dec.Decode(frames[j], link, &p); err != nil {
			continue
		}
		tab.Packet(&p, infos[j].Timestamp.UnixNano()+int64(i/len(frames))*span, infos[j].Length, 0)
	}
}
