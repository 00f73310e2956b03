package tls

import (
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession runs every real TLS connection of the bundled captures
// through a session (as the dispatcher would deliver it) and writes its
// record as JSON: the per-connection cost of the parser.
func BenchmarkSession(b *testing.B) {
	p := newParser(b, Config{})
	var streams []prototest.Stream
	bytes := 0
	for _, c := range captures {
		for _, st := range prototest.Streams(b, c) {
			if first := firstData(st.Chunks); first != nil && !st.UDP && p.Match(st.Info, first.Dir, first.Data) {
				streams = append(streams, st)
				for _, ch := range st.Chunks {
					bytes += len(ch.Data)
				}
			}
		}
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	var buf []byte
	b.ResetTimer()
	for range b.N {
		for _, st := range streams {
			prototest.RunStream(p, st, func(r event.Record) { buf = r.AppendJSON(buf[:0], &prototest.Observer) })
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/conn")
}
