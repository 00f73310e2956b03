package rdp

import (
	"encoding/json"
	"testing"

	"mamori/pipeline/flow"
	"mamori/pipeline/proto/prototest"
)

// FuzzSession feeds arbitrary chunk sequences (see decodeChunks) to a TCP
// or UDP session. Seeds are the real captures' flows. It checks that
// nothing panics, buffers stay within MaxPDU and every record is valid
// JSON.
func FuzzSession(f *testing.F) {
	for _, c := range captures {
		for _, st := range prototest.Streams(f, c) {
			f.Add(prototest.EncodeChunks(st.Chunks, 2<<10), st.UDP)
		}
	}
	f.Add(prototest.EncodeChunks([]prototest.Chunk{prototest.C(flow.FromClient, crPDU(cat(cookie("a"), neg(negReq, 0, 3))))}, 1<<10), false)
	p := mustNew(f, Config{MaxPDU: 1024})
	f.Fuzz(func(t *testing.T, data []byte, udp bool) {
		info := tcpInfo()
		if udp {
			info = prototest.UDPInfo("10.0.0.1:50000", "10.0.0.2:3389")
		}
		chunks := prototest.DecodeChunks(data)
		if len(chunks) > 0 && len(chunks[0].Data) > 0 && !udp {
			// Reach the session even when the fuzzer's first bytes do not
			// match, so its state machine is exercised on any input.
			chunks = append([]prototest.Chunk{prototest.C(flow.FromClient, crPDU(cookie("f")))}, chunks...)
		}
		recs, _ := prototest.Feed(p, info, chunks...)
		for _, r := range recs {
			if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
		}
		if len(recs) > 1 {
			t.Fatalf("%d records for one flow", len(recs))
		}
	})
}
