package http

import (
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession measures the parser alone (Match, session, records) on
// the bundled captures' flows, already reassembled.
func BenchmarkSession(b *testing.B) {
	p := mustNew(b, Config{})
	var streams []prototest.Stream
	var bytes int64
	for _, c := range captures {
		if c.shared {
			continue
		}
		for _, st := range prototest.Streams(b, testenv.Pcap(b, c.rel)) {
			if len(st.Chunks) == 0 || len(st.Chunks[0].Data) == 0 || !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				continue
			}
			streams = append(streams, st)
			for _, c := range st.Chunks {
				bytes += int64(len(c.Data))
			}
		}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		for _, st := range streams {
			s := p.NewSession(st.Info, func(event.Record) {})
			for _, c := range st.Chunks {
				if c.Gap > 0 {
					s.Gap(c.Dir, c.Gap)
				} else if s.Payload(c.Dir, c.At, c.Data) != nil {
					break
				}
			}
			s.End(prototest.Epoch, event.EndShutdown)
		}
	}
}
