package dns

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
	for _, c := range bundled {
		for _, st := range prototest.Streams(b, testenv.Pcap(b, c)) {
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

// BenchmarkSessionJSON is BenchmarkSession with every record encoded as
// the NDJSON output would encode it.
func BenchmarkSessionJSON(b *testing.B) {
	p := mustNew(b, Config{})
	var streams []prototest.Stream
	for _, c := range bundled {
		for _, st := range prototest.Streams(b, testenv.Pcap(b, c)) {
			if len(st.Chunks) == 0 || len(st.Chunks[0].Data) == 0 || !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				continue
			}
			streams = append(streams, st)
		}
	}
	var buf []byte
	emit := func(r event.Record) { buf = r.AppendJSON(buf[:0], &prototest.Observer) }
	b.ReportAllocs()
	for b.Loop() {
		for _, st := range streams {
			if !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
				b.Fatal("no match")
			}
			s := p.NewSession(st.Info, emit)
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
