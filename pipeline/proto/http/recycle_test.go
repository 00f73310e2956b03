package http

import (
	"slices"
	"testing"

	"mamori/pipeline/event"
	"mamori/pipeline/proto"
	"mamori/pipeline/proto/prototest"
)

// TestRecycle: sessions taken from the pool (after End and Recycle) give
// the records fresh ones give, flow after flow, and no record shares
// memory with a recycled session: every record is written only after all
// flows ran (and a recycled session's buffers were overwritten by later
// flows).
func TestRecycle(t *testing.T) {
	var streams []prototest.Stream
	for _, c := range captures {
		if c.shared {
			continue
		}
		streams = append(streams, prototest.Streams(t, c.path(t))...)
	}
	run := func(p *Parser, recycle bool) []string {
		var recs []event.Record
		emit := func(r event.Record) { recs = append(recs, r) }
		for range 2 {
			for _, st := range streams {
				if len(st.Chunks) == 0 || st.Chunks[0].Gap > 0 || !p.Match(st.Info, st.Chunks[0].Dir, st.Chunks[0].Data) {
					continue
				}
				s := prototest.RunStream(p, st, emit)
				if recycle {
					s.(proto.Recycler).Recycle()
				}
			}
		}
		var out []string
		for _, r := range recs {
			out = append(out, string(r.AppendJSON(nil, &prototest.Observer)))
		}
		return out
	}
	fresh, reused := run(mustNew(t, Config{}), false), run(mustNew(t, Config{}), true)
	if len(fresh) < 50 || !slices.Equal(fresh, reused) {
		t.Fatalf("%d records fresh, %d recycled, equal %v", len(fresh), len(reused), slices.Equal(fresh, reused))
	}
}

// TestPendingKeepsArray: answering requests one at a time reuses the
// pending table's array (no allocation per request for it).
func TestPendingKeepsArray(t *testing.T) {
	s := mustNew(t, Config{}).NewSession(prototest.TCPInfo("10.0.0.1:50000", "10.0.0.2:80"), func(event.Record) {}).(*Session)
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	for range 3 {
		s.Payload(0, prototest.Epoch, req)
		s.Payload(1, prototest.Epoch, resp)
	}
	if cap(s.pending) == 0 || len(s.pending) != 0 {
		t.Fatalf("pending len %d cap %d", len(s.pending), cap(s.pending))
	}
	array := &s.pending[:1][0]
	for range 3 {
		s.Payload(0, prototest.Epoch, req)
		s.Payload(1, prototest.Epoch, resp)
	}
	if &s.pending[:1][0] != array {
		t.Error("the pending table's array was replaced")
	}
}
