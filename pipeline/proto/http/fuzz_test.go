package http

import (
	"encoding/json"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto/prototest"
)

// FuzzSession feeds arbitrary chunk sequences (see decodeChunks) to a
// session, seeded from the bundled captures' flows. Nothing may panic,
// buffers and the pending queue stay within their limits, and every record
// is valid JSON.
func FuzzSession(f *testing.F) {
	for _, c := range captures {
		if c.shared {
			continue
		}
		for _, st := range prototest.Streams(f, c.path(f)) {
			f.Add(prototest.EncodeChunks(st.Chunks, 2<<10))
		}
	}
	p := mustNew(f, Config{MaxHeaderBytes: 512, MaxPending: 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []event.Record
		s := p.NewSession(info(), func(r event.Record) { recs = append(recs, r) }).(*Session)
		for _, c := range prototest.DecodeChunks(data) {
			if c.Gap > 0 {
				s.Gap(c.Dir, c.Gap)
				continue
			}
			if s.Payload(c.Dir, prototest.Epoch, c.Data) != nil {
				break
			}
			for i := range s.half {
				if len(s.half[i].buf) > 513+maxLine {
					t.Fatalf("buffer %d", len(s.half[i].buf))
				}
			}
			if len(s.pending) > 4 {
				t.Fatalf("%d pending", len(s.pending))
			}
		}
		s.End(prototest.Epoch, event.EndShutdown)
		for _, r := range recs {
			if b := r.AppendJSON(nil, &prototest.Observer); !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			if h, ok := r.(*Record); ok {
				checkLegacy(t, h)
			}
		}
	})
}
