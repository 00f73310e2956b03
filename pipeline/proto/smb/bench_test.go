package smb

import (
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// BenchmarkSession feeds the whole reassembled streams of SMB captures
// (file transfers, a rename burst, RPC) to sessions, emitting into a sink
// that encodes each record as the worker would.
func BenchmarkSession(b *testing.B) {
	for _, rel := range []string{"recorded/smb_mass_rename.pcap", "smb/zeek_smb3_multichannel.pcap", "smb/sv_20171220_smb_net_user.pcap"} {
		streams := prototest.WholeStreams(b, rel)
		total := 0
		for _, st := range streams {
			for _, c := range st.Chunks {
				total += len(c.Data)
			}
		}
		p := newParser(b, Config{})
		b.Run(rel, func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			var buf []byte
			sink := func(r event.Record) { buf = r.AppendJSON(buf[:0], &prototest.Observer) }
			for b.Loop() {
				for _, st := range streams {
					prototest.RunStream(p, st, sink)
				}
			}
		})
	}
}
